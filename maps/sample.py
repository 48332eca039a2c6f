"""Sample plans for demonstrating and benchmarking the maps (no detector needed).

:func:`small_world` is a hand-made plan in 綦江区 (three roads, six works, one road dug twice,
one joint excavation, one road under moratorium). :func:`synthetic_plan` generates a large plan
on a road grid with its findings known by construction, for ``bench/maps.py``.

Examples
--------
>>> plan = small_world()
>>> sorted(w.work_id for w in plan.works)
['W1', 'W2', 'W3', 'W4', 'W5', 'W6']
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from shapely.geometry import LineString
from shapely.ops import substring

from onetrench.domain import (
    Bundle,
    Finding,
    FindingKind,
    GasPressureClass,
    Interval,
    PavementKind,
    Road,
    RoadClass,
    RoadStretch,
    Savings,
    Severity,
    UtilityKind,
    Work,
    WorksKind,
)

#: A point in old-town 綦江 (古南街道), EPSG:4545 metres (106.651 E, 29.028 N).
ORIGIN = (368_000.0, 3_213_000.0)


@dataclass(slots=True)
class Plan:
    """Works, roads, findings and bundles of one plan (working CRS EPSG:4545)."""

    works: list[Work] = field(default_factory=list)
    roads: list[Road] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    bundles: list[Bundle] = field(default_factory=list)


def _along(road: Road, a: float, b: float, offset: float) -> LineString:
    piece = substring(road.geometry, a, b)
    return piece.offset_curve(offset) if offset else piece


def small_world() -> Plan:
    """Return a hand-made plan of three roads and six works.

    W1/W2 dig 文化路 400–700 m in different periods (重复开挖); W3/W4 share 通惠大道 200–600 m
    in the same period (bundle B1); W5 opens 滨河路 under moratorium; W6's name is hostile HTML.
    """
    x0, y0 = ORIGIN
    r1 = Road(
        road_id="R1",
        name="文化路",
        road_class=RoadClass.ARTERIAL,
        width_m=40,
        geometry=LineString([(x0, y0), (x0 + 1000, y0)]),
    )
    r2 = Road(
        road_id="R2",
        name="通惠大道",
        road_class=RoadClass.SECONDARY,
        width_m=30,
        geometry=LineString([(x0 + 500, y0 - 500), (x0 + 500, y0 + 700)]),
    )
    r3 = Road(
        road_id="R3",
        name="滨河路",
        road_class=RoadClass.BRANCH,
        width_m=16,
        geometry=LineString([(x0, y0 + 500), (x0 + 900, y0 + 500)]),
        last_works_date=dt.date(2024, 5, 1),
        last_works_kind=WorksKind.NEW,
        pavement=PavementKind.CONCRETE,
    )
    d = dt.date
    works = [
        Work(
            work_id="W1",
            utility=UtilityKind.WATER,
            owner="渝綦水务",
            geometry=_along(r1, 100, 700, 6),
            start=d(2026, 3, 2),
            end=d(2026, 4, 15),
            diameter_mm=300,
            name="文化路给水管改造",
        ),
        Work(
            work_id="W2",
            utility=UtilityKind.GAS,
            owner="重庆港华燃气",
            geometry=_along(r1, 400, 900, -6),
            start=d(2026, 8, 3),
            end=d(2026, 9, 10),
            earliest_start=d(2026, 3, 1),
            latest_end=d(2026, 9, 30),
            gas_pressure=GasPressureClass.MEDIUM_A,
            diameter_mm=200,
            name="文化路中压燃气管",
        ),
        Work(
            work_id="W3",
            utility=UtilityKind.POWER,
            owner="国网重庆綦江供电公司",
            geometry=_along(r2, 0, 600, 5),
            start=d(2026, 3, 10),
            end=d(2026, 5, 20),
            voltage_kv=10,
            name="通惠大道10kV电缆",
        ),
        Work(
            work_id="W4",
            utility=UtilityKind.TELECOM,
            owner="中国移动綦江分公司",
            geometry=_along(r2, 200, 800, -5),
            start=d(2026, 4, 1),
            end=d(2026, 5, 30),
            name="通惠大道通信管道",
        ),
        Work(
            work_id="W5",
            utility=UtilityKind.DRAINAGE,
            owner="綦江区排水公司",
            geometry=_along(r3, 100, 500, 0),
            start=d(2026, 6, 1),
            end=d(2026, 7, 15),
            diameter_mm=800,
            name="滨河路雨水管",
        ),
        Work(
            work_id="W6",
            utility=UtilityKind.HEAT,
            owner="<b>某热力</b>",
            geometry=_along(r2, 950, 1150, 4),
            start=d(2026, 10, 12),
            end=d(2026, 11, 20),
            name='<script>alert("x")</script>热力管',
        ),
    ]
    findings = [
        Finding(
            kind=FindingKind.SAME_ROAD_DIFFERENT_PERIOD,
            severity=Severity.BLOCKING,
            work_ids=("W1", "W2"),
            zh="文化路 400–700 m 将被重复开挖",
            en="文化路 400–700 m would be dug twice",
            fix_zh="W2 调整至 2026-03-02 至 2026-04-15 与 W1 联合开挖",
            fix_en="move W2 to 2026-03-02..2026-04-15",
            road_id="R1",
            road_name="文化路",
            measures=(Interval(400, 700),),
        ),
        Finding(
            kind=FindingKind.SAME_ROAD_SAME_PERIOD,
            severity=Severity.INFO,
            work_ids=("W3", "W4"),
            zh="通惠大道 200–600 m 同期施工，可联合开挖",
            en="通惠大道 200–600 m same period: dig once",
            fix_zh="并入联合开挖 B1",
            fix_en="bundle as B1",
            road_id="R2",
            road_name="通惠大道",
            measures=(Interval(200, 600),),
        ),
        Finding(
            kind=FindingKind.MORATORIUM,
            severity=Severity.BLOCKING,
            work_ids=("W5",),
            zh="滨河路 2024-05-01 新建，保护期至 2029-04-30",
            en="滨河路 is new (2024-05-01), protected until 2029-04-30",
            fix_zh="改线或申请特批",
            fix_en="reroute or seek special approval",
            road_id="R3",
            road_name="滨河路",
            measures=(Interval(100, 500),),
        ),
    ]
    footprint = _along(r2, 0, 800, 0).buffer(6, cap_style="flat")
    bundle = Bundle(
        bundle_id="B1",
        work_ids=("W3", "W4"),
        lead_work_id="W3",
        lead_owner="国网重庆綦江供电公司",
        window_start=d(2026, 3, 10),
        window_end=d(2026, 5, 30),
        stretches=(
            RoadStretch(
                road_id="R2", road_name="通惠大道", interval=Interval(0, 800), width_m=12, pavement=PavementKind.ASPHALT
            ),
        ),
        footprint=footprint,
        savings=Savings(
            excavations_separate=2,
            excavations_joint=1,
            area_separate_m2=1200 * 1.2,
            area_joint_m2=800 * 1.2,
            cost_saved_yuan=400 * 1.2 * 420,
        ),
    )
    return Plan(works=works, roads=[r1, r2, r3], findings=findings, bundles=[bundle])


def synthetic_plan(n_works: int, *, seed: int = 7, grid: int = 120, spacing_m: float = 150.0) -> Plan:
    """A large plan on a ``grid`` × ``grid`` road grid, findings known by construction.

    Each work runs along one road between random measures, with a jittered vertex every
    ~40 m. Two works on one road whose measures overlap by at least 10 m give a
    ``same_road_*`` finding; same-period pairs are also grouped into two-work bundles.
    """
    rng = random.Random(seed)
    x0, y0 = ORIGIN
    length = grid * spacing_m
    roads: list[Road] = []
    for i in range(grid):
        roads.append(
            Road(
                road_id=f"E{i}",
                name=f"东西{i}路",
                road_class=RoadClass.SECONDARY,
                width_m=30,
                geometry=LineString([(x0, y0 + i * spacing_m), (x0 + length, y0 + i * spacing_m)]),
            )
        )
        roads.append(
            Road(
                road_id=f"N{i}",
                name=f"南北{i}街",
                road_class=RoadClass.BRANCH,
                width_m=16,
                geometry=LineString([(x0 + i * spacing_m, y0), (x0 + i * spacing_m, y0 + length)]),
                last_works_date=dt.date(2023, 1, 1) if i % 9 == 0 else None,
                last_works_kind=WorksKind.NEW if i % 9 == 0 else None,
            )
        )
    kinds = list(UtilityKind)
    day0 = dt.date(2026, 3, 1)
    works: list[Work] = []
    spans: dict[str, list[tuple[float, float, Work]]] = {}
    for n in range(n_works):
        road = rng.choice(roads)
        a = rng.uniform(0, length - 120)
        b = min(length, a + rng.uniform(60, 600))
        n_vertices = max(2, int((b - a) / 40))
        base = substring(road.geometry, a, b)
        pts = [base.interpolate(t / (n_vertices - 1), normalized=True) for t in range(n_vertices)]
        offset = rng.uniform(-8, 8)
        horiz = road.road_id.startswith("E")
        coords = [
            (p.x + rng.uniform(-0.5, 0.5), p.y + offset) if horiz else (p.x + offset, p.y + rng.uniform(-0.5, 0.5))
            for p in pts
        ]
        start = day0 + dt.timedelta(days=rng.randrange(0, 300))
        work = Work(
            work_id=f"S{n:05d}",
            utility=kinds[n % len(kinds)],
            owner=f"单位{n % 17}",
            geometry=LineString(coords),
            start=start,
            end=start + dt.timedelta(days=rng.randrange(10, 60)),
            name=f"合成工程 {n}",
        )
        works.append(work)
        spans.setdefault(road.road_id, []).append((a, b, work))
    findings: list[Finding] = []
    bundles: list[Bundle] = []
    in_bundle: set[str] = set()
    road_by_id = {r.road_id: r for r in roads}
    for road_id, items in spans.items():
        items.sort(key=lambda t: t[0])
        for i, (a1, b1, w1) in enumerate(items):
            for a2, b2, w2 in items[i + 1 :]:
                if a2 >= b1:
                    break
                lo, hi = a2, min(b1, b2)
                if hi - lo < 10:
                    continue
                same = w1.start <= w2.end and w2.start <= w1.end
                kind = FindingKind.SAME_ROAD_SAME_PERIOD if same else FindingKind.SAME_ROAD_DIFFERENT_PERIOD
                road = road_by_id[road_id]
                ids = tuple(sorted((w1.work_id, w2.work_id)))
                findings.append(
                    Finding(
                        kind=kind,
                        severity=Severity.INFO if same else Severity.BLOCKING,
                        work_ids=ids,
                        zh=f"{road.name} {lo:.0f}–{hi:.0f} m",
                        en=f"{road.road_id}",
                        fix_zh="",
                        fix_en="",
                        road_id=road_id,
                        road_name=road.name,
                        measures=(Interval(lo, hi),),
                    )
                )
                if same and w1.work_id not in in_bundle and w2.work_id not in in_bundle:
                    in_bundle.update(ids)
                    a, b = min(a1, a2), max(b1, b2)
                    bundles.append(
                        Bundle(
                            bundle_id=f"B{len(bundles) + 1:04d}",
                            work_ids=ids,
                            lead_work_id=ids[0],
                            lead_owner=w1.owner,
                            window_start=max(w1.start, w2.start),
                            window_end=max(w1.end, w2.end),
                            stretches=(
                                RoadStretch(
                                    road_id=road_id,
                                    road_name=road.name,
                                    interval=Interval(a, b),
                                    width_m=2.0,
                                    pavement=road.pavement,
                                ),
                            ),
                            footprint=substring(road.geometry, a, b).buffer(10, cap_style="flat"),
                            savings=Savings(
                                excavations_separate=2,
                                excavations_joint=1,
                                area_separate_m2=2 * (b - a),
                                area_joint_m2=b - a,
                                cost_saved_yuan=(b - a) * 420,
                            ),
                        )
                    )
    return Plan(works=works, roads=roads, findings=findings, bundles=bundles)

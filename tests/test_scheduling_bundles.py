"""Bundles, savings and the plan outputs on a hand-made case with hand-computed numbers.

Roads: R1 (asphalt, 420 元/m²) along y = 0 and R2 (concrete, 360 元/m²) along y = 100.

=====  ========  =====  ================  ======================  ============
work   utility   width  R1                R2                      dates (2027)
=====  ========  =====  ================  ======================  ============
A      gas       0.8    [0, 200] off +1                           03-01..03-10
B      water     1.2    [100, 300] off -1                         03-05..03-15
C      power     0.8    [250, 400] off +3  [0, 100] off +1        03-12..03-20
D      telecom   0.6                       [50, 150] off +1       03-12..03-14
E      water     (0.8)  [0, 100] off -3                           06-01..06-10, may start from 03-01
=====  ========  =====  ================  ======================  ============

Bundle {A, B, C, D}: R1 pieces [0,100] 0.8, [100,300] 1.2, [300,400] 0.8 → 80 + 240 + 80 = 400 m²
(alone: 160 + 240 + 120 = 520); R2 pieces [0,100] 0.8, [100,150] 0.6 → 110 m² (alone 80 + 60 =
140). Excavations 5 alone, 2 joint. Cost saved 120 × 420 + 30 × 360 = 61 200 元.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from shapely.geometry import LineString, MultiLineString

from onetrench.domain import (
    FindingKind,
    Interval,
    Occupancy,
    PavementKind,
    Road,
    RoadClass,
    Severity,
    SharedStretch,
    UtilityKind,
    Work,
)
from onetrench.settings import Settings
from scheduling.bundles import build_bundles
from scheduling.plan import plan_to_json, run_plan, write_plan_outputs

X0, Y0 = 370_000.0, 3_200_000.0
d = dt.date
SETTINGS = Settings(blackouts=[])

ROADS = [
    Road(
        road_id="R1",
        name="通惠大道",
        road_class=RoadClass.ARTERIAL,
        width_m=30,
        geometry=LineString([(X0, Y0), (X0 + 1000, Y0)]),
    ),
    Road(
        road_id="R2",
        name="文昌路",
        road_class=RoadClass.BRANCH,
        width_m=16,
        geometry=LineString([(X0, Y0 + 100), (X0 + 1000, Y0 + 100)]),
        pavement=PavementKind.CONCRETE,
    ),
]


def _line(a: float, b: float, y: float) -> LineString:
    return LineString([(X0 + a, Y0 + y), (X0 + b, Y0 + y)])


def _work(wid: str, kind: UtilityKind, start: dt.date, end: dt.date, geom: Any, **kw: Any) -> Work:
    return Work(work_id=wid, utility=kind, owner=f"{wid}公司", geometry=geom, start=start, end=end, **kw)


WORKS = [
    _work("A", UtilityKind.GAS, d(2027, 3, 1), d(2027, 3, 10), _line(0, 200, 1), trench_width_m=0.8),
    _work("B", UtilityKind.WATER, d(2027, 3, 5), d(2027, 3, 15), _line(100, 300, -1), trench_width_m=1.2),
    _work(
        "C",
        UtilityKind.POWER,
        d(2027, 3, 12),
        d(2027, 3, 20),
        MultiLineString([_line(250, 400, 3), _line(0, 100, 101)]),
        trench_width_m=0.8,
    ),
    _work("D", UtilityKind.TELECOM, d(2027, 3, 12), d(2027, 3, 14), _line(50, 150, 101), trench_width_m=0.6),
    _work("E", UtilityKind.WATER, d(2027, 6, 1), d(2027, 6, 10), _line(0, 100, -3), earliest_start=d(2027, 3, 1)),
]


def _occ(wid: str, rid: str, a: float, b: float, off: float) -> Occupancy:
    return Occupancy(work_id=wid, road_id=rid, intervals=(Interval(a, b),), offsets_m=(off,))


OCC = [
    _occ("A", "R1", 0, 200, 1),
    _occ("B", "R1", 100, 300, -1),
    _occ("C", "R1", 250, 400, 3),
    _occ("C", "R2", 0, 100, 1),
    _occ("D", "R2", 50, 150, 1),
    _occ("E", "R1", 0, 100, -3),
]
SHARED = [
    SharedStretch(road_id="R1", work_ids=("A", "B"), intervals=(Interval(100, 200),)),
    SharedStretch(road_id="R1", work_ids=("A", "E"), intervals=(Interval(0, 100),)),
    SharedStretch(road_id="R1", work_ids=("B", "C"), intervals=(Interval(250, 300),)),
    SharedStretch(road_id="R2", work_ids=("C", "D"), intervals=(Interval(50, 100),)),
]


def test_bundle_on_planned_dates() -> None:
    (b,) = build_bundles(WORKS, ROADS, OCC, SHARED, settings=SETTINGS)
    assert b.work_ids == ("A", "B", "C", "D")
    assert b.bundle_id == "B-" + hashlib.sha256(b"A\nB\nC\nD").hexdigest()[:10]
    assert (b.lead_work_id, b.lead_owner) == ("C", "C公司")  # 250 m occupied, the longest
    assert (b.window_start, b.window_end) == (d(2027, 3, 1), d(2027, 3, 20))
    got = [(s.road_id, s.interval.from_m, s.interval.to_m, s.width_m, s.pavement) for s in b.stretches]
    assert got == [
        ("R1", 0, 100, 0.8, PavementKind.ASPHALT),
        ("R1", 100, 300, 1.2, PavementKind.ASPHALT),
        ("R1", 300, 400, 0.8, PavementKind.ASPHALT),
        ("R2", 0, 100, 0.8, PavementKind.CONCRETE),
        ("R2", 100, 150, 0.6, PavementKind.CONCRETE),
    ]
    assert sum(s.area_m2 for s in b.stretches) == pytest.approx(510)
    s = b.savings
    assert (s.excavations_separate, s.excavations_joint, s.excavations_avoided) == (5, 2, 3)
    assert s.area_separate_m2 == pytest.approx(660) and s.area_joint_m2 == pytest.approx(510)
    assert s.area_not_reopened_m2 == pytest.approx(150)
    assert s.cost_saved_yuan == pytest.approx(61_200)
    # footprint: 160 + 240 + 120 on R1; on R2 C's 80 plus D's 50 m beyond C × 0.6 = 30
    assert b.footprint.area == pytest.approx(630)


def test_lead_can_be_set_and_ids_are_stable() -> None:
    works = [
        *WORKS[:3],
        _work("D", UtilityKind.TELECOM, d(2027, 3, 12), d(2027, 3, 14), _line(50, 150, 101), attributes={"lead": True}),
        WORKS[4],
    ]
    (b,) = build_bundles(list(reversed(works)), ROADS, list(reversed(OCC)), list(reversed(SHARED)), settings=SETTINGS)
    assert b.lead_work_id == "D"
    (b0,) = build_bundles(WORKS, ROADS, OCC, SHARED, settings=SETTINGS)
    assert b.bundle_id == b0.bundle_id


def test_schedule_changes_the_bundles() -> None:
    schedule = {"E": (d(2027, 3, 10), d(2027, 3, 19)), "D": (d(2027, 4, 1), d(2027, 4, 3))}
    bundles = build_bundles(WORKS, ROADS, OCC, SHARED, settings=SETTINGS, schedule=schedule)
    assert [b.work_ids for b in bundles] == [("A", "B", "C", "E")]


def test_run_plan_before_and_after_optimisation(tmp_path: Path) -> None:
    detection = SimpleNamespace(occupancy=OCC, shared=SHARED, off_road=[("E", _line(100, 130, -20))])
    result = run_plan(WORKS, ROADS, detection, settings=SETTINGS, optimise=True, time_limit_s=5)
    kinds = [(f.kind, f.work_ids) for f in result.findings]
    assert (FindingKind.SAME_ROAD_DIFFERENT_PERIOD, ("A", "E")) in kinds
    assert (FindingKind.CLEARANCE, ("C", "D")) in kinds  # power/telecom 0 m apart, low confidence
    assert (FindingKind.OFF_ROAD, ("E",)) in kinds
    dif = next(f for f in result.findings if f.kind == FindingKind.SAME_ROAD_DIFFERENT_PERIOD)
    assert dif.data["proposal"]["E"] == ["2027-03-10", "2027-03-19"]

    # before: the bundle above plus E alone (80 m² both ways)
    sb = result.savings_before
    assert (sb.excavations_separate, sb.excavations_joint) == (6, 3)
    assert sb.area_separate_m2 == pytest.approx(740) and sb.area_joint_m2 == pytest.approx(590)
    assert sb.cost_saved_yuan == pytest.approx(61_200)
    # after: E moves 83 days earlier (06-01 → 03-10) and joins; R1 [0,100] is dug once more
    opt = result.optimiser
    assert opt is not None and opt.status == "optimal"
    assert (opt.excavations_before, opt.excavations_after, opt.total_shift_days) == (5, 4, 83)
    sa = result.savings_after
    assert sa is not None
    assert (sa.excavations_separate, sa.excavations_joint) == (6, 2)
    assert sa.area_joint_m2 == pytest.approx(510) and sa.cost_saved_yuan == pytest.approx(61_200 + 80 * 420)
    (b,) = result.bundles
    assert b.work_ids == ("A", "B", "C", "D", "E")
    assert [f.kind for f in b.open_findings] == [FindingKind.SAME_ROAD_DIFFERENT_PERIOD, FindingKind.CLEARANCE]
    assert not b.draft  # nothing blocking
    rows = {r.work_id: r for r in result.schedule}
    assert rows["E"].proposed_start == d(2027, 3, 10) and rows["E"].shift_days == -83
    assert rows["A"].shift_days == 0 and rows["A"].bundle_id == b.bundle_id

    doc = plan_to_json(result)
    assert set(doc) == {"findings", "bundles", "schedule", "savings"}
    json.dumps(doc, ensure_ascii=False)
    lon, lat = doc["bundles"][0]["footprint"]["coordinates"][0][0][0]
    assert 106.0 < lon < 107.5 and 28.0 < lat < 29.5  # EPSG:4490, lon/lat order
    assert doc["savings"]["after"]["excavations_avoided"] == 4
    assert doc["savings"]["optimiser"]["status"] == "optimal"

    paths = write_plan_outputs(result, tmp_path / "out")
    assert sorted(p.name for p in paths.values()) == [
        "bundles.geojson",
        "findings.geojson",
        "savings.json",
        "schedule.csv",
    ]
    raw = paths["schedule.csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert table[0][0] == "工程编号 work_id" and len(table) == 6
    e_row = next(r for r in table if r[0] == "E")
    assert e_row[5:8] == ["2027-03-10", "2027-03-19", "-83"]
    fc = json.loads(paths["bundles.geojson"].read_text(encoding="utf-8"))
    assert fc["features"][0]["id"] == b.bundle_id
    findings_fc = json.loads(paths["findings.geojson"].read_text(encoding="utf-8"))
    assert len(findings_fc["features"]) == len(result.findings)
    assert findings_fc["features"][0]["properties"]["severity"] in {s.value for s in Severity}
    savings = json.loads(paths["savings.json"].read_text(encoding="utf-8"))
    assert savings["before"]["cost_saved_yuan"] == 61200.0 and "对照情形" in savings["counterfactual_zh"]


def test_run_plan_without_optimisation_keeps_planned_dates() -> None:
    detection = SimpleNamespace(occupancy=OCC, shared=SHARED, off_road=[])
    result = run_plan(WORKS, ROADS, detection, settings=SETTINGS)
    assert result.optimiser is None and result.savings_after is None
    assert all(r.shift_days == 0 for r in result.schedule)
    assert plan_to_json(result)["savings"]["after"] is None

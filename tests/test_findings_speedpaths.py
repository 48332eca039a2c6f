"""The findings' fast paths against independent references.

:func:`scheduling.findings.evaluate` builds findings by their slot setters, cuts every road
geometry in one batch (:func:`scheduling._geom.road_substrings`), looks clearance rules up only
for pairs closer than the table's largest distance, and computes labels, thresholds and joint
windows once per work, road class or pair. Each of these is checked here against a reference
computed another way; the exact texts of every kind are in tests/test_scheduling_findings.py,
and bench/findings.py compares 100k+ findings with those of the previous code.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import itertools
import math
import random

import numpy as np
import pytest
import shapely
import shapely.affinity
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from onetrench.domain import (
    Finding,
    FindingKind,
    Interval,
    Occupancy,
    Road,
    RoadClass,
    SharedStretch,
    UtilityKind,
    Work,
)
from onetrench.settings import Settings
from scheduling._geom import road_parts, road_substring, road_substrings
from scheduling.clearance_table import clearance_rows, max_clearance_m, required_clearance_m
from scheduling.findings import evaluate

X0, Y0 = 370_000.0, 3_200_000.0
d = dt.date


def _road(rid: str, geometry: LineString | MultiLineString) -> Road:
    return Road(road_id=rid, name=f"路{rid}", road_class=RoadClass.BRANCH, width_m=20.0, geometry=geometry)


def _zigzag(rng: random.Random, n: int) -> LineString:
    pts = [(X0, Y0)]
    for _ in range(n - 1):
        x, y = pts[-1]
        pts.append((x + rng.uniform(1, 80), y + rng.uniform(-40, 40)))
    return LineString(pts)


def _reference_substring(road: Road, intervals: list[Interval]) -> BaseGeometry | None:
    """road_substring as it was written before the batch: bisect and interpolate in Python, per piece."""

    def at(xy: list[tuple[float, float]], cum: list[float], m: float) -> tuple[float, float]:
        k = min(max(bisect.bisect_right(cum, m) - 1, 0), len(cum) - 2)
        seg = cum[k + 1] - cum[k]
        t = 0.0 if seg <= 0 else min(max((m - cum[k]) / seg, 0.0), 1.0)
        (x0, y0), (x1, y1) = xy[k], xy[k + 1]
        return (x0 + t * (x1 - x0), y0 + t * (y1 - y0))

    pieces = []
    for iv in intervals:
        offset = 0.0
        for part in road_parts(road):
            lo, hi = max(iv.from_m - offset, 0.0), min(iv.to_m - offset, part.length)
            if hi > lo:
                xy = [(float(x), float(y)) for x, y in shapely.get_coordinates(part)]
                cum = [0.0]
                for (xa, ya), (xb, yb) in itertools.pairwise(xy):
                    cum.append(cum[-1] + math.hypot(xb - xa, yb - ya))
                i, j = bisect.bisect_right(cum, lo), bisect.bisect_left(cum, hi)
                pieces.append(shapely.linestrings([at(xy, cum, lo), *xy[i:j], at(xy, cum, hi)]))
            offset += part.length
    if not pieces:
        return None
    return pieces[0] if len(pieces) == 1 else shapely.multilinestrings(pieces)


def _requests(seed: int, n: int) -> list[tuple[Road, list[Interval]]]:
    rng = random.Random(seed)
    requests = []
    for k in range(n):
        if rng.random() < 0.2:
            a, b = _zigzag(rng, rng.randint(2, 6)), _zigzag(rng, rng.randint(2, 6))
            geom: LineString | MultiLineString = MultiLineString([a, shapely.affinity.translate(b, 0, 500)])
        else:
            geom = _zigzag(rng, rng.randint(2, 12))
        ivs = []
        for _ in range(rng.randint(0, 3)):
            a0 = rng.choice(
                [rng.uniform(-20, geom.length + 20), 0.0, geom.length, rng.choice(list(_vertex_measures(geom)))]
            )
            ivs.append(Interval(a0, a0 + rng.choice([rng.uniform(0.5, 300), 1e-9, 0.0])))
        requests.append((_road(f"R{k}", geom), ivs))
    return requests


def _vertex_measures(geom: LineString | MultiLineString) -> list[float]:
    """Measures of the vertices (stretches starting or ending exactly on one)."""
    out, offset = [], 0.0
    for part in getattr(geom, "geoms", [geom]):
        xy = shapely.get_coordinates(part)
        out += list(offset + np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]))
        offset += part.length
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_road_substrings_equal_the_per_piece_reference(seed: int) -> None:
    """Bit for bit (WKB) the geometries of the Python per-piece computation, in one batch or one at a time."""
    requests = _requests(seed, 400)
    expected = [_reference_substring(r, ivs) for r, ivs in requests]
    got = road_substrings(requests)
    assert [shapely.to_wkb(g) if g is not None else None for g in got] == [
        shapely.to_wkb(g) if g is not None else None for g in expected
    ]
    assert [road_substring(r, ivs) for r, ivs in requests] == got
    assert sum(g is not None for g in got) > 200


def test_road_substrings_follow_the_centreline() -> None:
    """Against shapely.ops.substring (GEOS interpolation): same vertices to 1e-6 m, same pieces."""
    rng = random.Random(3)
    requests = []
    for k in range(300):
        line = _zigzag(rng, rng.randint(2, 12))
        ivs = []
        for _ in range(rng.randint(0, 3)):
            a = rng.uniform(-20, line.length + 20)
            ivs.append(Interval(a, a + rng.uniform(0.5, 300)))
        requests.append((_road(f"R{k}", line), ivs))
    got = road_substrings(requests)
    assert [road_substring(r, ivs) for r, ivs in requests] == got  # one at a time: the same geometries
    for (road, ivs), geom in zip(requests, got, strict=True):
        line = road.geometry
        expected = [
            substring(line, max(iv.from_m, 0.0), min(iv.to_m, line.length))
            for iv in ivs
            if min(iv.to_m, line.length) > max(iv.from_m, 0.0)
        ]
        if not expected:
            assert geom is None
            continue
        pieces = list(geom.geoms) if isinstance(geom, MultiLineString) else [geom]
        assert len(pieces) == len(expected)
        for piece, ref in zip(pieces, expected, strict=True):
            # (a stretch ending at the road's GEOS length, a hair past the summed segment lengths,
            # repeats the last vertex: as before, kept so the geometries stay the same)
            a = shapely.get_coordinates(shapely.remove_repeated_points(piece))
            b = shapely.get_coordinates(shapely.remove_repeated_points(ref))
            assert a.shape == b.shape
            assert abs(a - b).max() < 1e-6


def test_road_substrings_of_a_road_in_pieces() -> None:
    """Measures run piece after piece: a stretch across the joint gives one line per piece."""
    road = _road("M", MultiLineString([[(0, 0), (100, 0)], [(200, 0), (300, 0)]]))
    geom = road_substrings([(road, [Interval(50, 150)]), (road, [Interval(120, 130)])])
    assert geom[0] is not None and geom[0].wkt == "MULTILINESTRING ((50 0, 100 0), (200 0, 250 0))"
    assert geom[1] is not None and geom[1].wkt == "LINESTRING (220 0, 230 0)"


def _work(wid: str, kind: UtilityKind, **kw: object) -> Work:
    return Work(
        work_id=wid,
        utility=kind,
        owner="",
        geometry=LineString([(X0, Y0), (X0 + 100, Y0)]),
        start=kw.pop("start", d(2027, 3, 1)),  # type: ignore[arg-type]
        end=kw.pop("end", d(2027, 3, 20)),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def test_clearance_lookup_skipped_only_beyond_every_rule() -> None:
    """Random pairs around every table distance: the clearance findings of a brute-force reference."""
    rng = random.Random(5)
    kinds = [UtilityKind.WATER, UtilityKind.GAS, UtilityKind.POWER, UtilityKind.TELECOM, UtilityKind.DRAINAGE]
    distances = sorted({row.clearance_m for row in clearance_rows()})
    road = _road("R", LineString([(X0, Y0), (X0 + 1000, Y0)]))
    works, occupancy, shared = [], [], []
    for k in range(400):
        a = _work(f"A{k}", rng.choice(kinds), diameter_mm=rng.choice([None, 100.0, 300.0]))
        b = _work(f"B{k}", rng.choice(kinds), diameter_mm=rng.choice([None, 100.0, 300.0]))
        wa, wb = (a.diameter_mm or 0.0) / 1000, (b.diameter_mm or 0.0) / 1000
        target = rng.choice(distances) + rng.choice([-1e-3, -1e-10, 0.0, 1e-10, 1e-3, 0.3])
        gap = target + wa / 2 + wb / 2
        works += [a, b]
        occupancy += [
            Occupancy(work_id=a.work_id, road_id="R", intervals=(Interval(0.0, 100.0),), offsets_m=(0.0,)),
            Occupancy(work_id=b.work_id, road_id="R", intervals=(Interval(50.0, 150.0),), offsets_m=(gap,)),
        ]
        shared.append(SharedStretch(road_id="R", work_ids=(a.work_id, b.work_id), intervals=(Interval(50.0, 100.0),)))
    settings = Settings(blackouts=[])
    found = {
        f.work_ids
        for f in evaluate(works, [road], occupancy, shared, settings=settings, today=d(2026, 1, 1))
        if f.kind is FindingKind.CLEARANCE
    }
    by_id = {w.work_id: w for w in works}
    occ = {o.work_id: o for o in occupancy}
    expected = set()
    for sh in shared:
        a, b = (by_id[i] for i in sh.work_ids)
        rule = required_clearance_m(a, b)
        if rule is None:
            continue
        edge = abs(occ[a.work_id].offsets_m[0] - occ[b.work_id].offsets_m[0])
        edge -= (a.diameter_mm or 0.0) / 1000 / 2 + (b.diameter_mm or 0.0) / 1000 / 2
        if edge < rule.clearance_m - 1e-9:
            expected.add(sh.work_ids)
    assert found == expected
    assert 50 < len(expected) < 350  # both outcomes are common
    assert max_clearance_m() == max(distances)


def test_clearance_of_occupancies_in_several_pieces() -> None:
    """Occupancies of 0-3 intervals at varied offsets, stretches without an occupancy: a brute-force reference.

    Each stretch's works are compared interval by interval, exactly as the text of the rule says
    (the vectorised first pass over all stretches must not leave one out, nor mix their pieces).
    """
    rng = random.Random(11)
    kinds = [UtilityKind.WATER, UtilityKind.GAS, UtilityKind.POWER, UtilityKind.TELECOM, UtilityKind.DRAINAGE]
    roads = [_road(r, LineString([(X0, Y0 + k * 100), (X0 + 1000, Y0 + k * 100)])) for k, r in enumerate("PQR")]
    works = [_work(f"W{k:02d}", rng.choice(kinds), diameter_mm=rng.choice([None, 100.0, 600.0])) for k in range(40)]
    occupancy, shared = [], []
    for w in works:
        for r in rng.sample("PQR", rng.randint(1, 3)):
            cuts = sorted(rng.sample(range(0, 1000, 50), 2 * rng.randint(0, 3)))
            intervals = tuple(Interval(float(lo), float(hi)) for lo, hi in zip(cuts[::2], cuts[1::2], strict=True))
            offsets = tuple(rng.choice([-3.0, -1.0, 0.0, 0.4, 1.0, 2.5]) for _ in intervals)
            occupancy.append(Occupancy(work_id=w.work_id, road_id=r, intervals=intervals, offsets_m=offsets))
    for a, b in itertools.combinations(works, 2):
        for r in rng.sample("PQR", 1):
            shared.append(SharedStretch(road_id=r, work_ids=(a.work_id, b.work_id), intervals=(Interval(0.0, 50.0),)))
    out = evaluate(works, roads, occupancy, shared, settings=Settings(blackouts=[]), today=d(2026, 1, 1))
    found = {
        (f.road_id, f.work_ids): (f.measures, f.data["clear_distance_m"])
        for f in out
        if f.kind is FindingKind.CLEARANCE
    }
    by_id = {w.work_id: w for w in works}
    occ = {(o.work_id, o.road_id): o for o in occupancy}
    expected = {}
    for sh in shared:
        a, b = (by_id[i] for i in sh.work_ids)
        oa, ob = occ.get((a.work_id, sh.road_id)), occ.get((b.work_id, sh.road_id))
        rule = required_clearance_m(a, b)
        if oa is None or ob is None or rule is None:
            continue
        bad = []
        for ia, off_a in zip(oa.intervals, oa.offsets_m, strict=True):
            for ib, off_b in zip(ob.intervals, ob.offsets_m, strict=True):
                lo, hi = max(ia.from_m, ib.from_m), min(ia.to_m, ib.to_m)
                edge = abs(off_a - off_b) - (a.diameter_mm or 0.0) / 2000 - (b.diameter_mm or 0.0) / 2000
                if hi > lo and edge < rule.clearance_m - 1e-9:
                    bad.append((Interval(lo, hi), edge))
        if bad:
            expected[(sh.road_id, sh.work_ids)] = (tuple(iv for iv, _ in bad), round(min(e for _, e in bad), 3))
    assert found == expected
    assert len(expected) > 50 and any(len(m) > 1 for m, _ in expected.values())


def test_findings_built_by_slots_equal_built_by_init() -> None:
    """Equal to, and hashing like, the same finding made by ``Finding(...)``; a fresh data dict each."""
    road = _road("R", LineString([(X0, Y0), (X0 + 1000, Y0)]))
    a = _work("A", UtilityKind.GAS, start=d(2027, 3, 1), end=d(2027, 3, 10))
    b = _work("B", UtilityKind.WATER, start=d(2027, 6, 1), end=d(2027, 6, 10))
    occupancy = [
        Occupancy(work_id=w, road_id="R", intervals=(Interval(0.0, 200.0),), offsets_m=(off,))
        for w, off in (("A", 0.0), ("B", 0.2))
    ]
    shared = [SharedStretch(road_id="R", work_ids=("A", "B"), intervals=(Interval(0.0, 200.0),))]
    out = evaluate([a, b], [road], occupancy, shared, settings=Settings(blackouts=[]), today=d(2026, 1, 1))
    assert {f.kind for f in out} == {FindingKind.SAME_ROAD_DIFFERENT_PERIOD, FindingKind.CLEARANCE}
    for f in out:
        fields = {field.name: getattr(f, field.name) for field in dataclasses.fields(Finding)}
        again = Finding(**fields)
        assert again == f
        assert repr(again) == repr(f)
        assert f.geometry is not None and f.geometry.wkt == f"LINESTRING ({X0:.0f} {Y0:.0f}, {X0 + 200:.0f} {Y0:.0f})"
    assert out[0].data is not out[1].data
    with pytest.raises(dataclasses.FrozenInstanceError):
        out[0].zh = "x"  # type: ignore[misc]


def test_pair_on_two_roads_gets_one_joint_window_each_time() -> None:
    """The joint window of a pair is computed once and used on each road it shares: same proposal."""
    roads = [_road(r, LineString([(X0, Y0 + k * 100), (X0 + 1000, Y0 + k * 100)])) for k, r in enumerate("PQ")]
    a = _work("A", UtilityKind.GAS, start=d(2027, 3, 1), end=d(2027, 3, 10), latest_end=d(2027, 5, 30))
    b = _work("B", UtilityKind.POWER, start=d(2027, 4, 1), end=d(2027, 4, 10), earliest_start=d(2027, 2, 1))
    occupancy = [
        Occupancy(work_id=w, road_id=r, intervals=(Interval(0.0, 300.0),), offsets_m=(off,))
        for w, off in (("A", -5.0), ("B", 5.0))
        for r in "PQ"
    ]
    shared = [SharedStretch(road_id=r, work_ids=("A", "B"), intervals=(Interval(0.0, 300.0),)) for r in "PQ"]
    out = evaluate([a, b], roads, occupancy, shared, settings=Settings(blackouts=[]), today=d(2026, 1, 1))
    diff = [f for f in out if f.kind is FindingKind.SAME_ROAD_DIFFERENT_PERIOD]
    assert [f.road_id for f in diff] == ["P", "Q"]
    assert diff[0].fix_zh == diff[1].fix_zh and diff[0].data == diff[1].data
    assert diff[0].data["total_shift_days"] == 22  # B moves 22 days earlier: 2027-03-10 is both works' day
    assert diff[0].data["proposal"]["B"] == ["2027-03-10", "2027-03-19"]


def _random_dated_work(rng: random.Random, wid: str) -> Work:
    """A work with random dates and, at random, flexible bounds (sometimes too tight for its duration)."""
    start = d(2027, 1, 1) + dt.timedelta(days=rng.randrange(200))
    end = start + dt.timedelta(days=rng.randrange(40))
    bounds: dict[str, dt.date] = {}
    if rng.random() < 0.6:
        bounds["earliest_start"] = start - dt.timedelta(days=rng.randrange(-5, 90))
    if rng.random() < 0.6:
        bounds["latest_end"] = end + dt.timedelta(days=rng.randrange(-5, 90))
    if "earliest_start" in bounds and "latest_end" in bounds and bounds["latest_end"] < bounds["earliest_start"]:
        bounds["latest_end"] = bounds["earliest_start"]
    return _work(wid, rng.choice(list(UtilityKind)), start=start, end=end, **bounds)


@pytest.mark.parametrize("gap_days", [0, 7])
def test_pair_windows_from_work_facts_equal_joint_window(gap_days: int) -> None:
    """The pair path on each work's day numbers (``_Ctx.joint_window``) gives what ``joint_window`` gives.

    Random pairs, both orders: bounds that do not overlap, fixed dates, durations longer than
    the bounds, windows that a blackout closes; and the same-period test of ``evaluate`` is
    ``windows.same_period``.
    """
    from scheduling.findings import _Ctx
    from scheduling.windows import Calendar, joint_window, same_period

    rng = random.Random(gap_days)
    settings = Settings(
        blackouts=[
            {"name_zh": "高考", "name_en": "gaokao", "start": d(2027, 6, 1), "end": d(2027, 6, 20)},
            {"name_zh": "国庆", "name_en": "National Day", "start": d(2027, 3, 25), "end": d(2027, 4, 10)},
        ],
        period_gap_days=gap_days,
    )
    road = _road("R", LineString([(X0, Y0), (X0 + 1000, Y0)]))
    reasons = set()
    for i in range(400):
        a, b = _random_dated_work(rng, f"A{i}"), _random_dated_work(rng, f"B{i}")
        occupancy = [
            Occupancy(work_id=w.work_id, road_id="R", intervals=(Interval(0.0, 300.0),), offsets_m=(0.0,))
            for w in (a, b)
        ]
        ctx = _Ctx([a, b], [road], occupancy, settings)
        for x, y in ((a, b), (b, a)):
            expected = joint_window(
                [x, y], calendar=Calendar.from_settings(settings), road_ids=ctx.roads_of, gap_days=gap_days
            )
            assert ctx.joint_window(x, y, gap_days, keep=False) == expected, (x, y)
            reasons.add(getattr(expected, "reason", "window"))
        pair = SharedStretch(road_id="R", work_ids=(a.work_id, b.work_id), intervals=(Interval(0.0, 300.0),))
        kinds = {f.kind for f in evaluate([a, b], [road], occupancy, [pair], settings=settings)}
        same = same_period(a.start, a.end, b.start, b.end, gap_days=gap_days)
        assert (FindingKind.SAME_ROAD_SAME_PERIOD in kinds) == same
        assert (FindingKind.SAME_ROAD_DIFFERENT_PERIOD in kinds) == (not same)
    assert reasons == {"bounds", "calendar", "duration", "window"}


@pytest.mark.parametrize(
    ("defect", "code"),
    [
        ("duplicate work", "work.duplicate_id"),
        ("duplicate road", "road.duplicate_id"),
        ("occupancy of an unknown work", "occupancy.unknown_work"),
        ("occupancy on an unknown road", "occupancy.unknown_road"),
        ("stretch of an unknown work", "shared.unknown_work"),
        ("stretch on an unknown road", "shared.unknown_road"),
        ("offsets and intervals differ", "occupancy.offsets"),
    ],
)
def test_each_reference_problem_alone_is_reported(defect: str, code: str) -> None:
    """The quick set check of clean inputs lets no single problem through."""
    from onetrench.errors import InputError

    road = _road("R", LineString([(X0, Y0), (X0 + 1000, Y0)]))
    works = [_work("A", UtilityKind.GAS), _work("B", UtilityKind.WATER)]
    roads = [road]
    iv = (Interval(0.0, 100.0),)
    occupancy = [Occupancy(work_id=w, road_id="R", intervals=iv, offsets_m=(0.0,)) for w in "AB"]
    shared = [SharedStretch(road_id="R", work_ids=("A", "B"), intervals=iv)]
    evaluate(works, roads, occupancy, shared, settings=Settings(blackouts=[]), today=d(2026, 1, 1))  # clean
    if defect == "duplicate work":
        works.append(works[0])
    elif defect == "duplicate road":
        roads.append(road)
    elif defect == "occupancy of an unknown work":
        occupancy.append(Occupancy(work_id="Z", road_id="R", intervals=iv, offsets_m=(0.0,)))
    elif defect == "occupancy on an unknown road":
        occupancy.append(Occupancy(work_id="A", road_id="Q", intervals=iv, offsets_m=(0.0,)))
    elif defect == "stretch of an unknown work":
        shared.append(SharedStretch(road_id="R", work_ids=("A", "Z"), intervals=iv))
    elif defect == "stretch on an unknown road":
        shared.append(SharedStretch(road_id="Q", work_ids=("A", "B"), intervals=iv))
    else:
        occupancy[0] = Occupancy(work_id="A", road_id="R", intervals=iv, offsets_m=(0.0, 1.0))
    with pytest.raises(InputError) as err:
        evaluate(works, roads, occupancy, shared, settings=Settings(blackouts=[]), today=d(2026, 1, 1))
    assert [p.code for p in err.value.details] == [code]


def test_the_garbage_collector_is_resumed_after_evaluate_also_on_errors() -> None:
    """evaluate pauses the cyclic GC while it builds its objects, and leaves it as it found it."""
    import gc

    from onetrench.errors import InputError

    road = _road("R", LineString([(X0, Y0), (X0 + 1000, Y0)]))
    works = [_work("A", UtilityKind.GAS), _work("A", UtilityKind.GAS)]
    settings = Settings(blackouts=[])
    assert gc.isenabled()
    assert evaluate(works[:1], [road], [], [], settings=settings, today=d(2026, 1, 1)) == []
    assert gc.isenabled()
    with pytest.raises(InputError):
        evaluate(works, [road], [], [], settings=settings, today=d(2026, 1, 1))
    assert gc.isenabled()
    gc.disable()
    try:
        evaluate(works[:1], [road], [], [], settings=settings, today=d(2026, 1, 1))
        assert not gc.isenabled()  # left paused when the caller had paused it
    finally:
        gc.enable()


def test_shared_length_of_one_interval_is_the_sum_of_its_lengths() -> None:
    """``SharedStretch.shared_m`` takes a shortcut for one interval: the same float as the sum."""
    rng = random.Random(3)
    for n in (1, 1, 1, 2, 3):
        for _ in range(200):
            ends = sorted(rng.uniform(0, 5000) for _ in range(2 * n))
            intervals = tuple(Interval(ends[2 * k], ends[2 * k + 1]) for k in range(n))
            stretch = SharedStretch(road_id="R", work_ids=("A", "B"), intervals=intervals)
            assert stretch.shared_m == sum(iv.length_m for iv in intervals)
            assert type(stretch.shared_m) is float

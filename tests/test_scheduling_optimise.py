"""CP-SAT plan optimiser: optimal on enumerable cases (brute force), never worse than the plan."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest
from shapely.geometry import LineString

from onetrench.domain import Interval, Occupancy, Road, RoadClass, SharedStretch, UtilityKind, Work
from onetrench.settings import BlackoutPeriod, Settings
from scheduling.optimise import optimise_plan, shared_pieces

D0 = dt.date(2027, 3, 1)
LINE = LineString([(0, 0), (10, 0)])


def _roads() -> list[Road]:
    return [
        Road(road_id="R1", name="主干路一", road_class=RoadClass.ARTERIAL, width_m=40, geometry=LINE),
        Road(road_id="R2", name="支路二", road_class=RoadClass.BRANCH, width_m=16, geometry=LINE),
    ]


def _case(
    rng: random.Random, n: int, *, span: int = 4, road_len: int = 300
) -> tuple[list[Work], list[Occupancy], list[SharedStretch]]:
    works, occ = [], []
    for i in range(n):
        dur = rng.randint(1, 4)
        start = rng.randint(0, 12)
        es = start - rng.randint(0, span) if rng.random() < 0.8 else None
        le = start + dur - 1 + rng.randint(0, span) if rng.random() < 0.8 else None
        works.append(
            Work(
                work_id=f"W{i}",
                utility=UtilityKind.WATER,
                owner="o",
                geometry=LINE,
                start=D0 + dt.timedelta(start),
                end=D0 + dt.timedelta(start + dur - 1),
                earliest_start=None if es is None else D0 + dt.timedelta(es),
                latest_end=None if le is None else D0 + dt.timedelta(le),
            )
        )
        rid = rng.choice(["R1", "R2"])
        a = rng.randint(0, road_len - 100)
        b = a + rng.randint(50, 200)
        occ.append(Occupancy(work_id=f"W{i}", road_id=rid, intervals=(Interval(a, b),), offsets_m=(0.0,)))
    shared = []
    for x, y in itertools.combinations(occ, 2):
        if x.road_id != y.road_id:
            continue
        lo, hi = max(x.intervals[0].from_m, y.intervals[0].from_m), min(x.intervals[0].to_m, y.intervals[0].to_m)
        if hi - lo >= 10:
            shared.append(
                SharedStretch(road_id=x.road_id, work_ids=(x.work_id, y.work_id), intervals=(Interval(lo, hi),))
            )
    return works, occ, shared


def _options(w: Work, blocked: set[int], weekdays: bool = False) -> list[int]:
    out = {w.start.toordinal()}
    s = w.window_start.toordinal()
    while s + w.duration_days - 1 <= w.window_end.toordinal():
        ok = not any(s + k in blocked for k in range(w.duration_days))
        if weekdays:
            ok = (
                ok
                and dt.date.fromordinal(s).weekday() < 5
                and dt.date.fromordinal(s + w.duration_days - 1).weekday() < 5
            )
        if ok:
            out.add(s)
        s += 1
    return sorted(out)


def _true_excavations(shared: list[SharedStretch], works: dict[str, Work], starts: dict[str, int], gap: int) -> int:
    """Independent count: per road, elementary pieces of shared stretches; components of the same-period graph."""
    total = 0
    for rid in sorted({s.road_id for s in shared}):
        items = [s for s in shared if s.road_id == rid]
        cuts = sorted({x for s in items for x in (s.intervals[0].from_m, s.intervals[0].to_m)})
        last = None
        for lo, hi in itertools.pairwise(cuts):
            members = sorted(
                {w for s in items if s.intervals[0].from_m <= lo and s.intervals[0].to_m >= hi for w in s.work_ids}
            )
            if len(members) < 2 or members == last:
                last = members if len(members) >= 2 else None
                continue
            last = members
            parent = {m: m for m in members}

            def find(x: str, parent: dict[str, str] = parent) -> str:
                while parent[x] != x:
                    x = parent[x]
                return x

            for a, b in itertools.combinations(members, 2):
                ea = starts[a] + works[a].duration_days - 1
                eb = starts[b] + works[b].duration_days - 1
                if max(starts[a], starts[b]) - min(ea, eb) <= gap:
                    parent[find(a)] = find(b)
            total += len({find(m) for m in members})
    return total


def _brute(
    works: list[Work],
    occ: list[Occupancy],
    shared: list[SharedStretch],
    blocked: set[int],
    k_r1: int | None,
    *,
    weekdays: bool = False,
) -> tuple[int, int] | None:
    by_id = {w.work_id: w for w in works}
    ids = [w.work_id for w in works]
    on_r1 = [o.work_id for o in occ if o.road_id == "R1"]
    best = None
    for combo in itertools.product(*(_options(w, blocked, weekdays) for w in works)):
        starts = dict(zip(ids, combo, strict=True))
        if k_r1 is not None:
            days = [d for wid in on_r1 for d in range(starts[wid], starts[wid] + by_id[wid].duration_days)]
            if days and max(days.count(d) for d in set(days)) > k_r1:
                continue
        exc = _true_excavations(shared, by_id, starts, 0)
        shift = sum(abs(starts[w] - by_id[w].start.toordinal()) for w in ids)
        if best is None or (exc, shift) < best:
            best = (exc, shift)
    return best


@pytest.mark.parametrize("seed", range(25))
def test_optimal_on_enumerable_cases(seed: int) -> None:
    rng = random.Random(seed)
    works, occ, shared = _case(rng, rng.randint(3, 5))
    blackouts = []
    blocked: set[int] = set()
    if seed % 3 == 0:
        b0 = D0 + dt.timedelta(rng.randint(0, 10))
        blackouts.append(BlackoutPeriod(name_zh="x", name_en="x", start=b0, end=b0 + dt.timedelta(2)))
        blocked = {b0.toordinal() + k for k in range(3)}
    k_r1 = 1 if seed % 4 == 1 else None
    weekdays = seed % 5 == 2
    settings = Settings(blackouts=blackouts, working_days_only=weekdays)
    res = optimise_plan(works, _roads(), occ, shared, settings=settings, time_limit_s=5, max_open_arterial=k_r1)
    expected = _brute(works, occ, shared, blocked, k_r1, weekdays=weekdays)
    if expected is None:
        assert res.status == "infeasible"
        return
    starts = {w: s.toordinal() for w, s in res.starts.items()}
    by_id = {w.work_id: w for w in works}
    got = (_true_excavations(shared, by_id, starts, 0), res.total_shift_days)
    assert got == expected
    assert res.status in ("optimal", "unchanged")
    assert res.excavations_after == expected[0]
    planned = {w.work_id: w.start.toordinal() for w in works}
    assert res.excavations_before == _true_excavations(shared, by_id, planned, 0)
    for w in works:  # every start is allowed
        assert starts[w.work_id] in _options(w, blocked, weekdays)


def test_hand_case_moves_the_flexible_work() -> None:
    a = Work(work_id="A", utility=UtilityKind.GAS, owner="o", geometry=LINE, start=D0, end=D0 + dt.timedelta(9))
    b = Work(
        work_id="B",
        utility=UtilityKind.WATER,
        owner="o",
        geometry=LINE,
        start=D0 + dt.timedelta(31),
        end=D0 + dt.timedelta(40),
        earliest_start=D0,
    )
    occ = [
        Occupancy(work_id="A", road_id="R2", intervals=(Interval(0, 200),), offsets_m=(1.0,)),
        Occupancy(work_id="B", road_id="R2", intervals=(Interval(100, 300),), offsets_m=(-1.0,)),
    ]
    shared = [SharedStretch(road_id="R2", work_ids=("A", "B"), intervals=(Interval(100, 200),))]
    res = optimise_plan([a, b], _roads(), occ, shared, settings=Settings(blackouts=[]), time_limit_s=5)
    assert res.status == "optimal"
    assert (res.excavations_before, res.excavations_after) == (2, 1)
    assert res.starts["B"] == D0 + dt.timedelta(9) and res.total_shift_days == 22
    assert res.shifts == {"B": -22}
    assert res.gap == 0.0


def test_pieces_split_where_covering_sets_change() -> None:
    shared = [
        SharedStretch(road_id="R1", work_ids=("A", "B"), intervals=(Interval(0, 100),)),
        SharedStretch(road_id="R1", work_ids=("A", "C"), intervals=(Interval(50, 150),)),
        SharedStretch(road_id="R1", work_ids=("B", "C"), intervals=(Interval(50, 100),)),
    ]
    pieces = shared_pieces(_roads(), shared, settings=Settings(blackouts=[]))
    assert sorted((p.work_ids, p.count) for p in pieces) == [(("A", "B"), 1), (("A", "B", "C"), 1), (("A", "C"), 1)]


def test_never_worse_than_the_plan_on_a_larger_case() -> None:
    rng = random.Random(42)
    works, occ, shared = _case(rng, 80, span=10, road_len=2000)
    res = optimise_plan(works, _roads(), occ, shared, settings=Settings(blackouts=[]), time_limit_s=3, chunk_works=40)
    assert (res.excavations_after, res.total_shift_days) <= (res.excavations_before, 0)
    assert res.excavations_after < res.excavations_before
    assert res.excavations_bound <= res.excavations_after
    assert 0.0 <= res.gap <= 1.0
    assert res.models >= 2


def test_no_two_adjacent_arterial_stretches_open_at_once() -> None:
    def w(wid: str) -> Work:
        return Work(
            work_id=wid,
            utility=UtilityKind.POWER,
            owner="o",
            geometry=LINE,
            start=D0,
            end=D0 + dt.timedelta(4),
            latest_end=D0 + dt.timedelta(20),
        )

    occ = [
        Occupancy(work_id="A", road_id="R1", intervals=(Interval(0, 100),), offsets_m=(0.0,)),
        Occupancy(work_id="B", road_id="R1", intervals=(Interval(130, 300),), offsets_m=(0.0,)),  # 30 m gap
        Occupancy(work_id="C", road_id="R1", intervals=(Interval(500, 600),), offsets_m=(0.0,)),  # far away
    ]
    res = optimise_plan(
        [w("A"), w("B"), w("C")], _roads(), occ, [], settings=Settings(blackouts=[]), no_adjacent_arterial=True
    )
    assert res.status == "optimal"
    assert res.total_shift_days == 5  # A or B moves right after the other; C stays
    assert res.starts["C"] == D0
    assert sorted([res.starts["A"], res.starts["B"]]) == [D0, D0 + dt.timedelta(5)]

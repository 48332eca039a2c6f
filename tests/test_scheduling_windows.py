"""Joint windows against a brute-force search over days."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest
from shapely.geometry import LineString

from onetrench.domain import UtilityKind, Work
from onetrench.settings import BlackoutPeriod
from scheduling.windows import Calendar, JointWindow, NoWindow, bounds_block, joint_window

D0 = dt.date(2027, 3, 1)  # a Monday
LINE = LineString([(0, 0), (10, 0)])


def _w(wid: str, start: int, dur: int, es: int | None = None, le: int | None = None) -> Work:
    day = lambda k: D0 + dt.timedelta(days=k)  # noqa: E731
    return Work(
        work_id=wid,
        utility=UtilityKind.GAS,
        owner="o",
        geometry=LINE,
        start=day(start),
        end=day(start + dur - 1),
        earliest_start=None if es is None else day(es),
        latest_end=None if le is None else day(le),
    )


def _feasible_starts(w: Work, blocked: set[dt.date], weekdays: bool) -> list[dt.date]:
    out = []
    day = w.window_start
    while day + dt.timedelta(days=w.duration_days - 1) <= w.window_end:
        span = [day + dt.timedelta(days=k) for k in range(w.duration_days)]
        ok = not any(d in blocked for d in span)
        if weekdays:
            ok = ok and span[0].weekday() < 5 and span[-1].weekday() < 5
        if ok:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def _brute(works: list[Work], blocked: set[dt.date], weekdays: bool, gap: int) -> int | None:
    options = [_feasible_starts(w, blocked, weekdays) for w in works]
    best = None
    for combo in itertools.product(*options):
        ends = [s + dt.timedelta(days=w.duration_days - 1) for s, w in zip(combo, works, strict=True)]
        if (max(combo) - min(ends)).days > gap:
            continue
        cost = sum(abs((s - w.start).days) for s, w in zip(combo, works, strict=True))
        best = cost if best is None else min(best, cost)
    return best


def test_hand_case_and_blocking_reasons() -> None:
    a = _w("A", 0, 10)  # fixed 03-01..03-10
    b = _w("B", 31, 10, es=0)  # 04-01..04-10, may start from 03-01
    jw = joint_window([a, b])
    assert isinstance(jw, JointWindow)
    assert jw.starts == {"A": dt.date(2027, 3, 1), "B": dt.date(2027, 3, 10)}
    assert jw.ends["B"] == dt.date(2027, 3, 19)
    assert jw.total_shift_days == 22
    assert (jw.start, jw.end) == (dt.date(2027, 3, 1), dt.date(2027, 3, 19))

    nw = joint_window([a, _w("C", 31, 10)])
    assert isinstance(nw, NoWindow)
    assert nw.reason == "bounds"
    assert nw.work_ids == ("A", "C")
    assert "C 最早开工 2027-04-01 晚于 A 最晚完工 2027-03-10" in nw.zh
    assert "计划日期固定" in nw.zh

    # a blackout over 03-05..03-12 forbids every common window of A(03-01..03-10, may slide to 03-20)
    # and B(03-15..03-24 fixed): A would have to overlap B's span while avoiding the blackout
    cal = Calendar(
        [
            BlackoutPeriod(
                name_zh="区运会", name_en="District games", start=D0 + dt.timedelta(4), end=D0 + dt.timedelta(11)
            )
        ]
    )
    a2 = _w("A", 0, 10, le=19)
    b2 = _w("B", 14, 10)
    nw = joint_window([a2, b2], calendar=cal)
    assert isinstance(nw, NoWindow) and nw.reason == "calendar"
    assert nw.blackouts == ("区运会",)
    # without the blackout, A slides 5 days (to 03-06..03-15) to overlap B (03-15..03-24)
    jw = joint_window([a2, b2])
    assert isinstance(jw, JointWindow)
    assert jw.starts == {"A": dt.date(2027, 3, 6), "B": dt.date(2027, 3, 15)}
    assert jw.total_shift_days == 5


def test_road_specific_blackout_only_applies_to_its_road() -> None:
    cal = Calendar(
        [
            BlackoutPeriod(
                name_zh="活动", name_en="event", start=D0 + dt.timedelta(5), end=D0 + dt.timedelta(7), road_ids=["R9"]
            )
        ]
    )
    a = _w("A", 0, 5, le=20)
    b = _w("B", 10, 5)
    on_other = joint_window([a, b], calendar=cal, road_ids={"A": ["R1"], "B": ["R1"]})
    on_r9 = joint_window([a, b], calendar=cal, road_ids={"A": ["R9"], "B": ["R1"]})
    assert isinstance(on_other, JointWindow) and isinstance(on_r9, JointWindow)
    assert on_other.starts["A"] == D0 + dt.timedelta(6)  # overlaps B from day 10
    assert on_r9.starts["A"] == D0 + dt.timedelta(8)  # must clear the event on days 5-7


@pytest.mark.parametrize("seed", range(60))
def test_against_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([2, 2, 2, 3])
    works = []
    for i in range(n):
        dur = rng.randint(1, 6)
        start = rng.randint(0, 25)
        es = start - rng.randint(0, 8) if rng.random() < 0.7 else None
        le = start + dur - 1 + rng.randint(0, 8) if rng.random() < 0.7 else None
        works.append(_w(f"W{i}", start, dur, es, le))
    blackouts = []
    for k in range(rng.randint(0, 2)):
        b0 = rng.randint(-5, 30)
        blackouts.append(
            BlackoutPeriod(
                name_zh=f"b{k}",
                name_en=f"b{k}",
                start=D0 + dt.timedelta(b0),
                end=D0 + dt.timedelta(b0 + rng.randint(0, 4)),
            )
        )
    weekdays = rng.random() < 0.3
    gap = rng.choice([0, 0, 1, 3])
    cal = Calendar(blackouts, working_days_only=weekdays)
    blocked = {p.start + dt.timedelta(days=k) for p in blackouts for k in range((p.end - p.start).days + 1)}
    expected = _brute(works, blocked, weekdays, gap)
    got = joint_window(works, calendar=cal, gap_days=gap)
    if expected is None:
        assert isinstance(got, NoWindow)
        bounds_only = _brute(works, set(), False, gap)
        assert (got.reason == "bounds") == (
            bounds_only is None and all(_feasible_starts(w, set(), False) for w in works)
        )
        return
    assert isinstance(got, JointWindow)
    assert got.total_shift_days == expected
    # the proposal itself satisfies every constraint
    starts = [got.starts[w.work_id] for w in works]
    for s, w in zip(starts, works, strict=True):
        assert s in _feasible_starts(w, blocked, weekdays)
        assert got.ends[w.work_id] == s + dt.timedelta(days=w.duration_days - 1)
        assert got.shifts[w.work_id] == (s - w.start).days
    assert (max(starts) - min(got.ends.values())).days <= gap


def _reference_bounds_block(works: list[Work], gap: int) -> NoWindow | None:
    """The duration and bounds checks as joint_window wrote them before bounds_block: key lambdas, properties."""
    for w in works:
        if (w.window_end - w.window_start).days + 1 < w.duration_days:
            return NoWindow(
                reason="duration",
                work_ids=(w.work_id,),
                zh=f"{w.work_id} 的工期 {w.duration_days} 天超出其弹性时限 {w.window_start}–{w.window_end}",
                en=f"{w.work_id}: duration {w.duration_days} days exceeds its bounds {w.window_start}–{w.window_end}",
            )
    late = max(works, key=lambda w: (w.window_start, w.work_id))
    early = min(works, key=lambda w: (w.window_end, w.work_id))
    if (late.window_start - early.window_end).days <= gap:
        return None
    fixed = [w.work_id for w in (early, late) if w.earliest_start is None and w.latest_end is None]
    zh = f"{late.work_id} 最早开工 {late.window_start} 晚于 {early.work_id} 最晚完工 {early.window_end}，弹性时限不重叠"
    en = (
        f"{late.work_id} cannot start before {late.window_start}, after {early.work_id} must end "
        f"({early.window_end}): their flexible bounds do not overlap"
    )
    if fixed:
        zh += f"（{'、'.join(fixed)} 未提供弹性时限，计划日期固定）"
        en += f" ({', '.join(fixed)} gave no flexible bounds: fixed dates)"
    return NoWindow(reason="bounds", work_ids=(early.work_id, late.work_id), zh=zh, en=en)


def test_bounds_block_equals_the_reference() -> None:
    """Random works with tied bounds, windows too short for their duration, 1-4 works, gaps 0-3."""
    rng = random.Random(7)
    outcomes = set()
    for _ in range(3000):
        works = []
        for i in rng.sample(range(9), rng.randint(1, 4)):
            dur = rng.randint(1, 6)
            start = rng.choice([0, 5, 10, rng.randint(0, 30)])
            es = start - rng.choice([0, 2, 5]) if rng.random() < 0.4 else None
            le = start + dur - 1 + rng.choice([-2, 0, 3]) if rng.random() < 0.4 else None
            works.append(_w(f"W{i}", start, dur, es, le))
        gap = rng.choice([0, 0, 1, 3])
        got, expected = bounds_block(works, gap_days=gap), _reference_bounds_block(works, gap)
        assert got == expected
        outcomes.add(None if got is None else got.reason)
    assert outcomes == {None, "bounds", "duration"}

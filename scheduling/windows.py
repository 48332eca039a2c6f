"""Joint windows: dates that make works sharing a road dig in the same period, with least shift.

Model (documented assumptions):

* A work keeps its planned duration ``D`` in calendar days and occupies the road every day
  from its start to its end (the trench stays open over nights and weekends).
* It may start on day ``s`` when ``[s, s + D - 1]`` lies within ``[window_start, window_end]``
  (its flexible bounds, or its planned dates when it has none), touches no blackout that
  applies to one of its roads, and, when ``working_days_only`` is set, starts and ends on a
  working day (Monday–Friday; statutory holidays are expected among the blackouts).
* Works are in the same period when ``max(starts) - min(ends) <= gap_days`` (``gap_days`` is
  ``period_gap_days``; 0 means they share at least one day). For several works this holds
  exactly when some day ``t`` has every start in ``[t - D_j + 1 - gap, t]``.
* The cost of a proposal is the total shift ``sum |s_j - planned_start_j|`` in days; among
  equal costs the earliest common day wins.

The minimum is found exactly: per work, the cost as a function of the common day ``t`` is
piecewise linear with integer breakpoints, so it is enough to evaluate those breakpoints.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from onetrench.domain import Work
from onetrench.settings import BlackoutPeriod, Settings

__all__ = [
    "Calendar",
    "JointWindow",
    "NoWindow",
    "bounds_block",
    "bounds_no_window",
    "joint_window",
    "min_shift_together",
    "same_period",
]

Run = tuple[int, int]
_NOTHING: frozenset[str] = frozenset()


def same_period(start_a: dt.date, end_a: dt.date, start_b: dt.date, end_b: dt.date, *, gap_days: int = 0) -> bool:
    """Return whether two date ranges are in the same period (overlap, or within ``gap_days``).

    Examples
    --------
    >>> d = dt.date
    >>> same_period(d(2027, 3, 1), d(2027, 3, 10), d(2027, 3, 10), d(2027, 3, 20))
    True
    >>> same_period(d(2027, 3, 1), d(2027, 3, 10), d(2027, 3, 11), d(2027, 3, 20))
    False
    >>> same_period(d(2027, 3, 1), d(2027, 3, 10), d(2027, 3, 11), d(2027, 3, 20), gap_days=1)
    True
    """
    return (max(start_a, start_b) - min(end_a, end_b)).days <= gap_days


class Calendar:
    """When roads may be open: blackout periods (optionally per road) and working days.

    Parameters
    ----------
    blackouts
        The blackout periods; one with ``road_ids`` applies to those roads only.
    working_days_only
        Works must start and end on a working day (Monday–Friday).
    """

    def __init__(self, blackouts: Iterable[BlackoutPeriod] = (), *, working_days_only: bool = False) -> None:
        self.blackouts = tuple(blackouts)
        self.working_days_only = working_days_only
        self._cache: dict[frozenset[str], list[Run]] = {}
        self._named = frozenset(r for b in self.blackouts for r in b.road_ids)
        self._starts_cache: dict[tuple[int, int, int, frozenset[str]], list[Run]] = {}
        self._applicable: dict[frozenset[str], tuple[BlackoutPeriod, ...]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Calendar:
        """Return the calendar configured in ``settings``."""
        return cls(settings.blackouts, working_days_only=settings.working_days_only)

    def applicable(self, road_ids: Collection[str]) -> Sequence[BlackoutPeriod]:
        """The blackouts that apply to a work on ``road_ids`` (global ones, and those naming its roads).

        Found once per set of named roads among ``road_ids`` (for most works: none).
        """
        key = self._key(road_ids)
        got = self._applicable.get(key)
        if got is None:
            got = self._applicable[key] = tuple(
                b for b in self.blackouts if not b.road_ids or any(r in key for r in b.road_ids)
            )
        return got

    def blocked(self, road_ids: Collection[str]) -> list[Run]:
        """Merged blocked day ranges (date ordinals, inclusive) for a work on ``road_ids``."""
        key = self._key(road_ids)
        if key not in self._cache:
            runs: list[Run] = []
            for a, b in sorted((p.start.toordinal(), p.end.toordinal()) for p in self.applicable(key)):
                if runs and a <= runs[-1][1] + 1:
                    runs[-1] = (runs[-1][0], max(runs[-1][1], b))
                else:
                    runs.append((a, b))
            self._cache[key] = runs
        return self._cache[key]

    def _key(self, road_ids: Collection[str]) -> frozenset[str]:
        if not self._named:
            return _NOTHING
        return frozenset(r for r in road_ids if r in self._named)

    def allowed_starts(self, work: Work, road_ids: Collection[str] = ()) -> list[Run]:
        """Runs of start days (ordinals, inclusive) allowed for ``work`` by its bounds and the calendar."""
        dur = work.duration_days
        lo, hi = work.window_start.toordinal(), work.window_end.toordinal() - dur + 1
        key = (lo, hi, dur, self._key(road_ids))
        got = self._starts_cache.get(key)
        if got is None:
            got = self._starts_cache[key] = self._starts(lo, hi, dur, self.blocked(road_ids))
        return got

    def _starts(self, lo: int, hi: int, dur: int, blocked: Sequence[Run]) -> list[Run]:
        runs: list[Run] = []
        cur = lo
        for b0, b1 in blocked:
            forbid_lo, forbid_hi = b0 - dur + 1, b1
            if forbid_hi < cur:
                continue
            if forbid_lo > hi:
                break
            if forbid_lo > cur:
                runs.append((cur, min(hi, forbid_lo - 1)))
            cur = max(cur, forbid_hi + 1)
        if cur <= hi:
            runs.append((cur, hi))
        if not self.working_days_only:
            return runs
        out: list[Run] = []
        for a, b in runs:
            for s in range(a, b + 1):
                ok = _weekday(s) and _weekday(s + dur - 1)
                if ok and out and out[-1][1] == s - 1:
                    out[-1] = (out[-1][0], s)
                elif ok:
                    out.append((s, s))
        return out


def _weekday(ordinal: int) -> bool:
    return dt.date.fromordinal(ordinal).weekday() < 5


@dataclass(frozen=True, slots=True, kw_only=True)
class JointWindow:
    """Proposed dates that put the works in the same period with the least total shift."""

    starts: dict[str, dt.date]
    ends: dict[str, dt.date]
    shifts: dict[str, int]

    @property
    def total_shift_days(self) -> int:
        """Sum of the absolute shifts in days."""
        return sum(abs(v) for v in self.shifts.values())

    @property
    def start(self) -> dt.date:
        """First day of the joint window."""
        return min(self.starts.values())

    @property
    def end(self) -> dt.date:
        """Last day of the joint window."""
        return max(self.ends.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class NoWindow:
    """No common window exists; ``reason`` names the constraint that blocks it."""

    reason: Literal["bounds", "calendar", "duration"]
    work_ids: tuple[str, ...]
    zh: str
    en: str
    blackouts: tuple[str, ...] = field(default_factory=tuple)


def _best_in(runs: Sequence[Run], ends: Sequence[int], lo: int, hi: int, start: int) -> tuple[int, int] | None:
    """Cheapest start in ``runs`` ∩ [lo, hi] (cost, day), ties to the earlier day."""
    best: tuple[int, int] | None = None
    k = bisect.bisect_left(ends, lo)
    while k < len(runs) and runs[k][0] <= hi:
        a, b = max(runs[k][0], lo), min(runs[k][1], hi)
        if a <= b:
            s = min(max(start, a), b)
            cand = (abs(s - start), s)
            if best is None or cand < best:
                best = cand
        k += 1
    return best


def joint_window(
    works: Sequence[Work],
    *,
    calendar: Calendar | None = None,
    road_ids: Mapping[str, Collection[str]] | None = None,
    gap_days: int = 0,
) -> JointWindow | NoWindow:
    """Propose dates that make ``works`` dig in the same period with the least total shift.

    Parameters
    ----------
    works
        Two or more works sharing a road.
    calendar
        Blackouts and working days; ``None`` means no calendar constraint.
    road_ids
        ``work_id`` → the roads it occupies (selects road-specific blackouts).
    gap_days
        ``period_gap_days`` of the road.

    Returns
    -------
    JointWindow or NoWindow
        The proposal, or why none exists.

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> from onetrench.domain import UtilityKind
    >>> d = dt.date
    >>> line = LineString([(0, 0), (1, 0)])
    >>> a = Work(work_id="A", utility=UtilityKind.GAS, owner="x", geometry=line,
    ...          start=d(2027, 3, 1), end=d(2027, 3, 10))
    >>> b = Work(work_id="B", utility=UtilityKind.WATER, owner="y", geometry=line,
    ...          start=d(2027, 4, 1), end=d(2027, 4, 10), earliest_start=d(2027, 3, 1))
    >>> jw = joint_window([a, b])
    >>> jw.starts["B"], jw.total_shift_days
    (datetime.date(2027, 3, 10), 22)
    """
    block = bounds_block(works, gap_days=gap_days)
    if block is not None:
        return block
    cal = calendar or Calendar()
    ids = [w.work_id for w in works]
    roads = road_ids or {}
    runs = [cal.allowed_starts(w, roads.get(w.work_id, ())) for w in works]
    for w, r in zip(works, runs, strict=True):
        if not r:
            names = [b.name_zh for b in _blackouts_in(cal, w, roads.get(w.work_id, ()))]
            return _calendar_block(cal, (w.work_id,), names, f"{w.window_start}–{w.window_end}")
    starts = [w.start.toordinal() for w in works]
    durs = [w.duration_days for w in works]
    best = min_shift_together(runs, starts, durs, gap_days)
    if best is None:
        lo = min(w.window_start for w in works)
        hi = max(w.window_end for w in works)
        names = sorted({b.name_zh for w in works for b in _blackouts_in(cal, w, roads.get(w.work_id, ()))})
        return _calendar_block(cal, tuple(ids), names, f"{lo}–{hi}")
    chosen = best[1]
    return JointWindow(
        starts={i: dt.date.fromordinal(s) for i, s in zip(ids, chosen, strict=True)},
        ends={i: dt.date.fromordinal(s + d - 1) for i, s, d in zip(ids, chosen, durs, strict=True)},
        shifts={i: s - s0 for i, s, s0 in zip(ids, chosen, starts, strict=True)},
    )


def bounds_block(works: Sequence[Work], *, gap_days: int = 0) -> NoWindow | None:
    """Why the works' own bounds leave no joint window, before any calendar, or ``None``.

    A work whose duration exceeds its flexible bounds blocks first (reason ``"duration"``,
    the first such work); otherwise the works block when the latest earliest start comes more
    than ``gap_days`` after the earliest latest end (reason ``"bounds"``, ties between works
    broken by work id). :func:`joint_window` returns this when it is not ``None``.

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> from onetrench.domain import UtilityKind
    >>> d = dt.date
    >>> def w(i, start, end, **kw):
    ...     return Work(work_id=i, utility=UtilityKind.GAS, owner="x", geometry=LineString([(0, 0), (1, 0)]),
    ...                 start=start, end=end, **kw)
    >>> block = bounds_block([w("A", d(2027, 3, 1), d(2027, 3, 10)), w("B", d(2027, 4, 1), d(2027, 4, 10))])
    >>> block.reason, block.work_ids
    ('bounds', ('A', 'B'))
    >>> block.en.split(": ")[0]
    'B cannot start before 2027-04-01, after A must end (2027-03-10)'
    >>> bounds_block([w("A", d(2027, 3, 1), d(2027, 3, 10), latest_end=d(2027, 3, 9))]).reason
    'duration'
    >>> bounds_block([w("A", d(2027, 3, 1), d(2027, 3, 10)), w("B", d(2027, 3, 11), d(2027, 3, 20))], gap_days=1)
    """
    late: tuple[dt.date, str, Work] | None = None  # greatest (window start, id), and the work
    early: tuple[dt.date, str, Work] | None = None  # least (window end, id), and the work
    for w in works:
        first, last = w.earliest_start or w.start, w.latest_end or w.end
        if (last - first).days < (w.end - w.start).days:
            return NoWindow(
                reason="duration",
                work_ids=(w.work_id,),
                zh=f"{w.work_id} 的工期 {w.duration_days} 天超出其弹性时限 {first}–{last}",
                en=f"{w.work_id}: duration {w.duration_days} days exceeds its bounds {first}–{last}",
            )
        if late is None or (first, w.work_id) > late[:2]:
            late = (first, w.work_id, w)
        if early is None or (last, w.work_id) < early[:2]:
            early = (last, w.work_id, w)
    # bounds alone: a common day t exists iff max(window_start) <= min(window_end) + gap
    if late is None or early is None or (late[0] - early[0]).days <= gap_days:
        return None
    fixed = [w.work_id for _, _, w in (early, late) if w.earliest_start is None and w.latest_end is None]
    return bounds_no_window(early[1], str(early[0]), late[1], str(late[0]), fixed)


def bounds_no_window(early_id: str, early_end: str, late_id: str, late_start: str, fixed: Sequence[str]) -> NoWindow:
    """The :class:`NoWindow` of :func:`bounds_block` when the bounds do not overlap.

    ``late_id`` cannot start (``late_start``, ISO date) before ``early_id`` must end
    (``early_end``); ``fixed`` are those of the two that gave no flexible bounds.
    """
    zh = f"{late_id} 最早开工 {late_start} 晚于 {early_id} 最晚完工 {early_end}，弹性时限不重叠"
    en = (
        f"{late_id} cannot start before {late_start}, after {early_id} must end ({early_end}): "
        "their flexible bounds do not overlap"
    )
    if fixed:
        zh += f"（{'、'.join(fixed)} 未提供弹性时限，计划日期固定）"
        en += f" ({', '.join(fixed)} gave no flexible bounds: fixed dates)"
    return NoWindow(reason="bounds", work_ids=(early_id, late_id), zh=zh, en=en)


def min_shift_together(
    runs: Sequence[Sequence[Run]], starts: Sequence[int], durs: Sequence[int], gap_days: int
) -> tuple[int, list[int]] | None:
    """Least total shift putting every work in one period: ``(total, starts)`` or ``None``.

    ``runs[j]`` are the sorted, disjoint allowed start runs of work ``j`` (day numbers),
    ``starts[j]`` its planned start and ``durs[j]`` its duration. Exact: the cost as a function
    of the common day ``t`` is piecewise linear with integer breakpoints, all evaluated.

    Examples
    --------
    >>> min_shift_together([[(0, 0)], [(0, 40)]], [0, 31], [10, 10], 0)
    (22, [0, 9])
    """
    if any(not r for r in runs):
        return None
    run_ends = [[b for _, b in r] for r in runs]
    cands: set[int] = set()
    for r, s0, dur in zip(runs, starts, durs, strict=True):
        k = dur - 1 + gap_days
        cands.update((s0, s0 + k))
        for a, b in r:
            cands.update((a, b, a + k, b + k))
    t_lo = max(r[0][0] for r in runs)
    t_hi = min(r[-1][1] + d - 1 + gap_days for r, d in zip(runs, durs, strict=True))
    best: tuple[int, int, list[int]] | None = None
    for t in sorted(c for c in cands if t_lo <= c <= t_hi):
        total = 0
        chosen: list[int] = []
        for r, e, s0, dur in zip(runs, run_ends, starts, durs, strict=True):
            got = _best_in(r, e, t - dur + 1 - gap_days, t, s0)
            if got is None:
                break
            total += got[0]
            chosen.append(got[1])
        else:
            if best is None or (total, t) < best[:2]:
                best = (total, t, chosen)
    return None if best is None else (best[0], best[2])


def _blackouts_in(cal: Calendar, work: Work, road_ids: Collection[str]) -> list[BlackoutPeriod]:
    return [b for b in cal.applicable(road_ids) if b.start <= work.window_end and b.end >= work.window_start]


def _calendar_block(cal: Calendar, ids: tuple[str, ...], names: Sequence[str], span: str) -> NoWindow:
    what_zh = "、".join(f"「{n}」" for n in names)
    what_en = ", ".join(names)
    if cal.working_days_only:
        what_zh = (what_zh + "及" if what_zh else "") + "仅工作日施工的限制"
        what_en = (what_en + " and " if what_en else "") + "the working-days-only rule"
    return NoWindow(
        reason="calendar",
        work_ids=ids,
        zh=f"{'、'.join(ids)} 在 {span} 内受禁止施工时段{what_zh}阻挡，没有可同时施工的日期",
        en=f"{', '.join(ids)}: within {span}, the calendar ({what_en}) leaves no dates to dig together",
        blackouts=tuple(names),
    )

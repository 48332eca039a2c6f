"""Findings of the rule 「同一路段、同一时段」 (design.md, "The rule, precisely", point 4).

:func:`evaluate` turns the detector's output (occupancy, shared stretches, off-road and
outside-district parts) into :class:`~onetrench.domain.Finding` objects, each with a message
and a concrete fix in Chinese and English.

Severities:

* ``same_road_same_period`` — info: the works go into one bundle (联合审批).
* ``same_road_different_period`` — warning when a joint window exists (the fix proposes
  dates), blocking when none does (the fix says which constraint blocks it).
* ``moratorium`` — blocking; warning for emergency repair (抢修, 24-hour notice, 第34条);
  info for trenchless works (no pavement opened).
* ``clearance`` — blocking for table values of medium or high confidence, warning for low.
  Checked for every pair sharing a road, whatever their periods: the pipes end up side by side.
* ``blackout`` — blocking; info for emergency repair. Only works that open a road.
* ``outside_district`` — warning (often a wrong coordinate system); ``off_road`` — info.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from onetrench.bulk import frozen_instances
from onetrench.domain import (
    ExcavationMethod,
    Finding,
    FindingKind,
    Interval,
    Occupancy,
    Road,
    RoadClass,
    Severity,
    SharedStretch,
    Work,
    WorksKind,
)
from onetrench.errors import InputError, Problem
from onetrench.gcpause import without_cyclic_gc
from onetrench.settings import BlackoutPeriod, RuleThresholds, Settings
from scheduling._geom import road_substring, road_substrings
from scheduling.clearance_table import Confidence, max_clearance_m, required_clearance_m
from scheduling.windows import Calendar, JointWindow, NoWindow, bounds_no_window, joint_window, same_period

__all__ = ["add_years", "evaluate", "part_items", "station", "validate_inputs"]

_KIND_ORDER = {k: i for i, k in enumerate(FindingKind)}


def station(measure_m: float) -> str:
    """Chainage in the road engineers' notation (桩号).

    Examples
    --------
    >>> station(1234.4), station(80)
    ('K1+234', 'K0+080')
    """
    return _station_text(round(measure_m))


@lru_cache(maxsize=1 << 16)
def _station_text(m: int) -> str:
    """``station`` of a whole metre, kept: the stretches of a plan end on the same few thousand metres."""
    return f"K{m // 1000}+{m % 1000:03d}"


def _stations(intervals: Sequence[Interval]) -> str:
    if len(intervals) == 1:  # the usual case, without the generator and join
        return f"{station(intervals[0].from_m)}–{station(intervals[0].to_m)}"
    return "、".join(f"{station(iv.from_m)}–{station(iv.to_m)}" for iv in intervals)


def add_years(day: dt.date, years: int) -> dt.date:
    """``day`` plus whole years (29 February becomes 28 February).

    Examples
    --------
    >>> add_years(dt.date(2024, 2, 29), 3)
    datetime.date(2027, 2, 28)
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _shift_text(days: int) -> tuple[str, str]:
    if days > 0:
        return f"推迟 {days} 天", f"{days} days later"
    if days < 0:
        return f"提前 {-days} 天", f"{-days} days earlier"
    return "日期不变", "unchanged"


def part_items(items: Iterable[Any]) -> list[tuple[str, BaseGeometry]]:
    """Normalise off-road / outside-district parts to ``(work_id, geometry)`` pairs.

    Accepts ``(work_id, geometry)`` tuples, objects with ``work_id`` and ``geometry``
    attributes, or a (Geo)DataFrame with those columns.
    """
    if hasattr(items, "itertuples"):
        return [(str(r.work_id), r.geometry) for r in items.itertuples()]
    out: list[tuple[str, BaseGeometry]] = []
    for item in items:
        if isinstance(item, tuple):
            out.append((str(item[0]), item[1]))
        else:
            out.append((str(item.work_id), item.geometry))
    return out


def validate_inputs(
    works: Sequence[Work], roads: Sequence[Road], occupancy: Sequence[Occupancy], shared: Sequence[SharedStretch]
) -> None:
    """Check the references between works, roads, occupancy and shared stretches.

    Raises
    ------
    InputError
        Listing every duplicate id and every dangling reference.
    """
    work_ids = {w.work_id for w in works}
    road_ids_ = {r.road_id for r in roads}
    if (
        len(work_ids) == len(works)
        and len(road_ids_) == len(roads)
        and {o.work_id for o in occupancy} <= work_ids
        and {o.road_id for o in occupancy} <= road_ids_
        and {i for s in shared for i in s.work_ids} <= work_ids
        and {s.road_id for s in shared} <= road_ids_
        and all(len(o.offsets_m) == len(o.intervals) for o in occupancy)
    ):
        return  # nothing to report (the loops below list every problem, in order, when there is one)
    problems: list[Problem] = []
    seen: set[str] = set()
    for w in works:
        if w.work_id in seen:
            problems.append(
                Problem("work.duplicate_id", f"工程编号重复：{w.work_id}", f"duplicate work id {w.work_id}")
            )
        seen.add(w.work_id)
    road_ids: set[str] = set()
    for r in roads:
        if r.road_id in road_ids:
            problems.append(
                Problem("road.duplicate_id", f"道路编号重复：{r.road_id}", f"duplicate road id {r.road_id}")
            )
        road_ids.add(r.road_id)
    refs: list[tuple[str, Sequence[str], str]] = [("occupancy", (o.work_id,), o.road_id) for o in occupancy]
    refs += [("shared", s.work_ids, s.road_id) for s in shared]
    for what, wids, rid in refs:
        for wid in wids:
            if wid not in seen:
                problems.append(
                    Problem(
                        f"{what}.unknown_work", f"{what} 引用了不存在的工程 {wid}", f"{what} names unknown work {wid}"
                    )
                )
        if rid not in road_ids:
            problems.append(
                Problem(f"{what}.unknown_road", f"{what} 引用了不存在的道路 {rid}", f"{what} names unknown road {rid}")
            )
    for o in occupancy:
        if len(o.offsets_m) != len(o.intervals):
            problems.append(
                Problem(
                    "occupancy.offsets",
                    f"工程 {o.work_id} 在道路 {o.road_id} 上的横向偏移数与区间数不一致",
                    f"work {o.work_id} on road {o.road_id}: offsets and intervals differ in number",
                )
            )
    if problems:
        raise InputError(
            f"规划输入有 {len(problems)} 处引用错误",
            f"{len(problems)} reference problems in the plan input",
            details=problems,
        )


class FindingsMemo:
    """What :func:`evaluate` makes once per work, road and road class, kept between its calls (and the calendar).

    Give one memo to the :func:`evaluate` calls over parts of one plan (the strips of a large
    upload, ``api.services.check.FocusIndex``): the texts naming a work or a road are then made
    once, not once per call (a work next to several strips is named in each). A memo belongs to
    one ``settings`` and to works and roads that do not change while it is used.
    """

    __slots__ = ("calendar", "roads", "rules", "settings", "works")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.calendar = Calendar.from_settings(settings)
        self.works: dict[str, _WorkFacts] = {}
        self.roads: dict[str, _RoadFacts] = {}
        self.rules: dict[RoadClass | None, RuleThresholds] = {}


class _Ctx:
    """Lookups shared by the finding builders, and what they compute once per work, road or pair."""

    def __init__(
        self,
        works: Sequence[Work],
        roads: Sequence[Road],
        occupancy: Sequence[Occupancy],
        settings: Settings,
        memo: FindingsMemo | None = None,
    ) -> None:
        if memo is None:
            memo = FindingsMemo(settings)
        elif memo.settings is not settings:
            raise ValueError("a FindingsMemo serves the settings it was made for")
        self.settings = settings
        self.works = {w.work_id: w for w in works}
        self.roads = {r.road_id: r for r in roads}
        self.occ = {(o.work_id, o.road_id): o for o in occupancy}
        self.roads_of: dict[str, list[str]] = defaultdict(list)
        for o in occupancy:
            self.roads_of[o.work_id].append(o.road_id)
        self.calendar = memo.calendar
        self._work_facts = memo.works
        self._road_facts = memo.roads
        self._rules = memo.rules
        self._windows: dict[tuple[str, str, int], JointWindow | NoWindow] = {}
        self.road_findings = _RoadFindings()

    def facts(self, w: Work) -> _WorkFacts:
        """The texts naming ``w`` and its half width, made once per work."""
        got = self._work_facts.get(w.work_id)
        if got is None:
            got = self._work_facts[w.work_id] = _WorkFacts(w)
        return got

    def road(self, road_id: str) -> _RoadFacts:
        """The road ``road_id``, its labels and its thresholds, looked up once per road."""
        got = self._road_facts.get(road_id)
        if got is None:
            road = self.roads[road_id]
            got = self._road_facts[road_id] = _RoadFacts(road, self.rule(road.road_class))
        return got

    def rule(self, road_class: RoadClass | None) -> RuleThresholds:
        """``settings.rule_for(road_class)``, built once per class."""
        got = self._rules.get(road_class)
        if got is None:
            got = self._rules[road_class] = self.settings.rule_for(road_class)
        return got

    def joint_window(self, a: Work, b: Work, gap_days: int, *, keep: bool) -> JointWindow | NoWindow:
        """:func:`~scheduling.windows.joint_window` of two works.

        Kept for the pair's other shared roads when ``keep`` (only then: most pairs share one road).
        """
        key = (a.work_id, b.work_id, gap_days)
        got = self._windows.get(key)
        if got is None:
            got = self._bounds_block(a, b, gap_days) or joint_window(
                [a, b], calendar=self.calendar, road_ids=self.roads_of, gap_days=gap_days
            )
            if keep:
                self._windows[key] = got
        return got

    def _bounds_block(self, a: Work, b: Work, gap_days: int) -> NoWindow | None:
        """``bounds_block([a, b], gap_days=…)`` when the bounds do not overlap, from the works' facts.

        ``None`` otherwise, and when a work's duration exceeds its bounds (:func:`joint_window`
        says so). Most pairs on different periods stop here, on the day numbers and texts each
        work's facts hold, without the general function's date arithmetic per pair.
        """
        fa, fb = self.facts(a), self.facts(b)
        if not (fa.fits and fb.fits):
            return None
        ia, ib = a.work_id, b.work_id
        late, late_id = (fa, ia) if (fa.first, ia) > (fb.first, ib) else (fb, ib)
        early, early_id = (fa, ia) if (fa.last, ia) < (fb.last, ib) else (fb, ib)
        if late.first - early.last <= gap_days:
            return None
        fixed = [i for f, i in ((early, early_id), (late, late_id)) if f.fixed]
        return bounds_no_window(early_id, early.last_iso, late_id, late.first_iso, fixed)


class _WorkFacts:
    """One work as the findings use it: its labels, its planned dates and bounds as day numbers, its half width.

    ``first``/``last`` are its flexible bounds (:attr:`Work.window_start`, :attr:`Work.window_end`)
    as ordinals, with their ISO texts; ``fits``: the planned duration fits in the bounds;
    ``fixed``: the work gave no flexible bounds.
    """

    __slots__ = (
        "first",
        "first_iso",
        "fits",
        "fixed",
        "half_width_m",
        "label_en",
        "label_zh",
        "last",
        "last_iso",
        "plan_en",
        "plan_zh",
    )

    def __init__(self, w: Work) -> None:
        owner = f"，{w.owner}" if w.owner else ""
        self.label_zh = f"{w.work_id}（{w.utility.zh}{owner}）"
        self.label_en = f"{w.work_id} ({w.utility.en})"
        start_iso, end_iso = w.start.isoformat(), w.end.isoformat()
        dates = f"{start_iso}–{end_iso}"
        self.plan_zh = f"{self.label_zh}计划 {dates}"
        self.plan_en = f"{self.label_en} plans {dates}"
        self.half_width_m = _half_width_m(w)
        start, end = w.start.toordinal(), w.end.toordinal()
        first, last = w.earliest_start, w.latest_end
        self.fixed = first is None and last is None
        self.first, self.first_iso = (start, start_iso) if first is None else (first.toordinal(), first.isoformat())
        self.last, self.last_iso = (end, end_iso) if last is None else (last.toordinal(), last.isoformat())
        self.fits = self.last - self.first >= end - start


def _half_width_m(w: Work) -> float:
    """From the pipe axis to its outer wall, in metres (0 when the diameter is not known)."""
    return (w.diameter_mm or 0.0) / 2000.0


class _RoadFacts:
    """One road as the findings use it: the road, its labels and the thresholds of its class."""

    __slots__ = ("label_en", "label_zh", "min_shared_m", "period_gap_days", "road")

    def __init__(self, road: Road, rule: RuleThresholds) -> None:
        self.road = road
        self.label_zh = f"{road.name}（{road.road_id}）"
        self.label_en = f"{road.name} ({road.road_id})"
        self.min_shared_m = rule.min_shared_m
        self.period_gap_days = rule.period_gap_days


#: The fields of a finding on a road that :class:`_RoadFindings` keeps as rows (geometry apart).
_FIELDS = ("kind", "severity", "work_ids", "zh", "en", "fix_zh", "fix_en", "road_id", "road_name", "measures", "data")


class _RoadFindings:
    """The findings on a road, kept as rows of their fields until all are known, then built at once.

    Their geometry is the road between their measures, cut for all in one batch
    (:func:`~scheduling._geom.road_substrings`).
    """

    __slots__ = ("roads", "rows")

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []  # the values of _FIELDS
        self.roads: list[Road] = []

    def add(  # noqa: PLR0917 - the fields of Finding, in order
        self,
        kind: FindingKind,
        severity: Severity,
        work_ids: tuple[str, ...],
        zh: str,
        en: str,
        fix_zh: str,
        fix_en: str,
        road: Road,
        measures: tuple[Interval, ...],
        data: dict[str, Any],
    ) -> None:
        """Add a finding on ``road`` at ``measures``."""
        self.rows.append((kind, severity, work_ids, zh, en, fix_zh, fix_en, road.road_id, road.name, measures, data))
        self.roads.append(road)

    def build(self) -> list[Finding]:
        """The findings added, in order, with their geometries."""
        if not self.rows:
            return []
        geometries = road_substrings([(road, row[9]) for road, row in zip(self.roads, self.rows, strict=True)])
        columns = dict(zip(_FIELDS, zip(*self.rows, strict=True), strict=True))
        return frozen_instances(Finding, {**columns, "geometry": geometries}, len(self.rows))


@without_cyclic_gc
def evaluate(
    works: Sequence[Work],
    roads: Sequence[Road],
    occupancy: Sequence[Occupancy],
    shared: Sequence[SharedStretch],
    *,
    settings: Settings,
    today: dt.date | None = None,
    off_road: Iterable[Any] = (),
    outside_district: Iterable[Any] = (),
    focus: Collection[str] | None = None,
    memo: FindingsMemo | None = None,
) -> list[Finding]:
    """Return every finding of the plan, sorted by kind, road and works.

    Parameters
    ----------
    works, roads
        The plan's works and the road network (working CRS).
    occupancy, shared
        The detector's output (see ``geo.overlap.detect``).
    settings
        Thresholds, calendar and moratorium lengths.
    today
        Date the check is made (default: today); recorded in moratorium findings.
    off_road, outside_district
        Parts of works outside every road corridor / outside the district, as
        ``(work_id, geometry)`` pairs or objects with those attributes.
    focus
        Work ids (e.g. the works of a new upload): when given, only the findings naming at least
        one of them are made, the same as filtering the findings of the whole plan afterwards
        (joint windows still see every work's roads). ``None``: every finding.

    Raises
    ------
    InputError
        When occupancy or shared stretches name unknown works or roads.

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> from onetrench.domain import UtilityKind
    >>> line = LineString([(0, 0), (100, 0)])
    >>> road = Road(road_id="R", name="x", road_class=RoadClass.BRANCH, width_m=20, geometry=line,
    ...             last_works_date=dt.date(2025, 6, 1), last_works_kind=WorksKind.NEW)
    >>> works = [Work(work_id=i, utility=UtilityKind.GAS, owner="", geometry=line,
    ...               start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 9)) for i in "AB"]
    >>> occupancy = [Occupancy(work_id=i, road_id="R", intervals=(Interval(0, 100),), offsets_m=(off,))
    ...              for i, off in (("A", -5.0), ("B", 5.0))]
    >>> shared = [SharedStretch(road_id="R", work_ids=("A", "B"), intervals=(Interval(0, 100),))]
    >>> settings = Settings(blackouts=[])
    >>> [(f.kind.value, f.work_ids) for f in evaluate(works, [road], occupancy, shared, settings=settings)]
    [('same_road_same_period', ('A', 'B')), ('moratorium', ('A',)), ('moratorium', ('B',))]
    >>> [(f.kind.value, f.work_ids) for f in evaluate(works, [road], occupancy, [], settings=settings, focus={"B"})]
    [('moratorium', ('B',))]
    """
    validate_inputs(works, roads, occupancy, shared)
    ctx = _Ctx(works, roads, occupancy, settings, memo)
    as_of = today or dt.date.today()
    off_road_parts, outside_parts = part_items(off_road), part_items(outside_district)
    occupancy_checked: Sequence[Occupancy] = occupancy
    works_checked: Collection[str] = ctx.roads_of.keys()
    if focus is not None:
        focus = set(focus)
        shared = [sh for sh in shared if not focus.isdisjoint(sh.work_ids)]
        occupancy_checked = [o for o in occupancy if o.work_id in focus]
        works_checked = [wid for wid in ctx.roads_of if wid in focus]
        off_road_parts = [p for p in off_road_parts if p[0] in focus]
        outside_parts = [p for p in outside_parts if p[0] in focus]
    _same_road(ctx, shared)
    _moratorium(ctx, occupancy_checked, as_of)
    _clearance(ctx, shared)
    out = ctx.road_findings.build()
    out += _blackout(ctx, works_checked)
    out += _parts(ctx, off_road_parts, FindingKind.OFF_ROAD)
    out += _parts(ctx, outside_parts, FindingKind.OUTSIDE_DISTRICT)
    out.sort(key=lambda f: (_KIND_ORDER[f.kind], f.road_id or "", f.work_ids))
    return out


# --------------------------------------------------------------------------------------
# same road
# --------------------------------------------------------------------------------------


_SAME_FIX_ZH = "纳入同一联合开挖包，由牵头单位编制占掘路施工组织方案，通过渝快办申请联合审批。"
_SAME_FIX_EN = (
    "Put both works into one joint-excavation bundle; the lead unit prepares the "
    "占掘路施工组织方案 (road occupation and excavation plan) and applies for one joint permit."
)


def _same_road(ctx: _Ctx, shared: Sequence[SharedStretch]) -> None:
    """Add the same-road findings of the stretches ``shared`` to ``ctx.road_findings``."""
    works = ctx.works
    # the pairs sharing more than one road: their joint window is kept for the next road
    repeated = {pair for pair, n in Counter(sh.work_ids for sh in shared).items() if n > 1}
    for sh in shared:
        pair = sh.work_ids
        on = ctx.road(sh.road_id)
        shared_m = sh.shared_m
        if shared_m < on.min_shared_m:
            continue
        a, b = works[pair[0]], works[pair[1]]
        ta, tb = ctx.facts(a), ctx.facts(b)
        where = _stations(sh.intervals)
        rounded_m = round(shared_m, 3)
        if same_period(a.start, a.end, b.start, b.end, gap_days=on.period_gap_days):
            ctx.road_findings.add(
                FindingKind.SAME_ROAD_SAME_PERIOD,
                Severity.INFO,
                pair,
                f"{on.label_zh} {where} 段：{ta.label_zh}与{tb.label_zh}同一路段、同一时段施工，"
                f"共用 {shared_m:.0f} m，应一次开挖、联合审批。",
                f"{on.label_en} {where}: {ta.label_en} and {tb.label_en} dig the same road in the same period over "
                f"{shared_m:.0f} m: one excavation, one joint permit.",
                _SAME_FIX_ZH,
                _SAME_FIX_EN,
                on.road,
                sh.intervals,
                {"shared_m": rounded_m},
            )
            continue
        zh = (
            f"{on.label_zh} {where} 段：{ta.plan_zh}，{tb.plan_zh}，同一路段不同时段施工，将重复开挖 {shared_m:.0f} m。"
        )
        en = (
            f"{on.label_en} {where}: {ta.plan_en} and {tb.plan_en}: the same road would be dug twice over "
            f"{shared_m:.0f} m (重复开挖)."
        )
        jw = ctx.joint_window(a, b, on.period_gap_days, keep=pair in repeated)
        if isinstance(jw, JointWindow):
            parts_zh, parts_en = [], []
            for w in (a, b):
                sz, se = _shift_text(jw.shifts[w.work_id])
                parts_zh.append(f"{w.work_id} {jw.starts[w.work_id]}–{jw.ends[w.work_id]}（{sz}）")
                parts_en.append(f"{w.work_id} {jw.starts[w.work_id]}–{jw.ends[w.work_id]} ({se})")
            fix_zh = (
                f"建议调整为：{'；'.join(parts_zh)}，合计调整 {jw.total_shift_days} 天，同一时段联合开挖，"
                "纳入联合审批。"
            )
            fix_en = (
                f"Proposed dates: {'; '.join(parts_en)}; {jw.total_shift_days} days of shift in total, so both "
                "dig together under one joint permit."
            )
            severity = Severity.WARNING
            data: dict[str, Any] = {
                "shared_m": rounded_m,
                "proposal": {i: [jw.starts[i].isoformat(), jw.ends[i].isoformat()] for i in pair},
                "total_shift_days": jw.total_shift_days,
            }
        else:
            fix_zh = (
                f"弹性时限内没有共同施工窗口：{jw.zh}。请两单位协商放宽弹性时限、调整计划，或后施工方改用"
                "非开挖方式，避免重复开挖。"
            )
            fix_en = (
                f"No common window exists: {jw.en}. The two units should widen their flexible bounds or "
                "re-plan, or the later work should go trenchless, so the road is not dug twice."
            )
            severity = Severity.BLOCKING
            data = {
                "shared_m": rounded_m,
                "blocking": jw.reason,
                "blocking_works": list(jw.work_ids),
                "blackouts": list(jw.blackouts),
            }
        ctx.road_findings.add(
            FindingKind.SAME_ROAD_DIFFERENT_PERIOD,
            severity,
            pair,
            zh,
            en,
            fix_zh,
            fix_en,
            on.road,
            sh.intervals,
            data,
        )


# --------------------------------------------------------------------------------------
# moratorium
# --------------------------------------------------------------------------------------


def _moratorium(ctx: _Ctx, occupancy: Sequence[Occupancy], as_of: dt.date) -> None:
    """Add the moratorium findings of ``occupancy`` to ``ctx.road_findings``."""
    s = ctx.settings
    protected: dict[str, tuple[int, dt.date]] = {}
    for occ in occupancy:
        road = ctx.roads[occ.road_id]
        if road.last_works_date is None or road.last_works_kind is None or not occ.intervals:
            continue
        got = protected.get(road.road_id)
        if got is None:
            years = (
                s.moratorium_years_overhaul if road.last_works_kind == WorksKind.OVERHAUL else s.moratorium_years_new
            )
            got = protected[road.road_id] = (years, add_years(road.last_works_date, years))
        years, until = got
        w = ctx.works[occ.work_id]
        if not (w.start < until and w.end >= road.last_works_date):
            continue
        about, on = ctx.facts(w), ctx.road(road.road_id)
        lz, le, rz, re_ = about.label_zh, about.label_en, on.label_zh, on.label_en
        where = _stations(occ.intervals)
        kind = road.last_works_kind
        zh = (
            f"{rz} 于 {road.last_works_date} {kind.zh}竣工，保护期 {years} 年至 {until}；{lz}计划 {w.start} 开工，"
            f"在保护期内开挖 {where}（城市道路管理条例第三十三条）。"
        )
        en = (
            f"{re_} had {kind.en} works completed on {road.last_works_date}; it is protected for {years} years, "
            f"until {until}. {le} plans to dig {where} from {w.start}, inside that period "
            "(Urban Road Regulations, art. 33)."
        )
        data: dict[str, Any] = {"protected_until": until.isoformat(), "as_of": as_of.isoformat()}
        latest_start = w.window_end - dt.timedelta(days=w.duration_days - 1)
        if w.emergency:
            severity = Severity.WARNING
            fix_zh = (
                "抢修工程可先行破路抢修（条例第三十四条），须同时通知市政工程行政主管部门和公安交通管理部门，"
                "并在 24 小时内补办批准手续。"
            )
            fix_en = (
                "Emergency repair may open the road first (art. 34): notify the municipal works authority and the "
                "traffic police at once and complete the approval within 24 hours."
            )
            data["notice_hours"] = 24
        elif w.method != ExcavationMethod.OPEN_CUT:
            severity = Severity.INFO
            fix_zh = f"{w.method.zh}施工不破除路面，保护期内可施工；工作井、接收井如需占掘路面，仍须报批。"
            fix_en = (
                f"{w.method.en} does not open the pavement and may proceed; launch or reception pits that "
                "open the road still need approval."
            )
        elif latest_start >= until:
            severity = Severity.BLOCKING
            end = until + dt.timedelta(days=w.duration_days - 1)
            fix_zh = f"在弹性时限内推迟至保护期满后施工：{until}–{end}；或改用非开挖（定向钻/顶管）穿越。"
            fix_en = (
                f"Move the work after the protection period, within its bounds: {until}–{end}; or go trenchless "
                "(directional drilling / pipe jacking)."
            )
            data["proposal"] = [until.isoformat(), end.isoformat()]
        else:
            severity = Severity.BLOCKING
            fix_zh = (
                f"弹性时限内无法避开保护期（至 {until}）：请改用非开挖（定向钻/顶管）方式，或确需开挖的，"
                "报经县级以上人民政府批准（条例第三十三条）。"
            )
            fix_en = (
                f"The work cannot avoid the protection period (until {until}) within its bounds: go trenchless "
                "(directional drilling / pipe jacking), or, if digging is unavoidable, obtain the approval of the "
                "county-level government (art. 33)."
            )
        ctx.road_findings.add(
            FindingKind.MORATORIUM,
            severity,
            (w.work_id,),
            zh,
            en,
            fix_zh,
            fix_en,
            road,
            occ.intervals,
            data,
        )


# --------------------------------------------------------------------------------------
# clearance
# --------------------------------------------------------------------------------------


def _side_by_side(oa: Occupancy, ob: Occupancy, half_a: float, half_b: float) -> list[tuple[float, float, float]]:
    """``(from_m, to_m, clear distance)`` of each stretch where two occupancies run side by side.

    The clear distance is between the outer walls: the offsets' difference less both half widths.
    """
    out = []
    for ia, off_a in zip(oa.intervals, oa.offsets_m, strict=True):
        for ib, off_b in zip(ob.intervals, ob.offsets_m, strict=True):
            lo, hi = max(ia.from_m, ib.from_m), min(ia.to_m, ib.to_m)
            if hi > lo:
                out.append((lo, hi, abs(off_a - off_b) - half_a - half_b))
    return out


def _maybe_closer(ctx: _Ctx, shared: Sequence[SharedStretch], limit: float) -> list[SharedStretch]:
    """The stretches whose two works may run closer than ``limit`` (outer walls) side by side.

    :func:`_side_by_side` over all stretches at once (numpy), with a margin of 1e-6 m: it only
    leaves out the stretches where the exact test fails by more than that.
    """
    occupancies = list(ctx.occ.values())
    position = {key: k for k, key in enumerate(ctx.occ)}
    counts = np.fromiter((len(o.intervals) for o in occupancies), np.int64, len(occupancies))
    first = np.cumsum(counts) - counts
    n = int(counts.sum())
    from_m = np.fromiter((iv.from_m for o in occupancies for iv in o.intervals), np.float64, n)
    to_m = np.fromiter((iv.to_m for o in occupancies for iv in o.intervals), np.float64, n)
    offset = np.fromiter((off for o in occupancies for off in o.offsets_m), np.float64, n)
    works = ctx.works
    half = np.fromiter((_half_width_m(works[o.work_id]) for o in occupancies), np.float64, len(occupancies))
    a = np.fromiter((position.get((sh.work_ids[0], sh.road_id), -1) for sh in shared), np.int64, len(shared))
    b = np.fromiter((position.get((sh.work_ids[1], sh.road_id), -1) for sh in shared), np.int64, len(shared))
    both = np.flatnonzero((a >= 0) & (b >= 0))
    a, b = a[both], b[both]
    pairs = counts[a] * counts[b]  # interval pairs of each stretch
    stretch = np.repeat(np.arange(len(both)), pairs)
    rank = np.arange(len(stretch)) - np.repeat(np.cumsum(pairs) - pairs, pairs)
    i = first[a][stretch] + rank // counts[b][stretch]
    j = first[b][stretch] + rank % counts[b][stretch]
    overlap = np.minimum(to_m[i], to_m[j]) > np.maximum(from_m[i], from_m[j])
    edge = np.abs(offset[i] - offset[j]) - half[a][stretch] - half[b][stretch]
    near = np.unique(stretch[overlap & (edge < limit + 1e-6)])
    return [shared[k] for k in both[near].tolist()]


def _clearance(ctx: _Ctx, shared: Sequence[SharedStretch]) -> None:
    """Add the clearance findings of the stretches ``shared`` to ``ctx.road_findings``."""
    # no row of the table asks for more than this: pairs farther apart need no rule lookup
    beyond = max_clearance_m() - 1e-9
    occ, works = ctx.occ, ctx.works
    for sh in _maybe_closer(ctx, shared, beyond):
        id_a, id_b = sh.work_ids
        oa, ob = occ.get((id_a, sh.road_id)), occ.get((id_b, sh.road_id))
        if oa is None or ob is None:
            continue
        a, b = works[id_a], works[id_b]
        ta, tb = ctx.facts(a), ctx.facts(b)
        close = [piece for piece in _side_by_side(oa, ob, ta.half_width_m, tb.half_width_m) if piece[2] < beyond]
        if not close:
            continue
        rule = required_clearance_m(a, b)
        if rule is None:
            continue
        limit = rule.clearance_m - 1e-9
        bad = [piece for piece in close if piece[2] < limit]
        if not bad:
            continue
        worst = min(edge for _, _, edge in bad)
        on = ctx.road(sh.road_id)
        road = on.road
        la_zh, la_en, lb_zh, lb_en = ta.label_zh, ta.label_en, tb.label_zh, tb.label_en
        rz, re_ = on.label_zh, on.label_en
        measures = tuple(Interval(lo, hi) for lo, hi, _ in bad)
        where = _stations(measures)
        need = rule.clearance_m - worst
        assumed_zh = f"（假定：{'；'.join(rule.assumptions_zh)}）" if rule.assumptions_zh else ""
        assumed_en = f" (assumed: {'; '.join(rule.assumptions_en)})" if rule.assumptions_en else ""
        unknown = [w.work_id for w in (a, b) if w.diameter_mm is None]
        if unknown:
            assumed_zh += f"（{'、'.join(unknown)} 管径未知，按管中心计）"
            assumed_en += f" ({', '.join(unknown)}: diameter unknown, measured from the pipe axis)"
        severity = Severity.WARNING if rule.confidence == Confidence.LOW else Severity.BLOCKING
        ctx.road_findings.add(
            FindingKind.CLEARANCE,
            severity,
            sh.work_ids,
            f"{rz} {where} 段：{la_zh}与{lb_zh}平行敷设，外壁水平净距 {worst:.2f} m，小于 {rule.source} "
            f"规定的 {rule.clearance_m:.1f} m（可信度：{rule.confidence.zh}）{assumed_zh}。",
            f"{re_} {where}: {la_en} and {lb_en} run parallel {worst:.2f} m apart (outer wall to outer "
            f"wall), less than the {rule.clearance_m:.1f} m of {rule.source} (confidence: "
            f"{rule.confidence.en}){assumed_en}.",
            f"将 {b.work_id} 横向外移至少 {need:.2f} m，使与 {a.work_id} 外壁净距不小于 "
            f"{rule.clearance_m:.1f} m；或在联合开挖的占掘路施工组织方案中统一排布管位。",
            f"Move {b.work_id} at least {need:.2f} m sideways so it stays {rule.clearance_m:.1f} m "
            f"clear of {a.work_id}, or lay out both in the joint excavation plan.",
            road,
            measures,
            {
                "clear_distance_m": round(worst, 3),
                "required_m": rule.clearance_m,
                "source": rule.source,
                "confidence": rule.confidence.value,
                "assumptions_en": list(rule.assumptions_en),
            },
        )


# --------------------------------------------------------------------------------------
# blackout
# --------------------------------------------------------------------------------------


def _blackout(ctx: _Ctx, work_ids: Collection[str]) -> list[Finding]:
    """The blackout findings of the works ``work_ids`` (among those occupying a road)."""
    out = []
    for wid in work_ids:
        road_ids = ctx.roads_of[wid]
        w = ctx.works[wid]
        for period in ctx.calendar.applicable(road_ids):
            if not (w.start <= period.end and w.end >= period.start):
                continue
            out.append(_blackout_finding(ctx, w, road_ids, period))
    return out


def _blackout_finding(ctx: _Ctx, w: Work, road_ids: Sequence[str], period: BlackoutPeriod) -> Finding:
    about = ctx.facts(w)
    concerned = sorted(r for r in road_ids if r in period.road_ids) if period.road_ids else []
    road = ctx.roads[concerned[0]] if concerned else None
    if concerned:
        pieces = [road_substring(ctx.roads[r], ctx.occ[(w.work_id, r)].intervals) for r in concerned]
        geom: BaseGeometry | None = shapely.union_all([p for p in pieces if p is not None])
        names = "、".join(ctx.roads[r].name for r in concerned)
        scope_zh, scope_en = f"（{names}）", f" ({', '.join(concerned)})"
    else:
        geom = w.geometry
        scope_zh, scope_en = "", ""
    zh = f"{about.plan_zh} 施工，与禁止施工时段「{period.name_zh}」{period.start}–{period.end}{scope_zh}重叠。"
    en = f"{about.plan_en}, overlapping the blackout {period.name_en} {period.start}–{period.end}{scope_en}."
    runs = ctx.calendar.allowed_starts(w, road_ids)
    s0 = w.start.toordinal()
    best = min(((abs(min(max(s0, a), b) - s0), min(max(s0, a), b)) for a, b in runs), default=None)
    data: dict[str, Any] = {"blackout": period.name_en, "blackout_start": period.start.isoformat()}
    if w.emergency:
        severity = Severity.INFO
        fix_zh = "抢修工程可在禁止施工时段内施工，须做好交通疏导并按规定报告。"
        fix_en = "Emergency repair may proceed during the blackout with traffic management and notice."
    elif best is not None:
        severity = Severity.BLOCKING
        new_start = dt.date.fromordinal(best[1])
        new_end = new_start + dt.timedelta(days=w.duration_days - 1)
        sz, se = _shift_text(best[1] - s0)
        fix_zh = f"建议改为 {new_start}–{new_end} 施工（{sz}），避开禁止施工时段。"
        fix_en = f"Proposed dates {new_start}–{new_end} ({se}), clear of the blackout."
        data["proposal"] = [new_start.isoformat(), new_end.isoformat()]
    else:
        severity = Severity.BLOCKING
        fix_zh = f"弹性时限内无法避开「{period.name_zh}」：请调整计划日期或放宽弹性时限。"
        fix_en = f"The work cannot avoid {period.name_en} within its bounds: re-plan or widen its flexible bounds."
    return Finding(
        kind=FindingKind.BLACKOUT,
        severity=severity,
        work_ids=(w.work_id,),
        zh=zh,
        en=en,
        fix_zh=fix_zh,
        fix_en=fix_en,
        road_id=road.road_id if road else None,
        road_name=road.name if road else None,
        geometry=geom,
        data=data,
    )


# --------------------------------------------------------------------------------------
# off road / outside district
# --------------------------------------------------------------------------------------


def _parts(ctx: _Ctx, items: list[tuple[str, BaseGeometry]], kind: FindingKind) -> list[Finding]:
    by_work: dict[str, list[BaseGeometry]] = defaultdict(list)
    for wid, geom in items:
        if geom is not None and not geom.is_empty:
            by_work[wid].append(geom)
    out = []
    for wid in sorted(by_work):
        geom = shapely.union_all(by_work[wid])
        w = ctx.works.get(wid)
        lz, le = (ctx.facts(w).label_zh, ctx.facts(w).label_en) if w else (wid, wid)
        if geom.area > 0:
            size_zh, size_en = f"{geom.area:.0f} m²", f"{geom.area:.0f} m²"
        else:
            size_zh, size_en = f"{geom.length:.0f} m", f"{geom.length:.0f} m"
        if kind == FindingKind.OFF_ROAD:
            f = Finding(
                kind=kind,
                severity=Severity.INFO,
                work_ids=(wid,),
                zh=f"{lz}有 {size_zh} 位于道路红线外，该部分不占用城市道路，无需占掘路许可。",
                en=f"{le}: {size_en} lie outside every road corridor; that part needs no road excavation permit.",
                fix_zh="核实红线外路由；如涉及绿地、河道或其他用地，按相应规定另行办理手续。",
                fix_en="Check the route outside the red lines; green space, river or other land needs its own "
                "approval.",
                geometry=geom,
                data={"size": round(geom.area if geom.area > 0 else geom.length, 3)},
            )
        else:
            f = Finding(
                kind=kind,
                severity=Severity.WARNING,
                work_ids=(wid,),
                zh=f"{lz}有 {size_zh} 位于綦江区行政区域外，不属本区审批。",
                en=f"{le}: {size_en} lie outside Qijiang District and are not approved here.",
                fix_zh="核对坐标系（是否误用 GCJ-02/BD-09 坐标或经纬度互换）；"
                "如确在区外，区外部分向所在区县主管部门申请。",
                fix_en="Check the coordinate system (GCJ-02/BD-09 offsets, swapped lon/lat); if the part really lies "
                "outside, apply to that district's authority for it.",
                geometry=geom,
                data={"size": round(geom.area if geom.area > 0 else geom.length, 3)},
            )
        out.append(f)
    return out

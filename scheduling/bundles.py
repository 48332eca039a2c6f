"""Bundles: works linked by 「同一路段、同一时段」 form one joint excavation and one permit.

A bundle is a connected group of works in the graph whose edges are shared road stretches
(at least ``min_shared_m``) between works in the same period under a schedule (the planned
dates, or accepted proposals). Its id is ``"B-"`` plus the first 10 hex digits of the SHA-256
of the sorted member ids: the same members always give the same id.

The lead unit (牵头单位) is the member whose ``attributes["lead"]`` is true, if any; otherwise
the one with the longest occupancy (ties to the smaller id).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from onetrench.domain import Bundle, Finding, Interval, Occupancy, Road, RoadStretch, Severity, SharedStretch, Work
from onetrench.settings import Settings
from scheduling._sets import DisjointSets
from scheduling.savings import group_pieces, group_savings, opens_road, trench_width_m
from scheduling.windows import same_period

__all__ = ["Schedule", "build_bundles", "bundle_id", "linked_groups"]

#: ``work_id`` → (start, end) in force.
Schedule = Mapping[str, tuple[dt.date, dt.date]]


def bundle_id(work_ids: Sequence[str]) -> str:
    """Stable id of the bundle with these members (order does not matter).

    Examples
    --------
    >>> bundle_id(["b", "a"]) == bundle_id(["a", "b"])
    True
    >>> bundle_id(["a", "b"])[:2]
    'B-'
    """
    digest = hashlib.sha256("\n".join(sorted(work_ids)).encode("utf-8")).hexdigest()
    return f"B-{digest[:10]}"


def linked_groups(
    works: Sequence[Work],
    roads: Sequence[Road],
    shared: Sequence[SharedStretch],
    *,
    settings: Settings,
    schedule: Schedule | None = None,
) -> list[list[str]]:
    """Groups (of two or more) of works linked by same road, same period; sorted ids, sorted groups."""
    when = schedule or {}
    by_id = {w.work_id: w for w in works}
    road_by_id = {r.road_id: r for r in roads}
    dsu = DisjointSets()
    for sh in shared:
        road = road_by_id.get(sh.road_id)
        rule = settings.rule_for(road.road_class if road else None)
        if sh.shared_m < rule.min_shared_m:
            continue
        a, b = sh.work_ids
        sa, ea = when.get(a) or (by_id[a].start, by_id[a].end)
        sb, eb = when.get(b) or (by_id[b].start, by_id[b].end)
        if same_period(sa, ea, sb, eb, gap_days=rule.period_gap_days):
            dsu.union(a, b)
    groups: dict[str, list[str]] = defaultdict(list)
    for wid in dsu.parent:
        groups[dsu.find(wid)].append(wid)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def build_bundles(
    works: Sequence[Work],
    roads: Sequence[Road],
    occupancy: Sequence[Occupancy],
    shared: Sequence[SharedStretch],
    *,
    settings: Settings,
    schedule: Schedule | None = None,
    findings: Sequence[Finding] = (),
    footprints: bool = True,
) -> list[Bundle]:
    """Return the bundles of the plan under ``schedule`` (default: the planned dates).

    Parameters
    ----------
    works, roads, occupancy, shared
        The plan and the detector's output.
    settings
        Thresholds and unit costs.
    schedule
        ``work_id`` → (start, end) in force; missing works keep their planned dates.
    findings
        Findings to attach: each bundle keeps the warning and blocking findings of its members
        (``open_findings``) and is a draft while any of them is blocking.
    footprints
        Compute the union trench footprint (set False to skip the geometry work).
    """
    when = schedule or {}
    by_id = {w.work_id: w for w in works}
    road_by_id = {r.road_id: r for r in roads}
    occ_of: dict[str, list[Occupancy]] = defaultdict(list)
    for o in occupancy:
        occ_of[o.work_id].append(o)
    groups = linked_groups(works, roads, shared, settings=settings, schedule=when)
    open_by_work: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.severity != Severity.INFO:
            for wid in f.work_ids:
                open_by_work[wid].append(f)
    fps = (
        _footprints([[by_id[i] for i in g] for g in groups])
        if footprints
        else [shapely.GeometryCollection()] * len(groups)
    )
    out = []
    for ids, footprint in zip(groups, fps, strict=True):
        members = [by_id[i] for i in ids]
        dates = [when.get(i) or (by_id[i].start, by_id[i].end) for i in ids]
        lead = _lead(members, occ_of)
        seen: set[int] = set()
        open_f: list[Finding] = []
        for i in ids:
            for f in open_by_work.get(i, ()):
                if id(f) not in seen:
                    seen.add(id(f))
                    open_f.append(f)
        out.append(
            Bundle(
                bundle_id=bundle_id(ids),
                work_ids=tuple(ids),
                lead_work_id=lead.work_id,
                lead_owner=lead.owner,
                window_start=min(d[0] for d in dates),
                window_end=max(d[1] for d in dates),
                stretches=_stretches(members, occ_of, road_by_id),
                footprint=footprint,
                savings=group_savings(members, occ_of, road_by_id, settings=settings),
                draft=any(f.severity == Severity.BLOCKING for f in open_f),
                open_findings=tuple(open_f),
            )
        )
    return out


def _lead(members: Sequence[Work], occ_of: Mapping[str, Sequence[Occupancy]]) -> Work:
    chosen = [w for w in members if w.attributes.get("lead") is True or w.attributes.get("lead") in ("true", "牵头")]
    if chosen:
        return min(chosen, key=lambda w: w.work_id)
    return min(members, key=lambda w: (-round(sum(o.length_m for o in occ_of.get(w.work_id, ())), 6), w.work_id))


def _stretches(
    members: Sequence[Work], occ_of: Mapping[str, Sequence[Occupancy]], roads: Mapping[str, Road]
) -> tuple[RoadStretch, ...]:
    by_road: dict[str, list[tuple[Interval, float]]] = defaultdict(list)
    for w in members:
        if not opens_road(w):
            continue
        width = trench_width_m(w)
        for o in occ_of.get(w.work_id, ()):
            by_road[o.road_id].extend((iv, width) for iv in o.intervals)
    out = []
    for road_id in sorted(by_road):
        road = roads[road_id]
        for iv, width in group_pieces(by_road[road_id]):
            out.append(
                RoadStretch(road_id=road_id, road_name=road.name, interval=iv, width_m=width, pavement=road.pavement)
            )
    return tuple(out)


def _footprints(groups: Sequence[Sequence[Work]]) -> list[BaseGeometry]:
    """Union of each group's routes buffered by half their trench width (flat caps), vectorised."""
    geoms, widths, owner = [], [], []
    for k, g in enumerate(groups):
        for w in g:
            if opens_road(w):
                geoms.append(w.geometry)
                widths.append(trench_width_m(w) / 2)
                owner.append(k)
    buffered = shapely.buffer(np.asarray(geoms, dtype=object), np.asarray(widths), cap_style="flat")
    parts: list[list[BaseGeometry]] = [[] for _ in groups]
    for k, geom in zip(owner, buffered, strict=True):
        parts[k].append(geom)
    return [shapely.union_all(p) if p else shapely.GeometryCollection() for p in parts]

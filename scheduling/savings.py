"""What joint excavation saves, against a stated counterfactual.

Counterfactual (对照情形): every work digs alone, as planned — each interval a work occupies
on a road is one excavation, opened and restored by that work over its own trench width.

Joint case (联合情形): the works of a bundle open each contiguous stretch of road once; the
joint trench is as wide, at each point, as the widest member trench there (同沟敷设, pipes
sharing one cut). Works not in any bundle dig alone in both cases.

Trenchless works (定向钻, 顶管) open no pavement and count in neither case. Restoration cost
is area times the unit cost of the road's pavement (``settings.restoration_cost_yuan_per_m2``).

Trench width of a work: ``trench_width_m`` when given; otherwise the outer diameter plus
0.6 m of working space (0.3 m each side, GB 50268 §4.3.2); otherwise 0.8 m.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from onetrench.domain import ExcavationMethod, Interval, Occupancy, Road, Savings, Work
from onetrench.settings import Settings
from scheduling._geom import merge_intervals

__all__ = [
    "COUNTERFACTUAL_EN",
    "COUNTERFACTUAL_ZH",
    "DEFAULT_TRENCH_WIDTH_M",
    "add_savings",
    "group_pieces",
    "group_savings",
    "opens_road",
    "plan_savings",
    "savings_to_dict",
    "trench_width_m",
]

DEFAULT_TRENCH_WIDTH_M = 0.8
WORKING_SPACE_M = 0.6

COUNTERFACTUAL_ZH = (
    "对照情形：各工程按计划各自单独开挖，每个工程在每条道路上的每个占用区段各开挖、恢复一次；"
    "联合情形：同一联合开挖包在每条道路上的连续区段只开挖一次，沟槽宽度取该处各成员沟槽宽度的最大值（同沟敷设）。"
    "未入包的工程两种情形相同；非开挖工程不计。恢复费用 = 面积 × 路面类型单价。"
)
COUNTERFACTUAL_EN = (
    "Counterfactual: every work digs alone as planned; each interval a work occupies on a road is one excavation, "
    "opened and restored over its own trench width. Joint case: a bundle opens each contiguous stretch of road "
    "once, with a trench as wide as the widest member trench at each point (shared trench). Works outside "
    "bundles are the same in both cases; trenchless works count in neither. Restoration cost = area x unit cost "
    "of the road's pavement."
)


def opens_road(work: Work) -> bool:
    """Whether ``work`` opens the pavement (open cut) rather than going trenchless."""
    return work.method == ExcavationMethod.OPEN_CUT


def trench_width_m(work: Work) -> float:
    """Trench width of ``work`` in metres (documented defaults when missing).

    Examples
    --------
    >>> import datetime as dt
    >>> from shapely.geometry import LineString
    >>> from onetrench.domain import UtilityKind
    >>> w = Work(work_id="a", utility=UtilityKind.WATER, owner="x", geometry=LineString([(0, 0), (1, 0)]),
    ...          start=dt.date(2027, 3, 1), end=dt.date(2027, 3, 2), diameter_mm=400)
    >>> trench_width_m(w)
    1.0
    """
    if work.trench_width_m is not None and work.trench_width_m > 0:
        return float(work.trench_width_m)
    if work.diameter_mm is not None and work.diameter_mm > 0:
        return round(work.diameter_mm / 1000.0 + WORKING_SPACE_M, 6)
    return DEFAULT_TRENCH_WIDTH_M


#: Measures closer than this (metres) are the same point: floating-point noise of the projection.
_SNAP_M = 1e-3


def group_pieces(members: Iterable[tuple[Interval, float]]) -> list[tuple[Interval, float]]:
    """Cut one road's member intervals into pieces, each with the widest member width over it.

    Adjacent pieces of equal width are merged; gaps are left out.

    Examples
    --------
    >>> group_pieces([(Interval(0, 100), 0.8), (Interval(50, 200), 1.2)])
    [(Interval(from_m=0, to_m=50), 0.8), (Interval(from_m=50, to_m=200), 1.2)]
    """
    items = [(iv, w) for iv, w in members if iv.to_m - iv.from_m > _SNAP_M]
    cuts: list[float] = []
    for x in sorted({x for iv, _ in items for x in (iv.from_m, iv.to_m)}):
        if not cuts or x - cuts[-1] > _SNAP_M:  # measures a millimetre apart are one cut
            cuts.append(x)
    out: list[tuple[Interval, float]] = []
    for lo, hi in itertools.pairwise(cuts):
        widths = [w for iv, w in items if iv.from_m <= lo + _SNAP_M and iv.to_m >= hi - _SNAP_M]
        if not widths:
            continue
        width = max(widths)
        if out and out[-1][0].to_m == lo and out[-1][1] == width:
            out[-1] = (Interval(out[-1][0].from_m, hi), width)
        else:
            out.append((Interval(lo, hi), width))
    return out


def group_savings(
    members: Sequence[Work],
    occupancy_of: Mapping[str, Sequence[Occupancy]],
    roads: Mapping[str, Road],
    *,
    settings: Settings,
) -> Savings:
    """Savings of digging ``members`` together instead of each alone.

    Parameters
    ----------
    members
        The works of one bundle.
    occupancy_of
        ``work_id`` → its occupancy records.
    roads
        ``road_id`` → road (for the pavement kind).
    settings
        Unit restoration costs.
    """
    sep_n = joint_n = 0
    sep_a = joint_a = cost = 0.0
    by_road: dict[str, list[tuple[Interval, float]]] = defaultdict(list)
    for w in members:
        if not opens_road(w):
            continue
        width = trench_width_m(w)
        for occ in occupancy_of.get(w.work_id, ()):
            for iv in occ.intervals:
                if iv.to_m > iv.from_m:
                    by_road[occ.road_id].append((iv, width))
    for road_id, items in by_road.items():
        unit = settings.restoration_cost_yuan_per_m2.get(roads[road_id].pavement, 0.0)
        road_sep = sum(iv.length_m * w for iv, w in items)
        road_joint = sum(iv.length_m * w for iv, w in group_pieces(items))
        sep_n += len(items)
        joint_n += len(merge_intervals(iv for iv, _ in items))
        sep_a += road_sep
        joint_a += road_joint
        cost += (road_sep - road_joint) * unit
    return Savings(
        excavations_separate=sep_n,
        excavations_joint=joint_n,
        area_separate_m2=sep_a,
        area_joint_m2=joint_a,
        cost_saved_yuan=cost,
    )


def add_savings(items: Iterable[Savings]) -> Savings:
    """Sum several savings records."""
    parts = list(items)
    return Savings(
        excavations_separate=sum(s.excavations_separate for s in parts),
        excavations_joint=sum(s.excavations_joint for s in parts),
        area_separate_m2=sum(s.area_separate_m2 for s in parts),
        area_joint_m2=sum(s.area_joint_m2 for s in parts),
        cost_saved_yuan=sum(s.cost_saved_yuan for s in parts),
    )


def savings_to_dict(s: Savings) -> dict[str, Any]:
    """JSON-ready view of a savings record (areas in m², cost in yuan, rounded)."""
    return {
        "excavations_separate": s.excavations_separate,
        "excavations_joint": s.excavations_joint,
        "excavations_avoided": s.excavations_avoided,
        "area_separate_m2": round(s.area_separate_m2, 2),
        "area_joint_m2": round(s.area_joint_m2, 2),
        "area_not_reopened_m2": round(s.area_not_reopened_m2, 2),
        "cost_saved_yuan": round(s.cost_saved_yuan, 2),
    }


def plan_savings(
    works: Sequence[Work],
    occupancy_of: Mapping[str, Sequence[Occupancy]],
    bundles: Iterable[Any],
) -> Savings:
    """Savings of a whole plan: the bundles' savings plus the lone works (equal in both cases).

    ``bundles`` are :class:`~onetrench.domain.Bundle` objects (their ``savings`` and ``work_ids``).
    """
    parts = []
    in_bundle: set[str] = set()
    for b in bundles:
        parts.append(b.savings)
        in_bundle.update(b.work_ids)
    n = 0
    area = 0.0
    for w in works:
        if w.work_id in in_bundle or not opens_road(w):
            continue
        width = trench_width_m(w)
        for occ in occupancy_of.get(w.work_id, ()):
            for iv in occ.intervals:
                if iv.to_m > iv.from_m:
                    n += 1
                    area += iv.length_m * width
    parts.append(
        Savings(
            excavations_separate=n, excavations_joint=n, area_separate_m2=area, area_joint_m2=area, cost_saved_yuan=0.0
        )
    )
    return add_savings(parts)

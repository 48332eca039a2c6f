"""Small geometry helpers of the scheduling layer (working CRS, metres)."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable

import shapely
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry
from shapely.ops import linemerge

from onetrench.domain import Interval, Road

__all__ = ["merge_intervals", "road_parts", "road_substring"]


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Merge overlapping or touching intervals; sorted result.

    Examples
    --------
    >>> merge_intervals([Interval(5, 9), Interval(0, 5), Interval(20, 30)])
    [Interval(from_m=0, to_m=9), Interval(from_m=20, to_m=30)]
    """
    out: list[Interval] = []
    for iv in sorted(intervals, key=lambda i: (i.from_m, i.to_m)):
        if out and iv.from_m <= out[-1].to_m:
            if iv.to_m > out[-1].to_m:
                out[-1] = Interval(out[-1].from_m, iv.to_m)
        else:
            out.append(iv)
    return out


def road_parts(road: Road) -> list[LineString]:
    """Return the road centreline as line parts in measure order (merged where they touch)."""
    geom = road.geometry
    if isinstance(geom, LineString):
        return [geom]
    if isinstance(geom, MultiLineString):
        merged = linemerge(geom)
        if isinstance(merged, LineString):
            return [merged]
        return list(merged.geoms)
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, LineString)]


_MEASURED: dict[int, tuple[list[tuple[float, float]], list[float], LineString]] = {}


def _measured(part: LineString) -> tuple[list[tuple[float, float]], list[float]]:
    """Vertices and cumulative lengths of ``part`` (cached by object while it is alive)."""
    got = _MEASURED.get(id(part))
    if got is not None and got[2] is part:
        return got[0], got[1]
    xy = [(float(x), float(y)) for x, y in shapely.get_coordinates(part)]
    cum = [0.0]
    for (x0, y0), (x1, y1) in itertools.pairwise(xy):
        cum.append(cum[-1] + math.hypot(x1 - x0, y1 - y0))
    if len(_MEASURED) > 100_000:
        _MEASURED.clear()
    _MEASURED[id(part)] = (xy, cum, part)
    return xy, cum


def _at(xy: list[tuple[float, float]], cum: list[float], m: float) -> tuple[float, float]:
    k = min(max(bisect.bisect_right(cum, m) - 1, 0), len(cum) - 2)
    seg = cum[k + 1] - cum[k]
    t = 0.0 if seg <= 0 else min(max((m - cum[k]) / seg, 0.0), 1.0)
    (x0, y0), (x1, y1) = xy[k], xy[k + 1]
    return (x0 + t * (x1 - x0), y0 + t * (y1 - y0))


def _cut(xy: list[tuple[float, float]], cum: list[float], lo: float, hi: float) -> LineString:
    i, j = bisect.bisect_right(cum, lo), bisect.bisect_left(cum, hi)
    line: LineString = shapely.linestrings([_at(xy, cum, lo), *xy[i:j], _at(xy, cum, hi)])
    return line


def road_substring(road: Road, intervals: Iterable[Interval]) -> BaseGeometry | None:
    """Return the centreline between the measures of ``intervals`` (a line or multi-line).

    Measures run along the parts of the road in order (a road digitised in pieces is measured
    piece after piece).

    Examples
    --------
    >>> from onetrench.domain import RoadClass
    >>> r = Road(road_id="R", name="x", road_class=RoadClass.BRANCH, width_m=10,
    ...          geometry=LineString([(0, 0), (100, 0), (100, 50)]))
    >>> road_substring(r, [Interval(90, 120)]).wkt
    'LINESTRING (90 0, 100 0, 100 20)'
    """
    parts = road_parts(road)
    pieces: list[LineString] = []
    for iv in intervals:
        offset = 0.0
        for part in parts:
            lo, hi = max(iv.from_m - offset, 0.0), min(iv.to_m - offset, part.length)
            if hi > lo:
                xy, cum = _measured(part)
                pieces.append(_cut(xy, cum, lo, hi))
            offset += part.length
    if not pieces:
        return None
    if len(pieces) == 1:
        return pieces[0]
    return shapely.multilinestrings(pieces)

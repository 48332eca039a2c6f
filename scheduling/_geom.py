"""Small geometry helpers of the scheduling layer (working CRS, metres)."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Sequence

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry
from shapely.ops import linemerge

from onetrench.domain import Interval, Road

__all__ = ["merge_intervals", "road_parts", "road_substring", "road_substrings"]


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


def _cut(xy: list[tuple[float, float]], cum: list[float], lo: float, hi: float) -> list[tuple[float, float]]:
    i, j = bisect.bisect_right(cum, lo), bisect.bisect_left(cum, hi)
    return [_at(xy, cum, lo), *xy[i:j], _at(xy, cum, hi)]


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
    return road_substrings([(road, intervals)])[0]


def road_substrings(requests: Sequence[tuple[Road, Iterable[Interval]]]) -> list[BaseGeometry | None]:
    """:func:`road_substring` of each ``(road, intervals)``: the lines of all built by one shapely call.

    Examples
    --------
    >>> from onetrench.domain import RoadClass
    >>> r = Road(road_id="R", name="x", road_class=RoadClass.BRANCH, width_m=10,
    ...          geometry=LineString([(0, 0), (100, 0)]))
    >>> [g.wkt if g is not None else None for g in road_substrings([(r, [Interval(0, 10), Interval(20, 30)]), (r, [])])]
    ['MULTILINESTRING ((0 0, 10 0), (20 0, 30 0))', None]
    """
    coords: list[tuple[float, float]] = []
    sizes: list[int] = []  # vertices per piece
    pieces_of: list[int] = []  # pieces per request
    measured: dict[int, tuple[Road, list[tuple[LineString, float]]]] = {}
    for road, intervals in requests:
        got = measured.get(id(road))
        if got is None or got[0] is not road:
            got = measured[id(road)] = (road, [(part, float(part.length)) for part in road_parts(road)])
        parts = got[1]
        n = 0
        for iv in intervals:
            offset = 0.0
            for part, length in parts:
                lo, hi = max(iv.from_m - offset, 0.0), min(iv.to_m - offset, length)
                if hi > lo:
                    xy, cum = _measured(part)
                    pts = _cut(xy, cum, lo, hi)
                    coords.extend(pts)
                    sizes.append(len(pts))
                    n += 1
                offset += length
        pieces_of.append(n)
    out: list[BaseGeometry | None] = [None] * len(requests)
    if not sizes:
        return out
    lines = shapely.linestrings(np.asarray(coords, dtype=np.float64), indices=np.repeat(np.arange(len(sizes)), sizes))
    counts = np.asarray(pieces_of)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    multi = np.flatnonzero(counts > 1)
    if multi.size:
        take = np.concatenate([np.arange(first[k], first[k] + counts[k]) for k in multi])
        joined = shapely.multilinestrings(lines[take], indices=np.repeat(np.arange(multi.size), counts[multi]))
        for k, geom in zip(multi.tolist(), joined, strict=True):
            out[k] = geom
    for k in np.flatnonzero(counts == 1).tolist():
        out[k] = lines[first[k]]
    return out

"""Small geometry helpers of the scheduling layer (working CRS, metres)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

import numpy as np
import shapely
from numpy.typing import NDArray
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


def _bisect(
    cum: NDArray[np.float64], start: NDArray[np.int64], part: NDArray[np.int64], m: NDArray[np.float64], *, right: bool
) -> NDArray[np.int64]:
    """``bisect.bisect_right`` (or ``_left``) of each ``m`` in its part's cumulative lengths, all at once.

    The parts' lengths lie one after the other in ``cum`` (part ``p`` from ``start[p]``); the
    measures are merged into them by one stable sort on (part, value, vertex first or last).
    """
    n_cum = len(cum)
    owner = np.repeat(np.arange(len(start)), np.diff(np.append(start, n_cum)))
    keys_part = np.concatenate([owner, part])
    keys_value = np.concatenate([cum, m])
    is_query = np.concatenate([np.zeros(n_cum, dtype=np.int8), np.ones(len(m), dtype=np.int8)])
    order = np.lexsort((is_query if right else 1 - is_query, keys_value, keys_part))
    vertices_before = np.cumsum(is_query[order] == 0) - (is_query[order] == 0)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = vertices_before
    found: NDArray[np.int64] = rank[n_cum:] - start[part]
    return found


def _cut_all(
    part_xy: list[list[tuple[float, float]]],
    part_cum: list[list[float]],
    part: NDArray[np.int64],
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
) -> NDArray[np.object_]:
    """The line of each piece ``(part, lo, hi)``: that part of the road between two measures.

    Per piece: the point at ``lo`` on its segment, the vertices strictly between, the point at ``hi``
    (segments found by bisection of the cumulative lengths, points by ``p0 + t * (p1 - p0)``).
    """
    sizes = np.array([len(c) for c in part_cum], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    cum = np.fromiter((v for c in part_cum for v in c), dtype=np.float64, count=int(sizes.sum()))
    xy = np.array([p for ps in part_xy for p in ps], dtype=np.float64).reshape(-1, 2)
    n = sizes[part]

    def at(m: NDArray[np.float64], r: NDArray[np.int64]) -> NDArray[np.float64]:
        base = start[part] + np.clip(r - 1, 0, n - 2)
        seg = cum[base + 1] - cum[base]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(seg <= 0, 0.0, np.minimum(np.maximum((m - cum[base]) / seg, 0.0), 1.0))
        p0, p1 = xy[base], xy[base + 1]
        return p0 + t[:, None] * (p1 - p0)

    right_lo = _bisect(cum, start, part, lo, right=True)
    right_hi = _bisect(cum, start, part, hi, right=True)
    left_hi = _bisect(cum, start, part, hi, right=False)
    inner = np.maximum(left_hi - right_lo, 0)
    length = inner + 2
    first = np.concatenate([[0], np.cumsum(length)[:-1]])
    coords = np.empty((int(length.sum()), 2), dtype=np.float64)
    coords[first] = at(lo, right_lo)
    coords[first + length - 1] = at(hi, right_hi)
    if inner.any():
        piece = np.repeat(np.arange(len(part)), inner)
        step = np.arange(len(piece)) - np.repeat(np.cumsum(inner) - inner, inner)
        coords[first[piece] + 1 + step] = xy[start[part[piece]] + right_lo[piece] + step]
    lines: NDArray[np.object_] = shapely.linestrings(coords, indices=np.repeat(np.arange(len(part)), length))
    return lines


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
    piece_part: list[int] = []  # per piece: its road part (index into part_xy / part_cum)
    piece_lo: list[float] = []
    piece_hi: list[float] = []
    pieces_of: list[int] = []  # pieces per request
    part_xy: list[list[tuple[float, float]]] = []
    part_cum: list[list[float]] = []
    part_index: dict[int, int] = {}
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
                    k = part_index.get(id(part))
                    if k is None:
                        k = part_index[id(part)] = len(part_xy)
                        xy, cum = _measured(part)
                        part_xy.append(xy)
                        part_cum.append(cum)
                    piece_part.append(k)
                    piece_lo.append(lo)
                    piece_hi.append(hi)
                    n += 1
                offset += length
        pieces_of.append(n)
    out: list[BaseGeometry | None] = [None] * len(requests)
    if not piece_part:
        return out
    lines = _cut_all(part_xy, part_cum, np.asarray(piece_part), np.asarray(piece_lo), np.asarray(piece_hi))
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

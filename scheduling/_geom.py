"""Small geometry helpers of the scheduling layer (working CRS, metres)."""

from __future__ import annotations

from collections.abc import Iterable

import shapely
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry
from shapely.ops import linemerge, substring

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


def road_substring(road: Road, intervals: Iterable[Interval]) -> BaseGeometry | None:
    """Return the centreline between the measures of ``intervals`` (a line or multi-line).

    Measures run along the parts of the road in order (a road digitised in pieces is measured
    piece after piece).
    """
    parts = road_parts(road)
    pieces: list[LineString] = []
    for iv in intervals:
        offset = 0.0
        for part in parts:
            lo, hi = max(iv.from_m - offset, 0.0), min(iv.to_m - offset, part.length)
            if hi > lo:
                piece = substring(part, lo, hi)
                if isinstance(piece, LineString) and not piece.is_empty:
                    pieces.append(piece)
            offset += part.length
    if not pieces:
        return None
    if len(pieces) == 1:
        return pieces[0]
    return shapely.multilinestrings(pieces)

"""Occupancy: where each work runs inside each road corridor (design.md, rule 1), vectorised.

The computation works on whole arrays with numpy (and shapely 2 for work zones), never pair by
pair in Python. The corridor of a road is ``centreline.buffer(width_m / 2, cap_style="flat")``.

1. routes (lines) are clipped in numpy by :func:`geo._clip.clip_lines`: each route segment
   against the road segments near it (a grid over the road segments), in the road segment's
   frame; the pieces equal those of ``shapely.intersection(route, corridor)``, and every piece
   end is projected on its road as ``shapely.line_locate_point`` would;
2. work zones (polygons) wholly inside a candidate corridor (``shapely.covered_by``) are kept
   whole, the others clipped with ``shapely.intersection``; their outlines are projected;
3. a segment of a line part at most ``crossing_angle`` off the centreline's direction at the
   segment's midpoint (:func:`local_frame`) runs along the road and covers ``[m0, m1]``, the
   measures of its ends; steeper segments add no length. A line part with no along-road
   segment is a *crossing*, recorded at the middle of its extent (so a route turning off at a
   junction is not a crossing of the road it leaves, and roads split at junctions give the same
   lengths as unsplit ones);
4. a polygon work zone covers the extent of its outline within the corridor;
5. intervals are merged per (work, road) with a grouped running maximum; each merged interval
   keeps the length-weighted mean of its pieces' signed lateral offsets (positive = left of the
   digitising direction, measured at the middle of each segment, or the zone's centroid);
6. off-road parts: for routes the complement of their pieces on all roads, for zones repeated
   ``shapely.difference`` with their candidate corridors.

The result is an :class:`OccupancyTable` of flat arrays; :mod:`geo.overlap` turns it into
shared stretches and domain objects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo import _clip, _fused
from geo._clip import LineClip, RoadSegments, clip_lines, project_on_roads, zone_candidates
from geo.roads import RoadNetwork
from onetrench.settings import Settings

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
GeomArray = NDArray[np.object_]

#: Parts shorter than this (m) or smaller than its square (m²) are numerical crumbs, ignored.
MIN_PART_M = 1e-6
#: Off-road remainders shorter than this (m) are not reported.
MIN_OFF_ROAD_M = 0.01
#: Intervals closer than this (m) are merged.
MERGE_TOLERANCE_M = 1e-6

#: Routes clipped per numpy pass (bounds the temporary arrays; a few MB per thousand routes).
LINE_CHUNK = 10_000

#: Segments per quarter circle at the round joins of corridors (shapely's ``LineString.buffer`` default).
CORRIDOR_QUAD_SEGS = 16

#: Half-length of the chord (m) giving the centreline's direction at a measure.
TANGENT_STEP_M = 0.5

_POLY_TYPES = (3, 6)  # Polygon, MultiPolygon


@dataclass(slots=True)
class OccupancyTable:
    """Merged occupancy of many works on many roads, as aligned flat arrays.

    ``work`` and ``road`` index the input works and ``RoadNetwork.roads``. Intervals are sorted by
    (work, road, from_m). Crossings are sorted by (work, road, measure).
    """

    work: IntArray
    road: IntArray
    from_m: FloatArray
    to_m: FloatArray
    offset_m: FloatArray
    cross_work: IntArray
    cross_road: IntArray
    cross_m: FloatArray
    off_road_work: IntArray
    off_road_geom: GeomArray
    off_road_length_m: FloatArray
    off_road_area_m2: FloatArray


def as_geometry_array(geoms: Sequence[object] | GeomArray) -> GeomArray:
    """Return ``geoms`` as a 1-D object array (``np.fromiter``: no per-element probing of sequences)."""
    return np.fromiter(geoms, dtype=object, count=len(geoms))


def group_starts(keys: IntArray) -> IntArray:
    """Start index of each run of equal values in ``keys`` (non-empty, sorted by run)."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(([0], np.flatnonzero(keys[1:] != keys[:-1]) + 1)).astype(np.int64)


def part_extents(parts: GeomArray, lines: GeomArray) -> tuple[FloatArray, FloatArray]:
    """Per part, ``(min, max)`` measure of its vertices projected on its line.

    For polygon parts the exterior ring is projected. ``lines[k]`` is the line of ``parts[k]``.
    """
    n = len(parts)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    rings = parts.copy()
    poly = shapely.get_type_id(parts) == 3
    rings[poly] = shapely.get_exterior_ring(parts[poly])
    coords, idx = shapely.get_coordinates(rings, return_index=True)
    measures = shapely.line_locate_point(lines[idx], shapely.points(coords))
    starts = group_starts(idx)
    lo = np.minimum.reduceat(measures, starts)
    hi = np.maximum.reduceat(measures, starts)
    return lo, hi


@dataclass(slots=True)
class FlatLines:
    """Centrelines flattened for vectorised interpolation: vertices, cumulative measures, offsets.

    Parts of a MultiLineString follow each other with a zero-length link, matching the measures of
    ``shapely.line_locate_point`` on multi-part lines.
    """

    xy: FloatArray
    cum: FloatArray
    start: IntArray
    key: FloatArray
    stride: float

    @classmethod
    def build(cls, lines: GeomArray, vertices: tuple[IntArray, FloatArray, IntArray] | None = None) -> FlatLines:
        """Flatten ``lines`` (LineString or MultiLineString); ``vertices`` as :func:`line_vertices`."""
        owner, xy, pidx = line_vertices(lines) if vertices is None else vertices
        seg = np.hypot(*(xy[1:] - xy[:-1]).T)
        seg[pidx[1:] != pidx[:-1]] = 0.0  # link between parts (and between lines: reset below)
        cum = np.concatenate(([0.0], np.cumsum(seg)))
        road_of_vertex = owner[pidx]
        start = np.searchsorted(road_of_vertex, np.arange(len(lines) + 1)).astype(np.int64)
        cum = cum - cum[start[:-1]][road_of_vertex]
        stride = float(cum.max()) + 1.0 if len(cum) else 1.0
        return cls(xy=xy, cum=cum, start=start, key=(road_of_vertex * stride + cum).astype(np.float64), stride=stride)

    def interpolate(self, road: IntArray, m: FloatArray) -> FloatArray:
        """Points at measures ``m`` along roads ``road`` (clamped to the line), as an (n, 2) array."""
        k = np.searchsorted(self.key, road * self.stride + m, side="right") - 1
        k = np.clip(k, self.start[road], self.start[road + 1] - 2)
        a, b = self.xy[k], self.xy[k + 1]
        span = self.cum[k + 1] - self.cum[k]
        t = np.clip((m - self.cum[k]) / np.maximum(span, 1e-12), 0.0, 1.0)
        return a + (b - a) * t[:, None]

    def length(self, road: IntArray) -> FloatArray:
        """Length of each road."""
        return self.cum[self.start[road + 1] - 1]


def line_vertices(lines: GeomArray) -> tuple[IntArray, FloatArray, IntArray]:
    """Vertices of lines: ``(line of each part, coordinates, part of each vertex)``."""
    parts, owner = shapely.get_parts(lines, return_index=True)
    xy, pidx = shapely.get_coordinates(parts, return_index=True)
    return owner, xy, pidx


def _centreline_vertices(net: RoadNetwork) -> tuple[IntArray, FloatArray, IntArray]:
    if "vertices" not in net._cache:
        net._cache["vertices"] = line_vertices(net.centrelines)
    vertices: tuple[IntArray, FloatArray, IntArray] = net._cache["vertices"]
    return vertices


def flat_lines(net: RoadNetwork) -> FlatLines:
    """The (cached) :class:`FlatLines` of a network's centrelines."""
    if "flat" not in net._cache:
        net._cache["flat"] = FlatLines.build(net.centrelines, _centreline_vertices(net))
    return net._cache["flat"]


def local_frame(
    points: FloatArray, road: IntArray, measures: FloatArray, flat: FlatLines
) -> tuple[FloatArray, FloatArray]:
    """Unit direction of each road at ``measures``, and the signed offset of ``points`` from it.

    The direction is the chord over ±:data:`TANGENT_STEP_M` around the measure (so at a bend it is
    the mean of both legs); the offset is positive left of the digitising direction.
    """
    if len(points) == 0:
        return np.zeros((0, 2)), np.zeros(0)
    length = flat.length(road)
    step = np.minimum(TANGENT_STEP_M, length / 4.0)
    a = flat.interpolate(road, np.clip(measures - step, 0.0, length))
    b = flat.interpolate(road, np.clip(measures + step, 0.0, length))
    q = flat.interpolate(road, measures)
    t = b - a
    t = t / np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-12)[:, None]
    d = points - q
    cross = t[:, 0] * d[:, 1] - t[:, 1] * d[:, 0]
    return t, np.sign(cross) * np.hypot(d[:, 0], d[:, 1])


def signed_offsets(points: GeomArray, lines: GeomArray) -> FloatArray:
    """Signed distance of each point from its line (positive = left of the digitising direction)."""
    if len(points) == 0:
        return np.zeros(0)
    flat = FlatLines.build(lines)
    road = np.arange(len(lines), dtype=np.int64)
    m = shapely.line_locate_point(lines, points)
    return local_frame(shapely.get_coordinates(points), road, m, flat)[1]


def merge_intervals(
    key: IntArray, from_m: FloatArray, to_m: FloatArray, weight_values: FloatArray | None = None
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """Merge overlapping or touching intervals sharing ``key``.

    Returns ``(key, from_m, to_m, weighted_mean)`` of the merged intervals, sorted by key then
    from_m; the mean of ``weight_values`` is weighted by each input interval's length.

    Examples
    --------
    >>> k, f, t, _ = merge_intervals(np.array([0, 0, 1]), np.array([5.0, 0.0, 0.0]), np.array([9.0, 6.0, 1.0]))
    >>> k.tolist(), f.tolist(), t.tolist()
    ([0, 1], [0.0, 0.0], [9.0, 1.0])
    """
    if len(key) == 0:
        z = np.zeros(0)
        return np.zeros(0, dtype=np.int64), z, z, z
    if _clip.COMPILED and weight_values is not None:
        k = np.ascontiguousarray(key, dtype=np.int64)
        return _fused.merge_weighted(
            np.argsort(k, kind="stable"),
            k,
            np.ascontiguousarray(from_m, dtype=np.float64),
            np.ascontiguousarray(to_m, dtype=np.float64),
            np.ascontiguousarray(weight_values, dtype=np.float64),
            MERGE_TOLERANCE_M,
        )
    order = np.lexsort((from_m, key))
    key, from_m, to_m = key[order], from_m[order], to_m[order]
    runmax = pd.Series(to_m).groupby(key).cummax().to_numpy()
    new = np.ones(len(key), dtype=bool)
    new[1:] = (key[1:] != key[:-1]) | (from_m[1:] > runmax[:-1] + MERGE_TOLERANCE_M)
    starts = np.flatnonzero(new)
    out_to = np.maximum.reduceat(to_m, starts)
    if weight_values is None:
        mean = np.zeros(len(starts))
    else:
        w = np.maximum(to_m - from_m, 1e-12)
        mean = np.add.reduceat(weight_values[order] * w, starts) / np.add.reduceat(w, starts)
    return key[starts], from_m[starts], out_to, mean


def road_segments(net: RoadNetwork) -> RoadSegments:
    """The (cached) :class:`geo._clip.RoadSegments` of a network's centrelines."""
    if "segments" not in net._cache:
        net._cache["segments"] = RoadSegments.build(net.centrelines, net.widths, _centreline_vertices(net))
    return net._cache["segments"]


def _corridors(net: RoadNetwork, idx: IntArray) -> GeomArray:
    """Corridors of roads ``idx``: ``centreline.buffer(width_m / 2, cap_style="flat")``.

    As ``LineString.buffer`` draws them (16 segments per quarter circle at bends), built for the
    roads asked for and kept in the network's cache.
    """
    cache = net._cache.get("corridors16")
    if cache is None:
        cache = net._cache["corridors16"] = np.full(len(net.roads), None, dtype=object)
    todo = np.unique(idx[cache[idx] == None])  # noqa: E711 (element-wise)
    if len(todo):
        cache[todo] = shapely.buffer(
            net.centrelines[todo], net.widths[todo] / 2.0, quad_segs=CORRIDOR_QUAD_SEGS, cap_style="flat"
        )
    return cache[idx]


def compute_occupancy(
    works: Sequence[object] | GeomArray,
    net: RoadNetwork,
    *,
    settings: Settings,
    with_off_road: bool = True,
    segments: RoadSegments | None = None,
) -> OccupancyTable:
    """Compute the merged occupancy of every work geometry on every road of ``net``.

    Routes are clipped in numpy (:func:`geo._clip.clip_lines`); work zones, and the few routes
    passing where the GEOS corridor may differ from the exact one, take the GEOS path
    (:func:`_geos_pieces`). Both give the same pieces.

    Parameters
    ----------
    works
        Work geometries (LineString, MultiLineString, Polygon, MultiPolygon), working CRS.
    net
        The road network.
    settings
        Supplies the crossing angle per road class.
    with_off_road
        Also compute the parts of each work outside every corridor.
    segments
        Clip against these segments only (every segment of some roads,
        :meth:`geo._clip.RoadSegments.of_roads`); ``None``: all roads. The occupancy on each of
        those roads is what it is with all roads; off-road parts are then outside their corridors.
    """
    geoms = works if isinstance(works, np.ndarray) else as_geometry_array(works)
    n_roads = len(net.roads)
    types = shapely.get_type_id(geoms)
    is_line = np.isin(types, (1, 5))
    invalid = np.zeros(len(geoms), dtype=bool)
    zones = np.flatnonzero(~is_line)  # routes need no validity (GEOS clips invalid lines fine)
    invalid[zones] = ~shapely.is_valid(geoms[zones])
    if invalid.any():  # e.g. a self-touching work zone: repair rather than fail in GEOS
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
        is_line = np.isin(shapely.get_type_id(geoms), (1, 5))
    none_i = np.zeros(0, dtype=np.int64)
    none_f = np.zeros(0)
    if n_roads == 0 or len(geoms) == 0:
        ow, og = np.arange(len(geoms), dtype=np.int64), geoms.copy()
        olen = np.where(is_line, shapely.length(geoms), 0.0)
        oarea = np.where(is_line, 0.0, shapely.area(geoms))
        keep = (olen > MIN_OFF_ROAD_M) | (oarea > MIN_OFF_ROAD_M * MIN_OFF_ROAD_M)
        if not with_off_road:
            keep[:] = False
        return OccupancyTable(
            work=none_i, road=none_i, from_m=none_f, to_m=none_f, offset_m=none_f,
            cross_work=none_i, cross_road=none_i, cross_m=none_f,
            off_road_work=ow[keep], off_road_geom=og[keep], off_road_length_m=olen[keep], off_road_area_m2=oarea[keep],
        )  # fmt: skip
    _, cos_cross = net.thresholds(settings)
    flat = flat_lines(net)
    segs = road_segments(net) if segments is None else segments
    line_idx = np.flatnonzero(is_line).astype(np.int64)
    # In chunks of routes: bounded temporary arrays, and they stay in cache.
    clips = [
        clip_lines(
            geoms[chunk],
            chunk,
            segs,
            n_roads,
            lambda idx: _corridors(net, idx),
            min_part_m=MIN_PART_M,
            min_off_road_m=MIN_OFF_ROAD_M if with_off_road else -1.0,
        )
        for chunk in np.array_split(line_idx, max(1, -(-len(line_idx) // LINE_CHUNK)))
    ]
    clip = LineClip.concatenate(clips)
    # Numpy pieces: the angle rule per piece; parts without an along-road piece are crossings.
    tangent, off = clip.piece_tangent, clip.piece_offset
    edge = np.flatnonzero(~clip.piece_frame_known)
    tangent[edge], off[edge] = local_frame(clip.piece_mid[edge], clip.piece_road[edge], clip.piece_mid_m[edge], flat)
    vec = clip.piece_vec
    seg_len = np.hypot(vec[:, 0], vec[:, 1])
    dot = np.abs(vec[:, 0] * tangent[:, 0] + vec[:, 1] * tangent[:, 1])
    along = dot >= cos_cross[clip.piece_road] * seg_len
    n_parts = int(clip.piece_part.max()) + 1 if len(clip.piece_part) else 0
    lo = np.minimum(clip.piece_m0, clip.piece_m1)
    hi = np.maximum(clip.piece_m0, clip.piece_m1)
    has_along = np.bincount(clip.piece_part[along], minlength=n_parts) > 0
    first = group_starts(clip.piece_part)  # pieces of a part are contiguous
    p_lo = np.minimum.reduceat(lo, first) if n_parts else none_f
    p_hi = np.maximum.reduceat(hi, first) if n_parts else none_f
    c_sel = ~has_along
    nk_w = [clip.piece_work[along]]
    nk_r = [clip.piece_road[along]]
    nk_lo, nk_hi, nk_off = [lo[along]], [hi[along]], [off[along]]
    c_w = [clip.piece_work[first[c_sel]]]
    c_r = [clip.piece_road[first[c_sel]]]
    c_m = [(p_lo[c_sel] + p_hi[c_sel]) / 2.0]

    # GEOS path: work zones, against the roads whose segment boxes meet theirs.
    slow = np.flatnonzero(~is_line).astype(np.int64)
    wi, ri, known_inside = zone_candidates(geoms[slow], segs)
    wi = slow[wi]
    g = _geos_pieces(geoms, wi, ri, known_inside, net, cos_cross, flat)
    nk_w.append(g.work)
    nk_r.append(g.road)
    nk_lo.append(g.lo)
    nk_hi.append(g.hi)
    nk_off.append(g.off)
    c_w.append(g.cross_work)
    c_r.append(g.cross_road)
    c_m.append(g.cross_m)

    w_all = np.concatenate(nk_w)
    r_all = np.concatenate(nk_r)
    key, f, t, off_m = merge_intervals(
        w_all * n_roads + r_all, np.concatenate(nk_lo), np.concatenate(nk_hi), np.concatenate(nk_off)
    )
    cw, cr, cm = np.concatenate(c_w), np.concatenate(c_r), np.concatenate(c_m)
    c_order = np.lexsort((cm, cw * n_roads + cr))

    if with_off_road:
        sub_w, sub_g, sub_len, sub_area = _off_road(geoms, wi, ri, lambda idx: _corridors(net, idx), g.covered, slow)
        ow = np.concatenate([clip.out_work, sub_w])
        o_order = np.argsort(ow, kind="stable")
        ow = ow[o_order]
        og = np.concatenate([clip.out_geom, sub_g])[o_order]
        olen = np.concatenate([clip.out_length, sub_len])[o_order]
        oarea = np.concatenate([np.zeros(len(clip.out_work)), sub_area])[o_order]
    else:
        ow, og = none_i, np.zeros(0, dtype=object)
        olen = oarea = none_f
    return OccupancyTable(
        work=key // n_roads,
        road=key % n_roads,
        from_m=f,
        to_m=t,
        offset_m=off_m,
        cross_work=cw[c_order],
        cross_road=cr[c_order],
        cross_m=cm[c_order],
        off_road_work=ow,
        off_road_geom=og,
        off_road_length_m=olen,
        off_road_area_m2=oarea,
    )


@dataclass(slots=True)
class _GeosPieces:
    work: IntArray
    road: IntArray
    lo: FloatArray
    hi: FloatArray
    off: FloatArray
    cross_work: IntArray
    cross_road: IntArray
    cross_m: FloatArray
    covered: NDArray[np.bool_]


def _geos_pieces(  # noqa: PLR0917
    geoms: GeomArray,
    wi: IntArray,
    ri: IntArray,
    known_inside: NDArray[np.bool_],
    net: RoadNetwork,
    cos_cross: FloatArray,
    flat: FlatLines,
) -> _GeosPieces:
    """Occupancy pieces of candidate pairs ``(wi, ri)`` by clipping with ``shapely.intersection``.

    Pairs ``known_inside`` (the work lies inside the corridor, :func:`geo._clip.zone_candidates`)
    are kept whole without building their corridor.
    """
    if len(wi) == 0:
        zi, zf = np.zeros(0, dtype=np.int64), np.zeros(0)
        return _GeosPieces(zi, zi, zf, zf, zf, zi, zi, zf, np.zeros(len(geoms), dtype=bool))
    # Works lying wholly inside a corridor (most zones along one road) need no clipping there.
    pieces = geoms[wi]
    inside = known_inside.copy()
    rest = np.flatnonzero(~inside)
    if len(rest):
        corridors = _corridors(net, ri[rest])
        inside[rest] = shapely.covered_by(pieces[rest], corridors)
        clip = ~inside[rest]
        pieces[rest[clip]] = shapely.intersection(pieces[rest[clip]], corridors[clip])
    covered = np.zeros(len(geoms), dtype=bool)
    covered[wi[inside]] = True
    parts, pair = shapely.get_parts(pieces, return_index=True)
    types = shapely.get_type_id(parts)
    is_line = types == 1
    is_poly = types == 3
    length = shapely.length(parts)
    area = shapely.area(parts)
    keep = (is_line & (length > MIN_PART_M)) | (is_poly & (area > MIN_PART_M * MIN_PART_M))
    parts, pair, is_line = parts[keep], pair[keep].astype(np.int64), is_line[keep]
    road_of_part = ri[pair]

    # Line parts: classify each segment by its own angle to the road.
    line_idx = np.flatnonzero(is_line)
    coords, vidx = shapely.get_coordinates(parts[line_idx], return_index=True)
    vroad = road_of_part[line_idx][vidx]
    segs = road_segments(net)
    meas = project_on_roads(coords, vroad, segs)
    seg_at = np.flatnonzero((vidx[1:] == vidx[:-1]) & np.any(coords[1:] != coords[:-1], axis=1))
    vec = coords[seg_at + 1] - coords[seg_at]
    seg_len = np.hypot(vec[:, 0], vec[:, 1])
    mid_xy = (coords[seg_at] + coords[seg_at + 1]) / 2.0
    mid_m = project_on_roads(mid_xy, vroad[seg_at], segs)
    tangent, seg_off = local_frame(mid_xy, vroad[seg_at], mid_m, flat)
    dot = np.abs(vec[:, 0] * tangent[:, 0] + vec[:, 1] * tangent[:, 1])
    along = dot >= cos_cross[vroad[seg_at]] * seg_len
    s_at = seg_at[along]
    s_off = seg_off[along]
    s_pair = pair[line_idx][vidx[s_at]]
    s_lo = np.minimum(meas[s_at], meas[s_at + 1])
    s_hi = np.maximum(meas[s_at], meas[s_at + 1])
    # A line part without any along-road segment is a crossing, recorded at the middle of its extent.
    has_along = np.bincount(vidx[s_at], minlength=len(line_idx)) > 0
    starts = group_starts(vidx)
    p_lo = np.minimum.reduceat(meas, starts) if len(meas) else np.zeros(0)
    p_hi = np.maximum.reduceat(meas, starts) if len(meas) else np.zeros(0)
    crossing = ~has_along
    c_pair = pair[line_idx][crossing]
    c_m = (p_lo[crossing] + p_hi[crossing]) / 2.0

    # Polygon parts (work zones): the extent of their outline along the road, offset of the centroid.
    poly_idx = np.flatnonzero(~is_line)
    rings = shapely.get_exterior_ring(parts[poly_idx])
    r_xy, r_idx = shapely.get_coordinates(rings, return_index=True)
    r_m = project_on_roads(r_xy, road_of_part[poly_idx][r_idx], segs)
    r_starts = group_starts(r_idx)
    z_lo = np.minimum.reduceat(r_m, r_starts) if len(r_m) else np.zeros(0)
    z_hi = np.maximum.reduceat(r_m, r_starts) if len(r_m) else np.zeros(0)
    z_xy = shapely.get_coordinates(shapely.centroid(parts[poly_idx]))
    z_m = project_on_roads(z_xy, road_of_part[poly_idx], segs)
    z_off = local_frame(z_xy, road_of_part[poly_idx], z_m, flat)[1]
    all_pair = np.concatenate([s_pair, pair[poly_idx]])
    return _GeosPieces(
        work=wi[all_pair],
        road=ri[all_pair],
        lo=np.concatenate([s_lo, z_lo]),
        hi=np.concatenate([s_hi, z_hi]),
        off=np.concatenate([s_off, z_off]),
        cross_work=wi[c_pair],
        cross_road=ri[c_pair],
        cross_m=c_m,
        covered=covered,
    )


def _off_road(  # noqa: PLR0917
    geoms: GeomArray,
    wi: IntArray,
    ri: IntArray,
    corridors_of: Callable[[IntArray], GeomArray],
    covered: NDArray[np.bool_],
    subset: IntArray,
) -> tuple[IntArray, GeomArray, FloatArray, FloatArray]:
    """Parts of the works ``subset`` outside all corridors, by repeated vectorised differences.

    ``(wi, ri)`` are their candidate pairs, sorted by work, and ``corridors_of(roads)`` gives the
    corridors of roads. Works ``covered`` by one corridor are skipped; the others lose one
    corridor per round.
    """
    todo = np.zeros(len(geoms), dtype=bool)
    todo[subset] = True
    todo &= ~covered
    rest = np.empty(len(geoms), dtype=object)
    rest[todo] = geoms[todo]
    pick = todo[wi]
    wi, ri = wi[pick], ri[pick]
    corridors = corridors_of(ri)
    if len(wi):
        first = np.searchsorted(wi, wi, side="left")  # query output is sorted by work
        rank = np.arange(len(wi)) - first
        for k in range(int(rank.max()) + 1):
            sel = rank == k
            rest[wi[sel]] = shapely.difference(rest[wi[sel]], corridors[sel])
    sub_geoms = geoms[subset]
    is_poly = np.isin(shapely.get_type_id(sub_geoms), _POLY_TYPES)
    cov = covered[subset]
    sub_rest = rest[subset]
    length = np.where(is_poly | cov, 0.0, shapely.length(sub_rest))
    area = np.where(is_poly & ~cov, shapely.area(sub_rest), 0.0)
    keep = (length > MIN_OFF_ROAD_M) | (area > MIN_OFF_ROAD_M * MIN_OFF_ROAD_M)
    idx = np.flatnonzero(keep)
    return subset[idx].astype(np.int64), sub_rest[idx], length[idx], area[idx]

"""Vectorised clipping of route segments against road corridors, in numpy (private helper).

:func:`clip_lines` gives, for line works, what ``shapely.intersection(work, corridor)`` followed
by ``line_locate_point`` of every vertex gives, without building a geometry per piece:

1. every work segment is paired with every road segment whose box, grown by the road's half
   width (and the band below), meets its box — a uniform grid over the road segments, built
   once per network (:class:`RoadSegments`);
2. in the road segment's frame (``u`` along, ``v`` left) the work segment is clipped to the
   rectangle ``0 <= u <= L, |v| <= h`` (Liang–Barsky) and, at each interior vertex of the road,
   to the round join: the disk of radius ``h`` within the outer wedge of the bend (between the
   normals of both segments). The exact corridor is the union of these: every point within ``h``
   of the centreline whose nearest centreline point is not an end of it, as GEOS draws flat caps
   (a whole disk would reach past the cap where the last segments are shorter than ``h``);
3. the ranges of one work segment on one road are merged; consecutive pieces meeting at a work
   vertex form the *parts* that ``shapely.intersection`` returns;
4. piece ends and middles are projected on the road: nearest candidate road segment, the first
   one on ties, as GEOS ``line_locate_point`` does (a work vertex is projected once).

GEOS buffers draw round joins with chords and drop concave vertices closer than 1 % of the
distance to their neighbours' chord before offsetting, so the GEOS corridor differs from the
exact one within a thin band along its edge. A (work segment, road) pair passing through that
band — the outer wedge of a bend, or the edge of a road having such a shallow vertex — is
clipped against the GEOS corridor polygon itself (:func:`_polygon_ranges`: crossings with its
rings, even–odd rule for the pieces between), so results equal clipping with
``shapely.intersection``. The off-road parts are the complement, per work segment, of the
union over all roads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo import _fused
from geo._fused import BAND_SLACK_M, FILLET_BAND, SIMPLIFY_BAND

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Rows (segment × ring edge) per pass of the corridor-polygon clipping.
MAX_EDGE_ROWS = 2_000_000
#: Gaps between pieces of one segment below this (m) are closed (rounding between frames).
JOIN_TOL_M = 1e-9
#: ``1 - cos θ`` below which a turn counts as one GEOS may snap (θ < 1.03e-3 rad: its offset
#: segments' ends closer than 1e-3 of the distance, GEOS's INSIDE_TURN_VERTEX_SNAP_DISTANCE_FACTOR).
SNAP_TURN_1MCOS = 5.3e-7
#: Use the compiled loops of :mod:`geo._fused` (``False``: the numpy path, same results; for tests).
COMPILED = True


@dataclass(slots=True)
class RoadSegments:
    """Non-degenerate segments of every centreline, in order, with what clipping needs."""

    a: FloatArray  # (n, 2) start
    d: FloatArray  # (n, 2) unit direction
    length: FloatArray
    m0: FloatArray  # measure of the start along the road
    road: IntArray
    h: FloatArray  # half width of the road
    lo: FloatArray  # (n, 2) box grown by h and the ambiguity band
    hi: FloatArray
    joint: BoolArray  # the end vertex is interior to its part (round join there)
    next_d: FloatArray  # (n, 2) direction of the following segment where ``joint``
    shallow_road: BoolArray  # per road: GEOS may simplify its offset curves
    start: IntArray  # per road: first segment (len = n_roads + 1)
    snap_band: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # per segment, see build
    cell: float = 0.0  # grid cell size (m)
    cmax: int = 0  # cells per side covered by the grid
    origin: FloatArray = field(default_factory=lambda: np.zeros(2))
    grid_key: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # sorted cell keys
    grid_start: IntArray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))  # first entry per cell key
    grid_seg: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # segment per key
    grid_box: FloatArray = field(default_factory=lambda: np.zeros((0, 6)))  # its box and low cell, per key

    def index(self) -> None:
        """Build the uniform grid over the segments' grown boxes (cell about a typical segment)."""
        if len(self.road) == 0:
            self.cell = 1.0
            return
        ext = self.hi - self.lo
        self.cell = float(max(np.median(np.maximum(ext[:, 0], ext[:, 1])) / 2.0, 1.0))
        self.origin = self.lo.min(axis=0)
        side = float(np.max(self.hi.max(axis=0) - self.origin))
        # At most about 4 cells per segment plus 2**20 (a table of cell starts is kept per cell):
        # coarser cells where the network is sparse over a large extent.
        most = math.sqrt(4.0 * len(self.road) + 2.0**20) - 3.0
        self.cell = max(self.cell, side / most)
        self.cmax = int(np.floor(side / self.cell)) + 1
        n_keys = (self.cmax + 3) ** 2
        if COMPILED:
            self.grid_key, self.grid_seg, self.grid_box, self.grid_start = _fused.grid_index(
                self.lo, self.hi, self.origin, self.cell, self.cmax
            )
            return
        key, seg, _, _, c0 = _cells(self.lo, self.hi, self.origin, self.cell, self.cmax)
        order = np.argsort(key, kind="stable")
        self.grid_key, self.grid_seg = key[order], seg[order]
        self.grid_box = np.column_stack([self.lo, self.hi, c0]).astype(np.float64)[self.grid_seg]
        self.grid_start = np.searchsorted(self.grid_key, np.arange(n_keys + 1)).astype(np.int64)

    def candidates(self, lo: FloatArray, hi: FloatArray) -> tuple[IntArray, IntArray]:
        """Pairs ``(box, segment)`` whose boxes meet, each once, sorted by box then segment."""
        none = np.zeros(0, dtype=np.int64)
        if len(lo) == 0 or len(self.grid_key) == 0:
            return none, none
        if COMPILED:
            lo = np.ascontiguousarray(lo, dtype=np.float64)
            hi = np.ascontiguousarray(hi, dtype=np.float64)
            return _fused.grid_pairs(
                lo, hi, self.origin, self.cell, self.cmax, self.grid_start, self.grid_seg, self.grid_box
            )
        key, box, cx, cy, c0 = _cells(lo, hi, self.origin, self.cell, self.cmax)
        g0 = np.searchsorted(self.grid_key, key, side="left")
        g1 = np.searchsorted(self.grid_key, key, side="right")
        cnt = g1 - g0
        total = int(cnt.sum())
        row = np.repeat(np.arange(len(key)), cnt)
        ent = np.repeat(g0 - np.cumsum(cnt) + cnt, cnt) + np.arange(total)
        b = box[row]
        gb = self.grid_box[ent]  # (lo x, lo y, hi x, hi y, lo cell x, lo cell y) of the segment
        meet = (lo[b, 0] <= gb[:, 2]) & (lo[b, 1] <= gb[:, 3]) & (hi[b, 0] >= gb[:, 0]) & (hi[b, 1] >= gb[:, 1])
        # Report a pair only in the cell holding the low corner of the boxes' intersection
        # (floor is monotonic: that cell is the larger of the two low-corner cells per axis).
        mine = (np.maximum(c0[b, 0], gb[:, 4]) == cx[row]) & (np.maximum(c0[b, 1], gb[:, 5]) == cy[row])
        keep = meet & mine
        pair = np.sort(b[keep] * len(self.road) + self.grid_seg[ent[keep]])
        return pair // len(self.road), pair % len(self.road)

    def subset(self, rows: IntArray) -> RoadSegments:
        """The segments ``rows`` only (sorted; road numbers unchanged), with their own grid.

        Taking every segment of some roads (:meth:`of_roads`), clipping against the subset gives,
        on those roads, what clipping against all segments gives: every (work segment, road)
        pair is clipped on its own, and the candidate segments of one road keep their order.
        """
        road = self.road[rows]
        out = RoadSegments(
            a=self.a[rows],
            d=self.d[rows],
            length=self.length[rows],
            m0=self.m0[rows],
            road=road,
            h=self.h[rows],
            lo=self.lo[rows],
            hi=self.hi[rows],
            joint=self.joint[rows],
            next_d=self.next_d[rows],
            shallow_road=self.shallow_road,
            snap_band=self.snap_band[rows],
            start=np.searchsorted(road, np.arange(len(self.start))).astype(np.int64),
        )
        out.index()
        return out

    def of_roads(self, roads: IntArray) -> RoadSegments:
        """Every segment of roads ``roads``, as :meth:`subset`."""
        keep = np.zeros(len(self.start) - 1, dtype=bool)
        keep[np.asarray(roads, dtype=np.int64)] = True
        return self.subset(np.flatnonzero(keep[self.road]))

    def boxes_meeting(self, lo: FloatArray, hi: FloatArray) -> IntArray:
        """Indices (sorted) of the boxes ``lo, hi`` meeting the grown box of at least one segment."""
        box, _ = self.candidates(lo, hi)
        return np.unique(box)

    @classmethod
    def build(
        cls,
        lines: NDArray[np.object_],
        widths: FloatArray,
        vertices: tuple[IntArray, FloatArray, IntArray] | None = None,
    ) -> RoadSegments:
        """Flatten centrelines (LineString or MultiLineString) into segments.

        ``vertices``: ``(line of each part, coordinates, part of each vertex)`` if known already.
        """
        n_roads = len(lines)
        if vertices is None:
            parts, owner = shapely.get_parts(lines, return_index=True)
            xy, pidx = shapely.get_coordinates(parts, return_index=True)
        else:
            owner, xy, pidx = vertices
        seg = np.hypot(*(xy[1:] - xy[:-1]).T) if len(xy) else np.zeros(0)
        same_part = pidx[1:] == pidx[:-1]
        step = np.where(same_part, seg, 0.0)
        cum = np.concatenate(([0.0], np.cumsum(step)))
        road_v = owner[pidx].astype(np.int64)
        first_v = np.searchsorted(road_v, np.arange(n_roads))
        cum = cum - cum[np.minimum(first_v, max(len(cum) - 1, 0))][road_v] if len(cum) else cum
        keep = np.flatnonzero(same_part & (seg > 0))
        a = xy[keep]
        b = xy[keep + 1]
        length = seg[keep]
        d = (b - a) / length[:, None]
        road = road_v[keep]
        part = pidx[keep]
        h = (widths / 2.0)[road]
        grow = (h * (1 + SIMPLIFY_BAND) + BAND_SLACK_M)[:, None]
        lo = np.minimum(a, b) - grow
        hi = np.maximum(a, b) + grow
        joint = np.zeros(len(keep), dtype=bool)
        joint[:-1] = part[1:] == part[:-1]
        next_d = np.zeros_like(d)
        next_d[:-1] = d[1:]
        # Shallow vertices: distance from the chord of the neighbours below the GEOS tolerance.
        shallow_road = np.zeros(n_roads, dtype=bool)
        j = np.flatnonzero(joint)
        if len(j):
            p0, p1, p2 = a[j], b[j], b[j + 1]
            chord = p2 - p0
            clen = np.hypot(chord[:, 0], chord[:, 1])
            cross = np.abs(chord[:, 0] * (p1[:, 1] - p0[:, 1]) - chord[:, 1] * (p1[:, 0] - p0[:, 0]))
            dev = np.where(clen > 0, cross / np.maximum(clen, 1e-300), 0.0)
            shallow = dev < (SIMPLIFY_BAND * h[j] + BAND_SLACK_M)
            shallow_road[road[j[shallow]]] = True
        # Turns below ~1e-3 rad: GEOS snaps the inside corner to an end of one offset segment
        # (their ends closer than 1e-3 of the distance), so its edge along the two segments
        # leaves the exact offset line by up to h·θ²/2; rows there take the band test too.
        snap_band = np.zeros(len(keep), dtype=bool)
        if len(j):
            dot = d[j, 0] * next_d[j, 0] + d[j, 1] * next_d[j, 1]
            turn = d[j, 0] * next_d[j, 1] - d[j, 1] * next_d[j, 0]
            tiny = (1.0 - dot < SNAP_TURN_1MCOS) & (turn != 0.0)
            snap_band[j[tiny]] = True
            snap_band[j[tiny] + 1] = True
        start = np.searchsorted(road, np.arange(n_roads + 1)).astype(np.int64)
        out = cls(
            a=a,
            d=d,
            length=length,
            m0=cum[keep],
            road=road,
            h=h,
            lo=lo,
            hi=hi,
            joint=joint,
            next_d=next_d,
            shallow_road=shallow_road,
            snap_band=snap_band,
            start=start,
        )
        out.index()
        return out


def _key2(cx: IntArray, cy: IntArray, cmax: int) -> IntArray:
    """Key of cells ``-1 .. cmax + 1`` per side: ``0 .. (cmax + 3)**2 - 1``, row by row."""
    return (cy + 1) * (cmax + 3) + (cx + 1)


def _cells(
    lo: FloatArray, hi: FloatArray, origin: FloatArray, cell: float, cmax: int
) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray]:
    """Grid cells covered by boxes: ``(key, box, cell x, cell y)`` per cell, low-corner cell per box.

    Cells outside the grid (``0 .. cmax`` per side) are folded onto its border rows, so a box far
    larger than the road network covers at most the grid.
    """
    c0 = np.clip(np.floor((lo - origin) / cell), -1, cmax + 1).astype(np.int64)
    c1 = np.clip(np.floor((hi - origin) / cell), -1, cmax + 1).astype(np.int64)
    nx = c1[:, 0] - c0[:, 0] + 1
    ny = c1[:, 1] - c0[:, 1] + 1
    cnt = nx * ny
    total = int(cnt.sum())
    box = np.repeat(np.arange(len(lo)), cnt)
    within = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    cx = c0[box, 0] + within % nx[box]
    cy = c0[box, 1] + within // nx[box]
    return _key2(cx, cy, cmax), box, cx, cy, c0


@dataclass(slots=True)
class LineClip:
    """Occupancy of line works computed in numpy.

    ``piece_*``: one row per piece (a route segment's stretch inside a corridor) of a kept part,
    with its work, road, measures of its ends and middle, middle point and direction vector (the
    caller applies the angle rule); ``piece_part`` numbers the parts (pieces of one part are
    contiguous). Where ``piece_frame_known``, ``piece_tangent`` and ``piece_offset`` give the road's
    direction and the signed offset at the middle. ``out_*``: the parts of each work outside
    every corridor, as lines, with their lengths.
    """

    piece_work: IntArray
    piece_road: IntArray
    piece_m0: FloatArray
    piece_m1: FloatArray
    piece_mid: FloatArray
    piece_mid_m: FloatArray
    piece_vec: FloatArray
    piece_part: IntArray
    piece_frame_known: BoolArray  # the middle lies inside one road segment: tangent and offset given
    piece_tangent: FloatArray
    piece_offset: FloatArray
    out_work: IntArray
    out_geom: NDArray[np.object_]
    out_length: FloatArray

    @classmethod
    def concatenate(cls, clips: list[LineClip]) -> LineClip:
        """One :class:`LineClip` from several (part numbers shifted to stay distinct)."""
        if len(clips) == 1:
            return clips[0]
        shift = np.cumsum([0] + [int(c.piece_part.max()) + 1 if len(c.piece_part) else 0 for c in clips[:-1]])
        return cls(
            **{
                name: np.concatenate([getattr(c, name) for c in clips])
                for name in cls.__dataclass_fields__
                if name != "piece_part"
            },
            piece_part=np.concatenate([c.piece_part + k for c, k in zip(clips, shift, strict=True)]),
        )


def _liang_barsky(  # noqa: PLR0917 (the four coordinates of a segment in the frame, then the box)
    u0: FloatArray, du: FloatArray, v0: FloatArray, dv: FloatArray, length: FloatArray, h: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Parameter range ``[t0, t1]`` of ``(u0 + t·du, v0 + t·dv)``, t in [0, 1], inside the rectangle."""
    t0 = np.zeros(len(u0))
    t1 = np.ones(len(u0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for p, q in ((-du, u0), (du, length - u0), (-dv, v0 + h), (dv, h - v0)):
            r = q / p
            t0 = np.where(p < 0, np.maximum(t0, r), t0)
            t1 = np.where(p > 0, np.minimum(t1, r), t1)
            t1 = np.where((p == 0) & (q < 0), -1.0, t1)
    return t0, t1


def _disk(
    px: FloatArray, py: FloatArray, qx: FloatArray, qy: FloatArray, r: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Parameter range of ``p + t·q`` (t in [0, 1]) within distance ``r`` of the origin."""
    aa = qx * qx + qy * qy
    bb = px * qx + py * qy
    cc = px * px + py * py - r * r
    disc = bb * bb - aa * cc
    ok = (disc >= 0) & (aa > 0)
    root = np.sqrt(np.where(ok, disc, 0.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t0 = np.where(ok, (-bb - root) / aa, 2.0)
        t1 = np.where(ok, (-bb + root) / aa, -1.0)
    return np.maximum(t0, 0.0), np.minimum(t1, 1.0)


def _sector(  # noqa: PLR0917
    px: FloatArray, py: FloatArray, qx: FloatArray, qy: FloatArray, d1: FloatArray, d2: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Parameter range of ``p + t·q`` with ``(p+tq)·d1 >= 0`` and ``(p+tq)·d2 <= 0`` (outer wedge)."""
    t0 = np.zeros(len(px))
    t1 = np.ones(len(px))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for dd, sign in ((d1, -1.0), (d2, 1.0)):
            # constraint sign·((p + t q)·dd) <= 0
            c0 = sign * (px * dd[:, 0] + py * dd[:, 1])
            c1 = sign * (qx * dd[:, 0] + qy * dd[:, 1])
            r = -c0 / c1
            t0 = np.where(c1 < 0, np.maximum(t0, r), t0)
            t1 = np.where(c1 > 0, np.minimum(t1, r), t1)
            t1 = np.where((c1 == 0) & (c0 > 0), -1.0, t1)
    return t0, t1


def _runs(new: BoolArray) -> tuple[IntArray, IntArray]:
    """Run id of each row and the start row of each run, from a 'starts a new run' mask."""
    gid = np.cumsum(new) - 1
    return gid.astype(np.int64), np.flatnonzero(new).astype(np.int64)


def _merge_t(
    key: IntArray, t0: FloatArray, t1: FloatArray, seglen: FloatArray
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Merge parameter intervals ``[t0, t1]`` sharing ``key`` (gaps below :data:`JOIN_TOL_M` closed).

    ``seglen`` is the length of the segment of each row. Returns ``(key, t0, t1)`` of the merged
    intervals, sorted by key then t0.
    """
    if COMPILED:
        return _fused.merge_sorted(np.argsort(key, kind="stable"), key, t0, t1, seglen, JOIN_TOL_M)
    order = np.lexsort((t0, key))
    key, t0, t1, seglen = key[order], t0[order], t1[order], seglen[order]
    n = len(key)
    if n == 0:
        return key, t0, t1
    new_key = np.ones(n, dtype=bool)
    new_key[1:] = key[1:] != key[:-1]
    # Running maximum of t1 within each key (exact: offsetting each key's values by its rank
    # for one global accumulate rounds t1 to ~1e-9 for millions of keys and splits pieces).
    rank = np.cumsum(new_key) - 1
    runmax = pd.Series(t1).groupby(rank).cummax().to_numpy()
    new = new_key.copy()
    new[1:] |= t0[1:] > runmax[:-1] + JOIN_TOL_M / seglen[1:]
    starts = np.flatnonzero(new)
    return key[starts], t0[starts], np.maximum.reduceat(t1, starts)


def _row_ranges(  # noqa: PLR0917
    s: IntArray, k: IntArray, r: IntArray, sp: FloatArray, sq: FloatArray, slen: FloatArray, segs: RoadSegments
) -> tuple[FloatArray, FloatArray, IntArray, FloatArray, FloatArray, BoolArray]:
    """Numpy path of :func:`geo._fused.row_ranges`: ``(rt0, rt1, jk, dt0, dt1, amb)``, joint rows ``jk``."""
    a, d, h, seg_l = segs.a[k], segs.d[k], segs.h[k], segs.length[k]
    px, py = sp[s, 0] - a[:, 0], sp[s, 1] - a[:, 1]
    qx, qy = sq[s, 0], sq[s, 1]
    u0 = px * d[:, 0] + py * d[:, 1]
    v0 = d[:, 0] * py - d[:, 1] * px
    du = qx * d[:, 0] + qy * d[:, 1]
    dv = d[:, 0] * qy - d[:, 1] * qx
    rt0, rt1 = _liang_barsky(u0, du, v0, dv, seg_l, h)
    jk = np.flatnonzero(segs.joint[k])
    bx = px[jk] - d[jk, 0] * seg_l[jk]  # work segment start relative to the joint vertex
    by = py[jk] - d[jk, 1] * seg_l[jk]
    dt0, dt1 = _disk(bx, by, qx[jk], qy[jk], h[jk])
    # The join is the disk's part in the outer wedge (the rest is the rectangles' or beyond a cap).
    wt0, wt1 = _sector(bx, by, qx[jk], qy[jk], d[jk], segs.next_d[k[jk]])
    dt0, dt1 = np.maximum(dt0, wt0), np.minimum(dt1, wt1)

    # Ambiguity bands where the GEOS corridor may differ from the exact one.
    amb = np.zeros(len(s), dtype=bool)
    ot0, ot1 = _disk(bx, by, qx[jk], qy[jk], h[jk] + BAND_SLACK_M)
    it0, it1 = _disk(bx, by, qx[jk], qy[jk], h[jk] * (1 - FILLET_BAND) - BAND_SLACK_M)
    lo_t, hi_t = np.maximum(wt0, ot0), np.minimum(wt1, ot1)
    in_band = (hi_t > lo_t) & ~((it0 <= lo_t) & (it1 >= hi_t))
    amb[jk[in_band]] = True
    sh = np.flatnonzero(segs.shallow_road[r] | segs.snap_band[k])
    if len(sh):
        hb = h[sh]
        o0, o1 = _liang_barsky(u0[sh], du[sh], v0[sh], dv[sh], seg_l[sh], hb * (1 + SIMPLIFY_BAND) + BAND_SLACK_M)
        i0, i1 = _liang_barsky(u0[sh], du[sh], v0[sh], dv[sh], seg_l[sh], hb * (1 - SIMPLIFY_BAND) - BAND_SLACK_M)
        outer = o1 > o0
        inner = i1 > i0
        diff = outer & (~inner | (np.abs(o0 - i0) * slen[s[sh]] > 0) | (np.abs(o1 - i1) * slen[s[sh]] > 0))
        amb[sh[diff]] = True
    return rt0, rt1, jk, dt0, dt1, amb


def clip_lines(
    geoms: NDArray[np.object_],
    work_index: IntArray,
    segs: RoadSegments,
    n_roads: int,
    corridors: Callable[[IntArray], NDArray[np.object_]],
    *,
    min_part_m: float,
    min_off_road_m: float,
) -> LineClip:
    """Clip line works (LineString / MultiLineString) against all road corridors, in numpy.

    ``work_index[i]`` is the caller's index of ``geoms[i]``; ``corridors(idx)`` gives the GEOS
    corridor polygons of roads ``idx``. Off-road parts shorter than ``min_off_road_m`` are left
    out; a negative value skips them altogether.
    """
    # Work segments.
    if np.any(shapely.get_type_id(geoms) == 5):  # MultiLineString: one part per line
        parts, part_owner = shapely.get_parts(geoms, return_index=True)
    else:
        parts, part_owner = geoms, np.arange(len(geoms))
    xy, vpart = shapely.get_coordinates(parts, return_index=True)
    ok = np.flatnonzero((vpart[1:] == vpart[:-1]) & np.any(xy[1:] != xy[:-1], axis=1)) if len(xy) else np.zeros(0, int)
    sp = xy[ok]
    send = xy[ok + 1]
    sq = send - sp
    slen = np.hypot(sq[:, 0], sq[:, 1])
    spart = vpart[ok].astype(np.int64)
    sgeom = part_owner[spart].astype(np.int64)  # index into geoms
    n_s = len(ok)
    slo = np.minimum(sp, sp + sq)
    shi = np.maximum(sp, sp + sq)

    # Candidate (work segment, road segment) pairs: boxes meeting, from the segment grid.
    s, k = segs.candidates(slo, shi)
    r = segs.road[k]

    # Clip to the rectangle of each road segment and to the round join at its end, and flag the
    # rows in an ambiguity band where the GEOS corridor may differ from the exact one.
    if COMPILED:
        rt0, rt1, dt0_all, dt1_all, amb = _fused.row_ranges(
            s,
            k,
            sp,
            sq,
            slen,
            segs.a,
            segs.d,
            segs.h,
            segs.length,
            segs.joint,
            segs.next_d,
            segs.shallow_road[r] | segs.snap_band[k],
        )
    else:
        rt0, rt1, jk, dt0, dt1, amb = _row_ranges(s, k, r, sp, sq, slen, segs)
    # Pieces (segment, road) = union of rectangle and joint ranges; for (segment, road) pairs
    # passing through a band, the ranges inside the GEOS corridor polygon itself.
    ckey = s * n_roads + r
    fk = np.unique(ckey[amb])
    f0 = f1 = np.zeros(0)
    frow = np.zeros(0, dtype=np.int64)
    if len(fk):
        f_roads = np.unique(fk % n_roads)
        f0, f1, frow = _polygon_ranges(fk // n_roads, fk % n_roads, sp, sq, corridors(f_roads), f_roads)
    if COMPILED:
        f_order = np.argsort(frow, kind="stable")
        f_start = np.searchsorted(frow[f_order], np.arange(len(fk) + 1)).astype(np.int64)
        ps, pr, t0, t1, g0, g1 = _fused.pieces(
            s, k, segs.road, rt0, rt1, dt0_all, dt1_all, fk, f_start, f0[f_order], f1[f_order], n_roads, slen,
            JOIN_TOL_M,
        )  # fmt: skip
    else:
        in_band = np.zeros(len(s), dtype=bool)
        if len(fk):
            pos = np.minimum(np.searchsorted(fk, ckey), len(fk) - 1)
            in_band = fk[pos] == ckey
        rows = np.flatnonzero(~in_band)
        jsel = ~in_band[jk]
        pk = np.concatenate([ckey[rows], ckey[jk[jsel]], fk[frow]])
        pt0 = np.concatenate([rt0[rows], dt0[jsel], f0])
        pt1 = np.concatenate([rt1[rows], dt1[jsel], f1])
        live = pt1 > pt0
        pk, pt0, pt1 = pk[live], pt0[live], pt1[live]
        pkey, t0, t1 = _merge_t(pk, pt0, pt1, slen[pk // n_roads])
        ps = pkey // n_roads
        pr = pkey % n_roads
        # Candidate rows of each piece: sorted by (work segment, road segment), hence by (segment, road).
        g0 = np.searchsorted(ckey, pkey, side="left")
        g1 = np.searchsorted(ckey, pkey, side="right")
    pg = sgeom[ps]

    # Off-road: per work segment, the complement of the union over all roads.
    if min_off_road_m >= 0:
        out_work, out_geom, out_len = _outside(geoms, ps, t0, t1, sp, sq, slen, spart, sgeom, n_s, min_off_road_m)
    else:
        out_work, out_geom, out_len = np.zeros(0, np.int64), np.zeros(0, dtype=object), np.zeros(0)
    out_work = work_index[out_work]

    # Order pieces by (geometry, road, segment, t0): they are sorted by (segment, road, t0), and
    # segments by geometry, so a stable sort by (geometry, road) suffices.
    pgr = pg * n_roads + pr
    order = np.argsort(pgr, kind="stable")
    ps, pr, pg, pgr, t0, t1, g0, g1 = (x[order] for x in (ps, pr, pg, pgr, t0, t1, g0, g1))
    # Parts: consecutive pieces of one line part that meet at a vertex of the work.
    cont = np.zeros(len(ps), dtype=bool)
    if len(ps):
        cont[1:] = (
            (pgr[1:] == pgr[:-1])
            & (spart[ps[1:]] == spart[ps[:-1]])
            & (ps[1:] == ps[:-1] + 1)
            & ((1.0 - t1[:-1]) * slen[ps[:-1]] <= JOIN_TOL_M)
            & (t0[1:] * slen[ps[1:]] <= JOIN_TOL_M)
        )
    part_id, part_start = _runs(~cont)
    plen = (t1 - t0) * slen[ps]
    part_len = np.add.reduceat(plen, part_start) if len(part_start) else np.zeros(0)
    keep = (part_len > min_part_m)[part_id] & (plen > 0)
    ps, pr, pg, t0, t1, part_id, g0, g1 = (x[keep] for x in (ps, pr, pg, t0, t1, part_id, g0, g1))

    # Project ends and middles on the road: nearest candidate road segment (first on ties).
    n = len(ps)
    # Piece ends at a vertex of the work take the vertex itself, so that the two pieces meeting
    # there get the same measure (GEOS projects that vertex once).
    if COMPILED:
        pts3, k3, u3, v3 = _fused.piece_measures(ps, t0, t1, g0, g1, sp, sq, send, k, segs.a, segs.d, segs.length)
        e0, e1, mid = pts3[0], pts3[1], pts3[2]
        kj, uc, vv = k3.reshape(-1), u3.reshape(-1), v3.reshape(-1)
    else:
        e0 = np.where((t0 <= 0.0)[:, None], sp[ps], sp[ps] + sq[ps] * t0[:, None])
        e1 = np.where((t1 >= 1.0)[:, None], send[ps], sp[ps] + sq[ps] * t1[:, None])
        mid = (e0 + e1) / 2.0
        pts = np.concatenate([e0, e1, mid])
        j, uc, vv = _nearest(pts, np.tile(g0, 3), np.tile(g1, 3), segs.a[k], segs.d[k], segs.length[k])
        kj = k[j]
    meas = segs.m0[kj] + uc
    # Within a segment (0.5 m from its ends) the road's direction at the middle is the segment's.
    km, um = kj[2 * n :], uc[2 * n :]
    inner = (um >= 0.5) & (um <= segs.length[km] - 0.5)
    # Parts numbered 0, 1, ... in order (part ids are non-decreasing).
    part_new = np.ones(n, dtype=bool)
    part_new[1:] = part_id[1:] != part_id[:-1]
    return LineClip(
        piece_work=work_index[pg],
        piece_road=pr,
        piece_m0=meas[:n],
        piece_m1=meas[n : 2 * n],
        piece_mid=mid,
        piece_mid_m=meas[2 * n :],
        piece_vec=e1 - e0,
        piece_part=(np.cumsum(part_new) - 1).astype(np.int64),
        piece_frame_known=inner,
        piece_tangent=segs.d[km],
        piece_offset=vv[2 * n :],
        out_work=out_work,
        out_geom=out_geom,
        out_length=out_len,
    )


def _nearest(  # noqa: PLR0917
    pts: FloatArray, g0: IntArray, g1: IntArray, a: FloatArray, d: FloatArray, seg_l: FloatArray
) -> tuple[IntArray, FloatArray, FloatArray]:
    """For each point, the nearest of its candidate rows ``g0[i]:g1[i]`` (first on ties).

    Rows describe road segments by start ``a``, unit direction ``d`` and length. Returns the row,
    the clamped along-coordinate on it and the signed offset (left positive).
    """
    cnt = g1 - g0
    j = g0.copy()
    multi = np.flatnonzero(cnt > 1)
    if len(multi):
        c = cnt[multi]
        total = int(c.sum())
        row = np.repeat(multi, c)
        starts = np.cumsum(c) - c
        jj = g0[row] + (np.arange(total) - np.repeat(starts, c))
        rx = pts[row, 0] - a[jj, 0]
        ry = pts[row, 1] - a[jj, 1]
        u = rx * d[jj, 0] + ry * d[jj, 1]
        v = d[jj, 0] * ry - d[jj, 1] * rx
        ucl = np.clip(u, 0.0, seg_l[jj])
        dist = (u - ucl) ** 2 + v * v
        best = np.minimum.reduceat(dist, starts)
        idx = np.where(dist <= np.repeat(best, c), np.arange(total), total)
        j[multi] = jj[np.minimum.reduceat(idx, starts)]
    rx = pts[:, 0] - a[j, 0]
    ry = pts[:, 1] - a[j, 1]
    u = rx * d[j, 0] + ry * d[j, 1]
    v = d[j, 0] * ry - d[j, 1] * rx
    return j, np.clip(u, 0.0, seg_l[j]), v


def _project(pts: FloatArray, g0: IntArray, g1: IntArray, k_s: IntArray, segs: RoadSegments) -> FloatArray:
    """Measure of each point on its road, over the candidate road segments ``k_s[g0:g1]``."""
    cnt = g1 - g0
    total = int(cnt.sum())
    if total == 0:
        return np.zeros(len(pts))
    row = np.repeat(np.arange(len(pts)), cnt)
    k = k_s[g0[row] + (np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt))]
    rel = pts[row] - segs.a[k]
    proj = rel[:, 0] * segs.d[k, 0] + rel[:, 1] * segs.d[k, 1]
    t = np.clip(proj, 0.0, segs.length[k])
    near = segs.a[k] + segs.d[k] * t[:, None]
    dist = np.hypot(pts[row, 0] - near[:, 0], pts[row, 1] - near[:, 1])
    starts = np.cumsum(cnt) - cnt
    nz = cnt > 0
    best = np.full(len(pts), np.inf)
    best[nz] = np.minimum.reduceat(dist, starts[nz])
    idx = np.where(dist <= best[row], np.arange(total), total)
    first = np.full(len(pts), 0)
    first[nz] = np.minimum.reduceat(idx, starts[nz])
    out = np.zeros(len(pts))
    out[nz] = segs.m0[k[first[nz]]] + t[first[nz]]
    return out


def _gaps(
    ps: IntArray, t0: FloatArray, t1: FloatArray, slen: FloatArray, n_s: int
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Numpy path of :func:`geo._fused.outside_gaps`: per segment, the ranges outside its pieces."""
    # Union over roads of the inside ranges, per segment.
    us, u0, u1 = _merge_t(ps, t0, t1, slen[ps])
    # Complement in [0, 1]: gaps before each inside range, and after the last one of a segment.
    first = np.ones(len(us), dtype=bool)
    if len(us):
        first[1:] = us[1:] != us[:-1]
    gap_s = np.concatenate([us, us])
    prev_end = np.where(first, 0.0, np.r_[0.0, u1[:-1]] if len(us) else u1)
    last = np.ones(len(us), dtype=bool)
    if len(us):
        last[:-1] = us[1:] != us[:-1]
    g0 = np.concatenate([prev_end, np.where(last, u1, 1.0)])
    g1 = np.concatenate([u0, np.where(last, 1.0, 0.0)])
    # Segments with no inside range at all are wholly outside.
    untouched = np.ones(n_s, dtype=bool)
    untouched[us] = False
    free = np.flatnonzero(untouched)
    gap_s = np.concatenate([gap_s, free])
    g0 = np.concatenate([g0, np.zeros(len(free))])
    g1 = np.concatenate([g1, np.ones(len(free))])
    live = (g1 - g0) * slen[gap_s] > JOIN_TOL_M
    gap_s, g0, g1 = gap_s[live], g0[live], g1[live]
    order = np.lexsort((g0, gap_s))
    gap_s, g0, g1 = gap_s[order], g0[order], g1[order]
    return gap_s, g0, g1


def _outside(  # noqa: PLR0917
    geoms: NDArray[np.object_],
    ps: IntArray,
    t0: FloatArray,
    t1: FloatArray,
    sp: FloatArray,
    sq: FloatArray,
    slen: FloatArray,
    spart: IntArray,
    sgeom: IntArray,
    n_s: int,
    min_off_road_m: float,
) -> tuple[IntArray, NDArray[np.object_], FloatArray]:
    """Parts of each line geometry outside every corridor (pieces per segment are given)."""
    if COMPILED:
        gap_s, g0, g1 = _fused.outside_gaps(ps, t0, t1, n_s, slen, JOIN_TOL_M)
    else:
        gap_s, g0, g1 = _gaps(ps, t0, t1, slen, n_s)
    glen = (g1 - g0) * slen[gap_s]
    gw = sgeom[gap_s]
    wlen = np.bincount(gw, weights=glen, minlength=len(geoms))
    keep_w = wlen > min_off_road_m
    sel = keep_w[gw]
    gap_s, g0, g1, gw = gap_s[sel], g0[sel], g1[sel], gw[sel]
    total_len = np.bincount(sgeom, weights=slen, minlength=len(geoms))
    whole = keep_w & (np.abs(wlen - total_len) <= JOIN_TOL_M * 10)
    # Chains of gaps meeting at work vertices become one line each.
    cont = np.zeros(len(gap_s), dtype=bool)
    if len(gap_s):
        cont[1:] = (
            (spart[gap_s[1:]] == spart[gap_s[:-1]]) & (gap_s[1:] == gap_s[:-1] + 1) & (g1[:-1] >= 1.0) & (g0[1:] <= 0.0)
        )
    chain, cstart = _runs(~cont)
    a = sp[gap_s] + sq[gap_s] * g0[:, None]
    b = sp[gap_s] + sq[gap_s] * g1[:, None]
    # vertices: the start of each chain, then the end of every gap
    coords = np.concatenate([a[cstart], b])
    cidx = np.concatenate([chain[cstart], chain])
    pos = np.concatenate([np.zeros(len(cstart)), np.arange(1, len(b) + 1)])
    order = np.lexsort((pos, cidx))
    lines = shapely.linestrings(coords[order], indices=cidx[order]) if len(cidx) else np.zeros(0, dtype=object)
    cw = gw[cstart]
    wids = np.flatnonzero(keep_w)
    out = np.empty(len(wids), dtype=object)
    slot = np.searchsorted(wids, cw)
    n_chain = np.bincount(slot, minlength=len(wids))
    single = n_chain[slot] == 1
    out[slot[single]] = lines[single]
    multi = ~single
    if multi.any():
        mw = np.unique(slot[multi])
        out[mw] = shapely.multilinestrings(lines[multi], indices=np.searchsorted(mw, slot[multi]))
    w_whole = whole[wids]
    out[w_whole] = geoms[wids[w_whole]]
    return wids.astype(np.int64), out, np.asarray(wlen[wids], dtype=np.float64)


def project_on_roads(pts: FloatArray, road: IntArray, segs: RoadSegments) -> FloatArray:
    """Measure of each point on its road (``shapely.line_locate_point``), over all its segments.

    The nearest segment wins, the first one on ties, as in GEOS.
    """
    if len(pts) == 0:
        return np.zeros(0)
    g0 = segs.start[road]
    g1 = segs.start[road + 1]
    k = np.arange(len(segs.road), dtype=np.int64)
    if COMPILED:
        out = np.zeros(len(pts))
        some = np.flatnonzero(g1 > g0)  # a road without segments has no measures but 0
        j, u, _ = _fused.nearest(
            np.ascontiguousarray(pts[some], dtype=np.float64), g0[some], g1[some], k, segs.a, segs.d, segs.length
        )
        out[some] = segs.m0[j] + u
        return out
    return _project(pts, g0, g1, k, segs)


def _polygon_ranges(  # noqa: PLR0917
    s: IntArray, r: IntArray, sp: FloatArray, sq: FloatArray, polys: NDArray[np.object_], poly_road: IntArray
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Parameter ranges of work segments ``s`` inside the corridor polygons of roads ``r``.

    ``polys[i]`` is the corridor of road ``poly_road[i]`` (sorted). Breakpoints are the crossings
    of the segment with the polygon's rings (and ring vertices lying on it); each piece between
    breakpoints is inside when its middle is (even–odd rule) or on the boundary, as in GEOS, which
    counts the boundary in. Returns ``(t0, t1, i)``: the ranges and the pair ``(s[i], r[i])`` of each.
    """
    rings = shapely.get_rings(polys, return_index=True)
    ring_geoms, ring_poly = rings
    xy, vr = shapely.get_coordinates(ring_geoms, return_index=True)
    e = np.flatnonzero(vr[1:] == vr[:-1])
    ea, eb = xy[e], xy[e + 1]
    epoly = ring_poly[vr[e]]
    e_start = np.searchsorted(epoly, np.arange(len(polys) + 1))
    pidx = np.searchsorted(poly_road, r)
    cnt = e_start[pidx + 1] - e_start[pidx]
    total = int(cnt.sum())
    if COMPILED:
        return _fused.polygon_ranges(
            np.ascontiguousarray(s, dtype=np.int64), pidx.astype(np.int64), sp, sq, ea, eb, e_start.astype(np.int64)
        )
    if total > MAX_EDGE_ROWS and len(s) > 1:  # long, detailed corridors: bounded temporaries
        half = len(s) // 2
        a0, a1, ai = _polygon_ranges(s[:half], r[:half], sp, sq, polys, poly_road)
        b0, b1, bi = _polygon_ranges(s[half:], r[half:], sp, sq, polys, poly_road)
        return np.concatenate([a0, b0]), np.concatenate([a1, b1]), np.concatenate([ai, bi + half])
    row = np.repeat(np.arange(len(s)), cnt)
    ei = e_start[pidx][row] + (np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    p, q = sp[s][row], sq[s][row]
    a, f = ea[ei], eb[ei] - ea[ei]
    w = a - p
    denom = q[:, 0] * f[:, 1] - q[:, 1] * f[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (w[:, 0] * f[:, 1] - w[:, 1] * f[:, 0]) / denom
        u = (w[:, 0] * q[:, 1] - w[:, 1] * q[:, 0]) / denom
    hit = (denom != 0) & (u >= 0) & (u <= 1) & (t > 0) & (t < 1)
    # Ring vertices on the segment (collinear overlaps) are breakpoints too.
    qq = np.maximum(q[:, 0] ** 2 + q[:, 1] ** 2, 1e-300)
    tv = (w[:, 0] * q[:, 0] + w[:, 1] * q[:, 1]) / qq
    dv = np.abs(w[:, 0] * q[:, 1] - w[:, 1] * q[:, 0]) / np.sqrt(qq)
    on = (dv <= 1e-9) & (tv > 0) & (tv < 1)
    bt = np.concatenate([t[hit], tv[on], np.zeros(len(s)), np.ones(len(s))])
    brow = np.concatenate([row[hit], row[on], np.arange(len(s)), np.arange(len(s))])
    order = np.lexsort((bt, brow))
    bt, brow = bt[order], brow[order]
    nxt = np.flatnonzero(brow[1:] == brow[:-1])
    t0, t1, prow = bt[nxt], bt[nxt + 1], brow[nxt]
    sub = t1 > t0
    t0, t1, prow = t0[sub], t1[sub], prow[sub]
    # Middle of each piece: inside or on the boundary of the polygon?
    tm = (t0 + t1) / 2.0
    m = sp[s][prow] + sq[s][prow] * tm[:, None]
    c2 = cnt[prow]
    tot2 = int(c2.sum())
    row2 = np.repeat(np.arange(len(prow)), c2)
    ej = e_start[pidx[prow]][row2] + (np.arange(tot2) - np.repeat(np.cumsum(c2) - c2, c2))
    mx, my = m[row2, 0], m[row2, 1]
    ax, ay, bx, by = ea[ej, 0], ea[ej, 1], eb[ej, 0], eb[ej, 1]
    straddle = (ay > my) != (by > my)
    with np.errstate(divide="ignore", invalid="ignore"):
        xcross = ax + (my - ay) * (bx - ax) / (by - ay)
    odd = np.bincount(row2[straddle & (mx < xcross)], minlength=len(prow)) % 2 == 1
    fx, fy = bx - ax, by - ay
    ll = np.maximum(fx * fx + fy * fy, 1e-300)
    tt = np.clip(((mx - ax) * fx + (my - ay) * fy) / ll, 0.0, 1.0)
    dist = np.hypot(mx - (ax + tt * fx), my - (ay + tt * fy))
    onb = np.bincount(row2[dist <= 1e-9], minlength=len(prow)) > 0
    inside = odd | onb
    return t0[inside], t1[inside], prow[inside]


def zone_candidates(geoms: NDArray[np.object_], segs: RoadSegments) -> tuple[IntArray, IntArray, BoolArray]:
    """``(geometry, road)`` pairs whose boxes meet (a geometry's box against road segment boxes).

    Also tells, per pair, whether the geometry (a Polygon) certainly lies inside the road's GEOS
    corridor: every vertex of its exterior ring inside the rectangle of one segment (a convex
    set within the corridor), by at least :data:`BAND_SLACK_M`, on a road without shallow vertices
    (GEOS simplifies none of its offset curves, so the corridor's edges and flat caps are exact).
    ``False`` means "maybe not", for ``shapely`` to decide.
    """
    none = np.zeros(0, dtype=np.int64)
    if len(geoms) == 0:
        return none, none, np.zeros(0, dtype=bool)
    b = shapely.bounds(geoms)
    gi, k = segs.candidates(b[:, :2], b[:, 2:])
    n = int(segs.road.max()) + 1 if len(segs.road) else 1
    key = gi * n + segs.road[k]
    inside_row = _inside_rectangle(geoms, gi, k, segs)
    ukey = np.unique(key)
    covered = np.zeros(len(ukey), dtype=bool)
    covered[np.searchsorted(ukey, key[inside_row])] = True
    return ukey // n, ukey % n, covered


def _inside_rectangle(geoms: NDArray[np.object_], gi: IntArray, k: IntArray, segs: RoadSegments) -> BoolArray:
    """Per row, whether polygon ``geoms[gi]`` lies inside the rectangle of road segment ``k``.

    The rectangle is shrunk by :data:`BAND_SLACK_M`; rows on roads with shallow vertices, and
    geometries other than Polygons, are ``False``.
    """
    out = np.zeros(len(gi), dtype=bool)
    ok = (shapely.get_type_id(geoms)[gi] == 3) & ~segs.shallow_road[segs.road[k]] & ~segs.snap_band[k]
    rows = np.flatnonzero(ok)
    if len(rows) == 0:
        return out
    xy, vidx = shapely.get_coordinates(shapely.get_exterior_ring(geoms), return_index=True)
    v_start = np.searchsorted(vidx, np.arange(len(geoms) + 1))
    count = (v_start[gi[rows] + 1] - v_start[gi[rows]]).astype(np.int64)
    row_of = np.repeat(rows, count)
    vert = np.repeat(v_start[gi[rows]] - np.cumsum(count) + count, count) + np.arange(int(count.sum()))
    kk = k[row_of]
    rel = xy[vert] - segs.a[kk]
    d = segs.d[kk]
    u = rel[:, 0] * d[:, 0] + rel[:, 1] * d[:, 1]
    v = d[:, 0] * rel[:, 1] - d[:, 1] * rel[:, 0]
    slack = BAND_SLACK_M
    good = (u >= slack) & (u <= segs.length[kk] - slack) & (np.abs(v) <= segs.h[kk] - slack)
    bad_rows = np.unique(row_of[~good])
    out[rows] = True
    out[bad_rows] = False
    return out

"""Compiled (numba) loops of the route clipping in :mod:`geo._clip` (private helper).

Each function fuses several numpy passes of :func:`geo._clip.clip_lines` (and of
:func:`geo.occupancy.merge_intervals`) into one loop, with the same formulas in the same order, so
the results equal the numpy path's (``tests/test_detector.py`` runs both). ``cache=True``
compiles once per clone into ``__pycache__`` (or ``NUMBA_CACHE_DIR``); where that is not writable
numba compiles in memory.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.typing import NDArray

with warnings.catch_warnings():  # numba's import may warn about its own environment; not ours to raise
    warnings.simplefilter("ignore")
    import numba
    from numba.core.errors import NumbaWarning

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

# The bands of the corridor edge where GEOS's buffer differs from the exact corridor (used here
# and by geo._clip, which imports them from this module).
#: GEOS removes concave input vertices closer than this fraction of the buffer distance to the
#: chord of their neighbours (``BufferParameters`` simplify factor 0.01), with a safety margin.
SIMPLIFY_BAND = 0.0101
#: Fillet chords deviate from the arc by at most ``h·(1 − cos(π/32·1.5))`` (< 0.3 %); band used.
FILLET_BAND = 0.02
#: Absolute slack (m) added to the bands.
BAND_SLACK_M = 1e-6
#: Groups longer than this are sorted by numpy's sort, not by insertion (no quadratic worst case).
INSERTION_MAX = 32


def _njit(func):  # type: ignore[no-untyped-def]
    """``numba.njit(cache=True)``; a cache that cannot be written is not an error (nor a warning).

    Numba compiles (and writes its cache) at the first call with given argument types; the
    warnings are silenced around the first call. Later calls go straight to the compiled code
    (``catch_warnings`` costs ~10 µs, and so does asking the dispatcher for its signatures: a
    quarter of a millisecond per upload over the detector's calls). The loops are called with
    the same argument types every time (int64 and float64 arrays).
    """
    compiled = numba.njit(cache=True)(func)
    compiled_once: list[bool] = []

    def call(*args):  # type: ignore[no-untyped-def]
        if compiled_once:
            return compiled(*args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaWarning)
            result = compiled(*args)
        compiled_once.append(True)
        return result

    call.__doc__ = func.__doc__
    call.compiled = compiled  # type: ignore[attr-defined]
    return call


@numba.njit(cache=True)
def _lower_bound(arr: IntArray, x: int) -> int:
    """First index ``i`` with ``arr[i] >= x`` (``np.searchsorted(arr, x)``)."""
    lo = 0
    hi = len(arr)
    while lo < hi:
        mid = (lo + hi) // 2
        if arr[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True)
def _sort_by(idx: IntArray, vals: FloatArray, g: int, e: int) -> None:
    """Sort ``idx[g:e]`` by ``vals[idx]``, stably (bottom-up merge sort; insertion for short runs)."""
    if e - g <= INSERTION_MAX:
        for x in range(g + 1, e):
            v = idx[x]
            y = x - 1
            while y >= g and vals[idx[y]] > vals[v]:
                idx[y + 1] = idx[y]
                y -= 1
            idx[y + 1] = v
        return
    buf = np.empty(e - g, dtype=np.int64)
    width = 1
    src = idx[g:e].copy()
    n = e - g
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i = lo
            j = mid
            o = lo
            while i < mid and j < hi:
                if vals[src[j]] < vals[src[i]]:
                    buf[o] = src[j]
                    j += 1
                else:
                    buf[o] = src[i]
                    i += 1
                o += 1
            while i < mid:
                buf[o] = src[i]
                i += 1
                o += 1
            while j < hi:
                buf[o] = src[j]
                j += 1
                o += 1
        src, buf = buf, src
        width *= 2
    idx[g:e] = src


@numba.njit(cache=True)
def _sort_ints(a: IntArray, g: int, e: int) -> None:
    """Sort ``a[g:e]`` in place (insertion for short runs, heapsort otherwise)."""
    n = e - g
    if n <= INSERTION_MAX:
        for x in range(g + 1, e):
            v = a[x]
            y = x - 1
            while y >= g and a[y] > v:
                a[y + 1] = a[y]
                y -= 1
            a[y + 1] = v
        return
    for start in range(n // 2 - 1, -1, -1):
        _sift(a, g, start, n)
    for end in range(n - 1, 0, -1):
        a[g], a[g + end] = a[g + end], a[g]
        _sift(a, g, 0, end)


@numba.njit(cache=True)
def _sift(a: IntArray, g: int, root: int, n: int) -> None:
    while True:
        child = 2 * root + 1
        if child >= n:
            return
        if child + 1 < n and a[g + child + 1] > a[g + child]:
            child += 1
        if a[g + root] >= a[g + child]:
            return
        a[g + root], a[g + child] = a[g + child], a[g + root]
        root = child


@numba.njit(cache=True)
def _grown_i(arr: IntArray) -> IntArray:
    out = np.empty(2 * len(arr), dtype=np.int64)
    out[: len(arr)] = arr
    return out


@numba.njit(cache=True)
def _grown_f(arr: FloatArray) -> FloatArray:
    out = np.empty(2 * len(arr))
    out[: len(arr)] = arr
    return out


@numba.njit(cache=True)
def _lb_step(p: float, q: float, t0: float, t1: float) -> tuple[float, float]:
    if p < 0:
        r = q / p
        t0 = max(t0, r)
    elif p > 0:
        r = q / p
        t1 = min(t1, r)
    elif q < 0:
        t1 = -1.0
    return t0, t1


@numba.njit(cache=True)
def _liang_barsky(u0: float, du: float, v0: float, dv: float, length: float, h: float) -> tuple[float, float]:  # noqa: PLR0917
    t0, t1 = _lb_step(-du, u0, 0.0, 1.0)
    t0, t1 = _lb_step(du, length - u0, t0, t1)
    t0, t1 = _lb_step(-dv, v0 + h, t0, t1)
    return _lb_step(dv, h - v0, t0, t1)


@numba.njit(cache=True)
def _disk(px: float, py: float, qx: float, qy: float, r: float) -> tuple[float, float]:
    aa = qx * qx + qy * qy
    bb = px * qx + py * qy
    cc = px * px + py * py - r * r
    disc = bb * bb - aa * cc
    if disc >= 0 and aa > 0:
        root = math.sqrt(disc)
        t0 = (-bb - root) / aa
        t1 = (-bb + root) / aa
    else:
        t0 = 2.0
        t1 = -1.0
    return max(t0, 0.0), min(t1, 1.0)


@numba.njit(cache=True)
def _sector_step(c0: float, c1: float, t0: float, t1: float) -> tuple[float, float]:
    if c1 < 0:
        t0 = max(t0, -c0 / c1)
    elif c1 > 0:
        t1 = min(t1, -c0 / c1)
    elif c0 > 0:
        t1 = -1.0
    return t0, t1


def _row_ranges_py(  # noqa: PLR0917
    s: IntArray,
    k: IntArray,
    sp: FloatArray,
    sq: FloatArray,
    slen: FloatArray,
    a: FloatArray,
    d: FloatArray,
    seg_h: FloatArray,
    seg_len: FloatArray,
    joint: BoolArray,
    next_d: FloatArray,
    shallow: BoolArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, BoolArray]:
    """Per candidate row ``(s[i], k[i])``: rectangle range, round-join range, in an ambiguity band.

    Returns ``(rt0, rt1, dt0, dt1, amb)``; ``dt0 > dt1`` where the road segment has no joint.
    ``shallow[i]`` tells whether the row's road may have simplified offset curves in GEOS.
    """
    n = len(s)
    rt0 = np.empty(n)
    rt1 = np.empty(n)
    dt0 = np.empty(n)
    dt1 = np.empty(n)
    amb = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        si = s[i]
        ki = k[i]
        d0 = d[ki, 0]
        d1 = d[ki, 1]
        h = seg_h[ki]
        seg_l = seg_len[ki]
        px = sp[si, 0] - a[ki, 0]
        py = sp[si, 1] - a[ki, 1]
        qx = sq[si, 0]
        qy = sq[si, 1]
        u0 = px * d0 + py * d1
        v0 = d0 * py - d1 * px
        du = qx * d0 + qy * d1
        dv = d0 * qy - d1 * qx
        rt0[i], rt1[i] = _liang_barsky(u0, du, v0, dv, seg_l, h)
        if joint[ki]:
            bx = px - d0 * seg_l
            by = py - d1 * seg_l
            jt0, jt1 = _disk(bx, by, qx, qy, h)
            # outer wedge of the bend: (b + t q)·d >= 0 and (b + t q)·next_d <= 0
            wt0, wt1 = _sector_step(-(bx * d0 + by * d1), -(qx * d0 + qy * d1), 0.0, 1.0)
            e0 = next_d[ki, 0]
            e1 = next_d[ki, 1]
            wt0, wt1 = _sector_step(bx * e0 + by * e1, qx * e0 + qy * e1, wt0, wt1)
            # the join is the disk's part in the outer wedge (the rest is the rectangles' or beyond a cap)
            dt0[i] = max(jt0, wt0)
            dt1[i] = min(jt1, wt1)
            ot0, ot1 = _disk(bx, by, qx, qy, h + BAND_SLACK_M)
            it0, it1 = _disk(bx, by, qx, qy, h * (1 - FILLET_BAND) - BAND_SLACK_M)
            lo_t = max(wt0, ot0)
            hi_t = min(wt1, ot1)
            if hi_t > lo_t and not (it0 <= lo_t and it1 >= hi_t):
                amb[i] = True
        else:
            dt0[i] = 2.0
            dt1[i] = -1.0
        if shallow[i]:
            o0, o1 = _liang_barsky(u0, du, v0, dv, seg_l, h * (1 + SIMPLIFY_BAND) + BAND_SLACK_M)
            i0, i1 = _liang_barsky(u0, du, v0, dv, seg_l, h * (1 - SIMPLIFY_BAND) - BAND_SLACK_M)
            if o1 > o0 and (not (i1 > i0) or abs(o0 - i0) * slen[si] > 0 or abs(o1 - i1) * slen[si] > 0):
                amb[i] = True
    return rt0, rt1, dt0, dt1, amb


@numba.njit(cache=True, inline="always")  # inlined at numba's level: a call per point costs 2x the loop
def _nearest_one(  # noqa: PLR0917
    x: float, y: float, j0: int, j1: int, k: IntArray, a: FloatArray, d: FloatArray, seg_len: FloatArray
) -> tuple[int, float, float]:
    """The nearest road segment ``k[j]`` to ``(x, y)`` over rows ``j0 <= j < j1`` (first on ties).

    Returns the row ``j``, the clamped along-coordinate on ``k[j]`` and the signed offset (left positive).
    """
    best = np.inf
    j = j0
    if j1 - j0 > 1:
        for jj in range(j0, j1):
            kk = k[jj]
            rx = x - a[kk, 0]
            ry = y - a[kk, 1]
            u = rx * d[kk, 0] + ry * d[kk, 1]
            v = d[kk, 0] * ry - d[kk, 1] * rx
            ucl = min(max(u, 0.0), seg_len[kk])
            dist = (u - ucl) ** 2 + v * v
            if dist < best:
                best = dist
                j = jj
    kk = k[j]
    rx = x - a[kk, 0]
    ry = y - a[kk, 1]
    u = rx * d[kk, 0] + ry * d[kk, 1]
    return j, min(max(u, 0.0), seg_len[kk]), d[kk, 0] * ry - d[kk, 1] * rx


def _nearest_py(  # noqa: PLR0917
    pts: FloatArray,
    g0: IntArray,
    g1: IntArray,
    k: IntArray,
    a: FloatArray,
    d: FloatArray,
    seg_len: FloatArray,
) -> tuple[IntArray, FloatArray, FloatArray]:
    """For each point, the nearest road segment ``k[j]`` over rows ``g0[i] <= j < g1[i]`` (first on ties).

    Returns the row ``j``, the clamped along-coordinate on ``k[j]`` and the signed offset (left positive).
    """
    n = len(pts)
    out_j = np.empty(n, dtype=np.int64)
    out_u = np.empty(n)
    out_v = np.empty(n)
    for i in range(n):
        out_j[i], out_u[i], out_v[i] = _nearest_one(pts[i, 0], pts[i, 1], g0[i], g1[i], k, a, d, seg_len)
    return out_j, out_u, out_v


row_ranges = _njit(_row_ranges_py)
nearest = _njit(_nearest_py)


def _cell_range(lo: FloatArray, hi: FloatArray, origin: FloatArray, cell: float, cmax: int) -> IntArray:
    """Per box: low and high cell per axis ``(n, 4)``, clipped to ``-1 .. cmax + 1``."""
    n = len(lo)
    c = np.empty((n, 4), dtype=np.int64)
    for i in range(n):
        for ax in range(2):
            c[i, ax] = np.int64(min(max(math.floor((lo[i, ax] - origin[ax]) / cell), -1.0), cmax + 1.0))
            c[i, 2 + ax] = np.int64(min(max(math.floor((hi[i, ax] - origin[ax]) / cell), -1.0), cmax + 1.0))
    return c


def _grid_index_py(
    lo: FloatArray, hi: FloatArray, origin: FloatArray, cell: float, cmax: int
) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
    """The grid of ``RoadSegments.index``: per entry its cell key, segment and box, plus each key's first entry.

    Entries are sorted by key and, within a key, by segment (a counting sort: as a stable argsort).
    """
    c = _numba_cell_range(lo, hi, origin, cell, cmax)
    w = cmax + 3
    n_keys = w * w
    start = np.zeros(n_keys + 1, dtype=np.int64)
    for i in range(len(lo)):
        for cy in range(c[i, 1], c[i, 3] + 1):
            for cx in range(c[i, 0], c[i, 2] + 1):
                start[(cy + 1) * w + cx + 2] += 1
    for k in range(n_keys):
        start[k + 1] += start[k]
    total = start[n_keys]
    key = np.empty(total, dtype=np.int64)
    seg = np.empty(total, dtype=np.int64)
    box = np.empty((total, 6))
    fill = start[:-1].copy()
    for i in range(len(lo)):
        for cy in range(c[i, 1], c[i, 3] + 1):
            for cx in range(c[i, 0], c[i, 2] + 1):
                k = (cy + 1) * w + cx + 1
                g = fill[k]
                fill[k] += 1
                key[g] = k
                seg[g] = i
                box[g, 0] = lo[i, 0]
                box[g, 1] = lo[i, 1]
                box[g, 2] = hi[i, 0]
                box[g, 3] = hi[i, 1]
                box[g, 4] = c[i, 0]
                box[g, 5] = c[i, 1]
    return key, seg, box, start


def _grid_pairs_py(  # noqa: PLR0917
    lo: FloatArray,
    hi: FloatArray,
    origin: FloatArray,
    cell: float,
    cmax: int,
    grid_start: IntArray,
    grid_seg: IntArray,
    grid_box: FloatArray,
) -> tuple[IntArray, IntArray]:
    """Pairs ``(box, segment)`` whose boxes meet, each once, sorted (see ``RoadSegments.candidates``).

    Each box visits the grid cells it covers (cells outside the grid folded onto its border); a
    pair is reported only in the cell holding the low corner of the two boxes' intersection.
    """
    n = len(lo)
    c = _numba_cell_range(lo, hi, origin, cell, cmax)
    w = cmax + 3
    out_b = np.empty(4 * n + 16, dtype=np.int64)
    out_s = np.empty(4 * n + 16, dtype=np.int64)
    total = 0
    for i in range(n):
        first = total
        for cy in range(c[i, 1], c[i, 3] + 1):
            for cx in range(c[i, 0], c[i, 2] + 1):
                key = (cy + 1) * w + cx + 1
                for g in range(grid_start[key], grid_start[key + 1]):
                    if (
                        lo[i, 0] <= grid_box[g, 2]
                        and lo[i, 1] <= grid_box[g, 3]
                        and hi[i, 0] >= grid_box[g, 0]
                        and hi[i, 1] >= grid_box[g, 1]
                        and max(c[i, 0], np.int64(grid_box[g, 4])) == cx
                        and max(c[i, 1], np.int64(grid_box[g, 5])) == cy
                    ):
                        if total == len(out_b):  # grow
                            out_b = _grown_i(out_b)
                            out_s = _grown_i(out_s)
                        out_b[total] = i
                        out_s[total] = grid_seg[g]
                        total += 1
        if total - first > 1:
            _sort_ints(out_s, first, total)
    return out_b[:total].copy(), out_s[:total].copy()


_numba_cell_range = numba.njit(cache=True)(_cell_range)
grid_pairs = _njit(_grid_pairs_py)
grid_index = _njit(_grid_index_py)


def _merge_sorted_py(  # noqa: PLR0917
    order: IntArray, key: IntArray, t0: FloatArray, t1: FloatArray, seglen: FloatArray, tol: float
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Merge intervals ``[t0, t1]`` sharing ``key``; ``order`` sorts by key (stably).

    Within a key the rows are sorted by ``t0`` (stably, as ``np.lexsort((t0, key))``); a row starts a
    new interval when its ``t0`` lies beyond the running maximum of ``t1`` by more than
    ``tol / seglen``. Returns ``(key, t0, t1)`` of the merged intervals.
    """
    n = len(order)
    idx = order.copy()
    out_k = np.empty(n, dtype=np.int64)
    out_0 = np.empty(n)
    out_1 = np.empty(n)
    m = 0
    g = 0
    while g < n:
        e = g + 1
        while e < n and key[idx[e]] == key[idx[g]]:
            e += 1
        _sort_by(idx, t0, g, e)  # by t0, stably
        run = t1[idx[g]]
        out_k[m] = key[idx[g]]
        out_0[m] = t0[idx[g]]
        out_1[m] = run
        m += 1
        for x in range(g + 1, e):
            r = idx[x]
            if t0[r] > run + tol / seglen[r]:
                out_k[m] = key[r]
                out_0[m] = t0[r]
                out_1[m] = t1[r]
                m += 1
            elif t1[r] > out_1[m - 1]:
                out_1[m - 1] = t1[r]
            run = max(run, t1[r])
        g = e
    return out_k[:m].copy(), out_0[:m].copy(), out_1[:m].copy()


merge_sorted = _njit(_merge_sorted_py)


def _polygon_ranges_py(  # noqa: PLR0917
    s: IntArray,
    pidx: IntArray,
    sp: FloatArray,
    sq: FloatArray,
    ea: FloatArray,
    eb: FloatArray,
    e_start: IntArray,
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Ranges of work segments ``s[i]`` inside polygon ``pidx[i]`` (edges ``ea → eb``, by polygon).

    The loop form of ``geo._clip._polygon_ranges``: breakpoints at crossings with the rings and at
    ring vertices on the segment; a piece between breakpoints is kept when its middle is inside
    (even–odd rule) or on the boundary. Returns ``(t0, t1, i)``.
    """
    n = len(s)
    cap = 4 * n + 16
    out_0 = np.empty(cap)
    out_1 = np.empty(cap)
    out_i = np.empty(cap, dtype=np.int64)
    m = 0
    for i in range(n):
        px = sp[s[i], 0]
        py = sp[s[i], 1]
        qx = sq[s[i], 0]
        qy = sq[s[i], 1]
        e0 = e_start[pidx[i]]
        e1 = e_start[pidx[i] + 1]
        bt = np.empty(2 * (e1 - e0) + 2)
        nb = 0
        bt[nb] = 0.0
        bt[nb + 1] = 1.0
        nb += 2
        qq = max(qx * qx + qy * qy, 1e-300)
        sq_qq = math.sqrt(qq)
        for e in range(e0, e1):
            ax = ea[e, 0]
            ay = ea[e, 1]
            fx = eb[e, 0] - ax
            fy = eb[e, 1] - ay
            wx = ax - px
            wy = ay - py
            denom = qx * fy - qy * fx
            if denom != 0:
                t = (wx * fy - wy * fx) / denom
                u = (wx * qy - wy * qx) / denom
                if u >= 0 and u <= 1 and t > 0 and t < 1:
                    bt[nb] = t
                    nb += 1
            tv = (wx * qx + wy * qy) / qq
            dv = abs(wx * qy - wy * qx) / sq_qq
            if dv <= 1e-9 and tv > 0 and tv < 1:
                bt[nb] = tv
                nb += 1
        bi = np.arange(nb)
        _sort_by(bi, bt, 0, nb)
        bt = bt[bi]
        for j in range(nb - 1):
            t0 = bt[j]
            t1 = bt[j + 1]
            if not t1 > t0:
                continue
            tm = (t0 + t1) / 2.0
            mx = px + qx * tm
            my = py + qy * tm
            odd = False
            onb = False
            for e in range(e0, e1):
                ax = ea[e, 0]
                ay = ea[e, 1]
                bx = eb[e, 0]
                by = eb[e, 1]
                if (ay > my) != (by > my):
                    xcross = ax + (my - ay) * (bx - ax) / (by - ay)
                    if mx < xcross:
                        odd = not odd
                fx = bx - ax
                fy = by - ay
                ll = max(fx * fx + fy * fy, 1e-300)
                tt = min(max(((mx - ax) * fx + (my - ay) * fy) / ll, 0.0), 1.0)
                if math.hypot(mx - (ax + tt * fx), my - (ay + tt * fy)) <= 1e-9:
                    onb = True
            if odd or onb:
                if m == len(out_0):  # grow
                    out_0 = _grown_f(out_0)
                    out_1 = _grown_f(out_1)
                    out_i = _grown_i(out_i)
                out_0[m] = t0
                out_1[m] = t1
                out_i[m] = i
                m += 1
    return out_0[:m].copy(), out_1[:m].copy(), out_i[:m].copy()


polygon_ranges = _njit(_polygon_ranges_py)


def _merge_weighted_py(  # noqa: PLR0917
    order: IntArray, key: IntArray, lo: FloatArray, hi: FloatArray, value: FloatArray, tol: float
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """Merge intervals ``[lo, hi]`` sharing ``key`` (``order`` sorts by key, stably); gaps up to ``tol`` close.

    Returns ``(key, lo, hi, mean)``, ``mean`` the mean of ``value`` weighted by each input
    interval's length (as ``geo.occupancy.merge_intervals``).
    """
    n = len(order)
    idx = order.copy()
    out_k = np.empty(n, dtype=np.int64)
    out_lo = np.empty(n)
    out_hi = np.empty(n)
    out_mean = np.empty(n)
    m = 0
    g = 0
    while g < n:
        e = g + 1
        while e < n and key[idx[e]] == key[idx[g]]:
            e += 1
        _sort_by(idx, lo, g, e)  # by lo, stably
        run = -np.inf
        sw = 0.0
        swv = 0.0
        for x in range(g, e):
            r = idx[x]
            if x == g or lo[r] > run + tol:
                if x > g:
                    out_mean[m - 1] = swv / sw
                out_k[m] = key[r]
                out_lo[m] = lo[r]
                out_hi[m] = hi[r]
                sw = 0.0
                swv = 0.0
                m += 1
            elif hi[r] > out_hi[m - 1]:
                out_hi[m - 1] = hi[r]
            w = max(hi[r] - lo[r], 1e-12)
            sw += w
            swv += value[r] * w
            run = max(run, hi[r])
        out_mean[m - 1] = swv / sw
        g = e
    return out_k[:m].copy(), out_lo[:m].copy(), out_hi[:m].copy(), out_mean[:m].copy()


merge_weighted = _njit(_merge_weighted_py)


def _piece_measures_py(  # noqa: PLR0917
    ps: IntArray,
    t0: FloatArray,
    t1: FloatArray,
    g0: IntArray,
    g1: IntArray,
    sp: FloatArray,
    sq: FloatArray,
    send: FloatArray,
    k: IntArray,
    a: FloatArray,
    d: FloatArray,
    seg_len: FloatArray,
) -> tuple[FloatArray, IntArray, FloatArray, FloatArray]:
    """Ends and middle of each piece ``[t0, t1]`` of work segment ``ps``, projected on the road.

    A piece end at a vertex of the work takes the vertex itself. Each point goes to the nearest
    road segment ``k[j]``, ``g0 <= j < g1`` (first on ties). Returns the points ``(3, n, 2)``
    (start, end, middle), the road segment ``(3, n)``, the clamped along-coordinate on it and the
    signed offset (left positive).
    """
    n = len(ps)
    pts = np.empty((3, n, 2))
    out_k = np.empty((3, n), dtype=np.int64)
    out_u = np.empty((3, n))
    out_v = np.empty((3, n))
    for i in range(n):
        si = ps[i]
        for c in range(2):
            pts[0, i, c] = sp[si, c] if t0[i] <= 0.0 else sp[si, c] + sq[si, c] * t0[i]
            pts[1, i, c] = send[si, c] if t1[i] >= 1.0 else sp[si, c] + sq[si, c] * t1[i]
            pts[2, i, c] = (pts[0, i, c] + pts[1, i, c]) / 2.0
        for w in range(3):
            j, out_u[w, i], out_v[w, i] = _nearest_one(pts[w, i, 0], pts[w, i, 1], g0[i], g1[i], k, a, d, seg_len)
            out_k[w, i] = k[j]
    return pts, out_k, out_u, out_v


piece_measures = _njit(_piece_measures_py)


def _overlaps_py(  # noqa: PLR0917
    road: IntArray, work: IntArray, f: FloatArray, t: FloatArray, focus: BoolArray, n_roads: int
) -> tuple[IntArray, IntArray, IntArray, FloatArray, FloatArray]:
    """Every two intervals of one road that overlap, sorted by (road, low work, high work, start).

    The rows are ordered by (road, ``f``) as ``np.lexsort((f, road))`` (counting sort by road, then
    a stable sort by ``f`` per road); the rows overlapping row *i* are then the run after it whose
    ``f`` is below ``t[i]``. Pairs of different works, at least one with ``focus``, whose overlap
    ``min(t) - max(f)`` is positive are returned as ``(road, low work, high work, max(f), min(t))``.
    """
    n = len(road)
    count = np.zeros(n_roads + 1, dtype=np.int64)
    for i in range(n):
        count[road[i] + 1] += 1
    for r in range(n_roads):
        count[r + 1] += count[r]
    idx = np.empty(n, dtype=np.int64)
    pos = count[:-1].copy()
    for i in range(n):
        idx[pos[road[i]]] = i
        pos[road[i]] += 1
    for r in range(n_roads):
        if count[r + 1] - count[r] > 1:
            _sort_by(idx, f, count[r], count[r + 1])
    cap = 2 * n + 16
    out_r = np.empty(cap, dtype=np.int64)
    out_a = np.empty(cap, dtype=np.int64)
    out_b = np.empty(cap, dtype=np.int64)
    out_lo = np.empty(cap)
    out_hi = np.empty(cap)
    m = 0
    for x in range(n):
        i = idx[x]
        y = x + 1
        while y < n and road[idx[y]] == road[i] and f[idx[y]] < t[i]:
            j = idx[y]
            lo = max(f[i], f[j])
            hi = min(t[i], t[j])
            if hi - lo > 0 and work[i] != work[j] and (focus[work[i]] or focus[work[j]]):
                if m == len(out_r):  # grow
                    out_r = _grown_i(out_r)
                    out_a = _grown_i(out_a)
                    out_b = _grown_i(out_b)
                    out_lo = _grown_f(out_lo)
                    out_hi = _grown_f(out_hi)
                out_r[m] = road[i]
                out_a[m] = min(work[i], work[j])
                out_b[m] = max(work[i], work[j])
                out_lo[m] = lo
                out_hi[m] = hi
                m += 1
            y += 1
    # Pairs come out grouped by road; within a road, order by (pair, start): by start, then stably by pair.
    order = np.arange(m)
    pair = np.empty(m)
    n_works = len(focus)
    for k in range(m):
        pair[k] = float(out_a[k] * n_works + out_b[k])  # exact below 2**53
    g = 0
    while g < m:
        e = g + 1
        while e < m and out_r[e] == out_r[g]:
            e += 1
        if e - g > 1:
            _sort_by(order, out_lo, g, e)
            _sort_by(order, pair, g, e)
        g = e
    return out_r[order], out_a[order], out_b[order], out_lo[order], out_hi[order]


overlaps = _njit(_overlaps_py)


def _pieces_py(  # noqa: PLR0917
    s: IntArray,
    k: IntArray,
    seg_road: IntArray,
    rt0: FloatArray,
    rt1: FloatArray,
    dt0: FloatArray,
    dt1: FloatArray,
    band_key: IntArray,
    band_start: IntArray,
    band_t0: FloatArray,
    band_t1: FloatArray,
    n_roads: int,
    slen: FloatArray,
    tol: float,
) -> tuple[IntArray, IntArray, FloatArray, FloatArray, IntArray, IntArray]:
    """Pieces per (work segment, road): the union of its rows' rectangle and joint ranges.

    Candidate rows ``(s, k)`` are sorted by work segment then road segment, so the rows of one
    (segment, road) are contiguous: ``g0 <= row < g1``. Where the key ``s * n_roads + road`` is in
    ``band_key`` (sorted), the ranges ``band_t0/t1[band_start[b]:band_start[b + 1]]`` (inside the
    GEOS corridor polygon) replace the rows' ranges. Empty ranges are dropped; the others are
    merged as :func:`_merge_sorted_py` does (gaps below ``tol / slen`` closed). Returns
    ``(segment, road, t0, t1, g0, g1)`` per piece, sorted by (segment, road, t0).
    """
    n = len(s)
    cap = 2 * n + len(band_t0) + 1
    out_s = np.empty(cap, dtype=np.int64)
    out_r = np.empty(cap, dtype=np.int64)
    out_0 = np.empty(cap)
    out_1 = np.empty(cap)
    out_g0 = np.empty(cap, dtype=np.int64)
    out_g1 = np.empty(cap, dtype=np.int64)
    tmp0 = np.empty(cap)
    tmp1 = np.empty(cap)
    idx = np.empty(cap, dtype=np.int64)
    m = 0
    b = 0
    x = 0
    while x < n:
        si = s[x]
        r = seg_road[k[x]]
        e = x + 1
        while e < n and s[e] == si and seg_road[k[e]] == r:
            e += 1
        key = si * n_roads + r
        while b < len(band_key) and band_key[b] < key:
            b += 1
        c = 0
        if b < len(band_key) and band_key[b] == key:
            for y in range(band_start[b], band_start[b + 1]):
                if band_t1[y] > band_t0[y]:
                    tmp0[c] = band_t0[y]
                    tmp1[c] = band_t1[y]
                    c += 1
        else:
            for y in range(x, e):
                if rt1[y] > rt0[y]:
                    tmp0[c] = rt0[y]
                    tmp1[c] = rt1[y]
                    c += 1
                if dt1[y] > dt0[y]:
                    tmp0[c] = dt0[y]
                    tmp1[c] = dt1[y]
                    c += 1
        if c > 0:
            for y in range(c):
                idx[y] = y
            if c > 1:
                _sort_by(idx, tmp0, 0, c)
            lim = tol / slen[si]
            run = tmp1[idx[0]]
            out_s[m] = si
            out_r[m] = r
            out_0[m] = tmp0[idx[0]]
            out_1[m] = run
            out_g0[m] = x
            out_g1[m] = e
            m += 1
            for y in range(1, c):
                q = idx[y]
                if tmp0[q] > run + lim:
                    out_s[m] = si
                    out_r[m] = r
                    out_0[m] = tmp0[q]
                    out_1[m] = tmp1[q]
                    out_g0[m] = x
                    out_g1[m] = e
                    m += 1
                elif tmp1[q] > out_1[m - 1]:
                    out_1[m - 1] = tmp1[q]
                run = max(run, tmp1[q])
        x = e
    return out_s[:m].copy(), out_r[:m].copy(), out_0[:m].copy(), out_1[:m].copy(), out_g0[:m].copy(), out_g1[:m].copy()


pieces = _njit(_pieces_py)


def _outside_gaps_py(  # noqa: PLR0917
    ps: IntArray, t0: FloatArray, t1: FloatArray, n_s: int, slen: FloatArray, tol: float
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Per work segment, the ranges outside all its pieces ``[t0, t1]`` (pieces sorted by segment).

    The pieces of a segment (any road) are merged as :func:`_merge_sorted_py` does; the gaps
    before, between and after them, and whole segments without pieces, longer than ``tol``
    metres, are returned as ``(segment, g0, g1)`` sorted by segment then ``g0``.
    """
    n = len(ps)
    cap = n + n_s + 1
    out_s = np.empty(cap, dtype=np.int64)
    out_0 = np.empty(cap)
    out_1 = np.empty(cap)
    idx = np.empty(n, dtype=np.int64)
    m = 0
    x = 0
    for si in range(n_s):
        e = x
        while e < n and ps[e] == si:
            e += 1
        prev = 0.0
        if e > x:
            for y in range(x, e):
                idx[y] = y
            if e - x > 1:
                _sort_by(idx, t0, x, e)
            lim = tol / slen[si]
            lo = t0[idx[x]]
            hi = t1[idx[x]]
            run = hi
            for y in range(x + 1, e):
                q = idx[y]
                if t0[q] > run + lim:  # a new union range: the gap before the current one
                    if (lo - prev) * slen[si] > tol:
                        out_s[m] = si
                        out_0[m] = prev
                        out_1[m] = lo
                        m += 1
                    prev = hi
                    lo = t0[q]
                    hi = t1[q]
                elif t1[q] > hi:
                    hi = t1[q]
                run = max(run, t1[q])
            if (lo - prev) * slen[si] > tol:
                out_s[m] = si
                out_0[m] = prev
                out_1[m] = lo
                m += 1
            prev = hi
        if (1.0 - prev) * slen[si] > tol:
            out_s[m] = si
            out_0[m] = prev
            out_1[m] = 1.0
            m += 1
        x = e
    return out_s[:m].copy(), out_0[:m].copy(), out_1[:m].copy()


outside_gaps = _njit(_outside_gaps_py)


def _warm_up() -> None:
    """Load (or, once per clone, compile) every loop with the argument types the detector uses.

    Done at import so that the first detection in a process does not pay numba's loading
    (about 0.2–0.4 s per process from the cache; about 10 s once after a clean clone, to compile).
    """
    f2 = np.zeros((1, 2))
    f1 = np.ones(1)
    i1 = np.zeros(1, dtype=np.int64)
    b1 = np.zeros(1, dtype=np.bool_)
    row_ranges(i1, i1, f2, f2 + 1.0, f1, f2, f2 + 1.0, f1, f1, b1, f2, b1)
    nearest(f2, i1, i1 + 1, i1, f2, f2 + 1.0, f1)
    grid_pairs(f2, f2 + 1.0, np.zeros(2), 1.0, 2, np.zeros(26, dtype=np.int64), i1, np.zeros((1, 6)))
    grid_index(f2, f2 + 1.0, np.zeros(2), 1.0, 2)
    merge_sorted(i1, i1, f1 * 0.0, f1, f1, 1e-9)
    piece_measures(i1, f1 * 0.0, f1, i1, i1 + 1, f2, f2 + 1.0, f2 + 1.0, i1, f2, f2 + 1.0, f1)
    merge_weighted(i1, i1, f1 * 0.0, f1, f1, 1e-6)
    polygon_ranges(i1, i1, f2, f2 + 1.0, f2, f2 + 1.0, np.array([0, 1], dtype=np.int64))
    overlaps(i1, i1, f1 * 0.0, f1, b1 | True, 1)
    pieces(i1, i1, i1, f1 * 0.0, f1, f1, f1 * 0.0, i1[:0], i1, f1, f1, 1, f1, 1e-9)
    outside_gaps(i1, f1 * 0.0, f1 * 0.5, 1, f1, 1e-9)


_warm_up()

"""Benchmark of the same-road detector (geo.overlap) on a deterministic synthetic city.

The city is a jittered street grid (block 250 m) whose size grows with the number of works N at
a fixed density of ``WORKS_PER_KM`` works per kilometre of road (all works of one year). Grid
lines are cut into streets of 1–6 blocks, so some roads are split at junctions and others run
through them; every 8th line is an arterial (40 m red line), every 4th a secondary road (30 m),
the rest branch roads (16 m). Works: 72 % run along a road (30–400 m, with lateral offsets, some
through junctions), 10 % turn at a junction (L-shaped), 12 % cross a road (service connections),
6 % are excavation pits (polygons).

For each N it prints the detector's time (from works + roads to the list of shared stretches,
occupancy and off-road parts; the JSON line also has the time without off-road parts, which is
what the plain approach computes), the peak resident memory of the process, the number of shared
pairs, the median time of one ``WorkIndex.query`` against the N indexed works, and for N up to
10k the same for two plain geopandas approaches, with the ratio and whether they found the same
pairs, and the ratio of wall times and of CPU times (steadier on a shared machine). For N up to
``--plain-max`` both sides run ``--repeats`` times (default 5) in the same process, the detector
on a new ``RoadNetwork`` each time (so each run builds the network's segments, grid and corridors
as the plain approach buffers the roads), and the best runs are compared:
``plain`` computes the same definition the usual way (corridors by buffer, works clipped by
``overlay``, candidate pairs by ``sjoin`` of buffered pieces, measures row by row in Python);
``footprint`` is the GIS-desktop approach (1 m footprints, ``sjoin``, ``overlay`` of footprints
with corridors and of the pieces with each other, shared length = area / 1 m), which answers a
different question (it misses works sharing a road at different offsets). Each N runs in its own
subprocess.

    .venv/bin/python bench/overlap.py --sizes 1000,10000,100000

With ``--focus K`` it times instead ``detect(works, roads, focus=...)`` for K works drawn at random
among N against the full detection, alternately in one process (best and median of
``--repeats``), and checks both give the same pairs with a focus work:

    .venv/bin/python bench/overlap.py --sizes 100000 --focus 10000 --repeats 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import itertools

from geo.overlap import WorkIndex, detect
from geo.roads import RoadNetwork
from onetrench.domain import Road, RoadClass, UtilityKind, Work
from onetrench.settings import Settings

BLOCK_M = 250.0
WORKS_PER_KM = 4.0
ORIGIN = (400_000.0, 3_100_000.0)
JITTER_M = 3.0
UTILITIES = list(UtilityKind)


def line_class(k: int) -> tuple[RoadClass, float]:
    if k % 8 == 0:
        return RoadClass.ARTERIAL, 40.0
    if k % 4 == 0:
        return RoadClass.SECONDARY, 30.0
    return RoadClass.BRANCH, 16.0


def make_city(n_works: int, seed: int = 42) -> tuple[list[Road], list[Work]]:
    rng = np.random.default_rng(seed)
    road_m = n_works / WORKS_PER_KM * 1000.0
    k = max(3, round(math.sqrt(road_m / (2 * BLOCK_M)))) + 1  # junctions per side
    jx = rng.uniform(-JITTER_M, JITTER_M, (k, k))
    jy = rng.uniform(-JITTER_M, JITTER_M, (k, k))
    gx = ORIGIN[0] + np.arange(k)[:, None] * BLOCK_M + jx  # junction (i, j) x
    gy = ORIGIN[1] + np.arange(k)[None, :] * BLOCK_M + jy  # junction (i, j) y

    roads: list[Road] = []
    widths = np.zeros((2, k))
    for axis in (0, 1):  # 0: horizontal line j (varying i), 1: vertical line i (varying j)
        for line in range(k):
            cls, width = line_class(line)
            widths[axis, line] = width
            start = 0
            while start < k - 1:
                stop = min(k - 1, start + int(rng.integers(1, 7)))
                idx = np.arange(start, stop + 1)
                pts = np.c_[gx[idx, line], gy[idx, line]] if axis == 0 else np.c_[gx[line, idx], gy[line, idx]]
                if rng.random() < 0.2:
                    pts = pts[::-1]  # digitised the other way
                roads.append(
                    Road(
                        road_id=f"{'HV'[axis]}{line:04d}-{start:04d}",
                        name=f"{'横竖'[axis]}{line}路",
                        road_class=cls,
                        width_m=width,
                        geometry=shapely.linestrings(pts),
                    )
                )
                start = stop

    span = (k - 1) * BLOCK_M

    def on_line(axis: np.ndarray, line: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Point at distance t along grid line (axis, line), following the jittered junctions."""
        i = np.clip((t // BLOCK_M).astype(int), 0, k - 2)
        f = (t - i * BLOCK_M) / BLOCK_M
        hx = gx[i, line] * (1 - f) + gx[i + 1, line] * f
        hy = gy[i, line] * (1 - f) + gy[i + 1, line] * f
        vx = gx[line, i] * (1 - f) + gx[line, i + 1] * f
        vy = gy[line, i] * (1 - f) + gy[line, i + 1] * f
        return np.where(axis[:, None] == 0, np.c_[hx, hy], np.c_[vx, vy])

    def junction(axis: np.ndarray, line: np.ndarray, i: np.ndarray) -> np.ndarray:
        return np.where(axis[:, None] == 0, np.c_[gx[i, line], gy[i, line]], np.c_[gx[line, i], gy[line, i]])

    kind = rng.choice(4, size=n_works, p=[0.72, 0.10, 0.12, 0.06])
    axis = rng.integers(0, 2, n_works)
    line = rng.integers(0, k, n_works)
    width = widths[axis, line]
    normal = np.where(axis[:, None] == 0, [0.0, 1.0], [1.0, 0.0])
    geoms = np.empty(n_works, dtype=object)

    # Along a road: start s, end e, interior junctions as vertices, lateral offset.
    sel = np.flatnonzero(kind == 0)
    s = rng.uniform(0, span - 30, len(sel))
    e = np.minimum(s + rng.uniform(30, 400, len(sel)), span)
    off = rng.uniform(-0.4, 0.4, len(sel)) * width[sel]
    first = np.floor(s / BLOCK_M).astype(int) + 1
    last = np.ceil(e / BLOCK_M).astype(int) - 1
    n_int = np.maximum(last - first + 1, 0)
    counts = n_int + 2
    owner = np.repeat(np.arange(len(sel)), counts)
    pos = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    is_start = pos == 0
    is_end = pos == counts[owner] - 1
    jidx = np.clip(first[owner] + pos - 1, 0, k - 1)
    pts = junction(axis[sel][owner], line[sel][owner], jidx)
    pts[is_start] = on_line(axis[sel], line[sel], s)
    pts[is_end] = on_line(axis[sel], line[sel], e)
    pts += normal[sel][owner] * off[owner, None]
    lines = shapely.linestrings(pts, indices=owner)
    flip = rng.random(len(sel)) < 0.3
    lines[flip] = shapely.reverse(lines[flip])
    geoms[sel] = lines

    # L-shaped: along a horizontal line to a junction, then along the vertical line.
    sel = np.flatnonzero(kind == 1)
    jh = rng.integers(1, k - 1, len(sel))  # junction index along the horizontal line
    hl = rng.integers(1, k - 1, len(sel))  # the horizontal line
    leg1 = rng.uniform(30, 200, len(sel))
    leg2 = rng.uniform(30, 200, len(sel)) * rng.choice([-1, 1], len(sel))
    o = rng.uniform(-4, 4, len(sel))
    corner = np.c_[gx[jh, hl] + o, gy[jh, hl] + o]
    p0 = corner + np.c_[-leg1, np.zeros(len(sel))]
    p2 = corner + np.c_[np.zeros(len(sel)), leg2]
    geoms[sel] = shapely.linestrings(np.stack([p0, corner, p2], axis=1))

    # Crossings: short transverse service connections.
    sel = np.flatnonzero(kind == 2)
    t = rng.uniform(10, span - 10, len(sel))
    c = on_line(axis[sel], line[sel], t)
    half = width[sel] / 2 + rng.uniform(3, 15, len(sel))
    geoms[sel] = shapely.linestrings(
        np.stack([c - normal[sel] * half[:, None], c + normal[sel] * half[:, None]], axis=1)
    )

    # Pits: rectangles on a road.
    sel = np.flatnonzero(kind == 3)
    t = rng.uniform(20, span - 40, len(sel))
    c = on_line(axis[sel], line[sel], t) + normal[sel] * rng.uniform(-0.3, 0.3, len(sel))[:, None] * width[sel, None]
    ln = rng.uniform(10, 30, len(sel))
    wd = rng.uniform(3, 6, len(sel))
    along = np.where(axis[sel][:, None] == 0, [1.0, 0.0], [0.0, 1.0])
    nrm = normal[sel]
    corners = np.stack(
        [
            c - along * ln[:, None] / 2 - nrm * wd[:, None] / 2,
            c + along * ln[:, None] / 2 - nrm * wd[:, None] / 2,
            c + along * ln[:, None] / 2 + nrm * wd[:, None] / 2,
            c - along * ln[:, None] / 2 + nrm * wd[:, None] / 2,
            c - along * ln[:, None] / 2 - nrm * wd[:, None] / 2,
        ],
        axis=1,
    )
    geoms[sel] = shapely.polygons(corners)

    start = dt.date(2027, 1, 1)
    days = rng.integers(0, 330, n_works).tolist()
    utils = rng.integers(0, len(UTILITIES), n_works).tolist()
    works = [
        Work(
            work_id=f"W{n:07d}",
            utility=UTILITIES[utils[n]],
            owner="bench",
            geometry=geoms[n],
            start=start + dt.timedelta(days=days[n]),
            end=start + dt.timedelta(days=days[n] + 20),
        )
        for n in range(n_works)
    ]
    return roads, works


# --------------------------------------------------------------------------------------
# The plain geopandas approach: buffer, overlay, sjoin, per-row Python.
# --------------------------------------------------------------------------------------


def plain_geopandas(works: list[Work], roads: list[Road], settings: Settings) -> set[tuple[str, str, str]]:
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import Point

    crs = "EPSG:4545"
    rg = gpd.GeoDataFrame(
        {
            "road_id": [r.road_id for r in roads],
            "width": [r.width_m for r in roads],
            "min_shared": [settings.rule_for(r.road_class).min_shared_m for r in roads],
            "cos": [math.cos(math.radians(settings.rule_for(r.road_class).crossing_angle_deg)) for r in roads],
        },
        geometry=[r.geometry for r in roads],
        crs=crs,
    )
    centre = dict(zip(rg["road_id"], rg.geometry, strict=True))
    corridors = rg.copy()
    corridors["geometry"] = rg.buffer(rg["width"] / 2, cap_style="flat")
    wg = gpd.GeoDataFrame({"work_id": [w.work_id for w in works]}, geometry=[w.geometry for w in works], crs=crs)
    polys = wg.geom_type.isin(["Polygon", "MultiPolygon"])
    pieces = pd.concat(
        [
            gpd.overlay(wg[~polys], corridors, how="intersection", keep_geom_type=True),
            gpd.overlay(wg[polys], corridors, how="intersection", keep_geom_type=True),
        ],
        ignore_index=True,
    ).explode(index_parts=False)

    intervals: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for row in pieces.itertuples():
        part, road = row.geometry, centre[row.road_id]
        ivs = intervals.setdefault((row.work_id, row.road_id), [])
        if part.geom_type == "Polygon":
            ms = [road.project(Point(c)) for c in part.exterior.coords]
            ivs.append((min(ms), max(ms)))
        elif part.geom_type == "LineString":
            cs = list(part.coords)
            for p0, p1 in itertools.pairwise(cs):
                seg = math.dist(p0, p1)
                if seg == 0:
                    continue
                mid = road.project(Point((p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2))
                ta = road.interpolate(max(mid - 0.5, 0.0))
                tb = road.interpolate(min(mid + 0.5, road.length))
                tl = math.dist((ta.x, ta.y), (tb.x, tb.y))
                cosang = abs((p1[0] - p0[0]) * (tb.x - ta.x) + (p1[1] - p0[1]) * (tb.y - ta.y)) / (seg * tl)
                if cosang >= row.cos:
                    m0, m1 = road.project(Point(p0)), road.project(Point(p1))
                    ivs.append((min(m0, m1), max(m0, m1)))
    merged: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for key, ivs in intervals.items():
        out: list[list[float]] = []
        for a, b in sorted(ivs):
            if out and a <= out[-1][1] + 1e-6:
                out[-1][1] = max(out[-1][1], b)
            else:
                out.append([a, b])
        if out:
            merged[key] = [(a, b) for a, b in out]

    pieces = pieces.copy()
    pieces["geometry"] = pieces.buffer(pieces["width"])
    joined = gpd.sjoin(pieces, pieces, predicate="intersects")
    joined = joined[
        (joined["road_id_left"] == joined["road_id_right"]) & (joined["work_id_left"] < joined["work_id_right"])
    ]
    cand = set(zip(joined["road_id_left"], joined["work_id_left"], joined["work_id_right"], strict=True))
    min_shared = dict(zip(rg["road_id"], rg["min_shared"], strict=True))
    found: set[tuple[str, str, str]] = set()
    for rid, a, b in cand:
        total = 0.0
        for fa, ta in merged.get((a, rid), []):
            for fb, tb in merged.get((b, rid), []):
                total += max(0.0, min(ta, tb) - max(fa, fb))
        if total > 0 and total >= min_shared[rid]:
            found.add((rid, a, b))
    return found


# --------------------------------------------------------------------------------------


def plain_footprints(works: list[Work], roads: list[Road], settings: Settings) -> set[tuple[str, str, str]]:
    """The GIS-desktop way: buffer works to 1 m trench footprints and roads to corridors, sjoin,
    overlay footprints with corridors, overlay the pieces with each other, shared length = area / 1 m.

    Not the design.md definition: footprints on opposite sides of a road never intersect, so pairs
    sharing a road at different offsets are missed; it is here because it is what the issue calls
    "buffer each work and road, sjoin, overlay".
    """
    import geopandas as gpd

    crs = "EPSG:4545"
    corridors = gpd.GeoDataFrame(
        {"road_id": [r.road_id for r in roads]},
        geometry=[r.geometry.buffer(r.width_m / 2, cap_style="flat") for r in roads],
        crs=crs,
    )
    min_shared = {r.road_id: settings.rule_for(r.road_class).min_shared_m for r in roads}
    geoms = gpd.GeoSeries([w.geometry for w in works], crs=crs)
    lineal = geoms.geom_type.isin(["LineString", "MultiLineString"])
    geoms[lineal] = geoms[lineal].buffer(0.5, cap_style="flat")
    fp = gpd.GeoDataFrame({"work_id": [w.work_id for w in works]}, geometry=geoms, crs=crs)
    touching = gpd.sjoin(fp, corridors, predicate="intersects")
    fp = fp[fp.index.isin(touching.index)]
    pieces = gpd.overlay(fp, corridors, how="intersection")
    pairs = gpd.overlay(pieces, pieces, how="intersection", keep_geom_type=True)
    pairs = pairs[(pairs["road_id_1"] == pairs["road_id_2"]) & (pairs["work_id_1"] < pairs["work_id_2"])]
    pairs = pairs.assign(shared=pairs.area / 1.0)
    sums = pairs.groupby(["road_id_1", "work_id_1", "work_id_2"])["shared"].sum()
    return {k for k, v in sums.items() if v > 0 and v >= min_shared[k[0]]}


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_one(n: int, *, plain_max: int, queries: int, repeats: int = 1) -> dict[str, object]:
    settings = Settings()
    t0 = time.perf_counter()
    roads, works = make_city(n)
    gen_s = time.perf_counter() - t0
    rss_input = maxrss_mb()
    net = RoadNetwork(roads=roads, crs=settings.working_crs)
    gc.collect()  # neither approach pays for the garbage of the city generator or of the previous step
    t0, c0 = time.perf_counter(), time.process_time()
    res = detect(works, net, settings=settings)
    det_s, det_cpu = time.perf_counter() - t0, time.process_time() - c0
    out: dict[str, object] = {
        "n": n,
        "roads": len(roads),
        "road_km": round(sum(r.geometry.length for r in roads) / 1000, 1),
        "gen_s": round(gen_s, 2),
        "detect_s": round(det_s, 3),
        "detect_cpu_s": round(det_cpu, 3),
        "pairs": len(res.shared),
        "occupancy": len(res.occupancy),
        "off_road": len(res.off_road),
        "rss_input_mb": round(rss_input),
    }
    out["peak_rss_mb"] = round(maxrss_mb())
    fast_pairs = {(s.road_id, *s.work_ids) for s in res.shared}
    del res
    det_runs, det_cpus = [det_s], [det_cpu]
    if n <= plain_max:  # best of ``repeats`` runs, each on a new RoadNetwork (its segments, grid, corridors)
        for _ in range(repeats - 1):
            fresh = RoadNetwork(roads=roads, crs=settings.working_crs)
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            res = detect(works, fresh, settings=settings)
            shared = res.shared
            det_runs.append(time.perf_counter() - t0)
            det_cpus.append(time.process_time() - c0)
            assert {(s.road_id, *s.work_ids) for s in shared} == fast_pairs
            del res, shared, fresh
        out["repeats"] = len(det_runs)
        out["detect_best_s"] = round(min(det_runs), 4)
        out["detect_median_s"] = round(statistics.median(det_runs), 4)
        out["detect_best_cpu_s"] = round(min(det_cpus), 4)
    # The same without off-road parts (what the plain approach computes: the shared pairs only).
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    detect(works, RoadNetwork(roads=roads, crs=settings.working_crs), settings=settings, with_off_road=False)
    out["detect_pairs_only_s"] = round(time.perf_counter() - t0, 3)
    out["detect_pairs_only_cpu_s"] = round(time.process_time() - c0, 3)
    if queries:
        stored, new = works[:-queries], works[-queries:]
        t0 = time.perf_counter()
        index = WorkIndex(stored, net, settings=settings)
        out["index_build_s"] = round(time.perf_counter() - t0, 2)
        lat = []
        for w in new:
            t1 = time.perf_counter()
            index.query(w)
            lat.append(time.perf_counter() - t1)
        out["query_median_ms"] = round(statistics.median(lat) * 1000, 3)
        out["query_p95_ms"] = round(sorted(lat)[int(0.95 * len(lat))] * 1000, 3)
    if n <= plain_max:
        plain_runs, plain_cpus = [], []
        for _ in range(repeats):
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            plain = plain_geopandas(works, roads, settings)
            plain_runs.append(time.perf_counter() - t0)
            plain_cpus.append(time.process_time() - c0)
        plain_s, plain_cpu = min(plain_runs), min(plain_cpus)
        det_s, det_cpu = min(det_runs), min(det_cpus)
        out["plain_s"] = round(plain_s, 3)
        out["plain_median_s"] = round(statistics.median(plain_runs), 3)
        out["plain_cpu_s"] = round(plain_cpu, 3)
        out["plain_pairs"] = len(plain)
        # best of ``repeats`` on both sides, wall and CPU
        out["ratio"] = round(plain_s / det_s, 1)
        out["cpu_ratio"] = round(plain_cpu / det_cpu, 1)
        out["same_pairs"] = plain == fast_pairs
        out["pair_differences"] = len(plain ^ fast_pairs)
        t0 = time.perf_counter()
        literal = plain_footprints(works, roads, settings)
        fp_s = time.perf_counter() - t0
        out["footprint_s"] = round(fp_s, 2)
        out["footprint_ratio"] = round(fp_s / det_s, 1)
        out["footprint_pairs"] = len(literal)
        out["footprint_missed"] = len(fast_pairs - literal)
        out["footprint_extra"] = len(literal - fast_pairs)
    return out


def run_focus(n: int, k: int, *, repeats: int) -> dict[str, object]:
    """``detect(..., focus=...)`` of ``k`` works drawn at random among ``n``, against the full detect.

    Both timed ``repeats`` times alternately in this process (best and median of each); the
    focus result is checked against the full one filtered by hand (pairs with a focus work).
    """
    settings = Settings()
    roads, works = make_city(n)
    net = RoadNetwork(roads=roads, crs=settings.working_crs)
    rng = np.random.default_rng(7)
    focus = {works[i].work_id for i in rng.choice(len(works), size=min(k, len(works)), replace=False).tolist()}
    detect(works[:50], net, settings=settings)  # grid, segments and corridors of the network built once
    full_s: list[float] = []
    full_cpu: list[float] = []
    foc_s: list[float] = []
    foc_cpu: list[float] = []
    full_pairs: set[tuple[str, str, str]] = set()
    foc_pairs: set[tuple[str, str, str]] = set()
    for _ in range(repeats):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        res = detect(works, net, settings=settings)
        full_s.append(time.perf_counter() - t0)
        full_cpu.append(time.process_time() - c0)
        full_pairs = {(s.road_id, *s.work_ids) for s in res.shared if focus.intersection(s.work_ids)}
        del res
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        res = detect(works, net, settings=settings, focus=focus)
        foc_s.append(time.perf_counter() - t0)
        foc_cpu.append(time.process_time() - c0)
        foc_pairs = {(s.road_id, *s.work_ids) for s in res.shared}
        del res
    return {
        "n": n,
        "focus": len(focus),
        "repeats": repeats,
        "full_best_s": round(min(full_s), 3),
        "full_median_s": round(statistics.median(full_s), 3),
        "full_best_cpu_s": round(min(full_cpu), 3),
        "focus_best_s": round(min(foc_s), 3),
        "focus_median_s": round(statistics.median(foc_s), 3),
        "focus_best_cpu_s": round(min(foc_cpu), 3),
        "ratio_best": round(min(full_s) / min(foc_s), 2),
        "cpu_ratio_best": round(min(full_cpu) / min(foc_cpu), 2),
        "pairs_with_focus": len(foc_pairs),
        "same_pairs": foc_pairs == full_pairs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000,1000000", help="comma-separated N")
    parser.add_argument("--plain-max", type=int, default=10_000, help="run the plain approach up to this N")
    parser.add_argument("--queries", type=int, default=200, help="WorkIndex queries per N (0: skip)")
    parser.add_argument(
        "--focus", type=int, default=0, help="instead: detect with this many focus works among N vs the full detect"
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed runs of each side (best taken) for N <= --plain-max and --focus"
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.focus:
        for n in (int(x) for x in args.sizes.split(",")):
            print(json.dumps(run_focus(n, args.focus, repeats=args.repeats)), flush=True)
        return
    if args.one:
        print(json.dumps(run_one(args.one, plain_max=args.plain_max, queries=args.queries, repeats=args.repeats)))
        return
    print(f"# synthetic city: {WORKS_PER_KM:g} works per km of road, block {BLOCK_M:g} m; 1 process per N")
    print(
        f"# N <= {args.plain_max}: detect and plain are each run {args.repeats} times in one process (detect on a "
        "new RoadNetwork each time); times and ratios are of the best runs, wall and CPU"
    )
    header = (
        f"{'N':>9} {'roads':>8} {'road km':>9} {'detect s':>9} {'peak MB':>8} {'pairs':>9} "
        f"{'query ms':>9} {'plain s':>8} {'ratio':>6} {'cpu r.':>6} {'same':>5} "
        f"{'footpr s':>9} {'ratio':>6} {'missed':>7}"
    )
    print(header)
    for n in (int(x) for x in args.sizes.split(",")):
        cmd = [
            sys.executable,
            __file__,
            "--one",
            str(n),
            "--plain-max",
            str(args.plain_max),
            "--queries",
            str(args.queries),
            "--repeats",
            str(args.repeats),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{n:>9} failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"{r['n']:>9} {r['roads']:>8} {r['road_km']:>9} {r.get('detect_best_s', r['detect_s']):>9} "
            f"{r['peak_rss_mb']:>8} "
            f"{r['pairs']:>9} {r.get('query_median_ms', '-'):>9} {r.get('plain_s', '-'):>8} "
            f"{r.get('ratio', '-'):>6} {r.get('cpu_ratio', '-'):>6} {r.get('same_pairs', '-')!s:>5} "
            f"{r.get('footprint_s', '-'):>9} "
            f"{r.get('footprint_ratio', '-'):>6} {r.get('footprint_missed', '-'):>7}"
        )
        print("   ", json.dumps(r))


if __name__ == "__main__":
    main()

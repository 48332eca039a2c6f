"""Benchmark of the scheduling layer: findings and bundles for 100k works; optimiser quality vs time.

Synthetic, deterministic plan (seed 20270301): straight roads of 1 km, five works per road on
average, one interval each, random utilities, offsets and dates in 2027 (60 % with flexible
bounds of up to 30 days each way). Occupancy and shared stretches are generated directly
(no geometry matching), so this measures scheduling/ alone.

The optimiser runs on a sparse plan (5 works per road: many small components) and a dense one
(20 works per road: components of up to ~20 works with many overlapping pieces).

Run: ``.venv/bin/python bench/plan.py [--works 100000] [--skip-opt]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections import Counter, defaultdict

from shapely.geometry import LineString

from onetrench.domain import Interval, Occupancy, Road, RoadClass, SharedStretch, UtilityKind, Work, WorksKind
from onetrench.settings import Settings
from scheduling.bundles import build_bundles
from scheduling.findings import evaluate
from scheduling.optimise import optimise_plan

X0, Y0 = 330_000.0, 3_150_000.0
KINDS = list(UtilityKind)
CLASSES = [RoadClass.ARTERIAL, RoadClass.SECONDARY, RoadClass.BRANCH, RoadClass.BRANCH]


def synthetic(
    n_works: int, *, seed: int = 20270301, per_road: int = 5
) -> tuple[list[Work], list[Road], list[Occupancy], list[SharedStretch], list[tuple[str, LineString]]]:
    rng = random.Random(seed)
    n_roads = max(1, n_works // per_road)
    roads = []
    for k in range(n_roads):
        y = Y0 + (k % 2000) * 60.0
        x = X0 + (k // 2000) * 1500.0
        last = None
        if rng.random() < 0.05:
            last = (dt.date(2022 + rng.randint(0, 4), rng.randint(1, 12), 1), rng.choice(list(WorksKind)))
        roads.append(
            Road(
                road_id=f"R{k:06d}",
                name=f"道路{k}",
                road_class=CLASSES[k % 4],
                width_m=30.0,
                geometry=LineString([(x, y), (x + 1000.0, y)]),
                last_works_date=last[0] if last else None,
                last_works_kind=last[1] if last else None,
            )
        )
    works, occupancy, off_road = [], [], []
    base = dt.date(2027, 1, 1)
    for i in range(n_works):
        road = roads[rng.randrange(n_roads)]
        a = rng.uniform(0, 800)
        b = min(1000.0, a + rng.uniform(50, 400))
        off = rng.choice([-6.0, -3.0, -1.5, 1.5, 3.0, 6.0]) + rng.uniform(-0.3, 0.3)
        (x0, y0), _ = road.geometry.coords
        start = base + dt.timedelta(rng.randint(0, 330))
        dur = rng.randint(5, 30)
        flex = rng.random() < 0.6
        wid = f"W{i:06d}"
        works.append(
            Work(
                work_id=wid,
                utility=rng.choice(KINDS),
                owner="bench",
                geometry=LineString([(x0 + a, y0 + off), (x0 + b, y0 + off)]),
                start=start,
                end=start + dt.timedelta(dur - 1),
                earliest_start=start - dt.timedelta(rng.randint(0, 30)) if flex else None,
                latest_end=start + dt.timedelta(dur - 1 + rng.randint(0, 30)) if flex else None,
                diameter_mm=rng.choice([None, 110.0, 200.0, 300.0, 600.0]),
                trench_width_m=rng.choice([None, 0.8, 1.2]),
            )
        )
        occupancy.append(Occupancy(work_id=wid, road_id=road.road_id, intervals=(Interval(a, b),), offsets_m=(off,)))
        if rng.random() < 0.05:
            off_road.append((wid, LineString([(x0 + b, y0 + 20), (x0 + b + 30, y0 + 40)])))
    by_road: dict[str, list[Occupancy]] = defaultdict(list)
    for o in occupancy:
        by_road[o.road_id].append(o)
    shared = []
    for rid, occs in by_road.items():
        occs.sort(key=lambda o: o.intervals[0].from_m)
        for j, x in enumerate(occs):
            for y in occs[j + 1 :]:
                if y.intervals[0].from_m >= x.intervals[0].to_m:
                    break
                lo, hi = y.intervals[0].from_m, min(x.intervals[0].to_m, y.intervals[0].to_m)
                if hi - lo >= 10:
                    ids = tuple(sorted((x.work_id, y.work_id)))
                    shared.append(SharedStretch(road_id=rid, work_ids=(ids[0], ids[1]), intervals=(Interval(lo, hi),)))
    return works, roads, occupancy, shared, off_road


def bench_findings(n: int) -> None:
    settings = Settings()
    t = time.perf_counter()
    works, roads, occupancy, shared, off_road = synthetic(n)
    t_gen = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    findings = evaluate(
        works, roads, occupancy, shared, settings=settings, today=dt.date(2026, 11, 27), off_road=off_road
    )
    t_find, c_find = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    bundles = build_bundles(works, roads, occupancy, shared, settings=settings, findings=findings)
    t_bund, c_bund = time.perf_counter() - t, time.process_time() - c
    kinds = Counter(f.kind.value for f in findings)
    print(
        f"== findings + bundles, {n} works, {len(roads)} roads, {len(shared)} shared pairs (generated in {t_gen:.1f} s)"
    )
    print(f"findings: {len(findings)} in {t_find:.2f} s wall, {c_find:.2f} s CPU  {dict(sorted(kinds.items()))}")
    members = sum(len(b.work_ids) for b in bundles)
    avoided = sum(b.savings.excavations_avoided for b in bundles)
    area = sum(b.savings.area_not_reopened_m2 for b in bundles)
    print(
        f"bundles: {len(bundles)} ({members} works) in {t_bund:.2f} s wall, {c_bund:.2f} s CPU; "
        f"excavations avoided {avoided}, {area:,.0f} m² not reopened"
    )


def bench_optimiser(n: int, limits: list[float], *, per_road: int = 5) -> None:
    settings = Settings()
    works, roads, occupancy, shared, _ = synthetic(n, seed=7, per_road=per_road)
    print(f"== optimiser, {n} works, {per_road} works per road, {len(shared)} shared pairs")
    print("limit_s  wall_s  status     exc_before  exc_after  exc_bound  shift_days  gap     models  pairs_direct")
    for limit in limits:
        r = optimise_plan(works, roads, occupancy, shared, settings=settings, time_limit_s=limit)
        print(
            f"{limit:7.1f}  {r.wall_time_s:6.1f}  {r.status:9s}  {r.excavations_before:10d}  {r.excavations_after:9d}  "
            f"{r.excavations_bound:9d}  {r.total_shift_days:10d}  {r.gap:.4f}  {r.models:6d}  {r.pairs_solved_directly}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--works", type=int, default=100_000)
    parser.add_argument("--skip-opt", action="store_true")
    args = parser.parse_args()
    bench_findings(args.works)
    if not args.skip_opt:
        bench_optimiser(1_000, [0.2, 1.0, 3.0])
        bench_optimiser(10_000, [1.0, 3.0, 10.0])
        bench_optimiser(1_000, [1.0, 3.0, 10.0], per_road=20)
        bench_optimiser(10_000, [3.0, 10.0, 30.0], per_road=20)


if __name__ == "__main__":
    main()

"""Benchmark of the intake of a large upload: ``geo.intake.read_works`` of one GeoJSON body.

The body is the one of bench/api.py's 10k-feature upload: ``--features`` 5-vertex routes along
the streets of a synthetic city (250 m blocks) near Qijiang's centre, EPSG:4490 lon/lat,
properties 工程编号 / 管线类别 / 计划开工 / 计划完工, no CRS member (so the CRS is assumed, with
a warning), a few routes reaching past the district boundary. ``--bad`` of them (default 2 %)
carry a defect (a self-crossing, swapped axes, a date after the end, an unknown utility …) so
that the per-feature path runs too.

Each code reads the same bytes in a fresh process (``--repeat`` times, best wall and CPU time
printed): the current tree, the current tree with ``geo.intake.BATCH = False`` (every feature
through the per-feature checks, the reference of the tests), and with ``--baseline REV`` the
tree of git revision REV (``git archive`` into a temporary directory). The results are compared:
works (every field, geometries exactly), errors and warnings must be equal.

    .venv/bin/python bench/intake.py --baseline aab2192
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from city import ROOT, TO_LONLAT, dates, extract, grid_lines, route_points

KINDS = ["燃气", "给水", "电力", "通信", "排水"]


def body(n: int, bad: float, seed: int = 2029) -> bytes:
    """A FeatureCollection of ``n`` routes, a share ``bad`` of them with one defect each."""
    rng = random.Random(seed)
    n_lines = grid_lines(100_000)
    features = []
    for i in range(n):
        pts, _ = route_points(rng, n_lines, vertices=5)
        coords = [list(TO_LONLAT.transform(x, y)) for x, y in pts]
        begin, end = dates(rng)
        props: dict[str, Any] = {
            "工程编号": f"B-{i}",
            "管线类别": KINDS[i % len(KINDS)],
            "计划开工": begin.isoformat(),
            "计划完工": end.isoformat(),
        }
        if rng.random() < bad:
            defect = rng.choice(["crossing", "swapped", "dates", "utility", "nan", "z", "outside"])
            if defect == "crossing":  # A → B → C, then back down across A–B
                (lon, lat), step = coords[0], 3e-4
                coords = [[lon, lat], [lon + step, lat], [lon + step, lat + step], [lon + step / 2, lat - step]]
            elif defect == "swapped":
                coords = [[lat, lon] for lon, lat in coords]
            elif defect == "dates":
                props["计划完工"] = "2025-01-01"
            elif defect == "utility":
                props["管线类别"] = "暖通"
            elif defect == "nan":
                coords[2] = [None, coords[2][1]]
            elif defect == "z":
                coords = [[*p, 250.0] for p in coords]
            else:
                coords = [[lon + 1.0, lat] for lon, lat in coords]
        features.append(
            {"type": "Feature", "properties": props, "geometry": {"type": "LineString", "coordinates": coords}}
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()


#: Run in a fresh process in the tree to measure: read the body ``repeat`` times, pickle the
#: result's works, errors and warnings with the best wall and CPU seconds.
CHILD = """
import gc, pickle, sys, time
import geo.intake
from geo.intake import read_works
from onetrench.settings import get_settings
data = open(sys.argv[1], "rb").read()
if sys.argv[4] == "per-feature":
    geo.intake.BATCH = False
settings = get_settings()
best = (float("inf"), float("inf"))
for _ in range(int(sys.argv[3])):
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    result = read_works("body.geojson", data=data, settings=settings, source_name="body.geojson")
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    best = min(best, (wall, cpu))
pickle.dump(((result.works, result.errors, result.warnings), *best), open(sys.argv[2], "wb"))
"""


def measure(tree: Path, data: Path, out: Path, repeat: int, mode: str) -> tuple[Any, float, float]:
    """Result and best wall / CPU seconds of ``read_works`` in the tree at ``tree``."""
    subprocess.run(
        [sys.executable, "-c", CHILD, str(data), str(out), str(repeat), mode],
        cwd=tree,
        env=dict(os.environ, PYTHONPATH=str(tree)),
        check=True,
    )
    with out.open("rb") as f:
        got: tuple[Any, float, float] = pickle.load(f)
    return got


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--features", type=int, default=10_000)
    p.add_argument("--bad", type=float, default=0.02, help="share of features with a defect")
    p.add_argument("--repeat", type=int, default=3, help="reads per process (best is printed)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds of the measured codes")
    p.add_argument("--baseline", default=None, help="git revision of the previous code to compare with")
    args = p.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    tree = extract(args.baseline) if args.baseline else None
    runs: list[tuple[str, Path, str]] = [("current", ROOT, "batch"), ("current, per-feature path", ROOT, "per-feature")]
    if tree is not None:
        runs.append((args.baseline, tree, "batch"))
    best: dict[str, tuple[Any, float, float]] = {}
    try:
        data = body(args.features, args.bad)
        (tmp / "body.geojson").write_bytes(data)
        print(f"body: {args.features} features, {len(data) / 1e6:.1f} MB", flush=True)
        for _ in range(args.rounds):
            for label, root, mode in runs:
                got = measure(root, tmp / "body.geojson", tmp / "out.pkl", args.repeat, mode)
                if label not in best or got[1] < best[label][1]:
                    best[label] = got
    finally:
        if tree is not None:
            shutil.rmtree(tree, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    (works, errors, warnings), wall, cpu = best["current"]
    print(
        f"current: {wall:.2f} s wall, {cpu:.2f} s CPU: {len(works)} works, {len(errors)} errors, "
        f"{len(warnings)} warnings (best of {args.rounds} x {args.repeat}, each in a fresh process)"
    )
    for label, _, _ in runs[1:]:
        other, o_wall, o_cpu = best[label]
        same = other == (works, errors, warnings)
        print(
            f"{label}: {o_wall:.2f} s wall, {o_cpu:.2f} s CPU — ratio {o_wall / wall:.1f}x wall, "
            f"{o_cpu / cpu:.1f}x CPU; identical result: {'yes' if same else 'NO'}"
        )
    print(f"target < 1 s: {'met' if wall < 1 else 'NOT met'}; load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()

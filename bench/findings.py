"""Benchmark of the rule's findings (:func:`scheduling.findings.evaluate`) as the service runs it.

The input is the one of a 10k-feature upload in ``bench/api.py``: the synthetic city of that
script (street grid, 250 m blocks, every 8th line an arterial of 40 m, others 16 m), ``--stored``
stored works (2-vertex routes, 100–500 m along a street) and ``--new`` new works (5-vertex
routes); the detector runs over all of them and, as ``api.services.check.run_rule`` does with
``focus``, only the shared stretches with a new work and the works and roads they involve are
passed to ``evaluate``. Unlike bench/api.py's city, one road in five has recent road works
(``last_works_date`` in 2022–2025, new / rebuild / overhaul) so that the moratorium part is
exercised too; blackouts are the default ones (Spring Festival, 高考 …).

With ``--baseline REV`` the same inputs (pickled) are evaluated by the ``scheduling`` package of
git revision REV, extracted with ``git archive`` into a temporary directory and run in a
subprocess, in the same run; the findings of both are compared for equality (same objects:
kind, severity, works, road, measures, geometry, texts and data) and the ratio is printed.

    .venv/bin/python bench/findings.py --baseline aab2192
    .venv/bin/python bench/findings.py --stored 20000 --new 2000 --repeat 5

The baseline runs first (its process alone), the current code after it. Each timed run starts
after ``gc.collect()``; wall and CPU (``time.process_time``) are printed, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import pickle
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shapely.geometry import LineString  # noqa: E402

from onetrench.domain import PavementKind, Road, RoadClass, UtilityKind, Work, WorksKind  # noqa: E402

BLOCK = 250.0
STREET_BLOCKS = 4
UTILITIES = [UtilityKind.POWER, UtilityKind.WATER, UtilityKind.GAS, UtilityKind.TELECOM, UtilityKind.DRAINAGE]
X0, Y0 = 374_000.0, 3_192_000.0  # working CRS (EPSG:4545), inside Qijiang


def grid_lines(n_works: int) -> int:
    """Lines per direction so that about 4 works cover each metre of street (as bench/api.py)."""
    return max(8, int((n_works * 0.3 / 4 / 2 / (BLOCK / 1000)) ** 0.5))


def width_of(line: int) -> float:
    return 40.0 if line % 8 == 0 else 16.0


def roads(n_lines: int) -> list[Road]:
    rng = random.Random(5)
    out = []
    span = n_lines * BLOCK
    for direction in ("h", "v"):
        for i in range(n_lines):
            for k in range(0, n_lines, STREET_BLOCKS):
                a, b = k * BLOCK, min((k + STREET_BLOCKS) * BLOCK, span)
                c = i * BLOCK
                pts = [(X0 + a, Y0 + c), (X0 + b, Y0 + c)] if direction == "h" else [(X0 + c, Y0 + a), (X0 + c, Y0 + b)]
                width = width_of(i)
                recent = rng.random() < 0.2
                out.append(
                    Road(
                        road_id=f"{direction}{i}-{k}",
                        name=f"路{direction}{i}-{k}",
                        road_class=RoadClass.ARTERIAL if width == 40.0 else RoadClass.BRANCH,
                        width_m=width,
                        geometry=LineString(pts),
                        pavement=PavementKind.ASPHALT,
                        last_works_date=dt.date(2022, 1, 1) + dt.timedelta(days=rng.randrange(1400))
                        if recent
                        else None,
                        last_works_kind=rng.choice(list(WorksKind)) if recent else None,
                    )
                )
    return out


def works(rng: random.Random, n_lines: int, n: int, prefix: str, *, vertices: int) -> list[Work]:
    out = []
    for i in range(n):
        direction = rng.choice("hv")
        line = rng.randrange(n_lines)
        half = width_of(line) / 2 - 1.0
        offset = rng.uniform(-half, half)
        length = rng.uniform(100, 500)
        start = rng.uniform(0, n_lines * BLOCK - length - 1)
        along = [start + length * j / (vertices - 1) for j in range(vertices)]
        c = line * BLOCK + offset
        pts = [(X0 + s, Y0 + c) for s in along] if direction == "h" else [(X0 + c, Y0 + s) for s in along]
        begin = dt.date(2026, 3, 1) + dt.timedelta(days=rng.randrange(600))
        end = begin + dt.timedelta(days=rng.randrange(7, 40))
        kind = UTILITIES[i % len(UTILITIES)]
        flexible = rng.random() < 0.3
        out.append(
            Work(
                work_id=f"{prefix}-{i}",
                utility=kind,
                owner=kind.zh if rng.random() < 0.5 else "",
                geometry=LineString(pts),
                start=begin,
                end=end,
                earliest_start=begin - dt.timedelta(days=rng.randrange(60)) if flexible else None,
                latest_end=end + dt.timedelta(days=rng.randrange(60)) if flexible else None,
                diameter_mm=rng.choice([None, 110.0, 300.0, 600.0]),
                emergency=rng.random() < 0.02,
                trench_width_m=0.8,
            )
        )
    return out


def build(stored: int, new: int) -> dict[str, Any]:
    """The arguments of ``evaluate`` for ``new`` works uploaded over ``stored`` ones (focus on the new)."""
    from geo.overlap import detect
    from onetrench.settings import Settings

    settings = Settings()
    n_lines = grid_lines(stored)
    road_list = roads(n_lines)
    old = works(random.Random(8), n_lines, stored, "S", vertices=2)
    fresh = works(random.Random(2028), n_lines, new, "BIG", vertices=5)
    focus = {w.work_id for w in fresh}
    detection = detect([*fresh, *old], road_list, settings=settings)
    occ = detection.occupancy
    occupancy = list(occ.values()) if isinstance(occ, dict) else list(occ)
    shared = [s for s in detection.shared if not focus.isdisjoint(s.work_ids)]
    involved = focus | {w for s in shared for w in s.work_ids}
    occupancy = [o for o in occupancy if o.work_id in involved]
    road_ids = {o.road_id for o in occupancy}
    return {
        "works": [w for w in [*fresh, *old] if w.work_id in involved],
        "roads": [r for r in road_list if r.road_id in road_ids],
        "occupancy": occupancy,
        "shared": shared,
        "off_road": [(p.work_id, p.geometry) for p in detection.off_road if p.work_id in focus],
        "settings": settings,
        "today": dt.date(2026, 1, 15),
    }


def run(inputs: dict[str, Any], repeat: int) -> tuple[list[Any], float, float]:
    """Findings and the best wall and CPU seconds of ``repeat`` evaluations."""
    from scheduling.findings import evaluate

    best_wall = best_cpu = float("inf")
    out: list[Any] = []
    for _ in range(repeat):
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        out = evaluate(
            inputs["works"],
            inputs["roads"],
            inputs["occupancy"],
            inputs["shared"],
            settings=inputs["settings"],
            today=inputs["today"],
            off_road=inputs["off_road"],
        )
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return out, best_wall, best_cpu


#: Run in the baseline tree (``python -c``): evaluate the pickled inputs, pickle findings and best timings.
CHILD = """
import gc, pickle, sys, time
from scheduling.findings import evaluate
inputs = pickle.load(open(sys.argv[1], "rb"))
best_wall = best_cpu = float("inf")
for _ in range(int(sys.argv[3])):
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    out = evaluate(inputs["works"], inputs["roads"], inputs["occupancy"], inputs["shared"],
                   settings=inputs["settings"], today=inputs["today"], off_road=inputs["off_road"])
    best_wall = min(best_wall, time.perf_counter() - w0)
    best_cpu = min(best_cpu, time.process_time() - c0)
pickle.dump((out, best_wall, best_cpu), open(sys.argv[2], "wb"))
"""


def extract(rev: str) -> Path:
    """The tree of git revision ``rev`` in a temporary directory (``git archive``)."""
    target = Path(tempfile.mkdtemp(prefix=f"onetrench-{rev[:10]}-"))
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stored", type=int, default=100_000, help="stored works of the city")
    p.add_argument("--new", type=int, default=10_000, help="works of the upload (the focus)")
    p.add_argument("--repeat", type=int, default=3, help="timed evaluations per code (best is printed)")
    p.add_argument("--baseline", default=None, help="git revision of the previous code to compare with")
    args = p.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    t = time.perf_counter()
    inputs = build(args.stored, args.new)
    print(
        f"inputs ({time.perf_counter() - t:.0f} s): {len(inputs['works'])} works, {len(inputs['roads'])} roads, "
        f"{len(inputs['occupancy'])} occupancies, {len(inputs['shared'])} shared stretches, "
        f"{len(inputs['off_road'])} off-road parts",
        flush=True,
    )
    old: tuple[list[Any], float, float] | None = None
    if args.baseline:
        tree = extract(args.baseline)
        tmp = Path(tempfile.mkdtemp(prefix="bench-findings-"))
        try:
            with (tmp / "in.pkl").open("wb") as f:
                pickle.dump(inputs, f)
            subprocess.run(
                [sys.executable, "-c", CHILD, str(tmp / "in.pkl"), str(tmp / "out.pkl"), str(args.repeat)],
                cwd=tree,
                env=dict(os.environ, PYTHONPATH=str(tree)),
                check=True,
            )
            with (tmp / "out.pkl").open("rb") as f:
                old = pickle.load(f)
        finally:
            shutil.rmtree(tree, ignore_errors=True)
            shutil.rmtree(tmp, ignore_errors=True)
    found, wall, cpu = run(inputs, args.repeat)
    kinds: dict[str, int] = {}
    for finding in found:
        kinds[finding.kind.value] = kinds.get(finding.kind.value, 0) + 1
    print(f"findings: {len(found)} ({', '.join(f'{k} {v}' for k, v in kinds.items())})")
    print(f"evaluate, current: {wall:.2f} s wall, {cpu:.2f} s CPU (best of {args.repeat})")
    if old is not None:
        old_found, old_wall, old_cpu = old
        same = old_found == found
        print(
            f"evaluate, {args.baseline}: {old_wall:.2f} s wall, {old_cpu:.2f} s CPU — ratio "
            f"{old_wall / wall:.1f}x wall, {old_cpu / cpu:.1f}x CPU; identical findings: {'yes' if same else 'NO'}"
        )
        if not same:
            diff = next(i for i, (a, b) in enumerate(zip(old_found, found, strict=False)) if a != b)
            print(f"  first difference at {diff}: {old_found[diff]!r}\n  vs {found[diff]!r}")
    print(f"target < 2 s: {'met' if wall < 2 else 'NOT met'}; load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()

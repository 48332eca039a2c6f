"""Benchmark of the rule's findings (:func:`scheduling.findings.evaluate`) as the service runs it.

The input is the one of a 10k-feature upload in ``bench/api.py``: the synthetic city of that
script (street grid, 250 m blocks, every 8th line an arterial of 40 m, others 16 m), ``--stored``
stored works (2-vertex routes, 100–500 m along a street) and ``--new`` new works (5-vertex
routes); the detector runs over all of them and, as ``api.services.check.run_rule`` does with
``focus``, only the shared stretches with a new work and the works and roads they involve are
passed to ``evaluate``. Unlike bench/api.py's city, one road in five has recent road works
(``last_works_date`` in 2022–2025, new / rebuild / overhaul) so that the moratorium part is
exercised too; blackouts are the default ones (Spring Festival, 高考 …).

The inputs are pickled and ``evaluate`` runs in fresh processes that only load them (as a
service worker would, without the detector's leftovers on the heap). As ``check_works`` does,
only the findings naming a new work are kept: the timed step is ``evaluate(..., focus=new)``
and that filter (then a no-op), or, for code whose ``evaluate`` has no ``focus`` (before
7741f9a), ``evaluate`` and the filter; ``--all-findings`` times ``evaluate`` of every finding
instead (no focus, no filter). With ``--baseline REV`` the ``scheduling`` package of git
revision REV, extracted with ``git archive`` into a temporary directory, is measured the same
way, alternating with the current code (``--rounds``); the findings of both are compared for
equality (same objects: kind, severity, works, road, measures, geometry, texts and data) and
the ratio is printed. The seconds spent in Python's cyclic garbage collector during the timed
run are printed too.

    .venv/bin/python bench/findings.py --baseline 33f12c3
    .venv/bin/python bench/findings.py --baseline 33f12c3 --all-findings
    .venv/bin/python bench/findings.py --stored 20000 --new 2000 --repeat 5
    .venv/bin/python bench/findings.py --stored 20000 --new 2000 --baseline 07332ce --instructions

``--instructions`` also counts the instructions one ``evaluate`` executes, with valgrind's
cachegrind (Debian package ``valgrind``; about 20 times slower than a plain run): the difference
between a child that evaluates twice and one that evaluates once, each under cachegrind with
``PYTHONHASHSEED=0``. Unlike seconds, the count does not move with the machine's other load
(the build machine's speed drifted 1.5–2.5x within a session), so it shows a change of a few
per cent that the timings hide.

Each timed run starts after ``gc.collect()``; wall and CPU (``time.process_time``) of the run
with the least CPU time among ``--rounds`` x ``--repeat`` are printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import pickle
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from city import UTILITIES, dates, extract, grid_lines, route_points, street_lines  # noqa: E402
from shapely.geometry import LineString  # noqa: E402

from onetrench.domain import PavementKind, Road, RoadClass, Work, WorksKind  # noqa: E402


def roads(n_lines: int) -> list[Road]:
    """The city's streets, one in five with recent road works (moratorium)."""
    rng = random.Random(5)
    out = []
    for road_id, pts, width in street_lines(n_lines):
        recent = rng.random() < 0.2
        out.append(
            Road(
                road_id=road_id,
                name=f"路{road_id}",
                road_class=RoadClass.ARTERIAL if width == 40.0 else RoadClass.BRANCH,
                width_m=width,
                geometry=LineString(pts),
                pavement=PavementKind.ASPHALT,
                last_works_date=dt.date(2022, 1, 1) + dt.timedelta(days=rng.randrange(1400)) if recent else None,
                last_works_kind=rng.choice(list(WorksKind)) if recent else None,
            )
        )
    return out


def works(rng: random.Random, n_lines: int, n: int, prefix: str, *, vertices: int) -> list[Work]:
    out = []
    for i in range(n):
        pts, _ = route_points(rng, n_lines, vertices=vertices)
        begin, end = dates(rng)
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
    detection = detect([*fresh, *old], road_list, settings=settings, focus=focus)
    occupancy = list(detection.occupancy)
    involved = focus | {o.work_id for o in occupancy}
    road_ids = {o.road_id for o in occupancy}
    return {
        "works": [w for w in [*fresh, *old] if w.work_id in involved],
        "roads": [r for r in road_list if r.road_id in road_ids],
        "occupancy": occupancy,
        "shared": list(detection.shared),
        "off_road": [(p.work_id, p.geometry) for p in detection.off_road],
        "settings": settings,
        "today": dt.date(2026, 1, 15),
        "focus": focus,
    }


#: Run in a fresh process in the tree to measure (``python -c``): evaluate the pickled inputs
#: ``repeat`` times (with focus on the new works, or on all findings); pickle the findings, the
#: best wall and CPU seconds, and the seconds the cyclic garbage collector took during that best run.
CHILD = """
import gc, inspect, pickle, sys, time
from scheduling.findings import evaluate
inputs = pickle.load(open(sys.argv[1], "rb"))
focus = inputs["focus"] if sys.argv[4] == "focus" else None
pass_focus = focus is not None and "focus" in inspect.signature(evaluate).parameters
best = (float("inf"), float("inf"), 0.0)
spent = [0.0, 0.0]
def clock(phase, info):
    if phase == "start":
        spent[1] = time.perf_counter()
    else:
        spent[0] += time.perf_counter() - spent[1]
gc.callbacks.append(clock)
for _ in range(int(sys.argv[3])):
    gc.collect()
    spent[0] = 0.0
    w0, c0 = time.perf_counter(), time.process_time()
    out = evaluate(inputs["works"], inputs["roads"], inputs["occupancy"], inputs["shared"],
                   settings=inputs["settings"], today=inputs["today"], off_road=inputs["off_road"],
                   **({"focus": focus} if pass_focus else {}))
    if focus is not None:
        out = [f for f in out if not focus.isdisjoint(f.work_ids)]
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    if cpu < best[1]:
        best = (wall, cpu, spent[0])
gc.callbacks.remove(clock)
pickle.dump((out, *best), open(sys.argv[2], "wb"))
"""


def measure(
    tree: Path, inputs_path: Path, out_path: Path, repeat: int, *, focus: bool
) -> tuple[list[Any], float, float, float]:
    """Findings, best wall and CPU seconds, and GC seconds of ``evaluate`` of the tree at ``tree``."""
    subprocess.run(
        [sys.executable, "-c", CHILD, str(inputs_path), str(out_path), str(repeat), "focus" if focus else "all"],
        cwd=tree,
        env=dict(os.environ, PYTHONPATH=str(tree)),
        check=True,
    )
    with out_path.open("rb") as f:
        got: tuple[list[Any], float, float, float] = pickle.load(f)
    return got


def instructions(tree: Path, inputs_path: Path, out_dir: Path, *, focus: bool) -> int:
    """Instructions of one ``evaluate`` of the tree at ``tree`` (cachegrind's ``I refs``).

    Two children under cachegrind, run at once: one evaluates twice, the other once; the
    difference is one (warm) evaluation, without the imports and the loading of the inputs.
    """
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONHASHSEED="0")
    children = [
        subprocess.Popen(
            [
                "valgrind",
                "--tool=cachegrind",
                "--cache-sim=no",
                "--cachegrind-out-file=/dev/null",
                sys.executable,
                "-c",
                CHILD,
                str(inputs_path),
                str(out_dir / f"instructions-{repeat}.pkl"),
                str(repeat),
                "focus" if focus else "all",
            ],
            cwd=tree,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for repeat in (1, 2)
    ]
    counts = []
    for child in children:
        _, err = child.communicate()
        found = re.search(r"I\s+refs:\s+([\d,]+)", err)
        if child.returncode != 0 or found is None:
            raise SystemExit(f"cachegrind run failed ({child.returncode}): {err[-2000:]}")
        counts.append(int(found.group(1).replace(",", "")))
    return counts[1] - counts[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stored", type=int, default=100_000, help="stored works of the city")
    p.add_argument("--new", type=int, default=10_000, help="works of the upload (the focus)")
    p.add_argument("--repeat", type=int, default=3, help="timed evaluations per code (best is printed)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds of baseline and current processes")
    p.add_argument("--baseline", default=None, help="git revision of the previous code to compare with")
    p.add_argument(
        "--all-findings", action="store_true", help="time every finding (no focus on the new works, no filter)"
    )
    p.add_argument(
        "--instructions", action="store_true", help="also count one evaluate's instructions (valgrind, ~20x slower)"
    )
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
    tmp = Path(tempfile.mkdtemp(prefix="bench-findings-"))
    tree = extract(args.baseline) if args.baseline else None
    cur: tuple[list[Any], float, float, float] | None = None
    old: tuple[list[Any], float, float, float] | None = None
    try:
        with (tmp / "in.pkl").open("wb") as f:
            pickle.dump(inputs, f)
        del inputs
        gc.collect()
        counted: dict[str, int] = {}
        if args.instructions:
            for name, where in (("current", ROOT), (args.baseline, tree)):
                if where is not None:
                    counted[name] = instructions(where, tmp / "in.pkl", tmp, focus=not args.all_findings)
        for _ in range(args.rounds):  # alternate, so that both see the same share of the machine's load
            if tree is not None:
                got = measure(tree, tmp / "in.pkl", tmp / "out.pkl", args.repeat, focus=not args.all_findings)
                old = got if old is None or got[2] < old[2] else old
            got = measure(ROOT, tmp / "in.pkl", tmp / "out.pkl", args.repeat, focus=not args.all_findings)
            cur = got if cur is None or got[2] < cur[2] else cur
    finally:
        if tree is not None:
            shutil.rmtree(tree, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    assert cur is not None
    found, wall, cpu, gc_s = cur
    kinds: dict[str, int] = {}
    for finding in found:
        kinds[finding.kind.value] = kinds.get(finding.kind.value, 0) + 1
    print(f"findings: {len(found)} ({', '.join(f'{k} {v}' for k, v in kinds.items())})")
    what = "every finding" if args.all_findings else "findings of the new works"
    runs = f"{what}; best of {args.rounds} x {args.repeat}, each in a fresh process"
    print(f"evaluate, current: {wall:.2f} s wall, {cpu:.2f} s CPU, of which cyclic GC {gc_s:.2f} s ({runs})")
    if old is not None:
        old_found, old_wall, old_cpu, old_gc = old
        same = old_found == found
        print(
            f"evaluate, {args.baseline}: {old_wall:.2f} s wall, {old_cpu:.2f} s CPU, of which cyclic GC {old_gc:.2f} s"
            f" — ratio {old_wall / wall:.1f}x wall, {old_cpu / cpu:.1f}x CPU; identical findings: "
            f"{'yes' if same else 'NO'}"
        )
        if not same:
            diff = next(i for i, (a, b) in enumerate(zip(old_found, found, strict=False)) if a != b)
            print(f"  first difference at {diff}: {old_found[diff]!r}\n  vs {found[diff]!r}")
    if counted:
        now = counted["current"]
        before = counted.get(args.baseline) if args.baseline else None
        vs = f"; {args.baseline}: {before / 1e9:.3f} G — ratio {before / now:.3f}x" if before else ""
        print(f"instructions of one evaluate (cachegrind), current: {now / 1e9:.3f} G{vs}")
    print(f"target < 2 s: {'met' if wall < 2 else 'NOT met'}; load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()

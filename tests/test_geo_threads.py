"""The district boundary is shared by threads: testing against it from several at once must not crash.

GEOS's prepared geometries are not thread-safe (see ``geo.prepared``): before each thread had its
own prepared copy, eight threads testing works against the one prepared district polygon
crashed the process (a segfault in libgeos) within a few rounds. The threads run in a child
process, so that a crash fails this test instead of ending the test run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import shapely

from geo.prepared import prepared_here

ROOT = Path(__file__).resolve().parent.parent

#: 8 threads × 40 rounds of the intake's district tests (``outside_district``, and
#: ``read_works`` of the sample uploads, which tests their projected geometries): the counts of
#: every round, printed as JSON, must equal those of one thread alone.
SCRIPT = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import shapely

from geo.intake import read_works
from geo.validate import load_district, outside_district
from onetrench.settings import Settings

settings = Settings()
data = Path(sys.argv[1])
files = sorted(data.glob("*.geojson"))
works = [w for f in files if f.name != "roads.geojson" for w in read_works(f, settings=settings).works]
district = load_district(settings=settings)
x0, y0, x1, y1 = district.geometry.bounds
rng = np.random.default_rng(7)
starts = np.stack([rng.uniform(x0, x1, 400), rng.uniform(y0, y1, 400)], 1)
lines = shapely.linestrings(np.stack([starts, starts + [3000.0, 2000.0]], 1))
spread = [w.__class__(**{**{f: getattr(w, f) for f in w.__dataclass_fields__}, "geometry": g, "work_id": str(i)})
          for i, (w, g) in enumerate(zip(works * (len(lines) // len(works) + 1), lines))]


def one(k):
    if k % 2:
        return sum(p.entirely_outside for p in outside_district(spread, settings=settings))
    return sum(len(read_works(f, settings=settings).works) for f in files if f.name != "roads.geojson")


alone = [one(k) for k in range(2)]
with ThreadPoolExecutor(8) as pool:
    rounds = [list(pool.map(one, range(16))) for _ in range(40)]
print(json.dumps({"alone": alone, "rounds": rounds}))
"""


def test_threads_test_works_against_the_district_at_once() -> None:
    """Eight threads, 40 rounds: the process survives and every round counts what one thread counts."""
    data = ROOT / "tests" / "data" / "api"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(data)], check=False, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"exit {done.returncode} (-11: segfault)\n{done.stderr[-2000:]}"
    out = json.loads(done.stdout.strip().splitlines()[-1])
    alone = out["alone"]
    assert alone[0] > 0, "the sample uploads must hold works"
    assert 0 < alone[1] < 400, "some of the lines must lie outside the district, and some inside"
    assert all(r == alone * 8 for r in out["rounds"])


def test_prepared_here_is_a_prepared_copy_per_thread() -> None:
    """Each thread gets its own prepared copy, again on its next call; the shared geometry is left unprepared."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    area = shapely.box(0, 0, 10, 10)
    together = threading.Barrier(4)  # one call per thread

    def copy_of_this_thread(_: int) -> tuple[object, object]:
        together.wait(timeout=10)
        return prepared_here(area), prepared_here(area)

    with ThreadPoolExecutor(4) as pool:
        pairs = list(pool.map(copy_of_this_thread, range(4)))
    mine = prepared_here(area)
    assert all(first is again for first, again in pairs)
    assert len({id(first) for first, _ in pairs} | {id(mine)}) == 5  # the copies are alive: ids are distinct
    assert mine.equals(area) and mine is not area
    assert shapely.is_prepared(mine) and not shapely.is_prepared(area)
    assert prepared_here(area) is mine

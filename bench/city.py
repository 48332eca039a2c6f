"""The synthetic city shared by bench/api.py, bench/findings.py and bench/intake.py.

A street grid near Qijiang's centre in the working CRS (EPSG:4545): 250 m blocks, every 8th
line an arterial of 40 m red line, the others branch roads of 16 m, streets of 4 blocks (1 km).
Works run 100–500 m along one street, with a lateral offset inside its corridor, and last one
to six weeks in 2026–2027. Everything is drawn from seeded ``random.Random`` generators, so a
given seed gives the same city and works in every script and every revision measured.
"""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pyproj import Transformer

from onetrench.domain import UtilityKind

ROOT = Path(__file__).resolve().parent.parent
BLOCK = 250.0
STREET_BLOCKS = 4
#: Utilities in the order the scripts hand them out (work ``i`` gets ``UTILITIES[i % 5]``).
UTILITIES = [UtilityKind.POWER, UtilityKind.WATER, UtilityKind.GAS, UtilityKind.TELECOM, UtilityKind.DRAINAGE]
TO_LONLAT = Transformer.from_crs("EPSG:4545", "EPSG:4490", always_xy=True)
X0, Y0 = Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True).transform(106.60, 28.85)

Point = tuple[float, float]


def grid_lines(n_works: int) -> int:
    """Lines per direction so that about 4 works cover each metre of street."""
    return max(8, int((n_works * 0.3 / 4 / 2 / (BLOCK / 1000)) ** 0.5))


def width_of(line: int) -> float:
    """Red-line width of grid line ``line`` (m)."""
    return 40.0 if line % 8 == 0 else 16.0


def street_lines(n_lines: int) -> Iterator[tuple[str, list[Point], float]]:
    """``(road_id, centreline points, width_m)`` of every street of the grid."""
    span = n_lines * BLOCK
    for direction in ("h", "v"):
        for i in range(n_lines):
            for k in range(0, n_lines, STREET_BLOCKS):
                a, b = k * BLOCK, min((k + STREET_BLOCKS) * BLOCK, span)
                c = i * BLOCK
                pts = [(X0 + a, Y0 + c), (X0 + b, Y0 + c)] if direction == "h" else [(X0 + c, Y0 + a), (X0 + c, Y0 + b)]
                yield f"{direction}{i}-{k}", pts, width_of(i)


def route_points(rng: random.Random, n_lines: int, *, vertices: int) -> tuple[list[Point], int]:
    """A route along a random street with a lateral offset inside its corridor, and its grid line."""
    direction = rng.choice("hv")
    line = rng.randrange(n_lines)
    half = width_of(line) / 2 - 1.0
    offset = rng.uniform(-half, half)
    length = rng.uniform(100, 500)
    start = rng.uniform(0, n_lines * BLOCK - length - 1)
    along = [start + length * j / (vertices - 1) for j in range(vertices)]
    c = line * BLOCK + offset
    pts = [(X0 + s, Y0 + c) for s in along] if direction == "h" else [(X0 + c, Y0 + s) for s in along]
    return pts, line


def dates(rng: random.Random) -> tuple[dt.date, dt.date]:
    """Planned start and end of a work (one to six weeks, starting in 2026–2027)."""
    start = dt.date(2026, 3, 1) + dt.timedelta(days=rng.randrange(600))
    return start, start + dt.timedelta(days=rng.randrange(7, 40))


def extract(rev: str) -> Path:
    """The tree of git revision ``rev`` in a temporary directory (``git archive``)."""
    target = Path(tempfile.mkdtemp(prefix=f"onetrench-{rev[:10]}-"))
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target

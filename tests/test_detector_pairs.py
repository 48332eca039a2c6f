"""The pair sweep (geo.overlap.shared_pairs): compiled and numpy paths against plain loops."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import geo._clip
from geo.occupancy import OccupancyTable
from geo.overlap import THRESHOLD_TOLERANCE_M, shared_pairs


def _table(seed: int, n_works: int, n_roads: int) -> OccupancyTable:
    """Merged intervals per (work, road), with repeated and touching ends, sorted like the detector's."""
    rng = np.random.default_rng(seed)
    rows = []
    for w in range(n_works):
        for r in rng.choice(n_roads, size=rng.integers(0, 4), replace=False).tolist():
            ends = np.sort(rng.choice(np.arange(0.0, 400.0, 2.5), size=2 * int(rng.integers(1, 4)), replace=False))
            rows += [(w, r, float(a), float(b)) for a, b in zip(ends[::2], ends[1::2], strict=True)]
    rows.sort()
    arr = np.array(rows, dtype=float).reshape(-1, 4)
    zi, zf = np.zeros(0, dtype=np.int64), np.zeros(0)
    return OccupancyTable(
        work=arr[:, 0].astype(np.int64), road=arr[:, 1].astype(np.int64), from_m=arr[:, 2], to_m=arr[:, 3],
        offset_m=np.zeros(len(arr)), cross_work=zi, cross_road=zi, cross_m=zf,
        off_road_work=zi, off_road_geom=np.zeros(0, dtype=object), off_road_length_m=zf, off_road_area_m2=zf,
    )  # fmt: skip


def _plain(table: OccupancyTable, min_shared: np.ndarray, focus: np.ndarray | None) -> list[tuple]:
    by: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for w, r, f, t in zip(table.work, table.road, table.from_m, table.to_m, strict=True):
        by.setdefault((int(r), int(w)), []).append((float(f), float(t)))
    out = []
    for (r, a), (r2, b) in itertools.combinations(sorted(by), 2):
        if r != r2 or (focus is not None and not (focus[a] or focus[b])):
            continue
        ivs = sorted(
            (max(f1, f2), min(t1, t2)) for f1, t1 in by[(r, a)] for f2, t2 in by[(r, b)] if min(t1, t2) > max(f1, f2)
        )
        total = sum(hi - lo for lo, hi in ivs)
        if total > 0 and total >= min_shared[r] - THRESHOLD_TOLERANCE_M:
            out += [(r, a, b, lo, hi) for lo, hi in ivs]
    return out


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_pairs_equal_plain_loops(seed: int, compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(geo._clip, "COMPILED", compiled)
    table = _table(seed, 60, 7)
    min_shared = np.array([0.0, 10.0, 10.0, 25.0, 2.5, 0.0, 40.0])
    focus = np.zeros(60, dtype=bool)
    focus[np.random.default_rng(seed).choice(60, 6, replace=False)] = True
    for f in (None, focus):
        got = shared_pairs(table, min_shared, focus=f)
        rows = list(
            zip(got.road.tolist(), got.a.tolist(), got.b.tolist(), got.from_m.tolist(), got.to_m.tolist(), strict=True)
        )
        want = _plain(table, min_shared, f)
        assert len(want) > 20
        assert rows == want


@pytest.mark.parametrize("n", [1000, 10000])
def test_segment_grid_and_candidates_equal_on_both_paths(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled grid (counting sort, table of cell starts) equals numpy's (stable argsort, searchsorted)."""
    from geo._clip import RoadSegments
    from geo.roads import RoadNetwork
    from tests.test_detector import S10, _bench_city

    roads, works = _bench_city(n)
    net = RoadNetwork(roads=roads, crs=S10.working_crs)
    got = {}
    for compiled in (True, False):
        monkeypatch.setattr(geo._clip, "COMPILED", compiled)
        segs = RoadSegments.build(net.centrelines, net.widths)
        boxes = np.array([w.geometry.bounds for w in works])
        got[compiled] = (segs, segs.candidates(boxes[:, :2], boxes[:, 2:]))
    (a, ca), (b, cb) = got[True], got[False]
    for name in ("grid_key", "grid_seg", "grid_box", "grid_start"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert len(a.grid_start) == (a.cmax + 3) ** 2 + 1
    assert np.array_equal(ca[0], cb[0]) and np.array_equal(ca[1], cb[1])
    assert len(ca[0]) > n


def test_sparse_network_keeps_the_cell_table_small() -> None:
    """Two short roads 500 km apart: coarser cells instead of a table of billions of cells."""
    from shapely.geometry import LineString

    from geo._clip import RoadSegments

    lines = np.array([LineString([(0, 0), (50, 0)]), LineString([(5e5, 5e5), (5e5 + 50, 5e5)])], dtype=object)
    segs = RoadSegments.build(lines, np.array([16.0, 16.0]))
    assert len(segs.grid_start) < 1.01 * 2**20
    b, s = segs.candidates(np.array([[10.0, -1.0], [5e5 + 1, 5e5 - 1]]), np.array([[20.0, 1.0], [5e5 + 2, 5e5 + 1]]))
    assert b.tolist() == [0, 1] and s.tolist() == [0, 1]

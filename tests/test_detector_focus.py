"""``geo.overlap.detect(..., focus=...)``: equal to the full detection filtered by hand."""

from __future__ import annotations

import random

import pytest

import geo._clip
from geo.overlap import DetectionResult, detect
from geo.roads import RoadNetwork
from onetrench.domain import Road, Work
from onetrench.errors import InputError
from tests.test_detector import S10, _bench_city, make_city


def filtered(full: DetectionResult, focus: set[str]) -> tuple[list, list, list]:
    """What ``focus`` must return, picked by hand out of a full detection."""
    shared = [s for s in full.shared if focus & set(s.work_ids)]
    partners = {(w, s.road_id) for s in shared for w in s.work_ids if w not in focus}
    occupancy = [o for o in full.occupancy if o.work_id in focus or (o.work_id, o.road_id) in partners]
    off_road = [p for p in full.off_road if p.work_id in focus]
    return shared, occupancy, off_road


def assert_focus_equals_filtered(works: list[Work], roads: list[Road], focus: set[str]) -> DetectionResult:
    net = RoadNetwork(roads=roads, crs=S10.working_crs)
    full = detect(works, net, settings=S10)
    got = detect(works, net, settings=S10, focus=focus)
    shared, occupancy, off_road = filtered(full, focus)
    assert got.shared == shared
    assert got.occupancy == occupancy
    assert [(p.work_id, p.length_m, p.area_m2) for p in got.off_road] == [
        (p.work_id, p.length_m, p.area_m2) for p in off_road
    ]
    assert all(a.geometry.equals_exact(b.geometry, 0.0) for a, b in zip(got.off_road, off_road, strict=True))
    return got


def _focus_sets(works: list[Work], seed: int) -> list[set[str]]:
    ids = [w.work_id for w in works]
    rnd = random.Random(seed)
    return [set(ids), {ids[0]}, {rnd.choice(ids)}, set(), set(rnd.sample(ids, max(2, len(ids) // 10)))]


@pytest.fixture(params=[True, False], ids=["compiled", "numpy"])
def compiled(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(geo._clip, "COMPILED", request.param)
    return bool(request.param)


@pytest.mark.parametrize("split", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_focus_equals_full_detection_filtered(seed: int, split: bool, compiled: bool) -> None:
    roads, works = make_city(seed, split=split)
    for focus in _focus_sets(works, seed):
        assert_focus_equals_filtered(works, roads, focus)


def test_every_single_work_as_focus(compiled: bool) -> None:
    roads, works = make_city(7, split=True)
    net = RoadNetwork(roads=roads, crs=S10.working_crs)
    full = detect(works, net, settings=S10)
    found = 0
    for w in works:
        got = detect(works, net, settings=S10, focus=[w.work_id])
        shared, occupancy, off_road = filtered(full, {w.work_id})
        assert got.shared == shared and got.occupancy == occupancy, w.work_id
        assert [p.work_id for p in got.off_road] == [p.work_id for p in off_road]
        found += len(shared)
    assert found > 5  # single works do share in this city


def test_focus_on_the_bench_city(compiled: bool) -> None:
    roads, works = _bench_city(2000)
    rnd = random.Random(4)
    ids = [w.work_id for w in works]
    small = assert_focus_equals_filtered(works, roads, set(rnd.sample(ids, 150)))
    assert len(small.shared) > 20
    assert_focus_equals_filtered(works, roads, set(ids))


def test_focus_none_is_full_and_empty_focus_is_empty() -> None:
    roads, works = make_city(1, split=False)
    full = detect(works, roads, settings=S10)
    assert detect(works, roads, settings=S10, focus=None).shared == full.shared
    empty = detect(works, roads, settings=S10, focus=())
    assert (empty.shared, empty.occupancy, empty.off_road) == ([], [], [])


def test_focus_without_off_road() -> None:
    roads, works = make_city(2, split=True)
    focus = {w.work_id for w in works[::3]}
    got = detect(works, roads, settings=S10, focus=focus, with_off_road=False)
    shared, occupancy, _ = filtered(detect(works, roads, settings=S10), focus)
    assert (got.shared, got.occupancy, got.off_road) == (shared, occupancy, [])


def test_unknown_focus_id_rejected() -> None:
    roads, works = make_city(0, split=False)
    with pytest.raises(InputError, match="NOPE"):
        detect(works, roads, settings=S10, focus=[works[0].work_id, "NOPE"])

"""The detector's domain objects: built in bulk, ordered by road id and work ids as strings."""

from __future__ import annotations

import dataclasses
import random

import pytest

from geo.overlap import detect
from onetrench.bulk import frozen_instances
from onetrench.domain import Interval
from tests.test_detector import S10, make_city


def test_shared_sorted_by_strings_whatever_the_input_order() -> None:
    roads, works = make_city(5, split=True)
    rnd = random.Random(5)
    # ids whose string order differs from the input order and from their numbers
    name = {w.work_id: f"{rnd.choice('zyxa')}-{rnd.randrange(10**6)}-{k}" for k, w in enumerate(works)}
    road = {r.road_id: f"{rnd.choice('QBA')}{k * 7919 % 101}" for k, r in enumerate(roads)}
    renamed = [dataclasses.replace(w, work_id=name[w.work_id]) for w in works]
    rnd.shuffle(renamed)
    res = detect(renamed, [dataclasses.replace(r, road_id=road[r.road_id]) for r in roads], settings=S10)
    assert len(res.shared) > 5
    assert res.shared == sorted(res.shared, key=lambda s: (s.road_id, s.work_ids))
    assert all(s.work_ids[0] < s.work_ids[1] for s in res.shared)
    # the same stretches as with the original names, renamed
    plain = detect(works, roads, settings=S10)
    want = {(road[s.road_id], *sorted(name[w] for w in s.work_ids), s.intervals) for s in plain.shared}
    assert {(s.road_id, *s.work_ids, s.intervals) for s in res.shared} == want


@dataclasses.dataclass(frozen=True, slots=True)
class _Checked:
    a: int
    b: str

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError("a < 0")


def test_bulk_objects_equal_init_and_validate_when_asked() -> None:
    ivs = frozen_instances(Interval, {"from_m": [0.0, 2.5], "to_m": [1.0, 3.0]}, 2)
    assert ivs == [Interval(0.0, 1.0), Interval(2.5, 3.0)]
    assert [hash(x) for x in ivs] == [hash(Interval(0.0, 1.0)), hash(Interval(2.5, 3.0))]
    assert frozen_instances(_Checked, {"a": iter([1, 2]), "b": iter("xy")}, 2) == [_Checked(1, "x"), _Checked(2, "y")]
    with pytest.raises(ValueError, match="a < 0"):  # __post_init__ ran
        frozen_instances(_Checked, {"a": [-1], "b": ["x"]}, 1)


def test_garbage_collector_state_is_restored() -> None:
    import gc

    roads, works = make_city(1, split=False)
    assert gc.isenabled()
    assert detect(works, roads, settings=S10).shared
    assert gc.isenabled()
    gc.disable()
    try:
        detect(works, roads, settings=S10)
        assert not gc.isenabled()  # left paused when the caller had paused it
    finally:
        gc.enable()
    # the error path and threads: tests/test_gcpause.py

"""The shared pause of the cyclic garbage collector (onetrench.gcpause)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from onetrench.gcpause import without_cyclic_gc


@pytest.fixture(autouse=True)
def _gc_running() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_resumed_after_even_on_error() -> None:
    @without_cyclic_gc
    def fail() -> None:
        assert not gc.isenabled()
        raise ValueError("boom")

    with pytest.raises(ValueError):
        fail()
    assert gc.isenabled()


def test_a_caller_that_paused_it_keeps_it_paused() -> None:
    gc.disable()
    without_cyclic_gc(lambda: None)()
    assert not gc.isenabled()


@pytest.mark.parametrize("first_out", ["outer", "inner"])
def test_overlapping_threads_resume_only_when_the_last_one_ends(first_out: str) -> None:
    """Two threads inside at once, leaving in either order: paused until both are out, then running."""
    inside = [threading.Event(), threading.Event()]
    release = [threading.Event(), threading.Event()]
    seen: dict[str, bool] = {}

    @without_cyclic_gc
    def hold(i: int) -> None:
        inside[i].set()
        release[i].wait(10)

    threads = [threading.Thread(target=hold, args=(i,)) for i in range(2)]
    threads[0].start()
    assert inside[0].wait(10)
    threads[1].start()
    assert inside[1].wait(10)
    first, second = (0, 1) if first_out == "outer" else (1, 0)
    release[first].set()
    threads[first].join(10)
    seen["after first"] = gc.isenabled()
    release[second].set()
    threads[second].join(10)
    seen["after both"] = gc.isenabled()
    assert seen == {"after first": False, "after both": True}

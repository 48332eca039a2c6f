"""Pausing Python's cyclic garbage collector while large batches of acyclic objects are built.

Reading a 10k-feature upload, building the detector's shared stretches and evaluating 100k
findings each allocate hundreds of thousands of small objects. Every 700 allocations the cyclic
collector scans the young objects, and now and then the whole heap: a quarter to a half of those
steps' time. Their objects form no reference cycles (reference counting frees them), so nothing
is left for the collector to find later.

The pause is shared by the threads of a process (``gc.disable`` is process-wide): the collector
is paused when the first paused call starts and resumed when the last one ends, and only if it
was running before the first one. A caller that paused it itself keeps it paused.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import threading
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")


class _SharedPause:
    """How many paused calls are running, and whether the collector runs again after the last."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.resume = False

    def enter(self) -> None:
        with self.lock:
            if self.depth == 0:
                self.resume = gc.isenabled()
                gc.disable()
            self.depth += 1

    def leave(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth == 0 and self.resume:
                gc.enable()


_PAUSE = _SharedPause()


def without_cyclic_gc(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``func`` with the cyclic garbage collector paused (see the module docstring).

    Examples
    --------
    >>> import gc
    >>> @without_cyclic_gc
    ... def build():
    ...     return gc.isenabled()
    >>> build(), gc.isenabled()
    (False, True)
    """

    @functools.wraps(func)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with cyclic_gc_paused():
            return func(*args, **kwargs)

    return run


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """The body of the ``with`` block runs with the cyclic garbage collector paused (see the module docstring).

    Examples
    --------
    >>> import gc
    >>> with cyclic_gc_paused():
    ...     print(gc.isenabled())
    False
    >>> gc.isenabled()
    True
    """
    _PAUSE.enter()
    try:
        yield
    finally:
        _PAUSE.leave()

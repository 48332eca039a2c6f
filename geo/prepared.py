"""Prepared geometries that threads do not share.

GEOS's prepared geometries are not thread-safe (libgeos/geos#825): their indexes are built,
and some of their state changed, while a predicate runs, and shapely releases the GIL for it.
Two threads testing against one prepared polygon at once crash the process. The district
boundary is such a polygon: loaded once per process (``geo.validate.load_district``) and tested
by every upload's intake, several at a time in the service's worker threads (eight concurrent
uploads crashed a worker with a segfault in ``libgeos`` before this module).

:func:`prepared_here` gives each thread its own prepared copy of a long-lived geometry.
"""

from __future__ import annotations

import threading

import shapely
from shapely.geometry.base import BaseGeometry

#: Copies kept per thread, at most (the district boundaries of a few settings).
KEEP = 8

_LOCAL = threading.local()


def prepared_here(geom: BaseGeometry) -> BaseGeometry:
    """A prepared copy of ``geom`` that only the calling thread uses, made once per thread.

    For a geometry that lives long and is tested from several threads; ``geom`` itself is not
    prepared (nor changed).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> area = box(0, 0, 10, 10)
    >>> mine = prepared_here(area)
    >>> mine == area, mine is area, bool(shapely.is_prepared(mine)), bool(shapely.is_prepared(area))
    (True, False, True, False)
    >>> prepared_here(area) is mine
    True
    """
    copies: dict[int, tuple[BaseGeometry, BaseGeometry]] | None = getattr(_LOCAL, "copies", None)
    if copies is None:
        copies = _LOCAL.copies = {}
    got = copies.get(id(geom))
    if got is not None and got[0] is geom:
        return got[1]
    if len(copies) >= KEEP:
        copies.clear()
    copy = shapely.from_wkb(shapely.to_wkb(geom, include_srid=True))
    shapely.prepare(copy)
    copies[id(geom)] = (geom, copy)  # the original is kept alive with its copy: its id is not reused
    return copy

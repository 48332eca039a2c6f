"""The incremental check: compare new or changed works with the stored works near them.

Only the stored works and roads near the new works are loaded, through the database's spatial
index (GiST and ``ST_DWithin`` on PostGIS; the R*Tree of the geometry column on SpatiaLite,
refined exactly with shapely). Two works can share a road only if both lie in its corridor, so
they are never further apart than the widest road's red-line width: that is the search radius.

Checks that must see each other's results (two uploads at once) are serialised by
:func:`lock_works`, so a finding is never lost nor stored twice.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import threading
import time
import weakref
from collections.abc import Collection, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from geoalchemy2.elements import WKBElement
from sqlalchemy import ARRAY, Engine, Integer, Select, Text, cast, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from api.models import SRID, FindingRow, FindingWork, OccupancyRow, RoadRow, ServiceLock, WorkRow, utcnow
from api.services.convert import (
    ROAD_FIELDS,
    RULE_WORK_FIELDS,
    finding_values,
    json_text,
    jsonable,
    jsonable_text,
    road_from_row,
    work_from_row,
    works_from_columns,
    works_from_rows,
)
from api.services.geometry import shaped_element
from onetrench.domain import Finding, Occupancy, Road, Work
from onetrench.gcpause import without_cyclic_gc
from onetrench.settings import Settings

if TYPE_CHECKING:
    from scheduling.findings import FindingsMemo

#: Largest id list bound in one query.
CHUNK = 900


#: Side of the grid cells locked by an incremental check on PostGIS (metres).
LOCK_CELL_M = 1000.0
#: Above this many cells a check takes the global lock instead (PostgreSQL's lock table is finite).
MAX_CELL_LOCKS = 256
#: Advisory-lock key of the whole plan (shared by area checks, exclusive for plan runs).
GLOBAL_LOCK_KEY = 0x6F6E6574  # "onet"


def lock_works(session: Session, geometries: Sequence[Any] | None = None, *, margin: float = 0.0) -> None:
    """Serialise checks that could see each other, for the rest of the transaction.

    Without ``geometries`` (plan runs, road loads) the whole plan is locked. With them, on PostGIS
    only the grid cells within ``margin`` of the geometries are (advisory locks, taken in sorted
    order so that two checks never deadlock); two checks whose works could share a road always
    share a cell, so they run one after the other, while checks far apart run at once. SQLite
    serialises writers anyway: there the works lock row is updated.
    """
    if session.get_bind().dialect.name != "postgresql":
        session.execute(update(ServiceLock).where(ServiceLock.name == "works").values(counter=ServiceLock.counter + 1))
        return
    cells = _cells(geometries, margin) if geometries is not None else None
    if cells is None or len(cells) > MAX_CELL_LOCKS:
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": GLOBAL_LOCK_KEY})
        return
    # one round trip: the shared plan lock is a one-time filter (an init plan) evaluated before the
    # cells are scanned, so it is always taken first, as two statements would (no lock-order cycle
    # with a plan run queued for the exclusive lock)
    ordered = sorted(cells)
    session.execute(
        text(
            "SELECT count(pg_advisory_xact_lock(c.a, c.b)) FROM "
            "(SELECT * FROM unnest(CAST(:a AS int[]), CAST(:b AS int[])) AS u(a, b) ORDER BY a, b) AS c "
            "WHERE (SELECT CAST(pg_advisory_xact_lock_shared(:k) AS text)) IS NOT NULL"
        ),
        {"a": [a for a, _ in ordered], "b": [b for _, b in ordered], "k": GLOBAL_LOCK_KEY},
    )


def _cells(geometries: Sequence[Any], margin: float) -> set[tuple[int, int]] | None:
    """The lock keys of the grid cells the geometries reach (:func:`_grid_cells`).

    ``None`` beyond :data:`MAX_CELL_LOCKS` (the caller takes the global lock).
    """
    grid = _grid_cells(geometries, margin, limit=MAX_CELL_LOCKS)
    return None if grid is None else {((ix % 2**31) - 2**30, (iy % 2**31) - 2**30) for ix, iy in grid}


def _grid_cells(geometries: Sequence[Any], margin: float, *, limit: int | None = None) -> set[tuple[int, int]] | None:
    """``(column, row)`` of the :data:`LOCK_CELL_M` grid cells the geometries' bounds reach, widened by ``margin``.

    Missing and empty geometries reach none. ``None`` when there are more than ``limit``.
    """
    bounds = shapely.bounds(np.asarray(list(geometries), dtype=object).reshape(-1))
    bounds = bounds[~np.isnan(bounds).any(axis=1)]
    lo = np.floor((bounds[:, :2] - margin) / LOCK_CELL_M).astype(np.int64)
    hi = np.floor((bounds[:, 2:] + margin) / LOCK_CELL_M).astype(np.int64)
    if limit is not None and ((hi - lo + 1).prod(axis=1) > limit).any():
        return None
    cells: set[tuple[int, int]] = set()
    for (x0, y0), (x1, y1) in zip(lo.tolist(), hi.tolist(), strict=True):
        cells.update(itertools.product(range(x0, x1 + 1), range(y0, y1 + 1)))
        if limit is not None and len(cells) > limit:
            return None
    return cells


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i : i + CHUNK])


def _near_ids_sqlite(session: Session, table: str, column: str, new_ids: list[int], margin: float) -> set[int]:
    sql = text(
        f"SELECT DISTINCT idx.pkid FROM works AS n, idx_{table}_{column} AS idx "
        "WHERE n.id IN (SELECT value FROM json_each(:ids)) "
        "AND idx.xmin <= MbrMaxX(n.geometry) + :m AND idx.xmax >= MbrMinX(n.geometry) - :m "
        "AND idx.ymin <= MbrMaxY(n.geometry) + :m AND idx.ymax >= MbrMinY(n.geometry) - :m"
    )

    return {int(r[0]) for r in session.execute(sql, {"ids": json.dumps(new_ids), "m": margin})}


def _near_ids(session: Session, model: Any, table: str, new_ids: Sequence[int], margin: float) -> set[int]:
    """Ids of ``model`` rows within ``margin`` metres of any of the works ``new_ids`` (spatial index)."""
    found: set[int] = set()
    dialect = session.get_bind().dialect.name
    for ids in _chunks(list(new_ids)):
        if dialect == "sqlite":
            found |= _near_ids_sqlite(session, table, "geometry", ids, margin)
        else:
            n = WorkRow.__table__.alias("n")
            stmt: Select[Any] = (
                select(model.id)
                .join(n, func.ST_DWithin(model.geometry, n.c.geometry, margin))
                .where(n.c.id.in_(ids))
                .distinct()
            )
            found |= set(session.scalars(stmt))
    return found


def near_work_ids(session: Session, new_ids: Sequence[int], margin: float) -> set[int]:
    """Ids of stored works within ``margin`` metres of any of ``new_ids`` (these included)."""
    return _near_ids(session, WorkRow, "works", new_ids, margin)


def near_road_ids(session: Session, new_ids: Sequence[int], margin: float) -> set[int]:
    """Ids of roads within ``margin`` metres of any of the works ``new_ids``."""
    return _near_ids(session, RoadRow, "roads", new_ids, margin)


def _load(session: Session, model: Any, ids: set[int]) -> list[Any]:
    rows: list[Any] = []
    for chunk in _chunks(sorted(ids)):
        rows.extend(session.scalars(select(model).where(model.id.in_(chunk))))
    return rows


@dataclass
class CheckResult:
    """What a check found for the works it was asked about.

    ``timings`` holds the seconds spent in each phase (``lookup``: finding and loading the
    nearby works and roads; ``rule``: detector and findings; ``store``: writing occupancies
    and findings). In an overlapped check (:data:`OVERLAP_MIN`) ``rule`` is the time of the
    detector and the rule themselves, and ``store`` the rest: making the rows, and the writing
    that was not done while the rule ran.
    """

    findings: list[FindingRow] = field(default_factory=list)
    compared_with: int = 0
    roads_considered: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def _within(geoms: Sequence[Any], others: Sequence[Any], margin: float) -> np.ndarray:
    """For each of ``others``, whether it lies within ``margin`` of any of ``geoms`` (exact), as booleans.

    The pairs whose bounding boxes come within ``margin`` are found by a tree, then tested by
    ``shapely.dwithin`` in one call (about twice as fast as the tree's own ``dwithin`` predicate).
    """
    flags = np.zeros(len(others), dtype=bool)
    if not len(others) or not len(geoms):
        return flags
    near_to, other = np.asarray(geoms, dtype=object), np.asarray(others, dtype=object)
    b = shapely.bounds(near_to)
    boxes = shapely.box(b[:, 0] - margin, b[:, 1] - margin, b[:, 2] + margin, b[:, 3] + margin)
    o, n = shapely.STRtree(boxes).query(other)
    flags[o[shapely.dwithin(other[o], near_to[n], margin)]] = True
    return flags


def run_rule(
    works: list[Work], roads: list[Road], settings: Settings, *, focus: set[str] | None = None
) -> tuple[list[Finding], list[Occupancy]]:
    """Run the detector and the scheduling rule on plain domain objects (adapter over geo/ and scheduling/).

    With ``focus`` (work ids), the detector looks only for pairs with at least one work of
    ``focus`` (``geo.overlap.detect(focus=…)``: the other works are clipped only against the roads
    a focus work occupies), and the rule is run only over the works of ``focus`` and those sharing
    a road with them: pairs between other works are not evaluated (their findings are not wanted).
    The returned occupancy is complete for the works of ``focus``, and only findings naming a work
    of ``focus`` are returned (``evaluate(focus=…)``). Only the findings are computed
    (:func:`scheduling.findings.evaluate`), not bundles or savings.
    """
    from geo.overlap import detect

    detection = detect(works, roads, settings=settings, focus=focus)
    occupancy = list(detection.occupancy)
    found = evaluate_focus(
        works, roads, occupancy, list(detection.shared), list(detection.off_road), settings=settings, focus=focus
    )
    return found, occupancy


def evaluate_focus(
    works: Sequence[Work],
    roads: Sequence[Road],
    occupancy: Sequence[Occupancy],
    shared: Sequence[Any],
    off_road: Sequence[Any],
    *,
    settings: Settings,
    focus: AbstractSet[str] | None,
) -> list[Finding]:
    """The findings naming a work of ``focus`` (all without it), from a detection's output.

    The rule sees the works of ``focus`` and every work occupying a road one of them occupies,
    with all their occupancy (joint windows look at each work's roads), and the stretches and
    off-road parts of the works of ``focus``: the findings are those of the whole plan that name a
    work of ``focus`` (``scheduling.findings.evaluate(focus=…)``), whatever else the detection held.
    """
    from scheduling.findings import evaluate

    if focus is None:
        return list(evaluate(works, roads, occupancy, shared, settings=settings, off_road=off_road))
    return FocusIndex(works, roads, occupancy, shared).evaluate(focus, off_road, settings=settings)


class FocusIndex:
    """A detection's output indexed by work and road, for :func:`evaluate_focus` over many focus sets.

    An overlapped check evaluates one strip of new works after the other against the same
    detection: selecting each strip's works, roads, occupancy and stretches through these indexes
    costs what the strip holds, not a pass over the whole detection per strip (~0.5 s of a 10k
    upload). The selections keep the detection's order.
    """

    def __init__(
        self, works: Sequence[Work], roads: Sequence[Road], occupancy: Sequence[Occupancy], shared: Sequence[Any]
    ) -> None:
        self.works, self.roads, self.occupancy, self.shared = works, roads, occupancy, shared
        self._memo: FindingsMemo | None = None
        self._work_index = {w.work_id: i for i, w in enumerate(works)}
        self._road_index = {r.road_id: i for i, r in enumerate(roads)}
        self._occupancy_of: dict[str, list[int]] = {}
        self._works_on: dict[str, set[str]] = {}
        for i, occ in enumerate(occupancy):
            self._occupancy_of.setdefault(occ.work_id, []).append(i)
            self._works_on.setdefault(occ.road_id, set()).add(occ.work_id)
        self._shared_of: dict[str, list[int]] = {}
        for i, stretch in enumerate(shared):
            for work_id in stretch.work_ids:
                self._shared_of.setdefault(work_id, []).append(i)

    def evaluate(self, focus: AbstractSet[str], off_road: Sequence[Any], *, settings: Settings) -> list[Finding]:
        """The findings naming a work of ``focus`` (as :func:`evaluate_focus`)."""
        from scheduling.findings import FindingsMemo, evaluate

        if self._memo is None or self._memo.settings is not settings:
            self._memo = FindingsMemo(settings)
        occupancy, none = self.occupancy, ()
        focus_roads = {occupancy[i].road_id for w in focus for i in self._occupancy_of.get(w, none)}
        involved = set(focus).union(*(self._works_on[r] for r in focus_roads))
        occ = [occupancy[i] for i in sorted(i for w in involved for i in self._occupancy_of.get(w, none))]
        road_ids = {o.road_id for o in occ}
        return list(
            evaluate(
                [self.works[i] for i in sorted(self._work_index[w] for w in involved if w in self._work_index)],
                [self.roads[i] for i in sorted(self._road_index[r] for r in road_ids if r in self._road_index)],
                occ,
                [self.shared[i] for i in sorted({i for w in focus for i in self._shared_of.get(w, none)})],
                settings=settings,
                off_road=off_road,
                focus=focus,
                memo=self._memo,
            )
        )


# --------------------------------------------------------------------------------------
# Roads, cached per process: roads change rarely (a network load), works on every upload.
# --------------------------------------------------------------------------------------


@dataclass
class _RoadCache:
    """All roads of one database as domain objects with an STRtree, valid for one ``stamp``."""

    stamp: tuple[Any, ...]
    roads: list[Road]
    pks: list[int]
    tree: shapely.STRtree

    def near(self, geoms: Sequence[Any], width: float) -> tuple[list[Road], dict[str, int]]:
        """The roads a work among ``geoms`` can lie in, and their primary keys by road id.

        A road qualifies when its centreline is within ``width`` / 2 (half the widest red line).
        """
        if width <= 0 or not self.roads:
            return [], {}
        hit = self.tree.query(geoms, predicate="dwithin", distance=width / 2.0)
        idx = sorted(set(hit[1].tolist()))
        return [self.roads[i] for i in idx], {self.roads[i].road_id: self.pks[i] for i in idx}


_ROAD_CACHE: weakref.WeakKeyDictionary[Engine, _RoadCache] = weakref.WeakKeyDictionary()
_ROAD_CACHE_LOCK = threading.Lock()


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def roads_stamp(session: Session) -> tuple[Any, ...]:
    """What identifies the stored road network: ``(max id, last load time, widest width)``.

    Roads are only ever inserted or replaced by :func:`api.services.roads.load_roads`, which
    sets ``loaded_at`` on every road it writes; the three aggregates are index lookups.
    """
    row = session.execute(select(func.max(RoadRow.id), func.max(RoadRow.loaded_at), func.max(RoadRow.width_m))).one()
    return (row[0], row[1], float(row[2] or 0.0))


def max_road_width(session: Session) -> float:
    """The widest red-line width stored (0 without roads)."""
    return float(session.scalar(select(func.max(RoadRow.width_m))) or 0.0)


def cached_roads(session: Session, stamp: tuple[Any, ...] | None = None) -> _RoadCache:
    """All roads as domain objects, read once per process and again only when the network changed."""
    stamp = roads_stamp(session) if stamp is None else stamp
    engine = _engine_of(session)
    with _ROAD_CACHE_LOCK:
        hit = _ROAD_CACHE.get(engine)
    if hit is not None and hit.stamp == stamp:
        return hit
    road_cols = [RoadRow.__table__.c[name] for name in ROAD_FIELDS]
    rows = session.execute(
        select(RoadRow.id, *road_cols, func.ST_AsBinary(RoadRow.geometry)).order_by(RoadRow.id)
    ).all()
    geoms = shapely.from_wkb([bytes(r[-1]) for r in rows]) if rows else []
    roads = [road_from_row(r, g) for r, g in zip(rows, geoms, strict=True)]
    cache = _RoadCache(stamp=stamp, roads=roads, pks=[int(r[0]) for r in rows], tree=shapely.STRtree(list(geoms)))
    with _ROAD_CACHE_LOCK:
        _ROAD_CACHE[engine] = cache
    return cache


# --------------------------------------------------------------------------------------
# Nearby works, read as plain columns (no ORM objects) and parsed in one shapely call.
# --------------------------------------------------------------------------------------

#: Columns of a nearby work: what the rule reads (attributes as JSON text), see :func:`works_from_rows`.
NEAR_COLUMNS = ("id", "key", *RULE_WORK_FIELDS)


def near_columns(table: Any) -> list[Any]:
    """The columns of :data:`NEAR_COLUMNS` of ``table``, then ``attributes`` as text."""
    return [*(table.c[name] for name in NEAR_COLUMNS), cast(table.c.attributes, Text).label("attributes")]


#: The live works within a distance of any of some works (by id), the columns of :data:`NEAR_COLUMNS`,
#: the attributes as text and the geometry as WKB. One query for all of them (an array parameter has
#: no size limit): each nearby work comes once, however many of the given works it is near.
_NEAR_COLUMNS_SQL = ", ".join(f'w."{name}"' for name in NEAR_COLUMNS)
_NEAR_BY_ID_PG = (
    f"SELECT {_NEAR_COLUMNS_SQL}, "
    "CAST(w.attributes AS text), ST_AsBinary(w.geometry) FROM works AS w "
    "WHERE w.id IN (SELECT t.id FROM works AS t JOIN works AS n ON ST_DWithin(t.geometry, n.geometry, %s) "
    "WHERE n.id = ANY(CAST(%s AS int[]))) AND NOT w.withdrawn"
)


#: The live works whose bounding box meets one of some boxes (the grid cells of :func:`_cell_boxes`).
_NEAR_BY_CELLS_PG = (
    f"SELECT {_NEAR_COLUMNS_SQL}, "
    "CAST(w.attributes AS text), ST_AsBinary(w.geometry) FROM works AS w "
    "WHERE w.geometry && ANY(CAST(%s AS geometry[])) AND NOT w.withdrawn"
)

#: From this many new works, nearby works are read by grid cells, then tested here (see :func:`_near_work_rows_pg`).
NEAR_BY_CELLS_MIN = 1000


def _near_work_rows_pg(
    session: Session, new: AbstractSet[int], margin: float, new_geoms: Sequence[Any]
) -> list[tuple[int, Work]]:
    """:func:`_near_work_rows` on PostgreSQL: read by psycopg itself, in binary.

    A 10k upload has ~90k nearby works: SQLAlchemy's row processing cost ~0.4 s of Python more
    than psycopg's rows. The enumerations are decoded here, a column at a time.

    From :data:`NEAR_BY_CELLS_MIN` new works on, the server reads the works in the 1 km cells
    they reach (one box per cell, ``&&``: a scan of the index per cell, or of the table when the
    cells cover the city), and the exact distance is tested here (:func:`_within`), before the
    works are built. A 10k upload spread over the city:
    0.1 s on the server instead of 0.6 s for 10k probes of the index by ``ST_DWithin``.
    """
    raw = session.connection().connection.driver_connection
    assert raw is not None
    by_cells = len(new_geoms) >= NEAR_BY_CELLS_MIN
    with raw.cursor(binary=True) as cur:
        if by_cells:
            cur.execute(_NEAR_BY_CELLS_PG, (_cell_boxes(new_geoms, margin),))
        else:
            cur.execute(_NEAR_BY_ID_PG, (margin, sorted(new)))
        found = [row for row in cur.fetchall() if row[0] not in new]
    geoms: Any = shapely.from_wkb([row[-1] for row in found]) if found else np.array([], dtype=object)
    if by_cells and found:
        found, geoms = _only_within(found, geoms, new_geoms, margin)
    if not found:
        return []
    columns = list(zip(*found, strict=True))
    for position, decode in _ENUM_COLUMNS:
        columns[position] = tuple(None if v is None else decode[v] for v in columns[position])
    return list(zip(map(int, columns[0]), works_from_columns(columns, geoms), strict=True))


def _cell_boxes(geoms: Sequence[Any], margin: float) -> list[bytes]:
    """EWKB boxes of the grid cells that the geometries reach (:func:`_grid_cells`)."""
    ordered = np.array(sorted(_grid_cells(geoms, margin) or ()), dtype=np.float64).reshape(-1, 2) * LOCK_CELL_M
    boxes = shapely.box(ordered[:, 0], ordered[:, 1], ordered[:, 0] + LOCK_CELL_M, ordered[:, 1] + LOCK_CELL_M)
    return list(shapely.to_wkb(shapely.set_srid(boxes, SRID), include_srid=True))


def _enum_class(name: str) -> type[StrEnum] | None:
    """The enumeration of the ``works`` column ``name``, if it holds one."""
    found: type[StrEnum] | None = getattr(WorkRow.__table__.c[name].type, "enum_class", None)
    return found


#: ``(position in NEAR_COLUMNS, {stored value: member})`` of the enumerations among them.
_ENUM_COLUMNS = [
    (i, {member.value: member for member in enum})
    for i, name in enumerate(NEAR_COLUMNS)
    if (enum := _enum_class(name)) is not None
]


def _near_work_rows(
    session: Session, new_ids: Sequence[int], new_geoms: Sequence[Any], margin: float
) -> list[tuple[int, Work]]:
    """``(pk, work)`` of the live stored works within ``margin`` of any of ``new_ids`` (these excluded).

    ``new_geoms`` are the geometries of the works ``new_ids``. Only the columns the rule reads
    are loaded (:func:`api.services.convert.works_from_rows`). The distance is exact on both
    databases: PostGIS tests it (:func:`_near_work_rows_pg`), and SpatiaLite's R*Tree compares
    bounding boxes only, so its candidates are tested here (:func:`_within`).
    """
    new = set(new_ids)
    if session.get_bind().dialect.name != "sqlite":
        return _near_work_rows_pg(session, new, margin, new_geoms)
    table = WorkRow.__table__
    cols = near_columns(table)
    found: list[Any] = []
    for chunk in _chunks(sorted(_near_ids(session, WorkRow, "works", new_ids, margin) - new)):
        found.extend(
            session.execute(
                select(*cols, func.AsBinary(table.c.geometry)).where(
                    table.c.id.in_(chunk), table.c.withdrawn.is_(False)
                )
            ).all()
        )
    if not found:
        return []
    found, geoms = _only_within(found, shapely.from_wkb([bytes(r[-1]) for r in found]), new_geoms, margin)
    return [(int(r[0]), w) for r, w in zip(found, works_from_rows(found, geoms), strict=True)]


def _only_within(rows: list[Any], geoms: Any, new_geoms: Sequence[Any], margin: float) -> tuple[list[Any], Any]:
    """The rows (and their geometries, an array) whose geometry lies within ``margin`` of one of ``new_geoms``."""
    keep = _within(new_geoms, geoms, margin)
    return list(itertools.compress(rows, keep.tolist())), geoms[keep]


@without_cyclic_gc
def check_works(
    session: Session,
    rows: Sequence[WorkRow],
    settings: Settings,
    *,
    fresh: Collection[int] = (),
    stamp: tuple[Any, ...] | None = None,
    inline_max: int | None = None,
) -> CheckResult:
    """Recompute the findings and occupancies of ``rows`` against the stored works near them.

    The caller holds :func:`lock_works`; ``rows`` are flushed. Old findings of these works are
    replaced; findings between other works are left alone. ``fresh`` are ids of rows created in
    this transaction (they have no findings yet to forget); ``stamp`` is :func:`roads_stamp`
    when the caller has read it; ``inline_max`` is passed to :func:`store_findings`. The nearby
    works, the findings and their rows are acyclic objects built by the hundred thousand: the
    cyclic garbage collector is paused meanwhile (:mod:`onetrench.gcpause`).
    """
    result = CheckResult()
    t0 = time.perf_counter()
    live = [r for r in rows if not r.withdrawn]
    fresh_ids = set(fresh)
    _forget(session, [r.id for r in rows if r.id not in fresh_ids])
    if not live:
        return result
    live_works = [work_from_row(r) for r in live]
    live_ids = [r.id for r in live]
    stamp = roads_stamp(session) if stamp is None else stamp
    width = stamp[2]
    road_cache = cached_roads(session, stamp)
    new_geoms = [w.geometry for w in live_works]
    roads, road_pk = road_cache.near(new_geoms, width)
    near = _near_work_rows(session, live_ids, new_geoms, width) if width > 0 else []
    result.compared_with = len(near)
    result.roads_considered = len(roads)
    pk_by_key = {r.key: r.id for r in live} | {w.work_id: pk for pk, w in near}
    t1 = time.perf_counter()
    new_keys = {r.key for r in live}
    works = [*live_works, *(w for _, w in near)]
    target = _Target(session, pk_by_key, road_pk)
    if len(live) >= OVERLAP_MIN and session.get_bind().dialect.name == "postgresql":
        result.findings, rule_s = _rule_and_store_overlapped(
            target, works, roads, settings, _strips(live_works, OVERLAP_CHUNK), inline_max=inline_max
        )
        t2 = t1 + rule_s
    else:
        findings, occupancy = run_rule(works, roads, settings, focus=new_keys)
        t2 = time.perf_counter()
        result.findings = target.store(findings, occupancy, new_keys, inline_max=inline_max)
    t3 = time.perf_counter()
    result.timings = {"lookup": t1 - t0, "rule": t2 - t1, "store": t3 - t2}
    return result


#: From this many new or changed works on PostgreSQL, the rule runs over strips of them while a
#: thread stores the findings of the previous strip (the server's work overlaps Python's).
OVERLAP_MIN = 2000
#: Works per strip of an overlapped check.
OVERLAP_CHUNK = 1250


@dataclass
class _Target:
    """Where a check's results go: the session, and the primary keys of works and roads by id."""

    session: Session
    pk_by_key: dict[str, int]
    road_pk: dict[str, int]

    def store(
        self,
        findings: Sequence[Finding],
        occupancy: Sequence[Occupancy],
        focus: AbstractSet[str],
        *,
        inline_max: int | None = None,
    ) -> list[FindingRow]:
        """Insert the occupancies of the works of ``focus`` and ``findings`` (those of ``run_rule(focus=…)``)."""
        insert_occupancies(self.session, self.occupancy_rows(occupancy, focus))
        return store_findings(self.session, findings, self.pk_by_key, inline_max=inline_max)

    def occupancy_rows(self, occupancy: Sequence[Occupancy], focus: AbstractSet[str]) -> list[dict[str, Any]]:
        """The occupancy rows of the works of ``focus``."""
        return [
            {
                "work_pk": self.pk_by_key[occ.work_id],
                "road_pk": self.road_pk[occ.road_id],
                "intervals": [[iv.from_m, iv.to_m] for iv in occ.intervals],
                "offsets_m": list(occ.offsets_m),
                "crossings": list(occ.crossings),
                "length_m": occ.length_m,
            }
            for occ in occupancy
            if occ.work_id in focus and occ.road_id in self.road_pk
        ]


def _strips(works: Sequence[Work], size: int) -> list[set[str]]:
    """The ids of ``works`` in west-to-east strips of about ``size`` works (few pairs cross a strip's edge).

    The last strip is a quarter of the others: once it is evaluated, only its rows are left to
    write, and the check waits for them alone.
    """
    xs = shapely.get_x(shapely.centroid(np.array([w.geometry for w in works], dtype=object)))
    order = np.argsort(xs, kind="stable")
    n = len(works)
    if n <= size:
        return [{w.work_id for w in works}]
    last = max(1, size // 4)
    bounds = [*range(0, n - last, size), n - last, n]
    return [{works[i].work_id for i in order[a:b]} for a, b in itertools.pairwise(bounds) if b > a]


def _rule_and_store_overlapped(
    target: _Target,
    works: list[Work],
    roads: list[Road],
    settings: Settings,
    strips: list[set[str]],
    *,
    inline_max: int | None,
) -> tuple[list[FindingRow], float]:
    """Detect once, then evaluate strip by strip while a thread writes the previous strip's rows.

    Returns the stored findings (in the order stored) and the seconds spent in the rule. The
    union of :func:`evaluate_focus` over the strips is its result for all of them at once; a
    finding naming works of two strips comes from both and is stored once (by its key). This
    thread also makes the rows (:func:`prepare_findings`); the other one only writes them and
    waits for the server. While it runs, only it uses the session. Shaping geometries for the answer
    waits for the end: only an answer of at most ``inline_max`` findings lists them, and those are
    read back in one query.
    """
    from geo.overlap import detect

    batches: queue.Queue[tuple[list[dict[str, Any]], PreparedFindings] | None] = queue.Queue(maxsize=1)
    stored: list[FindingRow] = []
    stored_keys: set[str] = set()
    failed: list[BaseException] = []

    def write() -> None:
        while (batch := batches.get()) is not None:
            if failed:
                continue  # keep taking batches until the end, so that the producer never blocks
            occupancy_rows, prepared = batch
            try:
                insert_occupancies(target.session, occupancy_rows)
                stored.extend(write_findings(target.session, prepared, inline_max=0))
            except BaseException as exc:  # re-raised in the calling thread below
                failed.append(exc)

    writer = threading.Thread(target=write, name="onetrench-check-writer", daemon=True)
    writer.start()
    rule_s = 0.0
    try:
        t = time.perf_counter()
        detection = detect(works, roads, settings=settings, focus=set().union(*strips))
        occupancy = list(detection.occupancy)
        index = FocusIndex(works, roads, occupancy, list(detection.shared))
        off_road = list(detection.off_road)
        rule_s += time.perf_counter() - t
        for focus in strips:
            if failed:
                break
            t = time.perf_counter()
            found = index.evaluate(focus, off_road, settings=settings)
            rule_s += time.perf_counter() - t
            # the rows are made here, the thread only writes: it waits for the server most of the time
            prepared = prepare_findings(found, target.pk_by_key, for_copy=True, stored_keys=stored_keys)
            batches.put((target.occupancy_rows(occupancy, focus), prepared))
    finally:
        batches.put(None)
        writer.join()
    if failed:
        raise failed[0]
    if inline_max is None or len(stored) <= inline_max:
        _shape(target.session, stored)
    return stored, rule_s


def _shape(session: Session, records: list[FindingRow]) -> None:
    """Give read-only finding records (see :func:`_record`) their geometry, read back in one query."""
    if not records:
        return
    ids = [r.id for r in records]
    got: dict[int, Any] = dict(
        session.execute(
            select(FindingRow.id, func.ST_AsEWKB(FindingRow.geometry)).where(
                FindingRow.id == func.any(cast(ids, ARRAY(Integer)))
            )
        ).all()
    )
    _jsonable_data(record.__dict__ for record in records)
    for record in records:
        ewkb = got.get(record.id)
        if ewkb is not None:
            record.__dict__["geometry"] = shaped_element(shapely.from_wkb(bytes(ewkb)), bytes(ewkb))


def store_findings(
    session: Session,
    findings: Sequence[Finding],
    pk_by_key: dict[str, int],
    *,
    inline_max: int | None = None,
    stored_keys: set[str] | None = None,
) -> list[FindingRow]:
    """Insert findings (one row per distinct key) with their links to works, in bulk.

    The caller has removed the earlier findings of these works under :func:`lock_works`, so no
    stored finding has the same key (the unique key would refuse a duplicate). On PostgreSQL the
    ids are drawn from the sequence in one query and findings and links are written with
    ``COPY``; on SQLite with one multi-row ``INSERT … RETURNING`` per 1000 findings
    ("insertmanyvalues") and one ``executemany``. The returned rows are read-only records built
    from the values written (no second read, see :func:`_record`), not attached to the session.
    Above ``inline_max`` findings their ``geometry`` is left out (``None``): an answer that large
    only counts them (``findings_summary``), and shaping 100k geometries costs about a second.
    With ``stored_keys``, findings whose key is in it are left out, and the keys stored are added.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    prepared = prepare_findings(findings, pk_by_key, for_copy=postgres, stored_keys=stored_keys)
    return write_findings(session, prepared, inline_max=inline_max)


@dataclass
class PreparedFindings:
    """Findings made ready to write (:func:`prepare_findings`): all but their database ids."""

    #: The finding and its column values, by key, in the order given.
    unique: dict[str, tuple[Finding, dict[str, Any]]]
    #: Geometries (``None`` when empty) and their EWKB, in the same order.
    geoms: list[Any]
    wkb: Any
    #: Primary keys of the works each finding names (sorted).
    work_pks: list[list[int]]
    #: ``COPY`` rows without their leading id (PostgreSQL, more than :data:`SMALL_INSERT_MAX`).
    copy_rows: list[tuple[Any, ...]] | None
    now: Any
    #: ``data`` of the values is the findings' own (see :func:`prepare_findings`).
    data_as_given: bool = False


def prepare_findings(
    findings: Sequence[Finding],
    pk_by_key: dict[str, int],
    *,
    for_copy: bool,
    stored_keys: set[str] | None = None,
) -> PreparedFindings:
    """The values of the rows and links of ``findings`` (no database access: any thread may run it).

    ``for_copy``: also the binary ``COPY`` rows, when there are more than :data:`SMALL_INSERT_MAX`
    (PostgreSQL's bulk path); the records' ``data`` are then made JSON-compatible only if they
    are shown (:func:`write_findings`, :func:`_shape`). With ``stored_keys``, findings whose key is
    in it are left out, and their keys are added.
    """
    unique: dict[str, tuple[Finding, dict[str, Any]]] = {}
    skip: AbstractSet[str] = stored_keys if stored_keys is not None else frozenset()
    for finding in findings:
        values = finding_values(finding, with_geometry=False, data_as_given=for_copy)
        key = values["key"]
        if key not in unique and key not in skip:
            unique[key] = (finding, values)
    if stored_keys is not None:
        stored_keys.update(unique)
    now = utcnow()
    garr = np.array([f.geometry for f, _ in unique.values()], dtype=object)
    if len(garr):
        garr[shapely.is_empty(garr)] = None
    wkb = shapely.to_wkb(shapely.set_srid(garr, SRID), include_srid=True) if len(garr) else []
    work_pks = []
    for finding, values in unique.values():
        values["created_at"] = now
        work_pks.append(sorted({pk_by_key[k] for k in finding.work_ids if k in pk_by_key}))
    rows = None
    if for_copy and len(unique) > SMALL_INSERT_MAX:
        rows = [
            (
                rec["key"],
                rec["kind"].value,
                rec["severity"].value,
                json_text(rec["work_keys"]),
                rec["road_id"],
                rec["road_name"],
                rec["zh"],
                rec["en"],
                rec["fix_zh"],
                rec["fix_en"],
                json_text(rec["measures"]),
                jsonable_text(rec["data"]),
                w,
                now,
            )
            for (_, rec), w in zip(unique.values(), wkb, strict=True)
        ]
    return PreparedFindings(
        unique=unique, geoms=garr.tolist(), wkb=wkb, work_pks=work_pks, copy_rows=rows, now=now, data_as_given=for_copy
    )


def write_findings(session: Session, prepared: PreparedFindings, *, inline_max: int | None = None) -> list[FindingRow]:
    """Write prepared findings and their links (see :func:`store_findings`); their read-only records."""
    unique, wkb, geoms = prepared.unique, prepared.wkb, prepared.geoms
    if not unique:
        return []
    session.flush()
    records = [values for _, values in unique.values()]
    shaped = inline_max is None or len(records) <= inline_max
    if prepared.data_as_given and shaped:
        _jsonable_data(records)
    if prepared.copy_rows is None and session.get_bind().dialect.name == "postgresql":
        return _insert_small_pg(
            session, unique, records=records, wkb=wkb, geoms=geoms, work_pks=prepared.work_pks, now=prepared.now
        )
    if prepared.copy_rows is not None:
        ids = next_ids(session, "findings", len(records))
        copy_by_spec(
            session,
            "findings",
            FINDING_COPY_SPEC,
            ((fid, *row) for fid, row in zip(ids, prepared.copy_rows, strict=True)),
        )
    else:
        rows = [
            rec | {"geometry": None if w is None else WKBElement(w, srid=SRID, extended=True)}
            for rec, w in zip(records, wkb, strict=True)
        ]
        ids = list(session.scalars(insert(FindingRow).returning(FindingRow.id, sort_by_parameter_order=True), rows))
    out: list[FindingRow] = []
    finding_ids: list[int] = []
    work_pks: list[int] = []
    for fid, rec, w, g, pks in zip(ids, records, wkb, geoms, prepared.work_pks, strict=True):
        out.append(_record(rec, fid, shaped_element(g, w) if shaped and g is not None else None))
        finding_ids.extend([fid] * len(pks))
        work_pks.extend(pks)
    insert_links(session, finding_ids, work_pks)
    return out


def _jsonable_data(records: Iterable[dict[str, Any]]) -> None:
    """Make the ``data`` of finding values JSON-compatible, as read back from the database."""
    for rec in records:
        rec["data"] = jsonable(rec["data"])


def _record(values: dict[str, Any], fid: int, geometry: WKBElement | None) -> FindingRow:
    """A read-only record of a stored finding: a ``FindingRow`` carrying its column values only.

    It is built without SQLAlchemy instance state (about 10 µs less per finding, a second per
    100k): column attributes read from its ``__dict__``; it must not be added to a session, and
    its ``works`` relationship is not there (the links are in ``finding_works``).
    """
    row: FindingRow = object.__new__(FindingRow)
    row.__dict__.update(values)
    row.__dict__["id"] = fid
    row.__dict__["geometry"] = geometry
    return row


#: Up to this many findings, PostgreSQL gets them and their links in one statement (no ``COPY``).
SMALL_INSERT_MAX = 500

_TEXT_COLUMNS = ("key", "kind", "severity", "work_keys", "road_id", "road_name", "zh", "en", "fix_zh", "fix_en")

_INSERT_SMALL = text(
    "WITH f AS ("
    " INSERT INTO findings (key, kind, severity, work_keys, road_id, road_name, zh, en, fix_zh, fix_en,"
    " measures, data, geometry, created_at)"
    " SELECT u.key, u.kind, u.severity, CAST(u.work_keys AS json), u.road_id, u.road_name, u.zh, u.en,"
    " u.fix_zh, u.fix_en, CAST(u.measures AS json), CAST(u.data AS json), ST_GeomFromEWKB(u.geom), :now"
    " FROM unnest(CAST(:key AS text[]), CAST(:kind AS text[]), CAST(:severity AS text[]),"
    " CAST(:work_keys AS text[]), CAST(:road_id AS text[]), CAST(:road_name AS text[]), CAST(:zh AS text[]),"
    " CAST(:en AS text[]), CAST(:fix_zh AS text[]), CAST(:fix_en AS text[]), CAST(:measures AS text[]),"
    " CAST(:data AS text[]), CAST(:geom AS bytea[]))"
    " AS u(key, kind, severity, work_keys, road_id, road_name, zh, en, fix_zh, fix_en, measures, data, geom)"
    " RETURNING id, key"
    "), l AS ("
    " INSERT INTO finding_works (finding_id, work_pk)"
    " SELECT f.id, x.work_pk FROM f JOIN unnest(CAST(:lkey AS text[]), CAST(:lwork AS int[])) AS x(key, work_pk)"
    " ON x.key = f.key"
    ") SELECT id, key FROM f"
)


def _insert_small_pg(
    session: Session,
    unique: dict[str, tuple[Finding, dict[str, Any]]],
    *,
    records: list[dict[str, Any]],
    wkb: Any,
    geoms: list[Any],
    work_pks: list[list[int]],
    now: Any,
) -> list[FindingRow]:
    """Findings and their links in one round trip (arrays ``unnest``-ed into two inserts)."""
    params: dict[str, Any] = {c: [copy_value(rec[c]) for rec in records] for c in _TEXT_COLUMNS}
    params["measures"] = [copy_value(rec["measures"]) for rec in records]
    params["data"] = [copy_value(rec["data"]) for rec in records]
    params["geom"] = [None if w is None else bytes(w) for w in wkb]
    params["now"] = now
    lkey: list[str] = []
    lwork: list[int] = []
    for key, pks in zip(unique, work_pks, strict=True):
        lkey.extend([key] * len(pks))
        lwork.extend(pks)
    params["lkey"] = lkey
    params["lwork"] = lwork
    id_of = {key: int(fid) for fid, key in session.execute(_INSERT_SMALL, params)}
    out = [
        _record(rec, id_of[rec["key"]], None if g is None else shaped_element(g, w))
        for rec, w, g in zip(records, wkb, geoms, strict=True)
    ]
    out.sort(key=lambda r: r.id)
    return out


#: ``(column, kind)`` of a finding's row, its id apart: the order of the rows :func:`prepare_findings`
#: makes for ``COPY``, and of the findings that :mod:`api.services.upload_pg` inserts.
FINDING_SPEC: tuple[tuple[str, str], ...] = (
    ("key", "text"),
    ("kind", "text"),
    ("severity", "text"),
    ("work_keys", "json"),
    ("road_id", "text"),
    ("road_name", "text"),
    ("zh", "text"),
    ("en", "text"),
    ("fix_zh", "text"),
    ("fix_en", "text"),
    ("measures", "json"),
    ("data", "json"),
    ("geometry", "geometry"),
    ("created_at", "timestamptz"),
)
#: A finding's row as :func:`write_findings` copies it: its id first.
FINDING_COPY_SPEC: tuple[tuple[str, str], ...] = (("id", "int"), *FINDING_SPEC)

#: psycopg's type for each kind of column in a binary ``COPY``: JSON is sent as text, geometries as
#: EWKB bytes (what a ``geometry`` column reads in binary).
_BINARY_TYPE = {
    "int": "int4",
    "text": "text",
    "date": "date",
    "float8": "float8",
    "bool": "bool",
    "json": "text",
    "timestamptz": "timestamptz",
    "geometry": "bytea",
}


def copy_by_spec(session: Session, table: str, spec: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]) -> None:
    """Binary :func:`copy_rows` of rows whose values follow ``spec`` (``(column, kind)`` pairs)."""
    copy_rows(session, table, [name for name, _ in spec], rows, binary_types=[_BINARY_TYPE[kind] for _, kind in spec])


def copy_value(value: Any) -> Any:
    """A Python value as ``COPY`` takes it: enums by value, JSON (lists, dicts) as text."""
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, list | dict):
        return json_text(value)
    return value


def next_ids(session: Session, table: str, n: int) -> list[int]:
    """Draw ``n`` ids from the serial sequence of ``table`` (PostgreSQL) in one query.

    They come back as one array (a row per id costs ~4 µs each in the driver: 0.4 s for 100k).
    """
    ids = session.scalar(
        text("SELECT ARRAY(SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n))"),
        {"t": table, "n": n},
    )
    return [int(i) for i in ids]


def copy_rows(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    binary_types: Sequence[str] | None = None,
) -> None:
    """Write rows with PostgreSQL's ``COPY … FROM STDIN`` on the session's connection (same transaction).

    With ``binary_types`` (a PostgreSQL type name per column, for psycopg's dumpers), in binary
    format: text is sent as UTF-8 without escaping, and ``bytes`` as they are, which a ``json``
    column takes as its text and a ``geometry`` column as (E)WKB.

    The data is sent as it is formatted (32 kB at a time): the server parses and indexes rows
    while Python formats the next ones. (psycopg's ``QueuedLibpqWriter`` would send from a thread
    of its own; in the overlapped check, already on a writer thread, its hand-offs of the GIL cost
    the evaluating thread ~0.5 s of a 10k upload.)
    """
    with _copy_in(session, table, columns, binary=binary_types is not None) as copy:
        if binary_types is not None:
            copy.set_types(list(binary_types))
        for row in rows:
            copy.write_row(row)


@contextlib.contextmanager
def _copy_in(session: Session, table: str, columns: Sequence[str], *, binary: bool = False) -> Iterator[Any]:
    """Psycopg's ``Copy`` of ``COPY table (columns) FROM STDIN`` on the session's connection."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    cols = ", ".join(f'"{c}"' for c in columns)
    options = " (FORMAT BINARY)" if binary else ""
    with raw.cursor() as cur, cur.copy(f'COPY "{table}" ({cols}) FROM STDIN{options}') as copy:
        yield copy


def insert_links(session: Session, finding_ids: list[int], work_pks: list[int]) -> None:
    """Insert ``finding_works`` rows ``(finding_ids[i], work_pks[i])``: ``COPY`` on PostgreSQL."""
    if not finding_ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        # two integers per row need no escaping: the COPY text is written directly (a 10k upload's
        # 230k links in ~0.1 s instead of ~0.5 s of write_row)
        with _copy_in(session, "finding_works", ["finding_id", "work_pk"]) as copy:
            for i in range(0, len(finding_ids), 20_000):
                block = zip(finding_ids[i : i + 20_000], work_pks[i : i + 20_000], strict=True)
                copy.write("".join([f"{int(f)}\t{int(w)}\n" for f, w in block]))
    else:
        session.execute(
            insert(FindingWork), [{"finding_id": f, "work_pk": w} for f, w in zip(finding_ids, work_pks, strict=True)]
        )


def insert_occupancies(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert occupancy rows: one ``unnest`` insert or ``COPY`` (many) on PostgreSQL, ``executemany`` on SQLite."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql" and len(rows) <= SMALL_INSERT_MAX:
        session.execute(
            text(
                "INSERT INTO occupancies (work_pk, road_pk, intervals, offsets_m, crossings, length_m) "
                "SELECT w, r, CAST(i AS json), CAST(o AS json), CAST(c AS json), n FROM unnest(CAST(:w AS int[]), "
                "CAST(:r AS int[]), CAST(:i AS text[]), CAST(:o AS text[]), CAST(:c AS text[]), "
                "CAST(:n AS float8[])) AS u(w, r, i, o, c, n)"
            ),
            {
                "w": [r["work_pk"] for r in rows],
                "r": [r["road_pk"] for r in rows],
                "i": [json_text(r["intervals"]) for r in rows],
                "o": [json_text(r["offsets_m"]) for r in rows],
                "c": [json_text(r["crossings"]) for r in rows],
                "n": [float(r["length_m"]) for r in rows],
            },
        )
    elif session.get_bind().dialect.name == "postgresql":
        cols = ["work_pk", "road_pk", "intervals", "offsets_m", "crossings", "length_m"]
        copy_rows(session, "occupancies", cols, ([copy_value(r[c]) for c in cols] for r in rows))
    else:
        session.execute(insert(OccupancyRow), rows)


_FORGET_PG = text(
    "WITH ids AS (SELECT DISTINCT finding_id FROM finding_works WHERE work_pk = ANY(CAST(:w AS int[]))), "
    "l AS (DELETE FROM finding_works WHERE finding_id IN (SELECT finding_id FROM ids)), "
    "f AS (DELETE FROM findings WHERE id IN (SELECT finding_id FROM ids)), "
    "o AS (DELETE FROM occupancies WHERE work_pk = ANY(CAST(:w AS int[]))) "
    "SELECT count(*) FROM ids"
)


def _forget(session: Session, work_pks: Sequence[int]) -> None:
    """Delete the findings and occupancies of these works."""
    if not work_pks:
        return
    if session.get_bind().dialect.name == "postgresql":
        # one statement, the ids as one array parameter (a re-upload of 10k works: ~100k findings)
        session.flush()
        session.execute(_FORGET_PG, {"w": sorted(set(work_pks))})
        session.flush()
        return
    for chunk in _chunks(list(work_pks)):
        finding_ids = sorted(set(session.scalars(select(FindingWork.finding_id).where(FindingWork.work_pk.in_(chunk)))))
        for ids in _chunks(finding_ids):
            session.execute(
                delete(FindingWork).where(FindingWork.finding_id.in_(ids)),
                execution_options={"synchronize_session": False},
            )
            session.execute(
                delete(FindingRow).where(FindingRow.id.in_(ids)), execution_options={"synchronize_session": False}
            )
        session.execute(
            delete(OccupancyRow).where(OccupancyRow.work_pk.in_(chunk)),
            execution_options={"synchronize_session": False},
        )
    session.flush()

"""The incremental check: compare new or changed works with the stored works near them.

Only the stored works and roads near the new works are loaded, through the database's spatial
index (GiST and ``ST_DWithin`` on PostGIS; the R*Tree of the geometry column on SpatiaLite,
refined exactly with shapely). Two works can share a road only if both lie in its corridor, so
they are never further apart than the widest road's red-line width: that is the search radius.

Checks that must see each other's results (two uploads at once) are serialised by
:func:`lock_works`, so a finding is never lost nor stored twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import shapely
from sqlalchemy import Select, delete, func, select, text, update
from sqlalchemy.orm import Session

from api.models import FindingRow, FindingWork, OccupancyRow, RoadRow, ServiceLock, WorkRow, utcnow
from api.services.convert import finding_values, road_from_row, work_from_row
from api.services.geometry import from_db
from onetrench.domain import Finding, Occupancy, Road, Work
from onetrench.settings import Settings

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
    session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": GLOBAL_LOCK_KEY})
    ordered = sorted(cells)
    session.execute(
        text(
            "SELECT count(pg_advisory_xact_lock(c.a, c.b)) FROM "
            "(SELECT * FROM unnest(CAST(:a AS int[]), CAST(:b AS int[])) AS u(a, b) ORDER BY a, b) AS c"
        ),
        {"a": [a for a, _ in ordered], "b": [b for _, b in ordered]},
    )


def _cells(geometries: Sequence[Any], margin: float) -> set[tuple[int, int]] | None:
    import math

    cells: set[tuple[int, int]] = set()
    for geom in geometries:
        if geom is None or geom.is_empty:
            continue
        minx, miny, maxx, maxy = geom.bounds
        x0, x1 = math.floor((minx - margin) / LOCK_CELL_M), math.floor((maxx + margin) / LOCK_CELL_M)
        y0, y1 = math.floor((miny - margin) / LOCK_CELL_M), math.floor((maxy + margin) / LOCK_CELL_M)
        if (x1 - x0 + 1) * (y1 - y0 + 1) > MAX_CELL_LOCKS:
            return None
        cells.update(
            ((ix % 2**31) - 2**30, (iy % 2**31) - 2**30) for ix in range(x0, x1 + 1) for iy in range(y0, y1 + 1)
        )
        if len(cells) > MAX_CELL_LOCKS:
            return None
    return cells


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i : i + CHUNK])


def max_road_width(session: Session) -> float:
    """The widest red-line width stored (0 without roads)."""
    return float(session.scalar(select(func.max(RoadRow.width_m))) or 0.0)


def _near_ids_sqlite(session: Session, table: str, column: str, new_ids: list[int], margin: float) -> set[int]:
    sql = text(
        f"SELECT DISTINCT idx.pkid FROM works AS n, idx_{table}_{column} AS idx "
        "WHERE n.id IN (SELECT value FROM json_each(:ids)) "
        "AND idx.xmin <= MbrMaxX(n.geometry) + :m AND idx.xmax >= MbrMinX(n.geometry) - :m "
        "AND idx.ymin <= MbrMaxY(n.geometry) + :m AND idx.ymax >= MbrMinY(n.geometry) - :m"
    )
    import json

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
    """What a check found for the works it was asked about."""

    findings: list[FindingRow] = field(default_factory=list)
    compared_with: int = 0
    roads_considered: int = 0


def _within(geoms: list[Any], others: list[Any], margin: float) -> list[bool]:
    """For each of ``others``, whether it lies within ``margin`` of any of ``geoms`` (exact)."""
    if not others:
        return []
    tree = shapely.STRtree(geoms)
    hit = tree.query(others, predicate="dwithin", distance=margin)
    flags = [False] * len(others)
    for j in set(hit[0].tolist()):
        flags[j] = True
    return flags


@dataclass
class _Detection:
    """A detection result narrowed to what concerns some works (the shape ``run_plan`` reads)."""

    occupancy: list[Occupancy]
    shared: list[Any]
    off_road: list[Any]
    outside_district: list[Any] = field(default_factory=list)


def run_rule(
    works: list[Work], roads: list[Road], settings: Settings, *, focus: set[str] | None = None
) -> tuple[list[Finding], list[Occupancy]]:
    """Run the detector and the scheduling rule on plain domain objects (adapter over geo/ and scheduling/).

    With ``focus`` (work ids), the rule is run only over the works of ``focus`` and those sharing a
    road with them: pairs between other works are not evaluated (their findings are not wanted).
    """
    from geo.overlap import detect
    from scheduling.plan import run_plan

    detection = detect(works, roads, settings=settings)
    occupancy = detection.occupancy
    occ_list: list[Occupancy] = list(occupancy.values()) if isinstance(occupancy, dict) else list(occupancy)
    if focus is None:
        result = run_plan(works, roads, detection, settings=settings)
        return list(result.findings), occ_list
    shared = [s for s in detection.shared if focus & set(s.work_ids)]
    involved = set(focus) | {w for s in shared for w in s.work_ids}
    narrowed = _Detection(
        occupancy=[o for o in occ_list if o.work_id in involved],
        shared=shared,
        off_road=[p for p in detection.off_road if getattr(p, "work_id", None) in focus],
        outside_district=[
            p for p in getattr(detection, "outside_district", ()) or () if getattr(p, "work_id", None) in focus
        ],
    )
    subset = [w for w in works if w.work_id in involved]
    road_ids = {o.road_id for o in narrowed.occupancy}
    result = run_plan(subset, [r for r in roads if r.road_id in road_ids], narrowed, settings=settings)
    return list(result.findings), occ_list


def check_works(session: Session, rows: Sequence[WorkRow], settings: Settings) -> CheckResult:
    """Recompute the findings and occupancies of ``rows`` against the stored works near them.

    The caller holds :func:`lock_works`; ``rows`` are flushed. Old findings of these works are
    replaced; findings between other works are left alone.
    """
    result = CheckResult()
    live = [r for r in rows if not r.withdrawn]
    _forget(session, [r.id for r in rows])
    if not live:
        return result
    live_ids = [r.id for r in live]
    width = max_road_width(session)
    road_rows = _load(session, RoadRow, near_road_ids(session, live_ids, width / 2.0)) if width > 0 else []
    candidates = near_work_ids(session, live_ids, width) if width > 0 else set(live_ids)
    others = [r for r in _load(session, WorkRow, candidates - set(live_ids)) if not r.withdrawn]
    new_geoms = [from_db(r.geometry) for r in live]
    other_geoms = [from_db(r.geometry) for r in others]
    keep = _within(new_geoms, other_geoms, width)
    others = [r for r, k in zip(others, keep, strict=True) if k]
    result.compared_with = len(others)
    result.roads_considered = len(road_rows)
    works = [work_from_row(r) for r in [*live, *others]]
    roads = [road_from_row(r) for r in road_rows]
    findings, occupancy = run_rule(works, roads, settings, focus={r.key for r in live})
    pk_by_key = {r.key: r.id for r in [*live, *others]}
    road_pk = {r.road_id: r.id for r in road_rows}
    new_keys = {r.key for r in live}
    for occ in occupancy:
        if occ.work_id in new_keys and occ.road_id in road_pk:
            session.add(
                OccupancyRow(
                    work_pk=pk_by_key[occ.work_id],
                    road_pk=road_pk[occ.road_id],
                    intervals=[[iv.from_m, iv.to_m] for iv in occ.intervals],
                    offsets_m=list(occ.offsets_m),
                    crossings=list(occ.crossings),
                    length_m=occ.length_m,
                )
            )
    result.findings = store_findings(session, [f for f in findings if new_keys & set(f.work_ids)], pk_by_key)
    return result


def store_findings(session: Session, findings: Sequence[Finding], pk_by_key: dict[str, int]) -> list[FindingRow]:
    """Insert findings (one row per distinct key) with their links to works, in bulk.

    The caller has removed the earlier findings of these works under :func:`lock_works`, so no
    stored finding has the same key (the unique key would refuse a duplicate).
    """
    from sqlalchemy import insert

    rows: list[dict[str, Any]] = []
    links: dict[str, list[int]] = {}
    now = utcnow()
    for finding in findings:
        values = finding_values(finding)
        if values["key"] in links:
            continue
        links[values["key"]] = sorted({pk_by_key[k] for k in finding.work_ids if k in pk_by_key})
        rows.append(values | {"created_at": now})
    if not rows:
        return []
    session.flush()
    # Plain executemany (psycopg pipelines it); ids are read back by key.
    session.execute(insert(FindingRow), rows)
    ids: list[int] = []
    keys = list(links)
    for i in range(0, len(keys), 900):
        pairs = session.execute(select(FindingRow.id, FindingRow.key).where(FindingRow.key.in_(keys[i : i + 900])))
        link_rows: list[dict[str, int]] = []
        for fid, key in pairs:
            ids.append(fid)
            link_rows.extend({"finding_id": fid, "work_pk": pk} for pk in links[key])
        if link_rows:
            session.execute(insert(FindingWork), link_rows)
    out: list[FindingRow] = []
    for chunk in _chunks(ids):
        out.extend(session.scalars(select(FindingRow).where(FindingRow.id.in_(chunk))))
    out.sort(key=lambda r: r.id)
    return out


def _forget(session: Session, work_pks: Sequence[int]) -> None:
    """Delete the findings and occupancies of these works."""
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

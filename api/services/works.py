"""Works: store an intake, list, read, update and withdraw, with least disclosure.

A utility sees its own works in full. Of another organisation's work it sees only the stretches
shared with its own works (the geometry of the shared-road findings linking them), never the
full route, and not its contact. The planning bureau sees everything. Every change of a work
appends a :class:`~api.models.WorkVersion`; nothing is overwritten.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import (
    SRID,
    BundleRow,
    BundleStatus,
    BundleWork,
    ChangeKind,
    FindingRow,
    FindingWork,
    Role,
    WorkRow,
    WorkVersion,
    utcnow,
)
from api.services import audit, upload_pg
from api.services.auth import Principal
from api.services.check import (
    FINDING_SPEC,
    _record,
    cached_roads,
    check_works,
    copy_by_spec,
    copy_value,
    lock_works,
    max_road_width,
    next_ids,
    prepare_findings,
    roads_stamp,
    run_rule,
)
from api.services.convert import (
    WORK_FIELDS,
    apply_work,
    json_text,
    jsonable,
    snapshot,
    work_from_row,
    work_key,
)
from api.services.geometry import from_db, shaped_element
from onetrench.domain import ExcavationMethod, FindingKind, Work
from onetrench.errors import Forbidden, InputError, NotFound, Problem
from onetrench.gcpause import without_cyclic_gc
from onetrench.settings import Settings

#: Findings whose geometry is a stretch two works share (what another utility may see).
SHARED_KINDS = (FindingKind.SAME_ROAD_SAME_PERIOD, FindingKind.SAME_ROAD_DIFFERENT_PERIOD)


@dataclass
class WorkView:
    """A work as the caller may see it: in full, or redacted to the stretches it shares."""

    row: WorkRow
    geometry: BaseGeometry | None
    redacted: bool


@dataclass
class UploadOutcome:
    """The result of storing an upload."""

    works: list[WorkRow] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    findings: list[FindingRow] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    #: Id of the upload (its audit event) when it has more findings than the answer lists inline.
    upload_id: int | None = None


#: From this many new works of one upload on, PostgreSQL gets them (and their first versions) by ``COPY``.
BULK_MIN = 50

#: Below ``BULK_MIN`` new works, PostgreSQL stores and checks them in a few statements
#: (:mod:`api.services.upload_pg`); off, they take the ORM path (tests compare the two).
SMALL_FAST_PATH = True

#: Columns of a new work written by ``COPY`` (geometry apart), in the order of ``upload_pg.WORK_SPEC``.
_COPY_COLUMNS = tuple(name for name, _ in upload_pg.WORK_SPEC if name != "geometry")


def _ewkb(geoms: list[Any]) -> list[bytes]:
    """EWKB of geometries in the working CRS (with its SRID), as the bulk paths send them."""
    return list(shapely.to_wkb(shapely.set_srid(np.array(geoms, dtype=object), SRID), include_srid=True).tolist())


def _first_version_records(
    ids: list[int], items: list[tuple[str, Work]], org_id: int, now: dt.datetime
) -> list[dict[str, Any]]:
    """Column values of the ``works`` rows of new works (``(key, work)``), as both bulk paths write them."""
    records: list[dict[str, Any]] = []
    for pk, (key, work) in zip(ids, items, strict=True):
        rec: dict[str, Any] = {"id": pk, "key": key, "org_id": org_id, "work_id": work.work_id}
        rec.update((name, getattr(work, name)) for name in WORK_FIELDS)
        rec.update(
            attributes=jsonable(dict(work.attributes)), version=1, withdrawn=False, created_at=now, updated_at=now
        )
        records.append(rec)
    return records


@without_cyclic_gc
def _copy_new_works(
    session: Session, principal: Principal, fresh: list[tuple[str, Work]], now: dt.datetime
) -> list[WorkRow]:
    """Write new works and their first versions with ``COPY`` (PostgreSQL).

    Returns read-only records of the rows written (see :func:`_work_record`; no second read).
    """
    ids = next_ids(session, "works", len(fresh))
    geoms = [w.geometry for _, w in fresh]
    ewkb = _ewkb(geoms)
    records = _first_version_records(ids, fresh, principal.org_id, now)
    copy_by_spec(
        session,
        "works",
        upload_pg.WORK_SPEC,
        ([*(copy_value(rec[c]) for c in _COPY_COLUMNS), g] for rec, g in zip(records, ewkb, strict=True)),
    )
    copy_by_spec(
        session,
        "work_versions",
        upload_pg.VERSION_SPEC,
        (
            (
                rec["id"],
                1,
                ChangeKind.CREATED.value,
                json_text(snapshot(SimpleNamespace(**rec))),  # type: ignore[arg-type]
                g,
                False,
                principal.token_id,
                now,
            )
            for rec, g in zip(records, ewkb, strict=True)
        ),
    )
    return [_work_record(rec, shaped_element(g, w)) for rec, g, w in zip(records, geoms, ewkb, strict=True)]


def _not_found(work_ref: object) -> NotFound:
    return NotFound(f"工程 {work_ref} 不存在或无权查看", f"work {work_ref} does not exist or is not visible to you")


def _add_version(session: Session, row: WorkRow, change: ChangeKind, principal: Principal | None) -> None:
    session.add(
        WorkVersion(
            work_pk=row.id,
            version=row.version,
            change=change,
            snapshot=snapshot(row),
            geometry=row.geometry,
            withdrawn=row.withdrawn,
            token_id=principal.token_id if principal else None,
            changed_at=utcnow(),
        )
    )


def store_works(
    session: Session, principal: Principal, works: list[Work], *, settings: Settings, source: str = "upload"
) -> UploadOutcome:
    """Store validated works of the caller's organisation and check them against everything stored.

    A work whose 工程编号 the organisation already has becomes a new version of it.

    Raises
    ------
    Forbidden
        The caller is not a utility.
    """
    principal.require(Role.UTILITY, action_zh="上传工程", action_en="uploading works")
    outcome = UploadOutcome()
    latest: dict[str, Work] = {}
    for given in works:
        work = given if given.owner.strip() else dataclasses.replace(given, owner=principal.org_name)
        latest[work_key(principal.org_code, work.work_id)] = work
    existing: dict[str, WorkRow] = {}
    keys = list(latest)
    if SMALL_FAST_PATH and 0 < len(keys) < BULK_MIN and session.get_bind().dialect.name == "postgresql":
        stamp, stored, new_ids = upload_pg.prelude(session, keys)
        if not stored:
            return _store_new_small_pg(session, principal, latest, new_ids, stamp, settings=settings, source=source)
    for i in range(0, len(keys), 900):
        existing.update((r.key, r) for r in session.scalars(select(WorkRow).where(WorkRow.key.in_(keys[i : i + 900]))))
    geometries = [w.geometry for w in latest.values()] + [from_db(r.geometry) for r in existing.values()]
    stamp = roads_stamp(session)
    lock_works(session, geometries, margin=stamp[2])
    now = utcnow()
    rows: list[tuple[WorkRow, ChangeKind]] = []
    changed_rule: list[WorkRow] = []
    fresh = [(key, work) for key, work in latest.items() if key not in existing]
    copied: list[WorkRow] = []
    if len(fresh) >= BULK_MIN and session.get_bind().dialect.name == "postgresql":
        copied = _copy_new_works(session, principal, fresh, now)
        outcome.created += len(copied)
    for key, work in latest.items():
        row = existing.get(key)
        if row is None and copied:
            continue
        if row is None:
            row = WorkRow(
                key=key, org_id=principal.org_id, work_id=work.work_id, version=1, withdrawn=False, created_at=now
            )
            apply_work(row, work)
            row.updated_at = now
            session.add(row)
            rows.append((row, ChangeKind.CREATED))
            outcome.created += 1
        else:
            before = rule_signature(row)
            apply_work(row, work)
            if rule_signature(row) != before:
                changed_rule.append(row)
            row.version += 1
            row.withdrawn = False
            row.updated_at = now
            rows.append((row, ChangeKind.UPDATED))
            outcome.updated += 1
    session.flush()
    for row, change in rows:
        _add_version(session, row, change, principal)
    session.flush()
    rows.extend((row, ChangeKind.CREATED) for row in copied)
    supersede_bundles(session, [row.id for row in changed_rule])
    created_ids = [row.id for row, change in rows if change is ChangeKind.CREATED]
    # the road stamp is read again under the lock: a road load may have committed since
    check = check_works(
        session,
        [row for row, _ in rows],
        settings,
        fresh=created_ids,
        inline_max=settings.upload_findings_inline_max,
    )
    outcome.findings = check.findings
    outcome.timings = dict(check.timings)
    outcome.works = sorted((row for row, _ in rows), key=lambda r: r.id)
    detail: dict[str, Any] = {"created": outcome.created, "updated": outcome.updated, "findings": len(outcome.findings)}
    large = len(outcome.findings) > settings.upload_findings_inline_max
    if large:
        # the answer will only count the findings: they are read by GET /findings?upload=<event id>
        detail["work_pks"] = [row.id for row in outcome.works]
    event = audit.record(session, principal, "works.upload", source, detail=detail)
    if large:
        session.flush()
        outcome.upload_id = event.id
    return outcome


def _store_new_small_pg(
    session: Session,
    principal: Principal,
    latest: dict[str, Work],
    new_ids: list[int],
    stamp: tuple[Any, ...],
    *,
    settings: Settings,
    source: str,
) -> UploadOutcome:
    """:func:`store_works` of a few new works on PostgreSQL in three statements (see :mod:`api.services.upload_pg`).

    Stores the same rows as the ORM path: the works and their first versions, then what
    :func:`api.services.check.check_works` stores (occupancies, findings, links), and the audit event.
    """
    outcome = UploadOutcome()
    t0 = time.perf_counter()
    items = list(latest.items())
    geoms = [work.geometry for _, work in items]
    lock_works(session, geoms, margin=stamp[2])
    now = utcnow()
    ewkb = _ewkb(geoms)
    records = _first_version_records(new_ids, items, principal.org_id, now)
    # the stamp is read again under the lock: a road load may have committed since
    stamp, near = upload_pg.near_works(session, ewkb)  # exact (ST_DWithin): no second test here
    road_cache = cached_roads(session, stamp)
    roads, road_pk = road_cache.near(geoms, stamp[2])
    new_keys = set(latest)
    pk_by_key = {key: rec["id"] for key, rec in zip(latest, records, strict=True)} | {w.work_id: pk for pk, w in near}
    live_works = [
        dataclasses.replace(work, work_id=key, attributes=rec["attributes"])
        for (key, work), rec in zip(items, records, strict=True)
    ]
    t1 = time.perf_counter()
    found, occupancy = run_rule([*live_works, *(w for _, w in near)], roads, settings, focus=new_keys)
    t2 = time.perf_counter()
    occ_rows = [
        (
            pk_by_key[occ.work_id],
            road_pk[occ.road_id],
            [[iv.from_m, iv.to_m] for iv in occ.intervals],
            list(occ.offsets_m),
            list(occ.crossings),
            float(occ.length_m),
        )
        for occ in occupancy
        if occ.work_id in new_keys and occ.road_id in road_pk
    ]
    # run_rule(focus=) returns only the findings naming a new work
    prepared = prepare_findings(found, pk_by_key, for_copy=False)
    unique, fgeoms, fwkb = prepared.unique, prepared.geoms, prepared.wkb
    finding_rows = [
        (*(values[name] for name, _ in FINDING_SPEC[:12]), w, values["created_at"])
        for (_, values), w in zip(unique.values(), fwkb, strict=True)
    ]
    links = [(key, pk) for key, pks in zip(unique, prepared.work_pks, strict=True) for pk in pks]
    n_findings = len(unique)
    detail: dict[str, Any] = {"created": len(records), "updated": 0, "findings": n_findings}
    large = n_findings > settings.upload_findings_inline_max
    if large:
        detail["work_pks"] = [rec["id"] for rec in records]
    work_cols = [name for name, _ in upload_pg.WORK_SPEC[:-1]]
    ids, audit_id = upload_pg.store(
        session,
        works=[(*(rec[c] for c in work_cols), g) for rec, g in zip(records, ewkb, strict=True)],
        versions=[
            (
                rec["id"],
                1,
                ChangeKind.CREATED.value,
                snapshot(SimpleNamespace(**rec)),  # type: ignore[arg-type]
                g,
                False,
                principal.token_id,
                now,
            )
            for rec, g in zip(records, ewkb, strict=True)
        ],
        occupancies=occ_rows,
        findings=finding_rows,
        links=links,
        audit=(
            now,
            principal.org_id,
            principal.token_id,
            "works.upload",
            source[:300],
            "ok",
            detail,
        ),
    )
    t3 = time.perf_counter()
    outcome.created = len(records)
    outcome.works = [_work_record(rec, shaped_element(g, w)) for rec, g, w in zip(records, geoms, ewkb, strict=True)]
    outcome.findings = sorted(
        (
            _record(values, ids[key], None if g is None else shaped_element(g, w))
            for (key, (_, values)), g, w in zip(unique.items(), fgeoms, fwkb, strict=True)
        ),
        key=lambda r: r.id,
    )
    outcome.upload_id = audit_id if large else None
    outcome.timings = {"lookup": t1 - t0, "rule": t2 - t1, "store": t3 - t2}
    return outcome


def _work_record(values: dict[str, Any], geometry: Any) -> WorkRow:
    """A read-only record of a stored work (column values only, like :func:`api.services.check._record`)."""
    row: WorkRow = object.__new__(WorkRow)
    row.__dict__.update(values)
    row.__dict__["geometry"] = geometry
    return row


#: Attributes the rule reads: changing any of them makes the bundles of the work stale.
RULE_FIELDS = (
    "utility",
    "start",
    "end",
    "earliest_start",
    "latest_end",
    "diameter_mm",
    "voltage_kv",
    "gas_pressure",
    "trench_width_m",
    "depth_m",
    "method",
    "emergency",
)


def rule_signature(row: WorkRow) -> tuple[Any, ...]:
    """What the rule sees of a work (contact, name and source excluded)."""
    return (*(getattr(row, f) for f in RULE_FIELDS), from_db(row.geometry).wkb, row.withdrawn)


def supersede_bundles(session: Session, work_pks: list[int]) -> int:
    """Mark the bundles containing these works as superseded (their content is stale); return how many.

    Their version increases, so a decision taken on what was read before is refused.
    """
    if not work_pks:
        return 0
    n = 0
    for i in range(0, len(work_pks), 900):
        bundle_ids = select(BundleWork.bundle_pk).where(BundleWork.work_pk.in_(work_pks[i : i + 900]))
        for bundle in session.scalars(
            select(BundleRow).where(BundleRow.id.in_(bundle_ids), BundleRow.status != BundleStatus.SUPERSEDED)
        ):
            bundle.status = BundleStatus.SUPERSEDED
            bundle.updated_at = utcnow()
            n += 1
    session.flush()
    return n


def own_work_ids(session: Session, org_id: int) -> set[int]:
    """Ids of an organisation's works."""
    return set(session.scalars(select(WorkRow.id).where(WorkRow.org_id == org_id)))


def shared_parts(session: Session, principal: Principal) -> dict[int, BaseGeometry]:
    """For each other organisation's work sharing a road with the caller's, the shared stretches."""
    own_findings = (
        select(FindingWork.finding_id)
        .join(WorkRow, WorkRow.id == FindingWork.work_pk)
        .where(WorkRow.org_id == principal.org_id, WorkRow.withdrawn.is_(False))
    )
    stmt = (
        select(FindingWork.work_pk, FindingRow.geometry)
        .join(FindingRow, FindingRow.id == FindingWork.finding_id)
        .join(WorkRow, WorkRow.id == FindingWork.work_pk)
        .where(
            FindingWork.finding_id.in_(own_findings.scalar_subquery()),
            FindingRow.kind.in_(SHARED_KINDS),
            WorkRow.org_id != principal.org_id,
            WorkRow.withdrawn.is_(False),
        )
    )
    parts: dict[int, list[BaseGeometry]] = {}
    for work_pk, geom in session.execute(stmt):
        bucket = parts.setdefault(work_pk, [])
        if geom is not None:
            bucket.append(from_db(geom))
    return {pk: unary_union(geoms) if geoms else None for pk, geoms in parts.items()}


def _view(row: WorkRow, principal: Principal, parts: dict[int, BaseGeometry]) -> WorkView | None:
    if principal.role is Role.BUREAU or row.org_id == principal.org_id:
        return WorkView(row=row, geometry=from_db(row.geometry), redacted=False)
    if row.id in parts:
        return WorkView(row=row, geometry=parts[row.id], redacted=True)
    return None


def _require_reader(principal: Principal) -> None:
    principal.require(Role.UTILITY, Role.BUREAU, action_zh="查看工程", action_en="reading works")


def list_works(
    session: Session, principal: Principal, *, include_withdrawn: bool = False, utility: str | None = None
) -> list[WorkView]:
    """The works the caller may see: all (bureau), or own plus the shared parts of others (utility)."""
    _require_reader(principal)
    stmt = select(WorkRow).order_by(WorkRow.id)
    if not include_withdrawn:
        stmt = stmt.where(WorkRow.withdrawn.is_(False))
    if utility is not None:
        stmt = stmt.where(WorkRow.utility == utility)
    if principal.role is Role.BUREAU:
        return [WorkView(row=r, geometry=from_db(r.geometry), redacted=False) for r in session.scalars(stmt)]
    parts = shared_parts(session, principal)
    stmt = stmt.where((WorkRow.org_id == principal.org_id) | WorkRow.id.in_(list(parts)))
    views = [_view(r, principal, parts) for r in session.scalars(stmt)]
    return [v for v in views if v is not None]


def get_work(session: Session, principal: Principal, work_pk: int) -> WorkView:
    """One work as the caller may see it.

    Raises
    ------
    NotFound
        No such work, or the caller may not know it exists.
    """
    _require_reader(principal)
    row = session.get(WorkRow, work_pk)
    if row is None:
        raise _not_found(work_pk)
    parts = (
        shared_parts(session, principal) if principal.role is Role.UTILITY and row.org_id != principal.org_id else {}
    )
    view = _view(row, principal, parts)
    if view is None:
        raise _not_found(work_pk)
    return view


def _own_row(session: Session, principal: Principal, work_pk: int, action_zh: str, action_en: str) -> WorkRow:
    """The caller's own work; 404 when invisible, 403 when visible but another's."""
    view = get_work(session, principal, work_pk)
    if principal.role is not Role.UTILITY or view.row.org_id != principal.org_id:
        raise Forbidden(
            f"只有工程所属单位可以{action_zh}工程 {view.row.key}",
            f"only the owning utility may {action_en} work {view.row.key}",
        )
    return view.row


def history(session: Session, principal: Principal, work_pk: int) -> list[WorkVersion]:
    """Every kept version of a work (its owner and the bureau only)."""
    view = get_work(session, principal, work_pk)
    if view.redacted:
        raise Forbidden("无权查看其他单位工程的历史", "you may not read the history of another organisation's work")
    return list(
        session.scalars(select(WorkVersion).where(WorkVersion.work_pk == work_pk).order_by(WorkVersion.version))
    )


def validate_dates(work: Work, *, source: str = "body") -> list[Problem]:
    """The date problems of a work (end before start, flexible bounds inside out)."""
    problems: list[Problem] = []

    def add(code: str, zh: str, en: str, fld: str) -> None:
        problems.append(Problem(code=code, zh=zh, en=en, source=source, feature_id=work.work_id, field=fld))

    if work.end < work.start:
        add("dates.end_before_start", "计划完工早于计划开工", "planned end is before planned start", "end")
    if work.earliest_start is not None and work.earliest_start > work.start:
        add(
            "dates.earliest_after_start",
            "最早开工晚于计划开工",
            "earliest start is after planned start",
            "earliest_start",
        )
    if work.latest_end is not None and work.latest_end < work.end:
        add("dates.latest_before_end", "最晚完工早于计划完工", "latest end is before planned end", "latest_end")
    return problems


def update_work(
    session: Session, principal: Principal, work_pk: int, changes: dict[str, Any], *, settings: Settings
) -> tuple[WorkRow, list[FindingRow]]:
    """Apply ``changes`` (attribute → value; ``geometry`` as a working-CRS shapely geometry) as a new version.

    Raises
    ------
    NotFound, Forbidden
        Not visible / not the caller's work.
    InputError
        The changed work is invalid (every problem listed).
    """
    row = _own_row(session, principal, work_pk, "修改", "change")
    new_geometry = changes.get("geometry")
    lock_works(session, [from_db(row.geometry), new_geometry], margin=max_road_width(session))
    if row.withdrawn:
        raise InputError(f"工程 {row.key} 已撤回，不能修改", f"work {row.key} is withdrawn and cannot be changed")
    current = work_from_row(row)
    updates = {k: v for k, v in changes.items() if k in {f.name for f in dataclasses.fields(Work)} and k != "work_id"}
    if "method" in updates and updates["method"] is not None:
        updates["method"] = ExcavationMethod.parse(updates["method"], field_name="method")
    new = dataclasses.replace(current, **updates)
    problems = validate_dates(new)
    if problems:
        raise InputError("工程修改内容有误", "the changed work is invalid", details=problems)
    new = dataclasses.replace(new, work_id=row.work_id)
    before = rule_signature(row)
    apply_work(row, new)
    rule_changed = rule_signature(row) != before
    row.version += 1
    row.updated_at = utcnow()
    session.flush()
    _add_version(session, row, ChangeKind.UPDATED, principal)
    if rule_changed:
        supersede_bundles(session, [row.id])
    findings = check_works(session, [row], settings).findings
    row = session.get(WorkRow, work_pk)  # type: ignore[assignment]
    audit.record(
        session, principal, "works.update", row.key, detail={"fields": sorted(updates), "version": row.version}
    )
    return row, findings


def set_dates(
    session: Session, principal: Principal, row: WorkRow, start: dt.date, end: dt.date, *, settings: Settings
) -> None:
    """Move a work to new planned dates as a new version (used when accepting a bundle's window)."""
    row.start = start
    row.end = end
    if row.earliest_start is not None and row.earliest_start > start:
        row.earliest_start = start
    if row.latest_end is not None and row.latest_end < end:
        row.latest_end = end
    row.version += 1
    row.updated_at = utcnow()
    session.flush()
    _add_version(session, row, ChangeKind.UPDATED, principal)


def withdraw_work(session: Session, principal: Principal, work_pk: int, *, settings: Settings) -> WorkRow:
    """Withdraw a work: it stays stored (with its history) but leaves every check and plan."""
    row = _own_row(session, principal, work_pk, "撤回", "withdraw")
    lock_works(session, [from_db(row.geometry)], margin=max_road_width(session))
    if not row.withdrawn:
        row.withdrawn = True
        row.version += 1
        row.updated_at = utcnow()
        session.flush()
        _add_version(session, row, ChangeKind.WITHDRAWN, principal)
        check_works(session, [row], settings)
        row = session.get(WorkRow, work_pk)  # type: ignore[assignment]
        supersede_bundles(session, [work_pk])
        audit.record(session, principal, "works.withdraw", row.key, detail={"version": row.version})
    return row

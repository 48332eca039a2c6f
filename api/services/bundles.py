"""Bundles: list, read, accept proposed dates, approve, send back, export the permit package.

Approving and sending back name the version the reviewer read; if the bundle changed since,
the decision is refused (:class:`~onetrench.errors.Conflict`), never applied over the change.
The ``version`` column is also SQLAlchemy's version counter, so two concurrent decisions on the
same version cannot both succeed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import (
    Approval,
    BundleRow,
    BundleStatus,
    BundleWork,
    Decision,
    ExportedPackage,
    FindingRow,
    FindingWork,
    Role,
    WorkRow,
    utcnow,
)
from api.services import audit
from api.services.auth import Principal
from api.services.check import check_works, lock_works, max_road_width
from api.services.convert import bundle_from_row, finding_from_row, road_from_row, work_from_row
from api.services.geometry import from_db
from api.services.works import set_dates
from onetrench.domain import Bundle, Finding, Interval, Road, Work
from onetrench.errors import Conflict, InputError, NotFound
from onetrench.settings import Settings

#: How far around its own works a utility sees a bundle's footprint (metres).
FOOTPRINT_MARGIN_M = 30.0


@dataclass
class BundleView:
    """A bundle as the caller may see it (a utility: clipped to the surroundings of its works)."""

    row: BundleRow
    footprint: BaseGeometry | None
    stretches: list[dict[str, object]]
    redacted: bool
    proposed: dict[str, tuple[dt.date | None, dt.date | None]]


def _not_found(ref: object) -> NotFound:
    return NotFound(f"联合开挖包 {ref} 不存在或无权查看", f"bundle {ref} does not exist or is not visible to you")


def _own_links(session: Session, principal: Principal, row: BundleRow) -> list[BundleWork]:
    own = set(session.scalars(select(WorkRow.id).where(WorkRow.org_id == principal.org_id)))
    return [link for link in row.works if link.work_pk in own]


def _proposed(session: Session, links: list[BundleWork]) -> dict[str, tuple[dt.date | None, dt.date | None]]:
    keys = dict(
        session.execute(select(WorkRow.id, WorkRow.key).where(WorkRow.id.in_([x.work_pk for x in links]))).all()
    )
    return {keys[x.work_pk]: (x.proposed_start, x.proposed_end) for x in links if x.work_pk in keys}


def _view(session: Session, principal: Principal, row: BundleRow) -> BundleView | None:
    if principal.role is Role.BUREAU:
        return BundleView(
            row=row,
            footprint=from_db(row.footprint),
            stretches=list(row.stretches),
            redacted=False,
            proposed=_proposed(session, list(row.works)),
        )
    links = _own_links(session, principal, row)
    if not links:
        return None
    own_rows = [session.get(WorkRow, link.work_pk) for link in links]
    near = unary_union([from_db(w.geometry) for w in own_rows if w is not None]).buffer(FOOTPRINT_MARGIN_M)
    footprint = from_db(row.footprint).intersection(near)
    stretches = clip_stretches(
        list(row.stretches), _own_intervals(session, [link.work_pk for link in links]), margin=FOOTPRINT_MARGIN_M
    )
    return BundleView(
        row=row, footprint=footprint, stretches=stretches, redacted=True, proposed=_proposed(session, links)
    )


def _own_intervals(session: Session, work_pks: list[int]) -> dict[str, list[tuple[float, float]]]:
    """Per road id, the measures the given works occupy (crossings as zero-length intervals)."""
    from api.models import OccupancyRow, RoadRow

    stmt = (
        select(RoadRow.road_id, OccupancyRow.intervals, OccupancyRow.crossings)
        .join(OccupancyRow, OccupancyRow.road_pk == RoadRow.id)
        .where(OccupancyRow.work_pk.in_(work_pks))
    )
    out: dict[str, list[tuple[float, float]]] = {}
    for road_id, intervals, crossings in session.execute(stmt):
        bucket = out.setdefault(road_id, [])
        bucket.extend((float(a), float(b)) for a, b in intervals or [])
        bucket.extend((float(c), float(c)) for c in crossings or [])
    return out


def clip_stretches(
    stretches: list[dict[str, Any]], own: dict[str, list[tuple[float, float]]], *, margin: float
) -> list[dict[str, Any]]:
    """A bundle's stretches cut to the measures a utility occupies, ``margin`` metres either side.

    What a utility may see of a joint excavation, like its footprint: the parts near its own
    works, not how far the other works run along the road.

    Examples
    --------
    >>> s = {"road_id": "R1", "from_m": 200.0, "to_m": 600.0, "width_m": 0.9, "area_m2": 360.0}
    >>> clip_stretches([s], {"R1": [(0.0, 400.0)]}, margin=30.0)
    [{'road_id': 'R1', 'from_m': 200.0, 'to_m': 430.0, 'width_m': 0.9, 'area_m2': 207.0}]
    >>> clip_stretches([s], {"R2": [(0.0, 400.0)]}, margin=30.0)
    []
    """
    from scheduling._geom import merge_intervals

    out = []
    for s in stretches:
        lo, hi = float(s["from_m"]), float(s["to_m"])
        near = merge_intervals(Interval(a - margin, b + margin) for a, b in own.get(s["road_id"], []))
        for span in near:
            start, end = max(lo, span.from_m), min(hi, span.to_m)
            if end > start:
                share = (end - start) / (hi - lo)
                out.append(
                    s
                    | {
                        "from_m": round(start, 3),
                        "to_m": round(end, 3),
                        "area_m2": round(float(s["area_m2"]) * share, 3),
                    }
                )
    return out


def list_bundles(session: Session, principal: Principal, *, status: BundleStatus | None = None) -> list[BundleView]:
    """Bundles visible to the caller: all (bureau) or those with one of its works (utility)."""
    principal.require(Role.UTILITY, Role.BUREAU, action_zh="查看联合开挖包", action_en="reading bundles")
    stmt = select(BundleRow).order_by(BundleRow.id)
    if status is not None:
        stmt = stmt.where(BundleRow.status == status)
    else:
        stmt = stmt.where(BundleRow.status != BundleStatus.SUPERSEDED)
    if principal.role is Role.UTILITY:
        own = select(BundleWork.bundle_pk).join(WorkRow, WorkRow.id == BundleWork.work_pk)
        stmt = stmt.where(BundleRow.id.in_(own.where(WorkRow.org_id == principal.org_id)))
    views = [_view(session, principal, r) for r in session.scalars(stmt)]
    return [v for v in views if v is not None]


def _row(session: Session, bundle_id: str) -> BundleRow:
    row = session.scalar(select(BundleRow).where(BundleRow.bundle_id == bundle_id))
    if row is None:
        raise _not_found(bundle_id)
    return row


def get_bundle(session: Session, principal: Principal, bundle_id: str) -> BundleView:
    """One bundle as the caller may see it.

    Raises
    ------
    NotFound
        No such bundle, or none of the caller's works is in it.
    """
    principal.require(Role.UTILITY, Role.BUREAU, action_zh="查看联合开挖包", action_en="reading bundles")
    view = _view(session, principal, _row(session, bundle_id))
    if view is None:
        raise _not_found(bundle_id)
    return view


def _check_version(row: BundleRow, version: int) -> None:
    if row.version != version:
        raise Conflict(
            f"联合开挖包 {row.bundle_id} 已被修改（当前版本 {row.version}，您读取的版本 {version}）："
            "请重新读取后再操作",
            f"bundle {row.bundle_id} changed since you read it (now version {row.version}, you sent {version}): "
            "read it again",
        )


def _decide(
    session: Session, principal: Principal, row: BundleRow, decision: Decision, *, version: int, comment: str
) -> None:
    session.add(
        Approval(
            bundle_pk=row.id,
            decision=decision,
            bundle_version=version,
            comment=comment,
            org_id=principal.org_id,
            token_id=principal.token_id,
            decided_at=utcnow(),
        )
    )


def accept_dates(
    session: Session, principal: Principal, bundle_id: str, *, version: int, settings: Settings
) -> BundleView:
    """A utility accepts the dates the plan proposes for its works in a bundle.

    Each of its works moves to the proposed dates (a new version of the work) and is re-checked;
    when every work of the bundle has accepted, the bundle becomes ``dates_accepted``.
    """
    principal.require(Role.UTILITY, action_zh="接受建议日期", action_en="accepting proposed dates")
    view = get_bundle(session, principal, bundle_id)
    own = [session.get(WorkRow, link.work_pk) for link in _own_links(session, principal, view.row)]
    lock_works(session, [from_db(w.geometry) for w in own if w is not None], margin=max_road_width(session))
    row = view.row
    _check_version(row, version)
    if row.status not in (BundleStatus.PROPOSED, BundleStatus.SENT_BACK):
        raise Conflict(
            f"联合开挖包 {bundle_id} 状态为 {row.status.value}，不能再接受日期",
            f"bundle {bundle_id} is {row.status.value}: dates can no longer be accepted",
        )
    changed: list[WorkRow] = []
    for link in _own_links(session, principal, row):
        work = session.get(WorkRow, link.work_pk)
        if work is None:
            continue
        if (
            link.proposed_start is not None
            and link.proposed_end is not None
            and (work.start != link.proposed_start or work.end != link.proposed_end)
        ):
            set_dates(session, principal, work, link.proposed_start, link.proposed_end, settings=settings)
            changed.append(work)
        link.dates_accepted = True
    if all(link.dates_accepted for link in row.works):
        row.status = BundleStatus.DATES_ACCEPTED
    row.updated_at = utcnow()
    _decide(session, principal, row, Decision.ACCEPT_DATES, version=version, comment="")
    session.flush()
    if changed:
        check_works(session, changed, settings)
    audit.record(session, principal, "bundles.accept_dates", bundle_id, detail={"moved": [w.key for w in changed]})
    return get_bundle(session, principal, bundle_id)


def approve(session: Session, principal: Principal, bundle_id: str, *, version: int, comment: str = "") -> BundleRow:
    """The bureau approves a bundle it read at ``version``.

    Raises
    ------
    Conflict
        The bundle changed since (version), is superseded or already decided, or still has
        blocking findings.
    """
    principal.require(Role.BUREAU, action_zh="审批联合开挖包", action_en="approving bundles")
    row = _row(session, bundle_id)
    _check_version(row, version)
    if row.status not in (BundleStatus.PROPOSED, BundleStatus.DATES_ACCEPTED):
        raise Conflict(
            f"联合开挖包 {bundle_id} 状态为 {row.status.value}，不能审批",
            f"bundle {bundle_id} is {row.status.value} and cannot be approved",
        )
    if row.draft:
        raise Conflict(
            f"联合开挖包 {bundle_id} 仍有阻断性问题，不能审批",
            f"bundle {bundle_id} still has blocking findings and cannot be approved",
        )
    row.status = BundleStatus.APPROVED
    row.comment = comment
    row.updated_at = utcnow()
    _decide(session, principal, row, Decision.APPROVE, version=version, comment=comment)
    session.flush()
    audit.record(session, principal, "bundles.approve", bundle_id, detail={"version": version})
    return row


def send_back(session: Session, principal: Principal, bundle_id: str, *, version: int, comment: str) -> BundleRow:
    """The bureau sends a bundle back with a comment (required)."""
    principal.require(Role.BUREAU, action_zh="退回联合开挖包", action_en="sending bundles back")
    if not comment.strip():
        raise InputError("退回时必须填写意见", "a comment is required when sending a bundle back")
    row = _row(session, bundle_id)
    _check_version(row, version)
    if row.status in (BundleStatus.SUPERSEDED, BundleStatus.APPROVED):
        raise Conflict(
            f"联合开挖包 {bundle_id} 状态为 {row.status.value}，不能退回",
            f"bundle {bundle_id} is {row.status.value} and cannot be sent back",
        )
    row.status = BundleStatus.SENT_BACK
    row.comment = comment.strip()
    row.updated_at = utcnow()
    _decide(session, principal, row, Decision.SEND_BACK, version=version, comment=comment.strip())
    session.flush()
    audit.record(session, principal, "bundles.send_back", bundle_id, detail={"version": version})
    return row


def approvals(session: Session, principal: Principal, bundle_id: str) -> list[Approval]:
    """The decisions recorded on a bundle, oldest first."""
    view = get_bundle(session, principal, bundle_id)
    return list(session.scalars(select(Approval).where(Approval.bundle_pk == view.row.id).order_by(Approval.id)))


@dataclass
class BundleContext:
    """A bundle with the domain objects needed to draw or package it."""

    bundle: Bundle
    works: list[Work]
    roads: list[Road]
    findings: list[Finding]


def context(session: Session, row: BundleRow) -> BundleContext:
    """Load the works, roads and findings of a bundle as domain objects."""
    from api.models import RoadRow

    work_rows = list(session.scalars(select(WorkRow).where(WorkRow.id.in_([link.work_pk for link in row.works]))))
    road_ids = sorted({s["road_id"] for s in row.stretches})
    road_rows = list(session.scalars(select(RoadRow).where(RoadRow.road_id.in_(road_ids))))
    finding_ids = select(FindingWork.finding_id).where(FindingWork.work_pk.in_([w.id for w in work_rows]))
    finding_rows = list(session.scalars(select(FindingRow).where(FindingRow.id.in_(finding_ids))))
    findings = [finding_from_row(f) for f in finding_rows]
    return BundleContext(
        bundle=bundle_from_row(row),
        works=[work_from_row(w) for w in work_rows],
        roads=[road_from_row(r) for r in road_rows],
        findings=findings,
    )


def export_package(
    session: Session,
    principal: Principal,
    bundle_id: str,
    *,
    project_code: str,
    settings: Settings,
    prepared_on: dt.date | None = None,
) -> tuple[bytes, ExportedPackage]:
    """Build the permit package (ZIP) of an approved bundle and keep it (bureau only).

    Raises
    ------
    Conflict
        The bundle is not approved.
    InputError
        The project code or the applicants' contacts are invalid (from :mod:`permits`).
    """
    from permits.manifest import Applicant
    from permits.package import build_package

    principal.require(Role.BUREAU, action_zh="导出许可申请包", action_en="exporting permit packages")
    row = _row(session, bundle_id)
    if row.status is not BundleStatus.APPROVED:
        raise Conflict(
            f"联合开挖包 {bundle_id} 尚未审批（状态 {row.status.value}），不能导出许可申请包",
            f"bundle {bundle_id} is not approved (status {row.status.value}): no permit package yet",
        )
    ctx = context(session, row)
    applicants: dict[str, Applicant] = {}
    for work in ctx.works:
        if work.owner not in applicants:
            contact, phone = _split_contact(work.contact)
            applicants[work.owner] = Applicant(unit=work.owner, contact=contact, phone=phone)
    data = build_package(
        ctx.bundle,
        works=ctx.works,
        roads=ctx.roads,
        project_code=project_code,
        applicants=list(applicants.values()),
        findings=ctx.findings,
        settings=settings,
        prepared_on=prepared_on or row.updated_at.date(),
    )
    export = ExportedPackage(
        bundle_pk=row.id,
        bundle_version=row.version,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        content=data,
        token_id=principal.token_id,
        exported_at=utcnow(),
    )
    session.add(export)
    session.flush()
    audit.record(session, principal, "bundles.package", bundle_id, detail={"sha256": export.sha256})
    return data, export


def _split_contact(text: str) -> tuple[str, str]:
    """Split ``"张三 023-48612345"`` into name and phone (unknown parts become ``"未填写"``)."""
    import re

    match = re.search(r"(\+?\d[\d\- ]{6,}\d)", text or "")
    phone = match.group(1).replace(" ", "") if match else ""
    name = (text or "").replace(match.group(1), "").strip(" /,，;；") if match else (text or "").strip()
    return name or "未填写", phone or "未填写"

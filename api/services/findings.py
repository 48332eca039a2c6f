"""Findings: all, per work, per road — each utility sees only those concerning its own works."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.models import FindingRow, FindingWork, Role, WorkRow
from api.services.auth import Principal
from api.services.roads import get_road
from api.services.works import get_work
from onetrench.domain import FindingKind


def list_findings(
    session: Session,
    principal: Principal,
    *,
    work_pk: int | None = None,
    road_id: str | None = None,
    kind: FindingKind | None = None,
) -> list[FindingRow]:
    """Findings visible to the caller, optionally of one work, one road or one kind.

    Raises
    ------
    NotFound
        The work or road does not exist (or the work is not visible).
    """
    principal.require(Role.UTILITY, Role.BUREAU, action_zh="查看检查结果", action_en="reading findings")
    stmt: Select[FindingRow] = select(FindingRow).order_by(FindingRow.id)
    if work_pk is not None:
        get_work(session, principal, work_pk)
        stmt = stmt.where(FindingRow.id.in_(select(FindingWork.finding_id).where(FindingWork.work_pk == work_pk)))
    if road_id is not None:
        get_road(session, principal, road_id)
        stmt = stmt.where(FindingRow.road_id == road_id)
    if kind is not None:
        stmt = stmt.where(FindingRow.kind == kind)
    if principal.role is Role.UTILITY:
        own = (
            select(FindingWork.finding_id)
            .join(WorkRow, WorkRow.id == FindingWork.work_pk)
            .where(WorkRow.org_id == principal.org_id)
        )
        stmt = stmt.where(FindingRow.id.in_(own))
    return list(session.scalars(stmt))

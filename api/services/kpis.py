"""Key figures for the bureau: works, findings, bundles, excavations avoided, pavement saved."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.models import BundleRow, BundleStatus, FindingRow, Organisation, Role, WorkRow
from api.services.auth import Principal


def kpis(session: Session, principal: Principal) -> dict[str, Any]:
    """Counts and savings over the stored plan (bureau only)."""
    principal.require(Role.BUREAU, action_zh="查看统计指标", action_en="reading KPIs")
    live = WorkRow.withdrawn.is_(False)
    works_by_utility = dict(
        session.execute(select(WorkRow.utility, func.count()).where(live).group_by(WorkRow.utility)).all()
    )
    findings_by_kind = dict(session.execute(select(FindingRow.kind, func.count()).group_by(FindingRow.kind)).all())
    bundles_by_status = dict(session.execute(select(BundleRow.status, func.count()).group_by(BundleRow.status)).all())
    active = list(session.scalars(select(BundleRow).where(BundleRow.status != BundleStatus.SUPERSEDED)))
    return {
        "works": int(session.scalar(select(func.count()).select_from(WorkRow).where(live)) or 0),
        "works_withdrawn": int(
            session.scalar(select(func.count()).select_from(WorkRow).where(WorkRow.withdrawn.is_(True))) or 0
        ),
        "organisations": int(session.scalar(select(func.count()).select_from(Organisation)) or 0),
        "works_by_utility": {str(k.value): int(v) for k, v in works_by_utility.items()},
        "findings_by_kind": {str(k.value): int(v) for k, v in findings_by_kind.items()},
        "bundles_by_status": {str(k.value): int(v) for k, v in bundles_by_status.items()},
        "excavations_avoided": sum(int(b.savings.get("excavations_avoided", 0)) for b in active),
        "area_not_reopened_m2": round(sum(float(b.savings.get("area_not_reopened_m2", 0.0)) for b in active), 3),
        "cost_saved_yuan": round(sum(float(b.savings.get("cost_saved_yuan", 0.0)) for b in active), 2),
    }

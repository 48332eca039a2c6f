"""Plan: re-run the detector and the rule over every stored work, then store findings and bundles.

Bundles keep their identity (:func:`~api.services.convert.bundle_identity`, from their works)
across runs: an unchanged bundle keeps its status and version; a changed one goes back to
``proposed`` (its version increases); a bundle that no longer forms is ``superseded``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.models import (
    BundleRow,
    BundleStatus,
    BundleWork,
    FindingRow,
    FindingWork,
    OccupancyRow,
    RoadRow,
    Role,
    WorkRow,
    utcnow,
)
from api.services import audit
from api.services.auth import Principal
from api.services.check import lock_works, store_findings
from api.services.convert import (
    apply_bundle,
    bundle_identity,
    road_from_row,
    savings_json,
    stretches_json,
    work_from_row,
)
from onetrench.domain import Bundle
from onetrench.settings import Settings


@dataclass
class PlanOutcome:
    """What a plan run stored."""

    works: int = 0
    roads: int = 0
    findings: int = 0
    bundles: list[BundleRow] = field(default_factory=list)
    superseded: int = 0
    savings: dict[str, object] = field(default_factory=dict)
    optimised: bool = False


def _same_content(row: BundleRow, bundle: Bundle) -> bool:
    return (
        row.window_start == bundle.window_start
        and row.window_end == bundle.window_end
        and row.lead_work_key == bundle.lead_work_id
        and row.draft == bundle.draft
        and row.stretches == stretches_json(bundle.stretches)
    )


def run_full_plan(
    session: Session, principal: Principal, *, settings: Settings, optimise: bool = False, time_limit_s: float = 10.0
) -> PlanOutcome:
    """Re-run the rule over all stored works and store findings and bundles (bureau only)."""
    from geo.overlap import detect
    from scheduling.plan import run_plan

    principal.require(Role.BUREAU, action_zh="运行统筹", action_en="running the plan")
    lock_works(session)
    work_rows = list(session.scalars(select(WorkRow).where(WorkRow.withdrawn.is_(False)).order_by(WorkRow.id)))
    road_rows = list(session.scalars(select(RoadRow).order_by(RoadRow.id)))
    works = [work_from_row(r) for r in work_rows]
    roads = [road_from_row(r) for r in road_rows]
    detection = detect(works, roads, settings=settings)
    result = run_plan(works, roads, detection, settings=settings, optimise=optimise, time_limit_s=time_limit_s)

    session.execute(delete(FindingWork))
    session.execute(delete(FindingRow))
    session.execute(delete(OccupancyRow))
    session.flush()
    pk_by_key = {r.key: r.id for r in work_rows}
    key_by_pk = {pk: key for key, pk in pk_by_key.items()}
    road_pk = {r.road_id: r.id for r in road_rows}
    for occ in detection.occupancy:
        if occ.work_id in pk_by_key and occ.road_id in road_pk:
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
    findings = store_findings(session, result.findings, pk_by_key)

    proposed = {row.work_id: (row.proposed_start, row.proposed_end) for row in result.schedule}
    existing = {b.bundle_id: b for b in session.scalars(select(BundleRow))}
    seen: set[str] = set()
    out = PlanOutcome(works=len(works), roads=len(roads), findings=len(findings), optimised=optimise)
    now = utcnow()
    for bundle in result.bundles:
        ident = bundle_identity(bundle.work_ids)
        seen.add(ident)
        row = existing.get(ident)
        if row is None:
            row = BundleRow(bundle_id=ident, status=BundleStatus.PROPOSED, comment="", created_at=now, updated_at=now)
            apply_bundle(row, bundle)
            row.works = [
                BundleWork(
                    work_pk=pk_by_key[k],
                    proposed_start=proposed.get(k, (None, None))[0],
                    proposed_end=proposed.get(k, (None, None))[1],
                    dates_accepted=False,
                )
                for k in sorted(bundle.work_ids)
            ]
            session.add(row)
        elif not _same_content(row, bundle) or row.status is BundleStatus.SUPERSEDED:
            apply_bundle(row, bundle)
            row.status = BundleStatus.PROPOSED
            row.updated_at = now
            for link in row.works:
                key = key_by_pk[link.work_pk]
                link.proposed_start, link.proposed_end = proposed.get(key, (None, None))
                link.dates_accepted = False
        out.bundles.append(row)
    for ident, row in existing.items():
        if ident not in seen and row.status is not BundleStatus.SUPERSEDED:
            row.status = BundleStatus.SUPERSEDED
            row.updated_at = now
            out.superseded += 1
    session.flush()
    savings = result.savings_after or result.savings_before
    out.savings = savings_json(savings)
    audit.record(
        session,
        principal,
        "plan.run",
        detail={"works": out.works, "findings": out.findings, "bundles": len(out.bundles), "optimise": optimise},
    )
    return out

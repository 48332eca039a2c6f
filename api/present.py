"""Rows and views → response schemas (geometry as GeoJSON in the exchange CRS)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.models import ApiToken, Approval, BundleRow, FindingRow, Organisation, RoadRow, WorkRow, WorkVersion
from api.schemas import (
    ApprovalPublic,
    BundlePublic,
    FindingPublic,
    OrganisationPublic,
    ProblemItem,
    RoadPublic,
    TokenPublic,
    WorkPublic,
    WorkVersionPublic,
)
from api.services.bundles import BundleView
from api.services.geometry import from_db, geojson, geojson_many
from api.services.works import WorkView
from onetrench.domain import FindingKind, RoadClass, UtilityKind
from onetrench.errors import Problem
from onetrench.settings import Settings


def work(view: WorkView, settings: Settings, *, org_code: str | None = None) -> WorkPublic:
    """A work, in full or redacted to its shared stretches (``org_code``: its organisation's, when known)."""
    return _work(view.row, view.redacted, geojson(view.geometry, settings), org_code)


def works_in_full(rows: Sequence[WorkRow], settings: Settings, *, org_code: str | None = None) -> list[WorkPublic]:
    """:func:`work` of many rows seen in full (their geometries reprojected in one call)."""
    shapes = geojson_many([from_db(r.geometry) for r in rows], settings)
    return [_work(row, False, g, org_code) for row, g in zip(rows, shapes, strict=True)]


def _work(row: WorkRow, redacted: bool, geometry: dict[str, Any] | None, org_code: str | None) -> WorkPublic:
    base = {
        "id": row.id,
        "key": row.key,
        "work_id": row.work_id,
        "organisation": row.organisation.code if org_code is None else org_code,
        "utility": row.utility.value,
        "utility_zh": UtilityKind(row.utility).zh,
        "owner": row.owner,
        "start": row.start,
        "end": row.end,
        "redacted": redacted,
        "geometry": geometry,
        "withdrawn": row.withdrawn,
    }
    if redacted:
        return WorkPublic.model_validate(base)
    return WorkPublic.model_validate(
        base
        | {
            "name": row.name,
            "contact": row.contact,
            "earliest_start": row.earliest_start,
            "latest_end": row.latest_end,
            "diameter_mm": row.diameter_mm,
            "voltage_kv": row.voltage_kv,
            "gas_pressure": row.gas_pressure.value if row.gas_pressure else None,
            "trench_width_m": row.trench_width_m,
            "depth_m": row.depth_m,
            "method": row.method.value,
            "emergency": row.emergency,
            "source": row.source,
            "version": row.version,
            "updated_at": row.updated_at,
        }
    )


def finding(row: FindingRow, settings: Settings) -> FindingPublic:
    """A finding."""
    return _finding(row, geojson(from_db(row.geometry), settings) if row.geometry is not None else None)


def findings(rows: Sequence[FindingRow], settings: Settings) -> list[FindingPublic]:
    """:func:`finding` of many rows (their geometries reprojected in one call)."""
    shapes = geojson_many([from_db(r.geometry) if r.geometry is not None else None for r in rows], settings)
    return [_finding(row, g) for row, g in zip(rows, shapes, strict=True)]


def _finding(row: FindingRow, geometry: dict[str, Any] | None) -> FindingPublic:
    return FindingPublic(
        id=row.id,
        kind=row.kind.value,
        kind_zh=FindingKind(row.kind).zh,
        severity=row.severity.value,
        work_keys=list(row.work_keys),
        road_id=row.road_id,
        road_name=row.road_name,
        zh=row.zh,
        en=row.en,
        fix_zh=row.fix_zh,
        fix_en=row.fix_en,
        measures=[[float(a), float(b)] for a, b in row.measures],
        geometry=geometry,
        data=dict(row.data or {}),
    )


def road(row: RoadRow, settings: Settings, *, with_geometry: bool = True) -> RoadPublic:
    """A road."""
    return RoadPublic(
        road_id=row.road_id,
        name=row.name,
        road_class=row.road_class.value,
        road_class_zh=RoadClass(row.road_class).zh,
        width_m=row.width_m,
        pavement=row.pavement.value,
        last_works_date=row.last_works_date,
        last_works_kind=row.last_works_kind.value if row.last_works_kind else None,
        geometry=geojson(from_db(row.geometry), settings) if with_geometry else None,
    )


def bundle(view: BundleView, settings: Settings) -> BundlePublic:
    """A bundle (a utility sees the proposed dates of its own works only)."""
    row: BundleRow = view.row
    proposed = {key: [start, end] for key, (start, end) in view.proposed.items()}
    return BundlePublic.model_validate(
        {
            "bundle_id": row.bundle_id,
            "status": row.status,
            "version": row.version,
            "work_keys": list(row.work_keys),
            "lead_work_key": row.lead_work_key,
            "lead_owner": row.lead_owner,
            "window_start": row.window_start,
            "window_end": row.window_end,
            "draft": row.draft,
            "stretches": view.stretches,
            "savings": dict(row.savings),
            "comment": row.comment,
            "footprint": geojson(view.footprint, settings),
            "redacted": view.redacted,
            "proposed_dates": proposed,
            "updated_at": row.updated_at,
        }
    )


def problems(items: list[Problem]) -> list[ProblemItem]:
    """Per-feature problems."""
    return [ProblemItem.model_validate(p.to_dict()) for p in items]


def version(row: WorkVersion, settings: Settings) -> WorkVersionPublic:
    """One kept version of a work."""
    return WorkVersionPublic(
        version=row.version,
        change=row.change.value,
        withdrawn=row.withdrawn,
        changed_at=row.changed_at,
        snapshot=dict(row.snapshot),
        geometry=geojson(from_db(row.geometry), settings),
    )


def organisation(row: Organisation) -> OrganisationPublic:
    """An organisation."""
    return OrganisationPublic(code=row.code, name=row.name, kind=row.kind, created_at=row.created_at)


def token(row: ApiToken) -> TokenPublic:
    """A token without its secret."""
    return TokenPublic(
        id=row.id,
        org=row.organisation.code,
        role=row.role,
        prefix=row.prefix,
        label=row.label,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def approval(row: Approval, org_code: str) -> ApprovalPublic:
    """A decision on a bundle."""
    return ApprovalPublic(
        decision=row.decision,
        bundle_version=row.bundle_version,
        comment=row.comment,
        organisation=org_code,
        decided_at=row.decided_at,
    )

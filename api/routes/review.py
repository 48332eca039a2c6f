"""Findings, plan, bundles (decisions, permit package), maps and KPIs."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from api import present
from api.deps import MAX_ID, CurrentPrincipal, SessionDep, SettingsDep
from api.models import BundleStatus, Organisation
from api.routes.works import ERRORS
from api.schemas import (
    ApprovalsPublic,
    ApproveBody,
    BundlePublic,
    BundlesPublic,
    FindingsPublic,
    KpisPublic,
    PlanCreate,
    PlanPublic,
    SendBackBody,
    VersionBody,
)
from api.services import bundles as bundle_service
from api.services import findings as finding_service
from api.services import kpis as kpi_service
from api.services import maps as map_service
from api.services import plan as plan_service
from onetrench.domain import FindingKind

router = APIRouter()

HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "离线 HTML 地图 / offline HTML map"}
}


@router.get("/findings", response_model=FindingsPublic, responses=ERRORS, tags=["findings 检查结果"])
def list_findings(
    *,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    kind: Annotated[FindingKind | None, Query(description="finding kind")] = None,
    upload: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ID,
            description="只看这次上传的工程的检查结果，分页 / only the findings of the works of this upload "
            "(UploadPublic.findings_summary.upload), page by page",
        ),
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="从此编号之后开始 / start after this finding id (paging)")
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="每页条数 / page size (at most findings_page_max; default with upload=)")
    ] = None,
) -> FindingsPublic:
    """All findings you may see (a utility: those concerning its own works), or one upload's page by page."""
    if upload is not None or after is not None or limit is not None:
        limit = min(limit or settings.findings_page_max, settings.findings_page_max)
    rows = finding_service.list_findings(session, principal, kind=kind, upload=upload, after=after, limit=limit)
    page = FindingsPublic(count=len(rows), findings=[present.finding(f, settings) for f in rows])
    if limit is not None and len(rows) == limit:
        query = {"upload": upload, "kind": kind.value if kind else None, "after": rows[-1].id, "limit": limit}
        page.next = "/findings?" + urlencode({k: v for k, v in query.items() if v is not None})
    return page


@router.post("/plan", response_model=PlanPublic, responses=ERRORS, tags=["plan 统筹"])
def run_plan(session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, body: PlanCreate) -> PlanPublic:
    """Re-run the rule over every stored work: findings and bundles (optionally optimised dates). Bureau only."""
    out = plan_service.run_full_plan(
        session, principal, settings=settings, optimise=body.optimise, time_limit_s=body.time_limit_s
    )
    views = [bundle_service.get_bundle(session, principal, b.bundle_id) for b in out.bundles]
    return PlanPublic(
        works=out.works,
        roads=out.roads,
        findings=out.findings,
        bundles=[present.bundle(v, settings) for v in views],
        superseded=out.superseded,
        savings=out.savings,
        optimised=out.optimised,
    )


@router.get("/bundles", response_model=BundlesPublic, responses=ERRORS, tags=["bundles 联合开挖包"])
def list_bundles(
    session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, status: BundleStatus | None = None
) -> BundlesPublic:
    """Bundles you may see (a utility: those with one of its works; superseded ones only on request)."""
    views = bundle_service.list_bundles(session, principal, status=status)
    return BundlesPublic(count=len(views), bundles=[present.bundle(v, settings) for v in views])


@router.get("/bundles/{bundle_id}", response_model=BundlePublic, responses=ERRORS, tags=["bundles 联合开挖包"])
def get_bundle(session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, bundle_id: str) -> BundlePublic:
    """One bundle (404 for a utility none of whose works is in it)."""
    return present.bundle(bundle_service.get_bundle(session, principal, bundle_id), settings)


@router.post(
    "/bundles/{bundle_id}/accept-dates", response_model=BundlePublic, responses=ERRORS, tags=["bundles 联合开挖包"]
)
def accept_dates(
    session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, bundle_id: str, body: VersionBody
) -> BundlePublic:
    """A utility accepts the proposed dates for its works in the bundle (409 if the bundle changed)."""
    view = bundle_service.accept_dates(session, principal, bundle_id, version=body.version, settings=settings)
    return present.bundle(view, settings)


@router.post("/bundles/{bundle_id}/approve", response_model=BundlePublic, responses=ERRORS, tags=["bundles 联合开挖包"])
def approve(
    session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, bundle_id: str, body: ApproveBody
) -> BundlePublic:
    """The bureau approves the bundle it read at ``version`` (409 when it changed since)."""
    bundle_service.approve(session, principal, bundle_id, version=body.version, comment=body.comment)
    return present.bundle(bundle_service.get_bundle(session, principal, bundle_id), settings)


@router.post(
    "/bundles/{bundle_id}/send-back", response_model=BundlePublic, responses=ERRORS, tags=["bundles 联合开挖包"]
)
def send_back(
    session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, bundle_id: str, body: SendBackBody
) -> BundlePublic:
    """The bureau sends the bundle back with a comment (409 when it changed since it was read)."""
    bundle_service.send_back(session, principal, bundle_id, version=body.version, comment=body.comment)
    return present.bundle(bundle_service.get_bundle(session, principal, bundle_id), settings)


@router.get(
    "/bundles/{bundle_id}/approvals", response_model=ApprovalsPublic, responses=ERRORS, tags=["bundles 联合开挖包"]
)
def bundle_approvals(session: SessionDep, principal: CurrentPrincipal, bundle_id: str) -> ApprovalsPublic:
    """The decisions recorded on a bundle."""
    rows = bundle_service.approvals(session, principal, bundle_id)
    orgs = {r.org_id: session.get(Organisation, r.org_id) for r in rows}
    out = [present.approval(r, o.code if (o := orgs[r.org_id]) else "?") for r in rows]
    return ApprovalsPublic(count=len(out), approvals=out)


@router.get(
    "/bundles/{bundle_id}/package",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"application/zip": {}}, "description": "许可申请包 ZIP / permit package"}},
    tags=["bundles 联合开挖包"],
)
def bundle_package(
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    bundle_id: str,
    project_code: Annotated[
        str, Query(description="投资项目统一代码 (GB/T 40058)", examples=["2026-500110-48-01-000123"])
    ],
) -> Response:
    """The permit package (ZIP) of an approved bundle, for 渝快办. Bureau only."""
    data, export = bundle_service.export_package(
        session, principal, bundle_id, project_code=project_code, settings=settings
    )
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", bundle_id)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{safe}.zip"', "X-Content-SHA256": export.sha256},
    )


@router.get("/maps/review", response_class=HTMLResponse, responses={**ERRORS, **HTML}, tags=["maps 地图"])
def review_map(session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep) -> HTMLResponse:
    """Review map of everything you may see."""
    return HTMLResponse(map_service.review_html(session, principal, settings=settings))


@router.get("/maps/bundles/{bundle_id}", response_class=HTMLResponse, responses={**ERRORS, **HTML}, tags=["maps 地图"])
def bundle_map(session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, bundle_id: str) -> HTMLResponse:
    """Map of one bundle."""
    return HTMLResponse(map_service.bundle_html(session, principal, bundle_id, settings=settings))


@router.get(
    "/maps/roads/{road_id}/timeline", response_class=HTMLResponse, responses={**ERRORS, **HTML}, tags=["maps 地图"]
)
def road_timeline(
    session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, road_id: str
) -> HTMLResponse:
    """Timeline of one road: which works open it, when and where."""
    return HTMLResponse(map_service.timeline_html(session, principal, road_id, settings=settings))


@router.get("/kpis", response_model=KpisPublic, responses=ERRORS, tags=["kpis 指标"])
def kpis(session: SessionDep, principal: CurrentPrincipal) -> KpisPublic:
    """Key figures: works, findings, bundles, excavations avoided, pavement not reopened. Bureau only."""
    return KpisPublic.model_validate(kpi_service.kpis(session, principal))

"""Works: upload (file or GeoJSON body), list, read, update, withdraw, history, findings."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile

from api import present
from api.deps import CurrentPrincipal, SessionDep, SettingsDep, WorkId, commit_now
from api.models import Role
from api.problems import PROBLEM_JSON
from api.schemas import (
    FEATURE_COLLECTION_EXAMPLE,
    FindingPublic,
    FindingsPublic,
    FindingsSummary,
    ProblemPublic,
    UploadPublic,
    WorkHistoryPublic,
    WorkPublic,
    WorksPublic,
    WorkUpdate,
)
from api.services import findings as finding_service
from api.services import idempotency
from api.services import works as work_service
from api.services.auth import Principal
from api.services.geometry import from_db, parse_geojson
from onetrench.errors import InputError, PayloadTooLarge, Problem
from onetrench.gcpause import cyclic_gc_paused
from onetrench.settings import Settings

router = APIRouter(prefix="/works", tags=["works 工程"])

PROBLEM_REF = {"$ref": "#/components/schemas/ProblemPublic"}

ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ProblemPublic, "description": d, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}
    for s, d in {
        400: "文件无法读取 / unreadable file",
        401: "缺少或无效令牌 / missing or invalid token",
        403: "无权操作 / not allowed",
        404: "不存在或无权查看 / not found (or not visible)",
        409: "冲突 / conflict",
        413: "上传过大 / upload too large",
        422: "输入有误（逐要素列出）/ invalid input, per feature",
    }.items()
}


def _too_large(size: int, settings: Settings) -> None:
    if size > settings.max_upload_bytes:
        raise PayloadTooLarge(
            f"上传内容 {size} 字节，超过上限 {settings.max_upload_bytes} 字节",
            f"the upload is {size} bytes, over the limit of {settings.max_upload_bytes} bytes",
        )


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=idempotency.HEADER,
        description="幂等键：重试同一上传时发送相同的键，不会重复入库 / idempotency key: send the same key when "
        "retrying the same upload and it is stored once; the first answer is returned again "
        f"(header `{idempotency.REPLAYED_HEADER}: true`)",
        examples=["6f1c2a9e-3b7d-4c55-9a0e-2f8d1b7c4e21"],
    ),
]


def _body(answer: UploadPublic) -> bytes:
    """The JSON of an upload's answer (``findings_summary`` only when there is one)."""
    exclude = None if answer.findings_summary is not None else {"findings_summary"}
    return answer.model_dump_json(exclude=exclude).encode("utf-8")


def _once(
    session: SessionDep,
    principal: Principal,
    settings: Settings,
    key: str | None,
    *,
    endpoint: str,
    request_sha256: Callable[[], str],
    upload: Callable[[], UploadPublic],
) -> Response:
    """Run ``upload`` once per idempotency key (every time when no key is given); committed here."""
    if key is None:
        body = _body(upload())
        commit_now(session)
        return Response(body, media_type="application/json")
    claimed = idempotency.claim(
        session,
        principal,
        key,
        endpoint=endpoint,
        request_sha256=request_sha256(),
        keep_hours=settings.idempotency_hours,
    )
    if isinstance(claimed, idempotency.Replay):
        return Response(
            claimed.body,
            status_code=claimed.status_code,
            media_type="application/json",
            headers={idempotency.REPLAYED_HEADER: "true"},
        )
    body = _body(upload())
    idempotency.complete(session, claimed, 200, body)
    commit_now(session)
    return Response(body, media_type="application/json", headers={idempotency.REPLAYED_HEADER: "false"})


#: From this size on, an upload is read, checked and answered with the cyclic GC paused.
GC_PAUSE_MIN_BYTES = 256 * 1024


def _ingest(
    session: SessionDep,
    principal: Principal,
    settings: Settings,
    *,
    name: str,
    data: bytes,
    crs: str | None,
    layer: str | None,
) -> UploadPublic:
    """Read, store and check an upload; its answer.

    A large upload builds millions of acyclic objects (works, findings, rows): the cyclic garbage
    collector stays paused until they are freed, at the end of this call. Paused only in
    :func:`~api.services.check.check_works`, the first collection after it would scan all of them
    (about a second for 100k findings).
    """
    from geo.intake import read_works

    with cyclic_gc_paused() if len(data) >= GC_PAUSE_MIN_BYTES else contextlib.nullcontext():
        principal.require(Role.UTILITY, action_zh="上传工程", action_en="uploading works")
        result = read_works(name, data=data, crs=crs, settings=settings, layer=layer, source_name=name)
        if not result.works and result.errors:
            raise InputError(
                f"文件 {name} 中没有有效的工程，共 {len(result.errors)} 个问题",
                f"no valid work in {name}: {len(result.errors)} problem(s)",
                details=result.errors,
            )
        outcome = work_service.store_works(session, principal, result.works, settings=settings, source=name)
        return upload_answer(
            outcome,
            settings,
            n_features=result.n_features,
            errors=result.errors,
            warnings=result.warnings,
            org_code=principal.org_code,
        )


def upload_answer(
    outcome: work_service.UploadOutcome,
    settings: Settings,
    *,
    n_features: int,
    errors: list[Problem],
    warnings: list[Problem],
    org_code: str,
) -> UploadPublic:
    """The answer to an upload: every finding inline, or (above ``upload_findings_inline_max``) their counts."""
    summary = None
    findings: list[FindingPublic] = []
    if outcome.upload_id is not None:
        by_kind, by_severity = finding_service.summary(outcome.findings)
        limit = settings.findings_page_max
        summary = FindingsSummary(
            total=len(outcome.findings),
            by_kind=by_kind,
            by_severity=by_severity,
            upload=outcome.upload_id,
            href=f"/findings?upload={outcome.upload_id}&limit={limit}",
            page_size=limit,
        )
    else:
        findings = present.findings(outcome.findings, settings)
    return UploadPublic(
        n_features=n_features,
        created=outcome.created,
        updated=outcome.updated,
        works=present.works_in_full(outcome.works, settings, org_code=org_code),
        errors=present.problems(errors),
        warnings=present.problems(warnings),
        findings=findings,
        findings_summary=summary,
    )


@router.post("/upload", response_model=UploadPublic, responses=ERRORS, summary="上传路由文件 / upload a route file")
def upload_file(
    *,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="GeoJSON, zipped Shapefile, GeoPackage, KML/KMZ, DXF or CSV")],
    crs: Annotated[str | None, Form(description="坐标系 / CRS, e.g. EPSG:4490, gcj02, bd09")] = None,
    layer: Annotated[str | None, Form(description="图层 / layer")] = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Upload one route file: returns the validated works, every problem, and the findings against everything stored.

    Above ``upload_findings_inline_max`` findings (default 2000) the answer lists none of them but
    counts them in ``findings_summary``, which links to ``GET /findings?upload=<id>`` (paged).
    """
    principal.require(Role.UTILITY, action_zh="上传工程", action_en="uploading works")
    if file.size is not None:
        _too_large(file.size, settings)
    data = file.file.read(settings.max_upload_bytes + 1)
    _too_large(len(data), settings)
    name, crs, layer = file.filename or "upload", crs or None, layer or None
    return _once(
        session,
        principal,
        settings,
        idempotency_key,
        endpoint="POST /works/upload",
        request_sha256=lambda: idempotency.fingerprint(name, crs, layer, data),
        upload=lambda: _ingest(session, principal, settings, name=name, data=data, crs=crs, layer=layer),
    )


async def _geojson_body(request: Request, settings: SettingsDep) -> bytes:
    """The body of ``POST /works`` as sent: the intake parses it once (not the framework first)."""
    length = request.headers.get("content-length", "")
    if length.isdigit():
        _too_large(int(length), settings)
    data = await request.body()
    _too_large(len(data), settings)
    return data


def _canonical_json(data: bytes) -> bytes | str:
    """The body with its keys sorted (a retry may order them otherwise), or as sent if not JSON."""
    try:
        return json.dumps(json.loads(data), ensure_ascii=False, sort_keys=True)
    except ValueError:
        return data


#: The request body of ``POST /works`` in the OpenAPI schema (the route reads it as bytes).
GEOJSON_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "GeoJSON FeatureCollection",
                },
                "examples": {"routes": {"summary": "两条路由 / two routes", "value": FEATURE_COLLECTION_EXAMPLE}},
            }
        },
    }
}


@router.post(
    "",
    response_model=UploadPublic,
    responses=ERRORS,
    summary="上传 GeoJSON / upload a GeoJSON body",
    openapi_extra=GEOJSON_BODY,
)
def upload_geojson(
    *,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    data: Annotated[bytes, Depends(_geojson_body)],
    crs: Annotated[str | None, Query(description="坐标系 / CRS (default: EPSG:4490)")] = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Upload works as a GeoJSON FeatureCollection (same answer as the file upload, findings_summary included).

    The body is read as sent and parsed once by the intake: a body that is not JSON is an
    unreadable file (400), one that is not GeoJSON an invalid input (422), as for a file.
    """
    principal.require(Role.UTILITY, action_zh="上传工程", action_en="uploading works")
    return _once(
        session,
        principal,
        settings,
        idempotency_key,
        endpoint="POST /works",
        request_sha256=lambda: idempotency.fingerprint(crs, _canonical_json(data)),
        upload=lambda: _ingest(session, principal, settings, name="body.geojson", data=data, crs=crs, layer=None),
    )


@router.get("", response_model=WorksPublic, responses=ERRORS, summary="工程列表 / list works")
def list_works(
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    include_withdrawn: bool = False,
    utility: Annotated[str | None, Query(description="管线类别 / utility kind, e.g. power")] = None,
) -> WorksPublic:
    """Your works in full, and of other organisations' works only the stretches shared with yours (bureau: all)."""
    kind = None
    if utility is not None:
        from onetrench.domain import UtilityKind

        kind = UtilityKind.parse(utility, field_name="utility").value
    views = work_service.list_works(session, principal, include_withdrawn=include_withdrawn, utility=kind)
    return WorksPublic(count=len(views), works=[present.work(v, settings) for v in views])


@router.get("/{work_pk}", response_model=WorkPublic, responses=ERRORS, summary="工程详情 / one work")
def get_work(session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, work_pk: WorkId) -> WorkPublic:
    """One work as you may see it (404 when it is not visible to you)."""
    return present.work(work_service.get_work(session, principal, work_pk), settings)


@router.patch("/{work_pk}", response_model=UploadPublic, responses=ERRORS, summary="修改工程 / update a work")
def update_work(
    session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, work_pk: WorkId, body: WorkUpdate
) -> Response:
    """Change your own work (a new version is kept) and re-check it; returns the work and its findings."""
    changes = body.model_dump(exclude_unset=True)
    if "geometry" in changes:
        if changes["geometry"] is None:
            raise InputError("geometry 不能为空", "geometry cannot be null")
        changes["geometry"] = parse_geojson(changes["geometry"], settings)
    row, found = work_service.update_work(session, principal, work_pk, changes, settings=settings)
    view = work_service.get_work(session, principal, row.id)
    answer = UploadPublic(
        n_features=1,
        created=0,
        updated=1,
        works=[present.work(view, settings)],
        errors=[],
        warnings=[],
        findings=present.findings(found, settings),
    )
    return Response(_body(answer), media_type="application/json")


@router.post("/{work_pk}/withdraw", response_model=WorkPublic, responses=ERRORS, summary="撤回工程 / withdraw")
def withdraw_work(
    session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, work_pk: WorkId
) -> WorkPublic:
    """Withdraw your own work: it is kept with its history but leaves every check, plan and bundle."""
    row = work_service.withdraw_work(session, principal, work_pk, settings=settings)
    return present.work(work_service.WorkView(row=row, geometry=from_db(row.geometry), redacted=False), settings)


@router.get("/{work_pk}/history", response_model=WorkHistoryPublic, responses=ERRORS, summary="历史版本 / history")
def work_history(
    session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, work_pk: WorkId
) -> WorkHistoryPublic:
    """Every kept version of your work (bureau: of any work)."""
    versions = work_service.history(session, principal, work_pk)
    key = work_service.get_work(session, principal, work_pk).row.key
    return WorkHistoryPublic(work=key, versions=[present.version(v, settings) for v in versions])


@router.get("/{work_pk}/findings", response_model=FindingsPublic, responses=ERRORS, summary="工程的检查结果")
def work_findings(
    session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, work_pk: WorkId
) -> FindingsPublic:
    """Findings concerning one work (a utility: only those that also concern its own works)."""
    rows = finding_service.list_findings(session, principal, work_pk=work_pk)
    return FindingsPublic(count=len(rows), findings=[present.finding(f, settings) for f in rows])

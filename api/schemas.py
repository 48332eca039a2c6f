"""Pydantic v2 schemas of the API, in families (``…Create`` in, ``…Public`` out, ``…sPublic`` lists).

Geometries are GeoJSON in the exchange CRS (EPSG:4490, longitude first).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.models import BundleStatus, Decision, OrgKind, Role

GEOMETRY_EXAMPLE: dict[str, Any] = {
    "type": "LineString",
    "coordinates": [[106.651, 29.028], [106.655, 29.028]],
}

FEATURE_COLLECTION_EXAMPLE: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {
                "工程编号": "DL-2026-001",
                "管线类别": "电力",
                "建设单位": "国网重庆綦江供电公司",
                "计划开工": "2026-03-02",
                "计划完工": "2026-03-20",
            },
            "geometry": GEOMETRY_EXAMPLE,
        }
    ],
}


class ProblemItem(BaseModel):
    """One per-feature problem (see :class:`onetrench.errors.Problem`)."""

    code: str
    severity: str = "error"
    zh: str
    en: str
    source: str | None = None
    index: int | None = None
    feature_id: str | None = None
    field: str | None = None
    location: list[float] | None = None
    extra: dict[str, Any] | None = None


class ProblemPublic(BaseModel):
    """RFC 9457 problem details, with the Chinese text beside the English."""

    type: str = Field(examples=["urn:onetrench:problem:input-error"])
    title: str
    title_zh: str | None = None
    status: int
    detail: str
    detail_zh: str | None = None
    instance: str | None = None
    errors: list[ProblemItem] | None = None


# --- works ------------------------------------------------------------------------------------


class WorkPublic(BaseModel):
    """A work as the caller may see it; ``redacted`` works show only the stretches they share."""

    id: int
    key: str = Field(description="service-wide id: <organisation code>:<工程编号>", examples=["power:DL-2026-001"])
    work_id: str = Field(description="工程编号", examples=["DL-2026-001"])
    organisation: str
    utility: str
    utility_zh: str
    owner: str
    start: dt.date
    end: dt.date
    redacted: bool = Field(description="true: only the stretches shared with your works are shown")
    geometry: dict[str, Any] | None = Field(None, examples=[GEOMETRY_EXAMPLE])
    name: str | None = None
    contact: str | None = None
    earliest_start: dt.date | None = None
    latest_end: dt.date | None = None
    diameter_mm: float | None = None
    voltage_kv: float | None = None
    gas_pressure: str | None = None
    trench_width_m: float | None = None
    depth_m: float | None = None
    method: str | None = None
    emergency: bool | None = None
    source: str | None = None
    version: int | None = None
    withdrawn: bool = False
    updated_at: dt.datetime | None = None


class WorksPublic(BaseModel):
    """A list of works."""

    count: int
    works: list[WorkPublic]


class WorkUpdate(BaseModel):
    """Changes to one's own work (omitted fields stay); every change becomes a new version."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    contact: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    earliest_start: dt.date | None = None
    latest_end: dt.date | None = None
    diameter_mm: float | None = Field(None, gt=0)
    trench_width_m: float | None = Field(None, gt=0, le=20)
    depth_m: float | None = Field(None, gt=0, le=30)
    method: str | None = Field(None, examples=["open_cut"])
    emergency: bool | None = None
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON, EPSG:4490", examples=[GEOMETRY_EXAMPLE])


class WorkVersionPublic(BaseModel):
    """One kept version of a work."""

    version: int
    change: str
    withdrawn: bool
    changed_at: dt.datetime
    snapshot: dict[str, Any]
    geometry: dict[str, Any] | None


class WorkHistoryPublic(BaseModel):
    """Every version of a work, oldest first."""

    work: str
    versions: list[WorkVersionPublic]


# --- findings ---------------------------------------------------------------------------------


class FindingPublic(BaseModel):
    """One finding of the rule."""

    id: int
    kind: str = Field(examples=["same_road_same_period"])
    kind_zh: str
    severity: str
    work_keys: list[str]
    road_id: str | None
    road_name: str | None
    zh: str
    en: str
    fix_zh: str
    fix_en: str
    measures: list[list[float]]
    geometry: dict[str, Any] | None
    data: dict[str, Any]


class FindingsPublic(BaseModel):
    """A list of findings (one page of them when read with ``upload=``)."""

    count: int
    findings: list[FindingPublic]
    next: str | None = Field(
        None,
        description="下一页的链接（仅分页读取时）/ link to the next page (paged reads only; null on the last page)",
        examples=["/findings?upload=42&after=1234&limit=1000"],
    )


class FindingsSummary(BaseModel):
    """The findings of a large upload, counted: they are read page by page from ``href``."""

    total: int = Field(description="检查结果总数 / number of findings")
    by_kind: dict[str, int] = Field(description="按类型计数 / count per kind", examples=[{"same_road_same_period": 3}])
    by_severity: dict[str, int] = Field(description="按严重程度计数 / count per severity", examples=[{"info": 3}])
    upload: int = Field(description="本次上传的编号 / id of this upload (for GET /findings?upload=…)")
    href: str = Field(
        description="第一页检查结果 / first page of the findings", examples=["/findings?upload=42&limit=1000"]
    )
    page_size: int = Field(description="每页最多条数 / findings per page")


class UploadPublic(BaseModel):
    """The answer to an upload: the works stored, every problem found, the findings against everything stored."""

    n_features: int
    created: int
    updated: int
    works: list[WorkPublic]
    errors: list[ProblemItem]
    warnings: list[ProblemItem]
    findings: list[FindingPublic] = Field(
        description="检查结果；大批量上传时为空，见 findings_summary / the findings against everything stored; "
        "empty for a large upload, see findings_summary"
    )
    findings_summary: FindingsSummary | None = Field(
        None,
        description="仅当检查结果超过 upload_findings_inline_max（默认 2000）条时出现：计数与分页链接，"
        "findings 为空 / present only when the upload has more findings than upload_findings_inline_max "
        "(default 2000): their counts and the link to read them page by page; findings is then empty. "
        "Absent from smaller answers.",
    )


# --- roads ------------------------------------------------------------------------------------


class RoadPublic(BaseModel):
    """A road centreline."""

    road_id: str
    name: str
    road_class: str
    road_class_zh: str
    width_m: float
    pavement: str
    last_works_date: dt.date | None
    last_works_kind: str | None
    geometry: dict[str, Any] | None


class RoadsPublic(BaseModel):
    """A list of roads."""

    count: int
    roads: list[RoadPublic]


class RoadLoadPublic(BaseModel):
    """The outcome of loading a road network."""

    created: int
    updated: int
    warnings: list[ProblemItem]


# --- plan and bundles -------------------------------------------------------------------------


class PlanCreate(BaseModel):
    """Options of a plan run."""

    model_config = ConfigDict(extra="forbid")

    optimise: bool = Field(False, description="also choose dates with the CP-SAT optimiser")
    time_limit_s: float = Field(10.0, gt=0, le=120, description="optimiser time limit (s)")


class BundlePublic(BaseModel):
    """One joint excavation (联合开挖包)."""

    bundle_id: str
    status: BundleStatus
    version: int = Field(description="send it back when deciding; a changed bundle is refused with 409")
    work_keys: list[str]
    lead_work_key: str
    lead_owner: str
    window_start: dt.date
    window_end: dt.date
    draft: bool
    stretches: list[dict[str, Any]]
    savings: dict[str, Any]
    comment: str
    footprint: dict[str, Any] | None
    redacted: bool
    proposed_dates: dict[str, list[dt.date | None]] = Field(
        default_factory=dict, description="per work key (yours only, for a utility): [start, end] proposed"
    )
    updated_at: dt.datetime


class BundlesPublic(BaseModel):
    """A list of bundles."""

    count: int
    bundles: list[BundlePublic]


class PlanPublic(BaseModel):
    """What a plan run stored."""

    works: int
    roads: int
    findings: int
    bundles: list[BundlePublic]
    superseded: int
    savings: dict[str, Any]
    optimised: bool


class VersionBody(BaseModel):
    """The version of the bundle the decision was made on."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=2_147_483_647, examples=[1])


class ApproveBody(VersionBody):
    """Approve a bundle read at ``version``."""

    comment: str = Field("", max_length=2000)


class SendBackBody(VersionBody):
    """Send a bundle back with a comment."""

    comment: str = Field(min_length=1, max_length=2000, examples=["请补充交通组织方案 / add the traffic plan"])


class ApprovalPublic(BaseModel):
    """A decision recorded on a bundle."""

    decision: Decision
    bundle_version: int
    comment: str
    organisation: str
    decided_at: dt.datetime


class ApprovalsPublic(BaseModel):
    """The decisions on a bundle, oldest first."""

    count: int
    approvals: list[ApprovalPublic]


# --- admin ------------------------------------------------------------------------------------


class OrganisationCreate(BaseModel):
    """A new organisation."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64, examples=["sgcc-qijiang"])
    name: str = Field(min_length=1, max_length=200, examples=["国网重庆綦江供电公司"])
    kind: OrgKind


class OrganisationPublic(BaseModel):
    """An organisation."""

    code: str
    name: str
    kind: OrgKind
    created_at: dt.datetime


class OrganisationsPublic(BaseModel):
    """A list of organisations."""

    count: int
    organisations: list[OrganisationPublic]


class TokenCreate(BaseModel):
    """A new token for an organisation."""

    model_config = ConfigDict(extra="forbid")

    org: str = Field(examples=["sgcc-qijiang"])
    role: Role | None = None
    label: str = Field("", max_length=200)
    expires_in_days: float | None = Field(365.0, gt=0, le=3650)


class TokenPublic(BaseModel):
    """A token, without its secret."""

    id: int
    org: str
    role: Role
    prefix: str
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenPublic):
    """A new token: ``secret`` is shown only in this answer."""

    secret: str


class TokensPublic(BaseModel):
    """A list of tokens."""

    count: int
    tokens: list[TokenPublic]


class KpisPublic(BaseModel):
    """Key figures."""

    works: int
    works_withdrawn: int
    organisations: int
    works_by_utility: dict[str, int]
    findings_by_kind: dict[str, int]
    bundles_by_status: dict[str, int]
    excavations_avoided: int
    area_not_reopened_m2: float
    cost_saved_yuan: float


class WhoAmI(BaseModel):
    """The caller."""

    organisation: str
    organisation_name: str
    role: Role

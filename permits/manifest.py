"""The ``manifest.json`` of a permit package: building it from domain objects, and its schema.

The manifest is plain JSON data (dicts, lists, strings, numbers), validated by
``permits/schema/manifest-v1.schema.json``. Everything here is deterministic: the same
inputs give the same manifest (lists are sorted, numbers rounded to the millimetre).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema
from pyproj import Transformer
from shapely import ops
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry

import onetrench
from onetrench.domain import Bundle, Finding, FindingKind, Road, RoadStretch, Severity, UtilityKind, Work, WorksKind
from onetrench.errors import InputError, Problem
from onetrench.settings import Settings
from permits.projectcode import QIJIANG_REGION_CODE, project_code_problems

SCHEMA_VERSION = "1.0"
SCHEMA_FILE = "manifest-v1.schema.json"
FORMAT = "onetrench-permit-package"
EXCHANGE_CRS = "EPSG:4490"

GEOJSON_NAME = "excavation.geojson"
GPKG_NAME = "excavation.gpkg"
PDF_NAME = "application.pdf"
MAP_HTML_NAME = "map.html"
MAP_PNG_NAME = "map.png"
MANIFEST_NAME = "manifest.json"
SUMS_NAME = "SHA256SUMS"

_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,24}$")
_EMAIL = re.compile(r"^$|^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Applicant:
    """One applying unit (申请单位) with its contact.

    Parameters
    ----------
    unit
        单位名称; must equal the ``owner`` of that unit's works.
    contact
        联系人姓名.
    phone
        联系电话, e.g. ``"023-48612345"`` or ``"13800000000"``.
    email
        电子邮箱 (optional).
    """

    unit: str
    contact: str
    phone: str
    email: str = ""


_KEYS = {
    "unit": ("unit", "单位", "申请单位", "单位名称", "建设单位", "owner"),
    "contact": ("contact", "联系人", "name"),
    "phone": ("phone", "电话", "联系电话", "tel"),
    "email": ("email", "邮箱", "电子邮箱", "e-mail"),
}
_PHONE_IN_TEXT = re.compile(r"(\+?86[- ]?)?(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})")


def parse_applicants(records: object, *, source: str = "applicants") -> list[Applicant]:
    """Return applicants from JSON-like records (keys in English or Chinese), checking every record.

    Accepted keys: ``unit``/``单位``/``申请单位``, ``contact``/``联系人``, ``phone``/``电话``/``联系电话``,
    ``email``/``邮箱`` (optional).

    Raises
    ------
    InputError
        Listing every record with a missing unit, contact or phone.

    Examples
    --------
    >>> parse_applicants([{"单位": "重庆港华燃气", "联系人": "李工", "电话": "13800000000"}])[0].phone
    '13800000000'
    """
    if not isinstance(records, list | tuple):
        raise InputError(
            f"{source} 应为申请单位列表（JSON 数组）", f"{source} must be a list of applicants (a JSON array)"
        )
    out: list[Applicant] = []
    problems: list[Problem] = []
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            problems.append(
                Problem(
                    "applicant.record",
                    f"第 {i + 1} 项不是对象",
                    f"item {i + 1} is not an object",
                    source=source,
                    index=i,
                )
            )
            continue
        values = {
            k: next((str(rec[a]).strip() for a in aliases if rec.get(a) is not None), "")
            for k, aliases in _KEYS.items()
        }
        for key in ("unit", "contact", "phone"):
            if not values[key]:
                problems.append(
                    Problem(
                        f"applicant.{key}",
                        f"第 {i + 1} 个申请单位缺少「{_KEYS[key][1]}」",
                        f"applicant {i + 1} lacks {key!r}",
                        source=source,
                        index=i,
                        field=key,
                    )
                )
        out.append(
            Applicant(unit=values["unit"], contact=values["contact"], phone=values["phone"], email=values["email"])
        )
    if problems:
        raise InputError(
            "申请单位信息不完整：" + "；".join(p.zh for p in problems),
            "incomplete applicants: " + "; ".join(p.en for p in problems),
            details=problems,
        )
    return out


def applicants_from_works(works: Iterable[Work]) -> list[Applicant]:
    """Derive one applicant per owner from the works' free-text ``contact`` (e.g. ``"张工 13800000000"``).

    The first work (by id) of each owner whose contact holds a phone number gives the contact.

    Raises
    ------
    InputError
        Listing every owner without a usable contact (name and phone).

    Examples
    --------
    >>> import datetime as dt
    >>> from shapely.geometry import LineString
    >>> w = Work(work_id="g1", utility=UtilityKind.GAS, owner="港华燃气", geometry=LineString([(0, 0), (1, 0)]),
    ...          start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 9), contact="李工 / 023-48612345")
    >>> applicants_from_works([w])
    [Applicant(unit='港华燃气', contact='李工', phone='023-48612345', email='')]
    """
    found: dict[str, Applicant | None] = {}
    for w in sorted(works, key=lambda w: w.work_id):
        if found.get(w.owner) is not None:
            continue
        found.setdefault(w.owner, None)
        m = _PHONE_IN_TEXT.search(w.contact)
        name = (w.contact[: m.start()] + w.contact[m.end() :] if m else w.contact).strip(" /,，:：;；()（）\t")
        if m and name:
            found[w.owner] = Applicant(unit=w.owner, contact=name, phone=m.group(0))
    missing = sorted(owner for owner, a in found.items() if a is None)
    if missing:
        problems = [
            Problem(
                "applicant.contact",
                f"建设单位「{o}」的工程没有可用的联系人和电话",
                f"no work of owner {o!r} has a usable contact name and phone",
                field="contact",
            )
            for o in missing
        ]
        raise InputError(
            "以下建设单位缺少联系人及电话，请补充申请单位信息：" + "、".join(missing),
            "these owners lack a contact name and phone; give applicants explicitly: " + ", ".join(missing),
            details=problems,
        )
    return [a for _, a in sorted(found.items()) if a is not None]


def load_schema() -> dict[str, Any]:
    """Return the manifest JSON Schema (version 1) shipped in ``permits/schema``.

    Examples
    --------
    >>> load_schema()["$schema"]
    'https://json-schema.org/draft/2020-12/schema'
    """
    return json.loads(_schema_text())


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files("permits.schema").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(_schema_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_problems(manifest: Any, *, source: str = MANIFEST_NAME) -> list[Problem]:
    """Return every JSON Schema violation of ``manifest`` (empty when valid), plus the project-code check."""
    problems: list[Problem] = []
    for err in sorted(_validator().iter_errors(manifest), key=lambda e: [str(p) for p in e.absolute_path]):
        where = "/".join(str(p) for p in err.absolute_path) or "(根 root)"
        problems.append(
            Problem(
                "manifest.schema",
                f"manifest.json 的 {where} 不符合清单结构：{err.message}",
                f"manifest.json at {where} violates the schema: {err.message}",
                source=source,
                field=where,
            )
        )
    if isinstance(manifest, dict) and isinstance(manifest.get("project_code"), str):
        problems.extend(
            p
            for p in project_code_problems(manifest["project_code"])
            if p.code != "project_code.format"  # the schema pattern already reported it
        )
    return problems


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _r(x: float, nd: int = 3) -> float:
    """Round for the manifest (millimetres by default); ``-0.0`` becomes ``0.0``."""
    v = round(float(x), nd)
    return v + 0.0


def _label(member: Any) -> dict[str, str]:
    return {"code": str(member.value), "zh": str(member.zh)}


def chainage(measure_m: float) -> str:
    """Return a chainage (桩号) like ``K1+020.5`` for a measure in metres.

    Examples
    --------
    >>> chainage(1020.46)
    'K1+020.5'
    >>> chainage(35)
    'K0+035.0'
    """
    tenths = round(measure_m * 10)
    km, rest = divmod(tenths, 10000)
    return f"K{km}+{rest // 10:03d}.{rest % 10}"


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def package_id_for(project_code: str, bundle_id: str) -> str:
    """Return the stable package id (a UUID-5) of a bundle under a project code.

    Examples
    --------
    >>> package_id_for("2026-500110-48-01-000123", "B1") == package_id_for("2026-500110-48-01-000123", "B1")
    True
    """
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:onetrench:permit:{project_code}:{bundle_id}"))


def size_text(work: Work) -> str:
    """Return the size of a work as short Chinese text (``DN300，中压A`` …).

    Examples
    --------
    >>> import datetime as dt
    >>> from shapely.geometry import LineString
    >>> w = Work(work_id="p1", utility=UtilityKind.POWER, owner="供电", geometry=LineString([(0, 0), (1, 0)]),
    ...          start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 9), diameter_mm=800, voltage_kv=10)
    >>> size_text(w)
    '10 kV，排管宽 800 mm'
    """
    parts: list[str] = []
    if work.voltage_kv is not None:
        parts.append(f"{work.voltage_kv:g} kV")
    if work.diameter_mm is not None:
        if work.utility in (UtilityKind.POWER, UtilityKind.TELECOM):
            parts.append(f"排管宽 {work.diameter_mm:g} mm")
        else:
            parts.append(f"DN{work.diameter_mm:g}")
    if work.gas_pressure is not None:
        parts.append(work.gas_pressure.zh)
    return "，".join(parts) or "未填写"


def sorted_stretches(bundle: Bundle) -> list[RoadStretch]:
    """Return the bundle's stretches in the package's fixed order (road name, road id, measures)."""
    return sorted(bundle.stretches, key=lambda s: (s.road_name, s.road_id, s.interval.from_m, s.interval.to_m))


def _line_of(road: Road) -> LineString | None:
    geom = road.geometry
    if isinstance(geom, MultiLineString):
        merged = ops.linemerge(geom)
        geom = merged
    return geom if isinstance(geom, LineString) and not geom.is_empty else None


def stretch_line(stretch: RoadStretch, road: Road | None) -> LineString | None:
    """Return the centreline piece of ``stretch`` (working CRS), or ``None`` when it cannot be located."""
    if road is None:
        return None
    line = _line_of(road)
    if line is None:
        return None
    piece = ops.substring(line, stretch.interval.from_m, stretch.interval.to_m)
    return piece if isinstance(piece, LineString) and piece.length > 0 else None


# --------------------------------------------------------------------------------------
# Default plan texts (the applicant edits them)
# --------------------------------------------------------------------------------------


def default_traffic_plan(bundle: Bundle, *, lead_phone: str = "") -> str:
    """Return the default 交通组织方案 text for ``bundle`` (Chinese; the applicant edits it)."""
    roads = "、".join(dict.fromkeys(s.road_name for s in sorted_stretches(bundle))) or "相关道路"
    phone = f"（联系电话 {lead_phone}）" if lead_phone else ""
    return (
        f"1. 施工期间按《道路交通标志和标线 第4部分：作业区》(GB 5768.4) 及公安交通管理部门的要求设置连续、"
        f"稳固的施工围挡、警示标志和夜间警示灯。\n"
        f"2. {roads}采用半幅施工、半幅通行的方式分段开挖，各参建单位在同一沟槽内同步敷设，"
        f"保证双向车辆通行；人行道保留不小于 1.5 m 的通行带。\n"
        f"3. 由牵头单位{bundle.lead_owner}统一设置交通导改标志并配备交通协管员，早晚高峰加强疏导。\n"
        f"4. 联合施工时段为 {bundle.window_start.isoformat()} 至 {bundle.window_end.isoformat()}；"
        f"开挖前 3 日在现场公示施工范围、工期和联系人{phone}。\n"
        f"5. 施工结束后及时拆除围挡、恢复交通标线，恢复正常通行。"
    )


def default_restoration_plan(bundle: Bundle) -> str:
    """Return the default 路面恢复方案 text for ``bundle`` (Chinese; the applicant edits it)."""
    by_kind: dict[str, float] = {}
    for s in bundle.stretches:
        by_kind[s.pavement.zh] = by_kind.get(s.pavement.zh, 0.0) + s.area_m2
    areas = "；".join(f"{k} {v:.1f} m²" for k, v in sorted(by_kind.items())) or "无"
    return (
        f"1. 路面恢复由牵头单位{bundle.lead_owner}统一组织实施，各参建单位按各自占用的开挖面积分担费用。\n"
        f"2. 恢复面积：{areas}。\n"
        f"3. 沟槽分层回填、分层压实，压实度符合《城镇道路工程施工与质量验收规范》(CJJ 1) 的要求。\n"
        f"4. 沥青混凝土路面按原路面结构恢复，面层铣刨搭接；水泥混凝土路面按整块板恢复；人行道按原样铺装。\n"
        f"5. 恢复完成后报城市道路主管部门验收，验收合格后方可开放交通。"
    )


# --------------------------------------------------------------------------------------
# Findings and draft status
# --------------------------------------------------------------------------------------


_SEVERITY_ORDER = {Severity.BLOCKING: 0, Severity.WARNING: 1, Severity.INFO: 2}


def open_findings_for(bundle: Bundle, findings: Iterable[Finding]) -> list[Finding]:
    """Return the findings still open for ``bundle``: its own plus those given that concern its works.

    A finding concerns the bundle when it names one of its works or, naming no work, one of its
    roads. ``same_road_same_period`` findings (the reason the bundle exists) are not "open". The
    result is de-duplicated and sorted (blocking first).
    """
    members = set(bundle.work_ids)
    roads = {s.road_id for s in bundle.stretches}
    seen: dict[tuple[Any, ...], Finding] = {}
    for f in (*bundle.open_findings, *findings):
        if f.kind == FindingKind.SAME_ROAD_SAME_PERIOD:
            continue
        if not (members.intersection(f.work_ids) if f.work_ids else f.road_id in roads):
            continue
        key = (f.kind.value, f.severity.value, tuple(f.work_ids), f.road_id or "", f.zh)
        seen.setdefault(key, f)
    return sorted(
        seen.values(),
        key=lambda f: (_SEVERITY_ORDER.get(f.severity, 9), f.kind.value, tuple(f.work_ids), f.road_id or "", f.zh),
    )


def draft_reasons(bundle: Bundle, open_findings: Sequence[Finding]) -> list[dict[str, str]]:
    """Return why ``bundle`` may only be exported as a draft (empty when it may be final)."""
    reasons: list[dict[str, str]] = []
    if bundle.draft:
        reasons.append(
            {
                "code": "bundle.draft",
                "zh": f"联合开挖 {bundle.bundle_id} 在规划中仍为草稿状态",
                "en": f"bundle {bundle.bundle_id} is still a draft in the plan",
            }
        )
    for f in open_findings:
        if f.severity == Severity.BLOCKING:
            where = f"（{f.road_name or f.road_id}）" if (f.road_name or f.road_id) else ""
            reasons.append(
                {
                    "code": f"finding.{f.kind.value}",
                    "zh": f"未关闭的阻断问题「{f.kind.zh}」{where}：{f.zh}",
                    "en": f"open blocking finding '{f.kind.en}': {f.en}",
                }
            )
    return reasons


# --------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------


def input_problems(
    bundle: Bundle,
    *,
    works: Mapping[str, Work],
    roads: Mapping[str, Road],
    applicants: Sequence[Applicant],
    project_code: str,
) -> list[Problem]:
    """Return every problem of the inputs of a package (empty when they are usable)."""
    problems = list(project_code_problems(project_code))
    if not bundle.work_ids:
        problems.append(Problem("bundle.no_works", "联合开挖不含任何工程", "the bundle has no works", field="work_ids"))
    if not bundle.stretches:
        problems.append(
            Problem(
                "bundle.no_stretches", "联合开挖不含任何占掘路段", "the bundle has no road stretches", field="stretches"
            )
        )
    if bundle.window_end < bundle.window_start:
        problems.append(
            Problem(
                "bundle.window",
                f"联合施工时段结束日期 {bundle.window_end} 早于开始日期 {bundle.window_start}",
                f"joint window ends ({bundle.window_end}) before it starts ({bundle.window_start})",
                field="window_end",
            )
        )
    if bundle.lead_work_id not in bundle.work_ids:
        problems.append(
            Problem(
                "bundle.lead_work",
                f"牵头工程 {bundle.lead_work_id} 不在联合开挖的工程中",
                f"lead work {bundle.lead_work_id!r} is not a member of the bundle",
                field="lead_work_id",
            )
        )
    for wid in bundle.work_ids:
        work = works.get(wid)
        if work is None:
            problems.append(
                Problem("work.missing", f"缺少工程 {wid} 的资料", f"work {wid!r} was not given", feature_id=wid)
            )
            continue
        if work.geometry is None or work.geometry.is_empty:
            problems.append(
                Problem(
                    "work.geometry.empty", f"工程 {wid} 没有几何图形", f"work {wid!r} has no geometry", feature_id=wid
                )
            )
        elif not work.geometry.is_valid:
            problems.append(
                Problem(
                    "work.geometry.invalid",
                    f"工程 {wid} 的几何图形无效",
                    f"work {wid!r} has an invalid geometry",
                    feature_id=wid,
                )
            )
    for i, s in enumerate(bundle.stretches):
        if s.interval.length_m <= 0 or s.width_m <= 0:
            problems.append(
                Problem(
                    "stretch.empty",
                    f"路段 {s.road_name}（{s.road_id}）的长度或宽度不为正",
                    f"stretch on {s.road_id!r} has a non-positive length or width",
                    index=i,
                    feature_id=s.road_id,
                )
            )
        if s.road_id not in roads:
            problems.append(
                Problem(
                    "stretch.road_missing",
                    f"缺少道路 {s.road_name}（{s.road_id}）的资料，无法确定起止位置和保护期",
                    f"road {s.road_id!r} ({s.road_name}) was not given: "
                    "cannot locate the stretch or check its moratorium",
                    index=i,
                    feature_id=s.road_id,
                )
            )
    by_unit: dict[str, Applicant] = {}
    for a in applicants:
        if a.unit in by_unit:
            problems.append(
                Problem(
                    "applicant.duplicate", f"申请单位 {a.unit} 重复", f"applicant {a.unit!r} listed twice", field="unit"
                )
            )
        by_unit[a.unit] = a
        if not a.contact.strip():
            problems.append(
                Problem(
                    "applicant.contact",
                    f"申请单位 {a.unit} 缺少联系人",
                    f"applicant {a.unit!r} has no contact",
                    field="contact",
                )
            )
        if not _PHONE.match(a.phone):
            problems.append(
                Problem(
                    "applicant.phone",
                    f"申请单位 {a.unit} 的联系电话「{a.phone}」无效（例如 023-48612345 或 13800000000）",
                    f"applicant {a.unit!r}: invalid phone {a.phone!r} (e.g. 023-48612345 or 13800000000)",
                    field="phone",
                )
            )
        if not _EMAIL.match(a.email):
            problems.append(
                Problem(
                    "applicant.email",
                    f"申请单位 {a.unit} 的电子邮箱「{a.email}」无效",
                    f"applicant {a.unit!r}: invalid e-mail {a.email!r}",
                    field="email",
                )
            )
    owners = sorted({works[w].owner for w in bundle.work_ids if w in works} | {bundle.lead_owner})
    for owner in owners:
        if owner not in by_unit:
            problems.append(
                Problem(
                    "applicant.missing",
                    f"建设单位「{owner}」没有申请单位及联系人信息",
                    f"no applicant (unit and contact) given for owner {owner!r}",
                    field="applicants",
                )
            )
    return problems


def moratorium_status(road: Road | None, bundle: Bundle, members: Sequence[Work], settings: Settings) -> dict[str, Any]:
    """Return the manifest's moratorium block for a stretch on ``road`` during the bundle's window."""
    if road is None or road.last_works_date is None or road.last_works_kind is None:
        return {
            "status": "unknown",
            "zh": "无道路竣工记录，保护期未核实",
            "last_works_date": road.last_works_date.isoformat() if road and road.last_works_date else None,
            "last_works_kind": _label(road.last_works_kind) if road and road.last_works_kind else None,
            "protected_until": None,
        }
    years = (
        settings.moratorium_years_overhaul
        if road.last_works_kind == WorksKind.OVERHAUL
        else settings.moratorium_years_new
    )
    until = _add_years(road.last_works_date, years)
    if bundle.window_start >= until:
        status, zh = "clear", "不在道路保护期内"
    elif members and all(w.emergency for w in members):
        status, zh = "exempt_emergency", f"保护期内（至 {until.isoformat()}），抢修豁免，须 24 小时内补办手续"
    else:
        status, zh = "protected", f"道路保护期内（至 {until.isoformat()}），须经批准方可开挖"
    return {
        "status": status,
        "zh": zh,
        "last_works_date": road.last_works_date.isoformat(),
        "last_works_kind": _label(road.last_works_kind),
        "protected_until": until.isoformat(),
    }


def _lonlat(transformer: Transformer, x: float, y: float) -> list[float]:
    lon, lat = transformer.transform(x, y)
    return [round(float(lon), 9), round(float(lat), 9)]


def build_manifest(
    bundle: Bundle,
    *,
    works: Mapping[str, Work],
    roads: Mapping[str, Road],
    findings: Sequence[Finding],
    applicants: Sequence[Applicant],
    project_code: str,
    settings: Settings,
    draft: bool,
    reasons: Sequence[Mapping[str, str]],
    traffic_plan: str | None,
    restoration_plan: str | None,
    prepared_on: dt.date | None,
) -> dict[str, Any]:
    """Return the manifest without its ``geometry``, ``files`` and ``missing_files`` parts.

    The inputs must have passed :func:`input_problems`.
    """
    members = [works[w] for w in sorted(bundle.work_ids)]
    by_unit = {a.unit: a for a in applicants}
    to_exchange = Transformer.from_crs(settings.working_crs, EXCHANGE_CRS, always_xy=True)

    def contact(unit: str) -> dict[str, str]:
        a = by_unit[unit]
        return {"name": a.contact.strip(), "phone": a.phone, "email": a.email}

    owners = sorted({w.owner for w in members} | {bundle.lead_owner})
    applicant_rows = []
    for owner in owners:
        own = [w for w in members if w.owner == owner]
        utilities = sorted({w.utility for w in own}, key=lambda u: list(UtilityKind).index(u))
        applicant_rows.append(
            {
                "unit": owner,
                "is_lead": owner == bundle.lead_owner,
                "utilities": [_label(u) for u in utilities] or [_label(works[bundle.lead_work_id].utility)],
                "work_ids": [w.work_id for w in own] or [bundle.lead_work_id],
                "contact": contact(owner),
            }
        )

    stretches = []
    for s in sorted_stretches(bundle):
        road = roads.get(s.road_id)
        piece = stretch_line(s, road)
        a, b = s.interval.from_m, s.interval.to_m
        stretches.append(
            {
                "road_id": s.road_id,
                "road_name": s.road_name,
                "road_class": _label(road.road_class) if road else None,
                "from_m": _r(a),
                "to_m": _r(b),
                "from_to_zh": f"{s.road_name} 桩号 {chainage(a)} 至 {chainage(b)}",
                "from_to_en": f"{s.road_id} chainage {chainage(a)} to {chainage(b)}",
                "from_point": _lonlat(to_exchange, *piece.coords[0]) if piece else None,
                "to_point": _lonlat(to_exchange, *piece.coords[-1]) if piece else None,
                "length_m": _r(s.interval.length_m),
                "width_m": _r(s.width_m),
                "road_width_m": _r(road.width_m) if road else None,
                "area_m2": _r(s.area_m2),
                "pavement": _label(s.pavement),
                "moratorium": moratorium_status(road, bundle, members, settings),
            }
        )

    work_rows = []
    for w in members:
        work_rows.append(
            {
                "work_id": w.work_id,
                "name": w.name,
                "utility": _label(w.utility),
                "owner": w.owner,
                "contact": w.contact,
                "is_lead": w.work_id == bundle.lead_work_id,
                "size": {
                    "diameter_mm": _r(w.diameter_mm) if w.diameter_mm is not None else None,
                    "voltage_kv": _r(w.voltage_kv) if w.voltage_kv is not None else None,
                    "gas_pressure": _label(w.gas_pressure) if w.gas_pressure is not None else None,
                    "text_zh": size_text(w),
                },
                "method": _label(w.method),
                "trench_width_m": _r(w.trench_width_m) if w.trench_width_m is not None else None,
                "depth_m": _r(w.depth_m) if w.depth_m is not None else None,
                "start": w.start.isoformat(),
                "end": w.end.isoformat(),
                "emergency": w.emergency,
                "length_m": _r(w.geometry.length),
                "geometry_type": w.geometry.geom_type,
            }
        )

    open_rows = []
    for f in findings:
        open_rows.append(
            {
                "kind": _label(f.kind),
                "severity": _label(f.severity),
                "blocking": f.severity == Severity.BLOCKING,
                "work_ids": list(f.work_ids),
                "road_id": f.road_id,
                "road_name": f.road_name,
                "measures": [[_r(m.from_m), _r(m.to_m)] for m in f.measures],
                "zh": f.zh,
                "en": f.en,
                "fix_zh": f.fix_zh,
                "fix_en": f.fix_en,
            }
        )

    sv = bundle.savings
    lead_phone = by_unit[bundle.lead_owner].phone
    utilities = sorted({w.utility for w in members}, key=lambda u: list(UtilityKind).index(u))
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "package_id": package_id_for(project_code.strip(), bundle.bundle_id),
        "draft": draft,
        "draft_reasons": [dict(r) for r in reasons],
        "project_code": project_code.strip(),
        "region": {"code": QIJIANG_REGION_CODE, "name_zh": "重庆市綦江区", "name_en": "Qijiang District, Chongqing"},
        "bundle_id": bundle.bundle_id,
        "prepared_on": prepared_on.isoformat() if prepared_on else None,
        "crs": {"working": settings.working_crs, "exchange": EXCHANGE_CRS},
        "lead_unit": {
            "unit": bundle.lead_owner,
            "lead_work_id": bundle.lead_work_id,
            "contact": contact(bundle.lead_owner),
        },
        "applicants": applicant_rows,
        "joint_window": {
            "start": bundle.window_start.isoformat(),
            "end": bundle.window_end.isoformat(),
            "days": (bundle.window_end - bundle.window_start).days + 1,
        },
        "road_stretches": stretches,
        "works": work_rows,
        "totals": {
            "works": len(members),
            "applicants": len(applicant_rows),
            "road_stretches": len(stretches),
            "length_m": _r(sum(s.interval.length_m for s in bundle.stretches)),
            "area_m2": _r(sum(s.area_m2 for s in bundle.stretches)),
            "footprint_area_m2": _r(bundle.footprint.area if isinstance(bundle.footprint, BaseGeometry) else 0.0),
            "utilities": [_label(u) for u in utilities],
        },
        "savings": {
            "excavations_separate": sv.excavations_separate,
            "excavations_joint": sv.excavations_joint,
            "excavations_avoided": sv.excavations_avoided,
            "area_separate_m2": _r(sv.area_separate_m2),
            "area_joint_m2": _r(sv.area_joint_m2),
            "area_not_reopened_m2": _r(sv.area_not_reopened_m2),
            "cost_saved_yuan": _r(sv.cost_saved_yuan, 2),
        },
        "traffic_organisation": {
            "text_zh": (traffic_plan or "").strip() or default_traffic_plan(bundle, lead_phone=lead_phone),
            "is_default": not (traffic_plan or "").strip(),
        },
        "restoration_plan": {
            "text_zh": (restoration_plan or "").strip() or default_restoration_plan(bundle),
            "is_default": not (restoration_plan or "").strip(),
        },
        "open_findings": open_rows,
        "generator": {"name": "onetrench", "version": onetrench.__version__},
    }


def dump_manifest(manifest: Mapping[str, Any]) -> bytes:
    """Serialise a manifest deterministically (UTF-8, sorted keys, 2-space indent, final newline)."""
    return (json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode("utf-8")

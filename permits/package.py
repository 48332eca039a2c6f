"""One bundle → one joint excavation permit package (ZIP) for 渝快办, and reading it back.

The package (schema version 1) holds::

    manifest.json        what is applied for (validated by permits/schema/manifest-v1.schema.json)
    excavation.geojson   works, road stretches and joint footprint, EPSG:4490 (lon, lat)
    excavation.gpkg      the same in the working CRS, one layer per utility (+ road_stretches, footprint)
    map.png              overview map (supplied, or drawn by onetrench when not supplied)
    map.html             offline review map (only when supplied; otherwise listed in missing_files)
    application.pdf      printable 占掘路施工组织方案 (Chinese, font embedded)
    attachments/…        any further supplied files
    SHA256SUMS           SHA-256 of every other file (``sha256sum -c`` format)

The same inputs give the same bytes: entries are sorted, timestamps fixed at 1980-01-01 00:00,
permissions 0644, and every member is itself deterministic.

Examples
--------
The CLI needs three calls::

    data = build_package(bundle, works=works, roads=roads, project_code=code, applicants=applicants)
    summary = inspect_package(path)       # raises InputError listing every problem
    print(summary_text(summary))
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

from onetrench.domain import Bundle, Finding, Road, UtilityKind, Work
from onetrench.errors import InputError, PayloadTooLarge, Problem, UnreadableFile
from onetrench.settings import Settings, get_settings
from permits.geometry import (
    FOOTPRINT_LAYER,
    GeoFeature,
    build_geojson,
    build_gpkg,
    raise_problems,
    read_geojson,
    read_gpkg,
)
from permits.manifest import (
    GEOJSON_NAME,
    GPKG_NAME,
    MANIFEST_NAME,
    MAP_HTML_NAME,
    MAP_PNG_NAME,
    PDF_NAME,
    SUMS_NAME,
    Applicant,
    applicants_from_works,
    build_manifest,
    draft_reasons,
    dump_manifest,
    input_problems,
    open_findings_for,
    parse_applicants,
    schema_problems,
)
from permits.mapimage import render_map_png
from permits.pdf import render_application_pdf

__all__ = [
    "Applicant",
    "PackageSummary",
    "PermitPackage",
    "applicants_from_works",
    "build_package",
    "inspect_package",
    "parse_applicants",
    "read_package",
    "summary_text",
]

#: ZIP timestamp of every entry (the earliest a ZIP can hold).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ATTACHMENT_DIR = "attachments"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_RESERVED = {MANIFEST_NAME, SUMS_NAME, GEOJSON_NAME, GPKG_NAME, PDF_NAME}
_MEDIA_TYPES = {
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".gpkg": "application/geopackage+sqlite3",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".html": "text/html",
    ".txt": "text/plain",
    ".dxf": "image/vnd.dxf",
    ".zip": "application/zip",
}
#: Geometry read back from the GeoJSON must match the GeoPackage within this distance (m).
GEOMETRY_TOLERANCE_M = 0.001


# --------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------


def _as_dict_works(works: Mapping[str, Work] | Sequence[Work]) -> dict[str, Work]:
    return dict(works) if isinstance(works, Mapping) else {w.work_id: w for w in works}


def _as_dict_roads(roads: Mapping[str, Road] | Sequence[Road]) -> dict[str, Road]:
    return dict(roads) if isinstance(roads, Mapping) else {r.road_id: r for r in roads}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _media_type(path: str) -> str:
    return _MEDIA_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")


def _attachment_problems(attachments: Mapping[str, bytes]) -> list[Problem]:
    problems = []
    for name, data in attachments.items():
        if not _SAFE_NAME.match(name) or name in (".", "..") or name in _RESERVED:
            problems.append(
                Problem(
                    "attachment.name",
                    f"附件名「{name}」无效：只能使用字母、数字、“_”“.”“-”，且不能与包内文件重名",
                    f"invalid attachment name {name!r}: use letters, digits, '_', '.', '-' and no reserved name",
                    field="attachments",
                    feature_id=name,
                )
            )
        if name == MAP_PNG_NAME and bytes(data[:8]) != b"\x89PNG\r\n\x1a\n":
            problems.append(
                Problem(
                    "attachment.map_png",
                    "附件 map.png 不是 PNG 图片",
                    "attachment map.png is not a PNG image",
                    field="attachments",
                    feature_id=name,
                )
            )
        if not isinstance(data, bytes | bytearray):
            problems.append(
                Problem(
                    "attachment.data",
                    f"附件「{name}」的内容必须是字节串",
                    f"attachment {name!r} must be bytes",
                    field="attachments",
                    feature_id=name,
                )
            )
    return problems


def _zip(entries: Mapping[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so that the permissions below are honoured
            info.external_attr = (0o100644 & 0xFFFF) << 16
            zf.writestr(info, entries[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buf.getvalue()


def build_package(
    bundle: Bundle,
    *,
    works: Mapping[str, Work] | Sequence[Work],
    roads: Mapping[str, Road] | Sequence[Road],
    project_code: str,
    applicants: Sequence[Applicant],
    findings: Sequence[Finding] = (),
    settings: Settings | None = None,
    attachments: Mapping[str, bytes] | None = None,
    draft: bool | None = None,
    traffic_plan: str | None = None,
    restoration_plan: str | None = None,
    prepared_on: dt.date | None = None,
) -> bytes:
    """Build the permit package (ZIP bytes) of one bundle.

    Parameters
    ----------
    bundle
        The bundle (geometries in the working CRS).
    works, roads
        At least the bundle's works and the roads of its stretches (mapping by id, or a sequence).
    project_code
        投资项目统一代码 (GB/T 40058, ``YYYY-AAAAAA-DD-TT-NNNNNN``, region 500110).
    applicants
        One :class:`Applicant` (unit, contact, phone) per owner of the bundle's works.
    findings
        Findings of the plan; those touching the bundle's works (besides ``bundle.open_findings``)
        are listed as open, and a blocking one forces a draft.
    settings
        Working CRS and moratorium periods (default: :func:`onetrench.settings.get_settings`).
    attachments
        ``map.html`` and ``map.png`` (placed at the root) and any further files (placed under
        ``attachments/``). Without ``map.png`` a simple map is drawn; without ``map.html`` the
        manifest says it is missing.
    draft
        ``None``: a draft exactly when something blocks (blocking findings, or ``bundle.draft``).
        ``True``: always a draft. ``False``: final, refused when something blocks.
    traffic_plan, restoration_plan
        交通组织方案 and 路面恢复方案 text; default texts (marked as such) when not given.
    prepared_on
        编制日期, printed in the manifest and used as the PDF's creation date.

    Raises
    ------
    InputError
        Listing every problem: bad project code, missing works, roads or applicants,
        invalid contacts or attachment names, or ``draft=False`` with blocking findings.
    """
    cfg = settings or get_settings()
    works_by_id = _as_dict_works(works)
    roads_by_id = _as_dict_roads(roads)
    extra = dict(attachments or {})
    problems = input_problems(
        bundle, works=works_by_id, roads=roads_by_id, applicants=applicants, project_code=project_code
    )
    problems += _attachment_problems(extra)
    raise_problems(problems, "无法生成联合开挖许可申请包", "cannot build the permit package")

    open_findings = open_findings_for(bundle, findings)
    reasons = draft_reasons(bundle, open_findings)
    if draft is False and reasons:
        details = [Problem(r["code"], r["zh"], r["en"]) for r in reasons]
        raise InputError(
            "存在未关闭的阻断问题，只能导出草稿，不能作为正式申请：" + "；".join(r["zh"] for r in reasons),
            "open blocking findings: the package can only be exported as a draft, not as final: "
            + "; ".join(r["en"] for r in reasons),
            details=details,
        )
    is_draft = bool(reasons) if draft is None else draft
    if is_draft and not reasons:
        reasons = [{"code": "requested", "zh": "申请人要求导出为草稿", "en": "a draft was requested"}]

    members = [works_by_id[w] for w in sorted(bundle.work_ids)]
    manifest = build_manifest(
        bundle,
        works=works_by_id,
        roads=roads_by_id,
        findings=open_findings,
        applicants=applicants,
        project_code=project_code,
        settings=cfg,
        draft=is_draft,
        reasons=reasons,
        traffic_plan=traffic_plan,
        restoration_plan=restoration_plan,
        prepared_on=prepared_on,
    )

    # Files other than the PDF, manifest and sums: (path, role, source, data, zh, en).
    files: list[tuple[str, str, str, bytes, str, str]] = []
    geojson = build_geojson(bundle, members, roads_by_id, working_crs=cfg.working_crs)
    files.append(
        (GEOJSON_NAME, "geojson", "generated", geojson, "开挖范围几何（EPSG:4490）", "excavation geometry (EPSG:4490)")
    )
    gpkg, layers = build_gpkg(bundle, members, roads_by_id, working_crs=cfg.working_crs)
    files.append(
        (
            GPKG_NAME,
            "gpkg",
            "generated",
            gpkg,
            f"开挖范围几何（{cfg.working_crs}，按管线分图层）",
            f"excavation geometry ({cfg.working_crs}, one layer per utility)",
        )
    )
    missing: list[dict[str, str]] = []
    map_png = extra.pop(MAP_PNG_NAME, None)
    if map_png is None:
        map_png = render_map_png(bundle, members, roads_by_id)
        files.append(
            (
                MAP_PNG_NAME,
                "map_png",
                "generated",
                map_png,
                "位置示意图（系统绘制的简图）",
                "overview map (simple map drawn by onetrench)",
            )
        )
    else:
        files.append((MAP_PNG_NAME, "map_png", "supplied", bytes(map_png), "位置示意图", "overview map"))
    map_html = extra.pop(MAP_HTML_NAME, None)
    if map_html is None:
        missing.append(
            {
                "path": MAP_HTML_NAME,
                "zh": "未提供离线审查地图（map.html），可在 onetrench 中打开本联合开挖查看",
                "en": "the offline review map (map.html) was not supplied; open the bundle in onetrench to view it",
            }
        )
    else:
        files.append((MAP_HTML_NAME, "map_html", "supplied", bytes(map_html), "离线审查地图", "offline review map"))
    for name in sorted(extra):
        files.append((f"{ATTACHMENT_DIR}/{name}", "attachment", "supplied", bytes(extra[name]), "附件", "attachment"))

    manifest["missing_files"] = missing
    manifest["geometry"] = {
        "geojson": {"path": GEOJSON_NAME, "crs": "EPSG:4490", "feature_count": len(json.loads(geojson)["features"])},
        "gpkg": {
            "path": GPKG_NAME,
            "crs": cfg.working_crs,
            "layers": [{"name": li.name, "title_zh": li.title_zh, "feature_count": li.feature_count} for li in layers],
        },
    }
    pdf = render_application_pdf(manifest, map_png=map_png, file_sums=sorted((f[0], _sha256(f[3])) for f in files))
    files.append(
        (PDF_NAME, "application_pdf", "generated", pdf, "占掘路施工组织方案（可打印）", "excavation plan (printable)")
    )
    manifest["files"] = [
        {
            "path": path,
            "role": role,
            "source": source,
            "media_type": _media_type(path),
            "size_bytes": len(data),
            "sha256": _sha256(data),
            "zh": zh,
            "en": en,
        }
        for path, role, source, data, zh, en in sorted(files, key=lambda f: f[0])
    ]
    raise_problems(
        schema_problems(manifest), "生成的申请包清单不符合结构定义", "the built manifest violates its schema"
    )

    entries = {path: data for path, _, _, data, _, _ in files}
    entries[MANIFEST_NAME] = dump_manifest(manifest)
    sums = "".join(f"{_sha256(entries[p])}  {p}\n" for p in sorted(entries))
    entries[SUMS_NAME] = sums.encode("ascii")
    return _zip(entries)


# --------------------------------------------------------------------------------------
# Reading and inspecting
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageSummary:
    """What a valid package applies for, for listings and the CLI."""

    package_id: str
    schema_version: str
    draft: bool
    draft_reasons_zh: tuple[str, ...]
    project_code: str
    bundle_id: str
    lead_unit: str
    lead_contact: str
    applicants: tuple[str, ...]
    window_start: dt.date
    window_end: dt.date
    works: tuple[tuple[str, str, str], ...]
    road_stretches: tuple[tuple[str, str, float, float], ...]
    total_length_m: float
    total_area_m2: float
    open_findings: int
    blocking_findings: int
    files: tuple[tuple[str, str], ...]
    missing_files: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PermitPackage:
    """A package read back: manifest, summary, geometries (working CRS) and the raw files."""

    manifest: dict[str, Any]
    summary: PackageSummary
    working_crs: str
    works: dict[str, BaseGeometry]
    works_from_geojson: dict[str, BaseGeometry]
    stretches: tuple[GeoFeature, ...]
    footprint: BaseGeometry | None
    layers: dict[str, gpd.GeoDataFrame] = field(repr=False)
    files: dict[str, bytes] = field(repr=False)


def _load_bytes(source: bytes | str | os.PathLike[str], limit: int) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray):
        data, name = bytes(source), "(bytes)"
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"找不到申请包文件：{path}", f"package file not found: {path}")
        if path.stat().st_size > limit:
            _too_large(path.name, path.stat().st_size, limit)
        data, name = path.read_bytes(), path.name
    if len(data) > limit:
        _too_large(name, len(data), limit)
    return data, name


def _too_large(name: str, size: int, limit: int) -> NoReturn:
    raise PayloadTooLarge(
        f"申请包 {name} 过大（{size} 字节，上限 {limit} 字节）",
        f"package {name} is too large ({size} bytes, limit {limit})",
    )


def _unzip(data: bytes, source: str, limit: int, problems: list[Problem]) -> dict[str, bytes]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UnreadableFile(
            f"{source} 不是有效的 ZIP 申请包：{exc}", f"{source} is not a valid ZIP package: {exc}"
        ) from exc
    entries: dict[str, bytes] = {}
    with zf:
        infos = zf.infolist()
        budget = 4 * limit  # total uncompressed bytes we are willing to read (zip-bomb guard)
        if sum(i.file_size for i in infos) > budget:
            raise PayloadTooLarge(f"{source} 解压后过大，拒绝读取", f"{source} expands to too many bytes; refused")
        for info in infos:
            name = info.filename
            if info.is_dir():
                continue
            parts = name.split("/")
            if name.startswith("/") or "\\" in name or ".." in parts or len(parts) > 2:
                problems.append(
                    Problem(
                        "zip.name",
                        f"包内文件名不安全：{name}",
                        f"unsafe file name in the package: {name!r}",
                        source=source,
                        feature_id=name,
                    )
                )
                continue
            if name in entries:
                problems.append(
                    Problem(
                        "zip.duplicate",
                        f"包内文件重复：{name}",
                        f"duplicate entry in the package: {name!r}",
                        source=source,
                        feature_id=name,
                    )
                )
                continue
            try:
                entries[name] = zf.read(info)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as exc:
                problems.append(
                    Problem(
                        "zip.corrupt",
                        f"包内文件 {name} 已损坏（ZIP 校验失败）：{exc}",
                        f"entry {name!r} is corrupt (ZIP check failed): {exc}",
                        source=source,
                        feature_id=name,
                    )
                )
    return entries


def _check_sums(entries: Mapping[str, bytes], problems: list[Problem]) -> None:
    raw = entries.get(SUMS_NAME)
    if raw is None:
        problems.append(Problem("sums.missing", f"缺少 {SUMS_NAME}", f"{SUMS_NAME} is missing", source=SUMS_NAME))
        return
    listed: dict[str, str] = {}
    for n, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        m = re.fullmatch(r"([0-9a-f]{64}) [ *](\S+)", line)
        if m is None:
            problems.append(
                Problem(
                    "sums.line",
                    f"{SUMS_NAME} 第 {n} 行格式错误",
                    f"{SUMS_NAME} line {n} is malformed",
                    source=SUMS_NAME,
                    index=n - 1,
                )
            )
            continue
        listed[m.group(2)] = m.group(1)
    for name in sorted(set(entries) - {SUMS_NAME}):
        if name not in listed:
            problems.append(
                Problem(
                    "sums.unlisted",
                    f"文件 {name} 未列入 {SUMS_NAME}",
                    f"{name} is not listed in {SUMS_NAME}",
                    source=SUMS_NAME,
                    feature_id=name,
                )
            )
        elif _sha256(entries[name]) != listed[name]:
            problems.append(
                Problem(
                    "sums.mismatch",
                    f"文件 {name} 的 SHA-256 与 {SUMS_NAME} 不符（文件被修改或损坏）",
                    f"{name}: SHA-256 does not match {SUMS_NAME} (file changed or damaged)",
                    source=SUMS_NAME,
                    feature_id=name,
                )
            )
    for name in sorted(set(listed) - set(entries)):
        problems.append(
            Problem(
                "sums.missing_file",
                f"{SUMS_NAME} 列出的文件 {name} 不在包内",
                f"{name} is listed in {SUMS_NAME} but absent",
                source=SUMS_NAME,
                feature_id=name,
            )
        )


def _check_manifest_files(manifest: Mapping[str, Any], entries: Mapping[str, bytes], problems: list[Problem]) -> None:
    listed = {f["path"]: f for f in manifest.get("files", []) if isinstance(f, dict) and "path" in f}
    for path, entry in sorted(listed.items()):
        data = entries.get(path)
        if data is None:
            problems.append(
                Problem(
                    "files.missing",
                    f"清单列出的文件 {path} 不在包内",
                    f"{path} is listed in the manifest but absent",
                    source=MANIFEST_NAME,
                    feature_id=path,
                )
            )
        elif entry.get("sha256") != _sha256(data) or entry.get("size_bytes") != len(data):
            problems.append(
                Problem(
                    "files.mismatch",
                    f"文件 {path} 的 SHA-256 或大小与清单不符",
                    f"{path}: SHA-256 or size differs from the manifest",
                    source=MANIFEST_NAME,
                    feature_id=path,
                )
            )
    for path in sorted(set(entries) - set(listed) - {MANIFEST_NAME, SUMS_NAME}):
        problems.append(
            Problem(
                "files.unlisted",
                f"文件 {path} 未列入清单",
                f"{path} is not listed in the manifest",
                source=MANIFEST_NAME,
                feature_id=path,
            )
        )
    for required in (GEOJSON_NAME, GPKG_NAME, PDF_NAME):
        if required not in entries:
            problems.append(
                Problem(
                    "files.required",
                    f"缺少必需文件 {required}",
                    f"required file {required} is missing",
                    feature_id=required,
                )
            )
    pdf = entries.get(PDF_NAME)
    if pdf is not None and (not pdf.startswith(b"%PDF-") or b"%%EOF" not in pdf[-1024:]):
        problems.append(
            Problem(
                "pdf.structure", f"{PDF_NAME} 不是完整的 PDF 文件", f"{PDF_NAME} is not a complete PDF", source=PDF_NAME
            )
        )


def _check_geometry(
    manifest: Mapping[str, Any],
    features: Sequence[GeoFeature],
    layers: Mapping[str, gpd.GeoDataFrame],
    problems: list[Problem],
) -> dict[str, BaseGeometry]:
    """Compare GeoJSON, GeoPackage and manifest; return the works' geometries from the GeoPackage."""
    works = {w["work_id"]: w for w in manifest.get("works", [])}
    geo = manifest.get("geometry", {})
    gj_works = {f.key: f for f in features if f.kind == "work"}
    n_expected = geo.get("geojson", {}).get("feature_count")
    if n_expected is not None and n_expected != len(features):
        problems.append(
            Problem(
                "geometry.count",
                f"{GEOJSON_NAME} 有 {len(features)} 个有效要素，清单为 {n_expected}",
                f"{GEOJSON_NAME} has {len(features)} valid features, the manifest says {n_expected}",
                source=GEOJSON_NAME,
            )
        )
    for wid in sorted(set(works) ^ set(gj_works)):
        where = "清单" if wid in works else GEOJSON_NAME
        problems.append(
            Problem(
                "geometry.work_mismatch",
                f"工程 {wid} 只出现在{where}中",
                f"work {wid} appears only in {'the manifest' if wid in works else GEOJSON_NAME}",
                source=GEOJSON_NAME,
                feature_id=wid,
            )
        )
    for wid in sorted(set(works) & set(gj_works)):
        geom = gj_works[wid].geometry
        row = works[wid]
        if geom is None:
            continue
        tol = 0.01 + 1e-6 * float(row["length_m"])
        if abs(geom.length - float(row["length_m"])) > tol or geom.geom_type != row["geometry_type"]:
            problems.append(
                Problem(
                    "geometry.work_differs",
                    f"工程 {wid} 的几何与清单不符（长度 {geom.length:.3f} m，清单 {row['length_m']} m）",
                    f"work {wid}: geometry differs from the manifest "
                    f"(length {geom.length:.3f} m vs {row['length_m']} m)",
                    source=GEOJSON_NAME,
                    feature_id=wid,
                )
            )
    n_stretch = sum(1 for f in features if f.kind == "stretch")
    if n_stretch != len(manifest.get("road_stretches", [])):
        problems.append(
            Problem(
                "geometry.stretch_count",
                f"{GEOJSON_NAME} 的路段数 {n_stretch} 与清单不符",
                f"{GEOJSON_NAME} has {n_stretch} stretches, not as in the manifest",
                source=GEOJSON_NAME,
            )
        )

    gpkg_works: dict[str, BaseGeometry] = {}
    listed_layers = {li["name"]: li for li in geo.get("gpkg", {}).get("layers", [])}
    if layers:
        for name in sorted(set(listed_layers) ^ set(layers)):
            problems.append(
                Problem(
                    "gpkg.layers",
                    f"{GPKG_NAME} 的图层 {name} 与清单不符",
                    f"{GPKG_NAME}: layer {name} does not match the manifest",
                    source=GPKG_NAME,
                    feature_id=name,
                )
            )
    utilities = {u.value for u in UtilityKind}
    for name, gdf in sorted(layers.items()):
        if name in listed_layers and listed_layers[name]["feature_count"] != len(gdf):
            problems.append(
                Problem(
                    "gpkg.count",
                    f"{GPKG_NAME} 图层 {name} 的要素数与清单不符",
                    f"{GPKG_NAME}: layer {name} feature count differs",
                    source=GPKG_NAME,
                    feature_id=name,
                )
            )
        if name not in utilities:
            continue
        for wid, geom in zip(gdf["work_id"], gdf.geometry, strict=True):
            gpkg_works[str(wid)] = geom
            if str(wid) not in works:
                problems.append(
                    Problem(
                        "gpkg.work_unlisted",
                        f"{GPKG_NAME} 中的工程 {wid} 不在清单中",
                        f"{GPKG_NAME}: work {wid} is not in the manifest",
                        source=GPKG_NAME,
                        feature_id=str(wid),
                    )
                )
            elif works[str(wid)].get("utility", {}).get("code") != name:
                problems.append(
                    Problem(
                        "gpkg.work_layer",
                        f"{GPKG_NAME} 中工程 {wid} 不应在图层 {name}",
                        f"{GPKG_NAME}: work {wid} is in the wrong layer {name}",
                        source=GPKG_NAME,
                        feature_id=str(wid),
                    )
                )
            other = gj_works.get(str(wid))
            if other is not None and other.geometry is not None and geom is not None:
                dist = geom.hausdorff_distance(other.geometry)
                if dist > GEOMETRY_TOLERANCE_M:
                    problems.append(
                        Problem(
                            "geometry.formats_differ",
                            f"工程 {wid} 在 {GPKG_NAME} 与 {GEOJSON_NAME} 中的几何相差 {dist:.4f} m",
                            f"work {wid}: {GPKG_NAME} and {GEOJSON_NAME} differ by {dist:.4f} m",
                            source=GPKG_NAME,
                            feature_id=str(wid),
                        )
                    )
    if layers:
        for wid in sorted(set(works) - set(gpkg_works)):
            problems.append(
                Problem(
                    "gpkg.work_missing",
                    f"{GPKG_NAME} 缺少工程 {wid}",
                    f"{GPKG_NAME} lacks work {wid}",
                    source=GPKG_NAME,
                    feature_id=wid,
                )
            )
    return gpkg_works


def _summary(manifest: Mapping[str, Any]) -> PackageSummary:
    lead = manifest["lead_unit"]
    return PackageSummary(
        package_id=manifest["package_id"],
        schema_version=manifest["schema_version"],
        draft=manifest["draft"],
        draft_reasons_zh=tuple(r["zh"] for r in manifest["draft_reasons"]),
        project_code=manifest["project_code"],
        bundle_id=manifest["bundle_id"],
        lead_unit=lead["unit"],
        lead_contact=f"{lead['contact']['name']} {lead['contact']['phone']}",
        applicants=tuple(a["unit"] for a in manifest["applicants"]),
        window_start=dt.date.fromisoformat(manifest["joint_window"]["start"]),
        window_end=dt.date.fromisoformat(manifest["joint_window"]["end"]),
        works=tuple((w["work_id"], w["utility"]["zh"], w["owner"]) for w in manifest["works"]),
        road_stretches=tuple(
            (s["road_name"], s["from_to_zh"], float(s["length_m"]), float(s["area_m2"]))
            for s in manifest["road_stretches"]
        ),
        total_length_m=float(manifest["totals"]["length_m"]),
        total_area_m2=float(manifest["totals"]["area_m2"]),
        open_findings=len(manifest["open_findings"]),
        blocking_findings=sum(1 for f in manifest["open_findings"] if f["blocking"]),
        files=tuple((f["path"], f["sha256"]) for f in manifest["files"]),
        missing_files=tuple(m["path"] for m in manifest["missing_files"]),
    )


def read_package(
    source: bytes | str | os.PathLike[str], *, settings: Settings | None = None, verify: bool = True
) -> PermitPackage:
    """Read a package back (ZIP bytes or a path): manifest, geometries in the working CRS, files.

    With ``verify`` (the default) every check of :func:`inspect_package` runs first.

    Raises
    ------
    InputError
        Listing every problem found (schema, checksums, geometry).
    UnreadableFile
        When the data is not a ZIP at all.
    """
    cfg = settings or get_settings()
    data, name = _load_bytes(source, cfg.max_upload_bytes)
    problems: list[Problem] = []
    entries = _unzip(data, name, cfg.max_upload_bytes, problems)
    _check_sums(entries, problems)
    manifest: Any = None
    raw_manifest = entries.get(MANIFEST_NAME)
    if raw_manifest is None:
        problems.append(
            Problem("manifest.missing", f"缺少 {MANIFEST_NAME}", f"{MANIFEST_NAME} is missing", source=MANIFEST_NAME)
        )
    else:
        try:
            manifest = json.loads(raw_manifest.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(
                Problem(
                    "manifest.parse",
                    f"{MANIFEST_NAME} 不是有效的 JSON：{exc}",
                    f"{MANIFEST_NAME} is not valid JSON: {exc}",
                    source=MANIFEST_NAME,
                )
            )
    schema_ok = False
    if manifest is not None:
        found = schema_problems(manifest)
        problems += found
        schema_ok = not found
    features: list[GeoFeature] = []
    layers: dict[str, gpd.GeoDataFrame] = {}
    gpkg_works: dict[str, BaseGeometry] = {}
    working_crs = cfg.working_crs
    if schema_ok:
        working_crs = manifest["crs"]["working"]
        _check_manifest_files(manifest, entries, problems)
        if GEOJSON_NAME in entries:
            features = read_geojson(entries[GEOJSON_NAME], working_crs=working_crs, problems=problems)
        if GPKG_NAME in entries:
            layers = read_gpkg(entries[GPKG_NAME], problems=problems)
        gpkg_works = _check_geometry(manifest, features, layers, problems)
    if verify or not schema_ok:
        raise_problems(problems, f"申请包 {name} 校验未通过", f"package {name} failed validation")
    footprint = layers.get(FOOTPRINT_LAYER)
    return PermitPackage(
        manifest=manifest,
        summary=_summary(manifest),
        working_crs=working_crs,
        works=gpkg_works,
        works_from_geojson={f.key: f.geometry for f in features if f.kind == "work" and f.geometry is not None},
        stretches=tuple(f for f in features if f.kind == "stretch"),
        footprint=footprint.geometry.iloc[0] if footprint is not None and len(footprint) else None,
        layers=layers,
        files=entries,
    )


def inspect_package(source: bytes | str | os.PathLike[str], *, settings: Settings | None = None) -> PackageSummary:
    """Validate a package (schema, checksums, geometry) and return its summary.

    Raises
    ------
    InputError
        Listing every problem: a changed byte, a missing file, a schema violation, a geometry
        that differs between the GeoJSON, the GeoPackage and the manifest.
    """
    return read_package(source, settings=settings, verify=True).summary


def summary_text(summary: PackageSummary) -> str:
    """Return a human-readable summary (Chinese first, English beside), e.g. for ``onetrench package inspect``."""
    status = "草稿 draft" if summary.draft else "正式 final"
    lines = [
        f"联合开挖许可申请包 / permit package {summary.package_id}（结构版本 schema {summary.schema_version}）",
        f"状态 status: {status}",
    ]
    lines += [f"  草稿原因 draft reason: {r}" for r in summary.draft_reasons_zh]
    lines += [
        f"投资项目统一代码 project code: {summary.project_code}",
        f"联合开挖 bundle: {summary.bundle_id}",
        f"牵头单位 lead unit: {summary.lead_unit}（{summary.lead_contact}）",
        f"申请单位 applicants: {'、'.join(summary.applicants)}",
        f"联合施工时段 joint window: {summary.window_start.isoformat()} — {summary.window_end.isoformat()}",
        f"参建工程 works ({len(summary.works)}):",
    ]
    lines += [f"  {wid}  {kind}  {owner}" for wid, kind, owner in summary.works]
    lines.append(
        f"占掘路段 road stretches ({len(summary.road_stretches)}), 共 total {summary.total_length_m:.1f} m, "
        f"{summary.total_area_m2:.1f} m²:"
    )
    lines += [f"  {desc}  {length:.1f} m  {area:.1f} m²" for _, desc, length, area in summary.road_stretches]
    lines.append(f"未关闭问题 open findings: {summary.open_findings}（阻断 blocking: {summary.blocking_findings}）")
    lines.append("文件 files (SHA-256):")
    lines += [f"  {digest}  {path}" for path, digest in summary.files]
    lines += [f"  缺少 missing: {path}" for path in summary.missing_files]
    return "\n".join(lines)

"""Route intake: read planners' files into :class:`~onetrench.domain.Work` objects, validated.

:func:`read_works` reads one file (GeoJSON, zipped Shapefile, GeoPackage, KML/KMZ, DXF, CSV;
see :mod:`geo.intake.readers`), resolves its CRS (the file's own › declared ``crs=`` › a hint
in the file or column names › guessed lon/lat with a warning, :func:`geo.crs.guess_crs`;
``crs_mode="override"`` puts the declared CRS first), transforms every geometry to the working CRS,
maps attributes (:mod:`geo.fields`), fills a default trench width (:mod:`geo.trench`) and
validates (:mod:`geo.validate`). Every problem is collected; valid features become works, the
caller decides whether to accept them. Only a file that cannot be read at all raises
(:class:`~onetrench.errors.UnreadableFile`, or :class:`~onetrench.errors.CRSError` when its
CRS cannot be determined).

Problem codes added here (besides those of :mod:`geo.validate`): errors ``file.no_features``,
``file.unreadable`` (:func:`read_many`); warnings ``file.encoding_detected`` / ``file.encoding_damaged``
/ ``file.encoding_mixed`` (warnings), ``file.gdal_warning``, ``crs.assumed``, ``crs.from_file_name``,
``crs.from_column_names``, ``crs.declared_ignored``, ``crs.overridden``, ``dxf.ignored_entities``,
``dxf.arcs_as_chords``, ``dxf.repaired``, ``dxf.attributes_sidecar``, ``attributes.unmatched``,
``attribute.generated_id``.

Examples
--------
>>> doc = '''{"type": "FeatureCollection", "features": [{"type": "Feature",
...   "properties": {"工程编号": "GS-1", "管线类别": "给水", "建设单位": "渝綦水务",
...                  "计划开工": "2026/3/1", "计划完工": "2026年3月20日", "管径": "DN300"},
...   "geometry": {"type": "LineString", "coordinates": [[106.65, 29.03], [106.655, 29.031]]}}]}'''
>>> result = read_works("routes.geojson", data=doc.encode())
>>> [(w.work_id, w.utility.value, w.trench_width_m) for w in result.works], result.errors
([('GS-1', 'water', 0.9)], [])
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Literal

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from geo.crs import CRSSpec, geometry_to_working, guess_crs, resolve_crs
from geo.fields import is_blank, map_fields, normalise_name
from geo.intake.readers import (
    Format,
    RawFeature,
    RawFile,
    decode_text,
    detect_format,
    read_csv,
    read_dxf,
    read_geojson,
    read_geopackage,
    read_kml,
    read_kmz,
    read_shapefile_path,
    read_shapefile_zip,
)
from geo.intake.readers import _read_shapefile_parts as _read_shp_parts
from geo.readerrors import explain
from geo.trench import default_trench_width
from geo.validate import (
    District,
    Where,
    check_geometry,
    check_projected,
    clean_geometries,
    duplicate_problems,
    load_district,
    parse_attributes,
)
from onetrench.domain import ExcavationMethod, UtilityKind, Work
from onetrench.errors import CRSError, OnetrenchError, PayloadTooLarge, Problem, UnreadableFile
from onetrench.gcpause import without_cyclic_gc
from onetrench.settings import Settings, get_settings

__all__ = ["Format", "IntakeResult", "read_many", "read_works", "work_to_json"]

#: Check the geometries of a file all at once (:func:`geo.validate.clean_geometries`) and run
#: the per-feature checks only for those that have a problem; ``False`` runs every feature
#: through the per-feature checks (the reference the tests compare with).
BATCH = True


@dataclass
class IntakeResult:
    """Works read from one or more files, and every problem found.

    ``works`` are the valid features, in the working CRS; ``errors`` made a feature (or a
    file) unusable; ``warnings`` did not. ``n_features`` counts the features read;
    ``unreadable`` lists the files that could not be read at all (:func:`read_many` with
    ``on_unreadable="report"``).
    """

    works: list[Work] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    n_features: int = 0
    unreadable: list[str] = field(default_factory=list)
    settings: Settings | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """Whether every feature of every file is valid."""
        return not self.errors and not self.unreadable

    @property
    def invalid_features(self) -> int:
        """Number of features with at least one error."""
        return len({(p.source, p.index) for p in self.errors if p.index is not None})

    def to_json(self) -> dict[str, Any]:
        """Return ``{"works": [...], "errors": [...], "warnings": [...]}`` (JSON-serialisable).

        Work geometries are GeoJSON in EPSG:4490 (lon/lat), as ``geometry``; lengths and areas
        are measured in the working CRS.
        """
        settings = self.settings or get_settings()
        return {
            "works": [work_to_json(w, settings=settings) for w in self.works],
            "errors": [p.to_dict() for p in self.errors],
            "warnings": [p.to_dict() for p in self.warnings],
        }

    def add(self, other: IntakeResult) -> None:
        """Append another result (for several files)."""
        self.works.extend(other.works)
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)
        self.n_features += other.n_features
        self.unreadable.extend(other.unreadable)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return str(value)


def work_to_json(work: Work, *, settings: Settings | None = None) -> dict[str, Any]:
    """A work as a JSON-serialisable dict; geometry as EPSG:4490 GeoJSON, rounded to 1e-8°."""
    from geo.crs import from_working

    settings = settings or get_settings()
    geo4490 = from_working(work.geometry, "EPSG:4490", settings=settings)
    rounded = shapely.transform(geo4490, lambda xy: np.round(xy, 8))
    out: dict[str, Any] = {
        "work_id": work.work_id,
        "utility": work.utility.value,
        "owner": work.owner,
        "name": work.name,
        "start": work.start.isoformat(),
        "end": work.end.isoformat(),
        "earliest_start": work.earliest_start.isoformat() if work.earliest_start else None,
        "latest_end": work.latest_end.isoformat() if work.latest_end else None,
        "diameter_mm": work.diameter_mm,
        "voltage_kv": work.voltage_kv,
        "gas_pressure": work.gas_pressure.value if work.gas_pressure else None,
        "trench_width_m": work.trench_width_m,
        "depth_m": work.depth_m,
        "method": work.method.value,
        "emergency": work.emergency,
        "contact": work.contact,
        "source": work.source,
        "geometry_type": work.geometry.geom_type,
        "length_m": round(float(work.geometry.length), 3),
        "area_m2": round(float(work.geometry.area), 3),
        "geometry_crs": "EPSG:4490",
        "geometry": mapping(rounded),
        "attributes": _json_value(work.attributes),
    }
    return out


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


@without_cyclic_gc
def read_works(
    path: str | Path,
    *,
    crs: str | int | CRSSpec | None = None,
    crs_mode: Literal["fallback", "override"] = "fallback",
    settings: Settings | None = None,
    layer: str | None = None,
    source_name: str | None = None,
    data: bytes | None = None,
    defaults: Mapping[str, object] | None = None,
    layer_kinds: Mapping[str, UtilityKind] | None = None,
    attributes: str | Path | bytes | None = None,
) -> IntakeResult:
    """Read, transform and validate the routes of one file.

    Parameters
    ----------
    path
        The file (its name also tells the format when ``data`` is given).
    crs
        Declared CRS: EPSG code, WKT, ``"gcj02"``, ``"bd09"`` … Used for files that declare
        none themselves (GeoJSON and KML are WGS84 by specification, but a declared CRS wins
        over that default: 奥维 and AMap exports are often GCJ-02).
    crs_mode
        ``"fallback"`` (default): a CRS the file declares itself (``.prj``, GeoJSON ``crs``
        member, GeoPackage) wins, with a ``crs.declared_ignored`` warning when it differs.
        ``"override"``: the declared CRS wins (for files with a wrong ``.prj``), with a
        ``crs.overridden`` warning.
    settings
        Working CRS, district boundary, limits; the process settings when omitted.
    layer
        GeoPackage layer, or Shapefile name inside a zip, when there are several.
    source_name
        Name used in problems and ``Work.source`` (default: the file name).
    data
        The file's bytes (an upload), instead of reading ``path``.
    defaults
        Values for Work fields a feature leaves blank (field names as in the file or Work
        names, e.g. ``{"计划开工": "2026-03-01"}``) — useful for DXF, which has no attributes.
    layer_kinds
        DXF / KML folder layer name → utility kind (default :data:`geo.fields.DEFAULT_LAYER_KINDS`).
    attributes
        An attribute table (CSV path or bytes) joined to the features by 工程编号, or by entity
        handle (``句柄`` / ``handle``) — for DXF drawings, which carry no attributes. For
        ``X.dxf``, a sibling ``X_attrs.csv`` is used when present (with a warning saying so).

    Raises
    ------
    UnreadableFile
        The file cannot be read at all (format, corruption, hostile XML, zip bomb).
    PayloadTooLarge
        The file exceeds ``settings.max_upload_bytes``.
    CRSError
        The declared CRS is unknown, or the file has none and its coordinates fit no
        plausible system.
    """
    settings = settings or get_settings()
    name = source_name or PurePath(str(path)).name
    declared = resolve_crs(crs) if crs is not None else None
    raw = _read_raw(Path(path), name, data, layer=layer, settings=settings)
    if attributes is None and raw.fmt is Format.DXF and data is None:
        sibling = sidecar_for(Path(path))
        if sibling is not None:
            attributes = sibling
            raw.warnings.append(
                Where(name).problem(
                    "dxf.attributes_sidecar",
                    f"属性取自同名属性表 {sibling.name}",
                    f"attributes taken from the sibling table {sibling.name}",
                    severity="warning",
                )
            )
    if attributes is not None:
        _join_attributes(raw, attributes, settings=settings)
    return _finish(
        raw, declared=declared, crs_mode=crs_mode, settings=settings, defaults=defaults, layer_kinds=layer_kinds
    )


def sidecar_for(path: Path) -> Path | None:
    """The attribute table ``X_attrs.csv`` next to a drawing ``X.dxf``, if it exists."""
    candidate = path.with_name(f"{path.stem}_attrs.csv")
    return candidate if candidate.is_file() else None


_HANDLE_COLUMNS = {"句柄", "handle", "entityhandle", "实体句柄"}


def _join_attributes(raw: RawFile, attributes: str | Path | bytes, *, settings: Settings) -> None:
    """Fill the features' properties from an attribute table, by work id or entity handle."""
    name = "attributes" if isinstance(attributes, bytes) else Path(attributes).name
    try:
        blob = attributes if isinstance(attributes, bytes) else Path(attributes).read_bytes()
        if len(blob) > settings.max_upload_bytes:
            raise PayloadTooLarge(f"属性表 {name} 过大", f"attribute table {name} is too large")
        text, _ = decode_text(blob)
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except OnetrenchError:
        raise
    except (OSError, ValueError, csv.Error) as exc:
        raise UnreadableFile(
            f"属性表 {name} 无法读取：{exc}", f"attribute table {name} cannot be read: {exc}"
        ) from None
    header = list(rows[0].keys()) if rows else []
    id_col = next((col for col, target in map_fields(header).items() if target == "work_id"), None)
    handle_col = next((h for h in header if normalise_name(h) in _HANDLE_COLUMNS), None)
    by_id = {str(r[id_col]).strip(): r for r in rows if id_col and r.get(id_col)}
    by_handle = {str(r[handle_col]).strip(): r for r in rows if handle_col and r.get(handle_col)}
    used: set[int] = set()
    for feature in raw.features:
        own_id = _explicit_id(feature, {})
        row = by_id.get(own_id or "") or by_handle.get(str(feature.props.get("handle", "")))
        if row is None:
            continue
        used.add(id(row))
        for key, value in row.items():
            if key is not None and key != handle_col and is_blank(feature.props.get(key)):
                feature.props[key] = value
    unused = [r.get(id_col or "", "") or r.get(handle_col or "", "") for r in rows if id(r) not in used]
    if unused:
        raw.warnings.append(
            Where(raw.source).problem(
                "attributes.unmatched",
                f"属性表 {name} 中 {len(unused)} 行没有对应的图形：{'、'.join(map(str, unused[:10]))}",
                f"{len(unused)} row(s) of {name} match no geometry: {', '.join(map(str, unused[:10]))}",
                severity="warning",
            )
        )


def read_many(
    paths: Iterable[str | Path],
    *,
    crs: str | int | CRSSpec | Mapping[str, str | int | CRSSpec] | None = None,
    crs_mode: Literal["fallback", "override"] = "fallback",
    settings: Settings | None = None,
    layer: str | None = None,
    defaults: Mapping[str, object] | None = None,
    layer_kinds: Mapping[str, UtilityKind] | None = None,
    attributes: Mapping[str, str | Path] | None = None,
    on_unreadable: Literal["raise", "report"] = "raise",
) -> IntakeResult:
    """Read several files into one result; work ids must be unique across all of them.

    ``crs`` is one CRS for every file, or a mapping from file name (or path) to its CRS;
    ``attributes`` maps a drawing's file name to its attribute table (see :func:`read_works`).
    With ``on_unreadable="report"``, a file that cannot be read becomes a ``file.unreadable``
    error (and is listed in ``unreadable``) instead of raising.
    """
    settings = settings or get_settings()
    total = IntakeResult(settings=settings)
    path_list = [Path(p) for p in paths]
    sidecars = {sidecar_for(p) for p in path_list if p.suffix.lower() == ".dxf"} - {None}
    for path in path_list:
        if path in sidecars:
            continue  # the attribute table of a drawing in the same list, read with it
        file_crs = crs.get(path.name, crs.get(str(path))) if isinstance(crs, Mapping) else crs
        table = (attributes or {}).get(path.name, (attributes or {}).get(str(path)))
        try:
            part = read_works(
                path,
                crs=file_crs,
                crs_mode=crs_mode,
                settings=settings,
                layer=layer,
                defaults=defaults,
                layer_kinds=layer_kinds,
                attributes=table,
            )
        except OnetrenchError as exc:
            if on_unreadable == "raise":
                raise
            name = PurePath(str(path)).name
            total.unreadable.append(name)
            total.errors.append(Problem("file.unreadable", exc.zh, exc.en, source=name))
            continue
        total.add(part)
    dupes = duplicate_problems([(w.work_id, w.source.rsplit("#", 1)[0], _index_of(w)) for w in total.works])
    if dupes:
        bad = {p.feature_id for p in dupes}
        total.works = [w for w in total.works if w.work_id not in bad]
        total.errors.extend(dupes)
    return total


def _index_of(work: Work) -> int | None:
    tail = work.source.rsplit("#", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _read_raw(path: Path, name: str, data: bytes | None, *, layer: str | None, settings: Settings) -> RawFile:
    limit = settings.max_upload_bytes
    fmt: Format | None = None
    try:
        if data is None:
            if path.suffix.lower() == ".shp":
                return _read_shp_parts(name, path.stem, read_shapefile_path(path))
            size = path.stat().st_size
            if size > limit:
                raise PayloadTooLarge(
                    f"{name} 有 {size} 字节，超过上限 {limit} 字节",
                    f"{name} has {size} bytes, above the limit of {limit}",
                )
            data = path.read_bytes()
        elif len(data) > limit:
            raise PayloadTooLarge(
                f"{name} 有 {len(data)} 字节，超过上限 {limit} 字节",
                f"{name} has {len(data)} bytes, above the limit of {limit}",
            )
        if not data:
            raise UnreadableFile(f"{name} 是空文件", f"{name} is empty")
        fmt = detect_format(name, data)
        if fmt is Format.GEOJSON:
            return read_geojson(name, data)
        if fmt is Format.SHAPEFILE:
            return read_shapefile_zip(name, data, layer=layer, max_bytes=limit)
        if fmt is Format.GEOPACKAGE:
            return read_geopackage(name, data, layer=layer)
        if fmt is Format.KML:
            return read_kml(name, data)
        if fmt is Format.KMZ:
            return read_kmz(name, data, max_bytes=limit)
        if fmt is Format.DXF:
            return read_dxf(name, data)
        return read_csv(name, data)
    except OnetrenchError:
        raise
    except FileNotFoundError:
        raise UnreadableFile(f"找不到文件 {path}", f"file not found: {path}") from None
    except Exception as exc:  # any parser failure on hostile or corrupt bytes
        what = fmt.label if fmt is not None else "文件 / file"
        zh, en = explain(exc)
        raise UnreadableFile(
            f"{name} 无法按 {what} 读取：{zh}",
            f"{name} cannot be read as {what}: {en}",
        ) from None


def _choose_crs(
    raw: RawFile, declared: CRSSpec | None, crs_mode: Literal["fallback", "override"]
) -> tuple[CRSSpec, list[Problem], bool]:
    """Return (CRS, warnings, swapped_guess) for a file."""
    where = Where(raw.source)
    warnings: list[Problem] = []
    if declared is not None:
        if raw.crs is None or (raw.crs.name, raw.crs.datum) == (declared.name, declared.datum):
            return declared, warnings, False
        if crs_mode == "override":
            warnings.append(
                where.problem(
                    "crs.overridden",
                    f"文件自带坐标系 {raw.crs.name}，按声明的 {declared.name} 读取",
                    f"the file declares {raw.crs.name}; read as the declared {declared.name}",
                    severity="warning",
                )
            )
            return declared, warnings, False
        warnings.append(
            where.problem(
                "crs.declared_ignored",
                f"文件自带坐标系 {raw.crs.name}（{raw.crs_note}），未采用声明的 {declared.name}；"
                "如文件的坐标系有误，请用 --force-crs",
                f"the file declares {raw.crs.name} ({raw.crs_note}); the declared {declared.name} is not used. "
                "If the file's CRS is wrong, use --force-crs",
                severity="warning",
            )
        )
        return raw.crs, warnings, False
    if raw.crs is not None:
        return raw.crs, warnings, False
    hint = raw.hint
    if hint is None:
        hint = _name_hint(raw.source)
        raw.crs_note = f"文件名 / file name {raw.source}"
    if hint is not None:
        source_zh, source_en = raw.crs_note.split(" / ", 1)
        warnings.append(
            where.problem(
                "crs.from_file_name" if source_zh.startswith("文件名") else "crs.from_column_names",
                f"文件未声明坐标系，按{source_zh}判定为 {hint.name}（{raw.crs_note}）；如有误请用 --crs 指定",
                f"the file declares no CRS; taken as {hint.name} from its {source_en}; pass --crs if that is wrong",
                severity="warning",
            )
        )
        return hint, warnings, False
    coords = [shapely.get_coordinates(f.geometry) for f in raw.features if f.geometry is not None]
    xy = np.concatenate(coords) if coords else np.empty((0, 2))
    if raw.default_crs is not None:
        try:
            guess = guess_crs(xy)
        except CRSError:
            return resolve_crs(raw.default_crs), warnings, False
        if guess.spec.is_geographic:
            return resolve_crs(raw.default_crs), warnings, False
    if xy.size == 0:
        return resolve_crs("EPSG:4490"), warnings, False
    guess = guess_crs(xy)
    warnings.append(
        where.problem(
            "crs.assumed",
            "文件未声明坐标系，坐标为綦江区范围内的经纬度，按 CGCS2000（EPSG:4490）读取；"
            "若来自高德/腾讯或百度地图，请用 --crs gcj02 或 --crs bd09 重新检查（偏差可达数百米）",
            "the file declares no CRS; its coordinates are lon/lat degrees in Qijiang, read as CGCS2000 "
            "(EPSG:4490). If they come from AMap/Tencent or Baidu, check again with --crs gcj02 or --crs bd09 "
            "(they differ by hundreds of metres)",
            severity="warning",
        )
    )
    return guess.spec, warnings, guess.swapped


_NAME_HINTS = (
    ("gcj", "gcj02"),
    ("高德", "gcj02"),
    ("火星", "gcj02"),
    ("bd09", "bd09"),
    ("百度", "bd09"),
    ("baidu", "bd09"),
)


def _name_hint(source: str) -> CRSSpec | None:
    """GCJ-02 / BD-09 named in a file name (``mobile_gcj02.csv``, ``百度坐标.csv``), else None."""
    stem = PurePath(source).stem.lower()
    for word, spec in _NAME_HINTS:
        if word in stem:
            return resolve_crs(spec)
    return None


def _finish(
    raw: RawFile,
    *,
    declared: CRSSpec | None,
    crs_mode: Literal["fallback", "override"],
    settings: Settings,
    defaults: Mapping[str, object] | None,
    layer_kinds: Mapping[str, UtilityKind] | None,
) -> IntakeResult:
    result = IntakeResult(settings=settings, n_features=len(raw.features))
    result.warnings.extend(raw.warnings)
    src, crs_warnings, _swapped = _choose_crs(raw, declared, crs_mode)
    result.warnings.extend(crs_warnings)
    district = load_district(settings=settings)
    if district.is_fallback:
        result.warnings.append(
            Where(raw.source).problem(
                "district.fallback_bbox",
                f"区界文件 {settings.district_boundary} 不存在，"
                "改用綦江区外包矩形（106.38–107.06E，28.45–29.19N）检查范围",
                f"district boundary {settings.district_boundary} is missing; checked against Qijiang's bounding box "
                "(106.38–107.06E, 28.45–29.19N) instead",
                severity="warning",
            )
        )
    if not raw.features:
        result.errors.append(
            Where(raw.source).problem(
                "file.no_features",
                f"{raw.source} 中没有可读的要素（线路由或作业面）",
                f"{raw.source} holds no readable feature (route or work zone)",
            )
        )
    default_values = _map_defaults(defaults)
    stem = PurePath(raw.source).stem
    built: list[tuple[Work, int]] = []
    ids: list[tuple[str, str, int | None]] = []
    clean: list[BaseGeometry | None] = [None] * len(raw.features)
    crs_name = src.name
    if BATCH:
        clean = clean_geometries(
            [None if _has_unreadable(f.problems) else f.geometry for f in raw.features],
            src=src,
            district=district,
            settings=settings,
        )
    for feature, working in zip(raw.features, clean, strict=True):
        try:
            work, problems = _one_feature(
                feature,
                raw,
                src=src,
                district=district,
                settings=settings,
                defaults=default_values,
                layer_kinds=layer_kinds,
                stem=stem,
                clean=working,
                crs_name=crs_name,
            )
        except Exception as exc:  # pragma: no cover - defensive: one feature never stops the file
            work = None
            problems = [
                Where(raw.source, feature.index).problem(
                    "feature.unreadable",
                    f"要素无法处理：{type(exc).__name__}: {exc}",
                    f"the feature cannot be processed: {type(exc).__name__}: {exc}",
                )
            ]
        for p in problems:
            (result.errors if p.severity == "error" else result.warnings).append(p)
        feature_id = _explicit_id(feature, default_values)
        if feature_id is not None:
            ids.append((feature_id, raw.source, feature.index))
        if work is not None:
            built.append((work, feature.index))
    dupes = duplicate_problems(ids)
    bad_ids = {p.feature_id for p in dupes}
    result.errors.extend(dupes)
    result.works = [w for w, _ in built if w.work_id not in bad_ids]
    result.errors.sort(key=lambda p: (p.source or "", -1 if p.index is None else p.index))
    return result


def _map_defaults(defaults: Mapping[str, object] | None) -> dict[str, object]:
    if not defaults:
        return {}
    mapped = map_fields(defaults.keys())
    out: dict[str, object] = {}
    for key, value in defaults.items():
        target = mapped.get(key, key)
        out[target] = value
    return out


def _explicit_id(feature: RawFeature, defaults: Mapping[str, object]) -> str | None:
    for col, target in map_fields(feature.props.keys()).items():
        if target == "work_id" and not is_blank(feature.props[col]):
            value = feature.props[col]
            return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value).strip()
    return None


def _one_feature(
    feature: RawFeature,
    raw: RawFile,
    *,
    src: CRSSpec,
    district: District,
    settings: Settings,
    defaults: Mapping[str, object],
    layer_kinds: Mapping[str, UtilityKind] | None,
    stem: str,
    clean: BaseGeometry | None = None,
    crs_name: str | None = None,
) -> tuple[Work | None, list[Problem]]:
    """Build one work and its problems; ``clean`` is its working geometry when already checked."""
    field_map = map_fields(feature.props.keys())
    values: dict[str, object] = {target: feature.props[col] for col, target in field_map.items()}
    for key, value in defaults.items():
        if is_blank(values.get(key)):
            values[key] = value
    if is_blank(values.get("utility")) and feature.layer:
        values["utility"] = feature.layer
    feature_id = None if is_blank(values.get("work_id")) else str(values["work_id"]).strip()
    if feature_id is not None and feature_id.endswith(".0") and feature_id[:-2].isdigit():
        feature_id = feature_id[:-2]
    where = Where(raw.source, feature.index, feature_id)
    problems = [dataclasses.replace(p, feature_id=feature_id) if p.feature_id is None else p for p in feature.problems]
    geom = None
    if clean is None and not _has_unreadable(problems):
        geom, geo_problems = check_geometry(feature.geometry, where, src=src, settings=settings)
        problems.extend(p for p in geo_problems if not (p.code == "geometry.z_dropped" and _has(problems, p.code)))
    working = clean
    if geom is not None:
        working = geometry_to_working(geom, src, settings=settings)
        problems.extend(check_projected(working, where, src=src, district=district, settings=settings))
    parsed, attr_problems = parse_attributes(values, where, layer_kinds=layer_kinds)
    problems.extend(attr_problems)
    if working is None or any(p.severity == "error" for p in problems):
        return None, problems
    work_id = parsed.get("work_id")
    if work_id is None:
        suffix = feature.layer if raw.fmt is Format.DXF and feature.layer else str(feature.index + 1)
        work_id = f"{stem}-{suffix}"
        if raw.fmt is Format.DXF and feature.props.get("handle"):
            work_id = f"{work_id}-{feature.props['handle']}"
        problems.append(
            where.problem(
                "attribute.generated_id",
                f"缺少工程编号，已生成「{work_id}」",
                f"work id is missing; generated {work_id!r}",
                field="work_id",
                severity="warning",
            )
        )
    utility: UtilityKind = parsed["utility"]
    attributes = {
        col: _plain_attr(value) for col, value in feature.props.items() if col not in field_map and not is_blank(value)
    }
    attributes["crs"] = src.name if crs_name is None else crs_name
    width = parsed.get("trench_width_m")
    if width is None:
        default = default_trench_width(
            utility, diameter_mm=parsed.get("diameter_mm"), voltage_kv=parsed.get("voltage_kv")
        )
        width = default.width_m
        attributes["trench_width_basis"] = default.basis_en
        attributes["trench_width_basis_zh"] = default.basis_zh
    work = Work(
        work_id=str(work_id),
        utility=utility,
        owner=parsed.get("owner", ""),
        geometry=working,
        start=parsed["start"],
        end=parsed["end"],
        earliest_start=parsed.get("earliest_start"),
        latest_end=parsed.get("latest_end"),
        diameter_mm=parsed.get("diameter_mm"),
        voltage_kv=parsed.get("voltage_kv") if utility is UtilityKind.POWER else None,
        gas_pressure=parsed.get("gas_pressure") if utility is UtilityKind.GAS else None,
        trench_width_m=width,
        depth_m=parsed.get("depth_m"),
        method=parsed.get("method", ExcavationMethod.OPEN_CUT),
        emergency=parsed.get("emergency", False),
        name=parsed.get("name", ""),
        contact=parsed.get("contact", ""),
        source=f"{raw.source}#{feature.index}",
        attributes=attributes,
    )
    return work, problems


def _has_unreadable(problems: list[Problem]) -> bool:
    return any(p.code in ("geometry.unreadable", "geometry.too_few_vertices") for p in problems)


def _has(problems: list[Problem], code: str) -> bool:
    return any(p.code == code for p in problems)


def _plain_attr(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)

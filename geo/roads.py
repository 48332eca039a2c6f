"""Road network (道路中心线): reading, strict validation and the corridor index.

A road network comes from GeoJSON, GeoPackage or a zipped Shapefile with the fields below
(English name or the Chinese alias found in municipal road files):

==================  ============  ==========================================================
field               alias         meaning
==================  ============  ==========================================================
``road_id``         道路编号      unique id (required)
``name``            道路名称      road name
``class``           道路等级      快速路 / 主干路 / 次干路 / 支路 (required)
``width_m``         红线宽度      red-line width in metres; missing → default per class
``last_works_date`` 竣工日期      date of the last road works (moratorium)
``last_works_kind`` 工程类型      新建 / 改建 / 扩建 / 大修 (new / rebuild / rebuild / overhaul)
``pavement``        路面类型      沥青 / 水泥 / 砖 (restoration cost)
==================  ============  ==========================================================

Validation collects every problem before answering: duplicate ids, missing ids, empty,
non-linear, invalid or zero-length centrelines, unknown classes, bad widths and dates are
errors (:class:`onetrench.errors.InputError` with one :class:`~onetrench.errors.Problem` per
issue); a missing width takes ``settings.default_road_width_m[class]`` and yields a warning
kept in :attr:`RoadNetwork.warnings`. Roads may be split at junctions or run through them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from geo.readerrors import explain, gdal_messages
from onetrench.domain import PavementKind, Road, RoadClass, WorksKind
from onetrench.errors import CRSError, InputError, Problem, UnreadableFile
from onetrench.settings import Settings, get_settings

#: Canonical field → accepted names (compared lower-cased, spaces and underscores removed).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "road_id": ("road_id", "roadid", "id", "道路编号", "编号", "dlbh", "road_code"),
    "name": ("name", "road_name", "道路名称", "名称", "路名", "dlmc"),
    "class": ("class", "road_class", "道路等级", "等级", "grade", "dldj"),
    "width_m": ("width_m", "width", "红线宽度", "道路宽度", "宽度", "hxkd"),
    "last_works_date": ("last_works_date", "竣工日期", "完工日期", "jgrq"),
    "last_works_kind": ("last_works_kind", "工程类型", "gclx"),
    "pavement": ("pavement", "路面类型", "路面", "lmlx"),
}

#: Longitude/latitude box (Chongqing and surroundings) in which a file without CRS is read as EPSG:4490.
LONLAT_BOX = (105.0, 28.0, 110.5, 32.5)
#: Widths above this are rejected as implausible for a red line (m).
MAX_PLAUSIBLE_WIDTH_M = 150.0


def _key(name: str) -> str:
    return name.strip().lower().replace(" ", "").replace("_", "")


def _map_columns(columns: Sequence[str]) -> dict[str, str]:
    """Return canonical field → column name for the columns present."""
    by_key = {_key(c): c for c in columns}
    out: dict[str, str] = {}
    for canonical, aliases in FIELD_ALIASES.items():
        for alias in aliases:
            col = by_key.get(_key(alias))
            if col is not None:
                out[canonical] = col
                break
    return out


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if value is pd.NaT:
        return True
    return isinstance(value, str) and not value.strip()


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value).strip()


def _parse_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    text = _text(value).replace("年", "-").replace("月", "-").replace("日", "").replace("/", "-").replace(".", "-")
    if len(text) == 8 and text.isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return dt.date.fromisoformat("-".join(p.zfill(2) for p in text.split("-")))


@dataclass(slots=True)
class RoadNetwork:
    """Validated roads plus the arrays and spatial index the detector uses.

    Parameters
    ----------
    roads
        The roads, working CRS.
    warnings
        Problems of severity ``"warning"`` found while reading (e.g. default widths).
    crs
        The working CRS the geometries are in.
    """

    roads: list[Road]
    warnings: list[Problem] = field(default_factory=list)
    crs: str = "EPSG:4545"
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.roads)

    @property
    def road_ids(self) -> NDArray[np.object_]:
        """Road ids as an object array, aligned with :attr:`centrelines`."""
        if "ids" not in self._cache:
            self._cache["ids"] = np.array([r.road_id for r in self.roads], dtype=object)
        return self._cache["ids"]

    @property
    def centrelines(self) -> NDArray[np.object_]:
        """Centreline geometries (object array)."""
        if "lines" not in self._cache:
            lines = np.empty(len(self.roads), dtype=object)
            # not prepared: no predicate is evaluated on them, and these geometries are the
            # roads' own, shared by the service's threads (see geo.prepared)
            lines[:] = [r.geometry for r in self.roads]
            self._cache["lines"] = lines
        return self._cache["lines"]

    @property
    def widths(self) -> NDArray[np.float64]:
        """Red-line widths in metres."""
        if "widths" not in self._cache:
            self._cache["widths"] = np.array([r.width_m for r in self.roads], dtype=float)
        return self._cache["widths"]

    @property
    def corridors(self) -> NDArray[np.object_]:
        """Corridors: centrelines buffered by half the width, flat caps (design.md, rule 1)."""
        if "corridors" not in self._cache:
            corr = shapely.buffer(self.centrelines, self.widths / 2.0, cap_style="flat")
            shapely.prepare(corr)
            self._cache["corridors"] = corr
        return self._cache["corridors"]

    @property
    def tree(self) -> shapely.STRtree:
        """STRtree over the corridors."""
        if "tree" not in self._cache:
            self._cache["tree"] = shapely.STRtree(self.corridors)
        return self._cache["tree"]

    def thresholds(self, settings: Settings) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per road: ``(min_shared_m, cos(crossing_angle))`` under ``settings``."""
        key = "thr:" + settings.model_dump_json(include={"min_shared_m", "crossing_angle_deg", "class_overrides"})
        if key not in self._cache:
            rules = {c: settings.rule_for(c) for c in RoadClass}
            min_shared = np.array([rules[r.road_class].min_shared_m for r in self.roads], dtype=float)
            cos_cross = np.array(
                [math.cos(math.radians(rules[r.road_class].crossing_angle_deg)) for r in self.roads], dtype=float
            )
            self._cache[key] = (min_shared, cos_cross)
        return self._cache[key]

    def index_of(self, road_id: str) -> int:
        """Position of ``road_id`` in :attr:`roads`."""
        if "by_id" not in self._cache:
            self._cache["by_id"] = {r.road_id: i for i, r in enumerate(self.roads)}
        return self._cache["by_id"][road_id]


def as_network(roads: Sequence[Road] | RoadNetwork) -> RoadNetwork:
    """Wrap a plain sequence of roads in a :class:`RoadNetwork` (no validation)."""
    if isinstance(roads, RoadNetwork):
        return roads
    return RoadNetwork(roads=list(roads))


def _problem(
    code: str,
    zh: str,
    en: str,
    *,
    source: str,
    index: int | None,
    road_id: str | None,
    fld: str | None = None,
    severity: str = "error",
) -> Problem:
    return Problem(
        code=code, zh=zh, en=en, source=source, index=index, feature_id=road_id, field=fld, severity=severity
    )


def roads_from_geodataframe(
    gdf: gpd.GeoDataFrame, *, settings: Settings | None = None, source: str = "roads"
) -> RoadNetwork:
    """Validate a GeoDataFrame of road centrelines and return a :class:`RoadNetwork`.

    The frame is reprojected to ``settings.working_crs``; it must carry a CRS.

    Raises
    ------
    CRSError
        When the frame has no CRS.
    InputError
        When any feature is invalid; ``details`` holds one problem per issue found.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import LineString
    >>> gdf = gpd.GeoDataFrame(
    ...     {"道路编号": ["R1"], "道路名称": ["通惠大道"], "道路等级": ["主干路"]},
    ...     geometry=[LineString([(500000, 3200000), (500100, 3200000)])], crs="EPSG:4545")
    >>> net = roads_from_geodataframe(gdf)
    >>> net.roads[0].width_m, net.warnings[0].code
    (40.0, 'road.width_default')
    """
    settings = settings or get_settings()
    assumed: list[Problem] = []
    if gdf.crs is None:
        xmin, ymin, xmax, ymax = gdf.total_bounds if len(gdf) else (np.nan,) * 4
        if LONLAT_BOX[0] <= xmin and xmax <= LONLAT_BOX[2] and LONLAT_BOX[1] <= ymin and ymax <= LONLAT_BOX[3]:
            gdf = gdf.set_crs("EPSG:4490")
            assumed.append(
                _problem(
                    "road.crs_assumed",
                    f"道路文件 {source} 未声明坐标系；坐标位于重庆经纬度范围内，按 CGCS2000 经纬度（EPSG:4490）读取",
                    f"road file {source} declares no CRS; its coordinates are Chongqing longitudes/latitudes, "
                    "read as CGCS2000 (EPSG:4490)",
                    source=source,
                    index=None,
                    road_id=None,
                    severity="warning",
                )
            )
        else:
            raise CRSError(
                f"道路文件 {source} 未声明坐标系，请提供 .prj 或在 GeoJSON 中声明 CRS",
                f"road file {source} has no coordinate reference system; add a .prj or declare the CRS",
            )
    try:
        gdf = gdf.to_crs(settings.working_crs)
    except Exception as exc:
        raise CRSError(
            f"道路文件 {source} 无法转换到工作坐标系 {settings.working_crs}：{exc}",
            f"cannot reproject road file {source} to {settings.working_crs}: {exc}",
        ) from exc
    cols = _map_columns([str(c) for c in gdf.columns if c != gdf.geometry.name])
    problems: list[Problem] = []
    for required, zh in (("road_id", "道路编号"), ("class", "道路等级")):
        if required not in cols:
            problems.append(
                _problem(
                    "road.missing_field",
                    f"道路文件 {source} 缺少字段「{zh}」({required})",
                    f"road file {source} lacks the field {required!r} ({zh})",
                    source=source,
                    index=None,
                    road_id=None,
                    fld=required,
                )
            )
    if problems:
        raise InputError(problems[0].zh, problems[0].en, details=problems)

    geoms = shapely.force_2d(np.asarray(gdf.geometry.values, dtype=object))
    records = gdf.drop(columns=gdf.geometry.name).to_dict("records")
    ids = ["" if _blank(rec.get(cols["road_id"])) else _text(rec[cols["road_id"]]) for rec in records]
    counts = Counter(i for i in ids if i)
    roads: list[Road] = []
    warnings: list[Problem] = list(assumed)
    for index, (rec, geom, road_id) in enumerate(zip(records, geoms, ids, strict=True)):
        where_zh = f"{source} 第 {index + 1} 条道路" + (f"（{road_id}）" if road_id else "")
        where_en = f"{source} road #{index}" + (f" ({road_id})" if road_id else "")
        errors: list[Problem] = []

        def err(
            code: str,
            zh: str,
            en: str,
            fld: str | None = None,
            *,
            _i: int = index,
            _r: str = road_id,
            _out: list[Problem] = errors,
        ) -> None:
            _out.append(_problem(code, zh, en, source=source, index=_i, road_id=_r or None, fld=fld))

        if not road_id:
            err("road.missing_id", f"{where_zh}：缺少道路编号", f"{where_en}: road_id is missing", "road_id")
        elif counts[road_id] > 1:
            err(
                "road.duplicate_id",
                f"{where_zh}：道路编号「{road_id}」重复（共 {counts[road_id]} 条）",
                f"{where_en}: road_id {road_id!r} occurs {counts[road_id]} times",
                "road_id",
            )
        line = _check_geometry(geom, err, where_zh, where_en)

        road_class: RoadClass | None = None
        raw_class = rec.get(cols["class"])
        if _blank(raw_class):
            err("road.missing_class", f"{where_zh}：缺少道路等级", f"{where_en}: class is missing", "class")
        else:
            try:
                road_class = RoadClass.parse(raw_class, field_name="道路等级/class")
            except InputError as exc:
                err("road.bad_class", f"{where_zh}：{exc.zh}", f"{where_en}: {exc.en}", "class")

        width: float | None = None
        raw_width = rec.get(cols["width_m"]) if "width_m" in cols else None
        if _blank(raw_width):
            if road_class is not None:
                width = settings.default_road_width_m[road_class]
                warnings.append(
                    _problem(
                        "road.width_default",
                        f"{where_zh}：缺少红线宽度，按{road_class.zh}默认取 {width:g} m",
                        f"{where_en}: width missing, using the {road_class.value} default of {width:g} m",
                        source=source,
                        index=index,
                        road_id=road_id or None,
                        fld="width_m",
                        severity="warning",
                    )
                )
        else:
            try:
                width = float(str(raw_width).strip().removesuffix("m").removesuffix("米"))
            except ValueError:
                width = None
                err(
                    "road.bad_width",
                    f"{where_zh}：红线宽度「{raw_width}」不是数字",
                    f"{where_en}: width {raw_width!r} is not a number",
                    "width_m",
                )
            else:
                if not (0 < width <= MAX_PLAUSIBLE_WIDTH_M) or math.isnan(width):
                    err(
                        "road.bad_width",
                        f"{where_zh}：红线宽度 {width:g} m 不合理（应在 0–{MAX_PLAUSIBLE_WIDTH_M:g} m）",
                        f"{where_en}: width {width:g} m outside 0–{MAX_PLAUSIBLE_WIDTH_M:g} m",
                        "width_m",
                    )
                    width = None

        date: dt.date | None = None
        raw_date = rec.get(cols["last_works_date"]) if "last_works_date" in cols else None
        if not _blank(raw_date):
            try:
                date = _parse_date(raw_date)
            except (ValueError, TypeError):
                err(
                    "road.bad_date",
                    f"{where_zh}：竣工日期「{raw_date}」无法识别（应为 YYYY-MM-DD）",
                    f"{where_en}: last_works_date {raw_date!r} is not a date (YYYY-MM-DD)",
                    "last_works_date",
                )
        kind: WorksKind | None = None
        raw_kind = rec.get(cols["last_works_kind"]) if "last_works_kind" in cols else None
        if not _blank(raw_kind):
            try:
                kind = WorksKind.parse(raw_kind, field_name="工程类型/last_works_kind")
            except InputError as exc:
                err("road.bad_works_kind", f"{where_zh}：{exc.zh}", f"{where_en}: {exc.en}", "last_works_kind")
        if (kind is None) != (date is None) and not errors:
            warnings.append(
                _problem(
                    "road.incomplete_works",
                    f"{where_zh}：竣工日期与工程类型应同时填写，保护期检查将忽略此道路",
                    f"{where_en}: last_works_date and last_works_kind go together; the moratorium check skips it",
                    source=source,
                    index=index,
                    road_id=road_id or None,
                    fld="last_works_kind",
                    severity="warning",
                )
            )
        pavement = PavementKind.ASPHALT
        raw_pav = rec.get(cols["pavement"]) if "pavement" in cols else None
        if not _blank(raw_pav):
            try:
                pavement = PavementKind.parse(raw_pav, field_name="路面类型/pavement")
            except InputError as exc:
                err("road.bad_pavement", f"{where_zh}：{exc.zh}", f"{where_en}: {exc.en}", "pavement")

        if errors:
            problems.extend(errors)
            continue
        assert line is not None and road_class is not None and width is not None
        complete = kind is not None and date is not None
        name_raw = rec.get(cols["name"]) if "name" in cols else None
        roads.append(
            Road(
                road_id=road_id,
                name="" if _blank(name_raw) else _text(name_raw),
                road_class=road_class,
                width_m=width,
                geometry=line,
                last_works_date=date if complete else None,
                last_works_kind=kind if complete else None,
                pavement=pavement,
            )
        )
    if problems:
        raise InputError(
            f"道路文件 {source} 有 {len(problems)} 处错误，请修正后重新上传",
            f"road file {source} has {len(problems)} problem(s); fix them and upload again",
            details=problems,
        )
    return RoadNetwork(roads=roads, warnings=warnings, crs=settings.working_crs)


def _check_geometry(geom: Any, err: Any, where_zh: str, where_en: str) -> BaseGeometry | None:
    if geom is None or not isinstance(geom, BaseGeometry) or geom.is_empty:
        err("road.empty_geometry", f"{where_zh}：中心线为空", f"{where_en}: centreline is empty", "geometry")
        return None
    if geom.geom_type not in ("LineString", "MultiLineString"):
        err(
            "road.not_line",
            f"{where_zh}：中心线应为线（LineString），实际为 {geom.geom_type}",
            f"{where_en}: centreline must be a LineString, got {geom.geom_type}",
            "geometry",
        )
        return None
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        err(
            "road.invalid_geometry",
            f"{where_zh}：中心线含无效坐标（NaN/无穷）",
            f"{where_en}: centreline has non-finite coordinates",
            "geometry",
        )
        return None
    if geom.geom_type == "MultiLineString":
        merged = shapely.line_merge(geom)
        if merged.geom_type == "LineString":
            geom = merged
    if geom.length <= 0.01:
        err("road.zero_length", f"{where_zh}：中心线长度为零", f"{where_en}: centreline has zero length", "geometry")
        return None
    if not shapely.is_valid(geom):
        reason = shapely.is_valid_reason(geom)
        err(
            "road.invalid_geometry",
            f"{where_zh}：中心线几何无效（{reason}）",
            f"{where_en}: invalid centreline ({reason})",
            "geometry",
        )
        return None
    # Drop repeated vertices so that every segment has a direction.
    return shapely.remove_repeated_points(geom, 1e-9)


def read_roads(path: str | Path, *, settings: Settings | None = None, layer: str | int | None = None) -> RoadNetwork:
    """Read and validate a road network from GeoJSON, GeoPackage or zipped Shapefile.

    Parameters
    ----------
    path
        ``.geojson``/``.json``, ``.gpkg``, ``.zip`` (containing a Shapefile) or ``.shp``.
    settings
        Supplies the working CRS and default widths.
    layer
        Layer to read from a multi-layer GeoPackage (default: the first).

    Raises
    ------
    UnreadableFile
        When the file cannot be opened as a vector dataset.
    InputError
        When features are invalid (every problem listed in ``details``).
    """
    settings = settings or get_settings()
    path = Path(path)
    if not path.exists():
        raise UnreadableFile(f"道路文件不存在：{path}", f"road file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".geojson", ".json", ".gpkg", ".zip", ".shp"):
        raise UnreadableFile(
            f"不支持的道路文件格式「{suffix}」（支持 GeoJSON、GeoPackage、zip 压缩的 Shapefile）",
            f"unsupported road file format {suffix!r} (GeoJSON, GeoPackage, zipped Shapefile)",
        )
    kwargs: dict[str, Any] = {}
    if layer is not None:
        kwargs["layer"] = layer
    with gdal_messages() as messages:
        try:
            gdf = pyogrio.read_dataframe(path, **kwargs)
        except Exception as exc:
            zh, en = explain(exc)
            raise UnreadableFile(
                f"无法读取道路文件 {path.name}：{zh}", f"cannot read road file {path.name}: {en}"
            ) from None
        if (
            suffix in (".zip", ".shp")
            and not {"road_id", "class"} <= _map_columns([str(c) for c in gdf.columns]).keys()
        ):
            # Chinese Shapefiles often come without a .cpg and in GBK: field names read as mojibake.
            try:
                gbk = pyogrio.read_dataframe(path, encoding="GBK", **kwargs)
            except Exception:  # keep the first reading and report its missing fields
                gbk = None
            if gbk is not None and {"road_id", "class"} <= _map_columns([str(c) for c in gbk.columns]).keys():
                gdf = gbk
    if gdf.crs is None and suffix in (".geojson", ".json"):
        gdf = gdf.set_crs("EPSG:4326")  # RFC 7946: GeoJSON without "crs" is WGS84 lon/lat
    network = roads_from_geodataframe(gdf, settings=settings, source=path.name)
    network.warnings.extend(
        _problem(
            "file.gdal_warning",
            f"GDAL 读取提示：{m}",
            f"GDAL warning: {m}",
            source=path.name,
            index=None,
            road_id=None,
            severity="warning",
        )
        for m in list(dict.fromkeys(messages))[:5]
    )
    return network

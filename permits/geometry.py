"""Geometry files of a permit package: ``excavation.geojson`` (EPSG:4490) and ``excavation.gpkg`` (working CRS).

Both are written deterministically: the GeoJSON by hand (sorted keys, coordinates rounded to
1e-9 degree ≈ 0.1 mm), the GeoPackage with GDAL's ``OGR_CURRENT_DATE`` fixed so that
``gpkg_contents.last_change`` does not carry the wall-clock time.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from geo.crs import transformer
from onetrench.domain import Bundle, Road, UtilityKind, Work
from onetrench.errors import InputError, Problem
from permits.manifest import EXCHANGE_CRS, GEOJSON_NAME, GPKG_NAME, size_text, sorted_stretches, stretch_line

#: The timestamp written into ``gpkg_contents.last_change`` (GDAL ``OGR_CURRENT_DATE``).
GPKG_FIXED_DATE = "2000-01-01T00:00:00.000Z"

#: GeoJSON coordinates are rounded to this many decimals of a degree (≈ 0.1 mm).
GEOJSON_DECIMALS = 9

STRETCH_LAYER = "road_stretches"
FOOTPRINT_LAYER = "footprint"


def reproject(geom: BaseGeometry, source: str, target: str) -> BaseGeometry:
    """Return ``geom`` transformed from CRS ``source`` to ``target`` (always x/lon first)."""
    return shapely.transform(geom, transformer(source, target).transform, interleaved=False)


def _round_coords(obj: Any, nd: int) -> Any:
    if isinstance(obj, list | tuple):
        if obj and all(isinstance(v, float | int) for v in obj):
            return [round(float(v), nd) + 0.0 for v in obj]
        return [_round_coords(v, nd) for v in obj]
    return obj


def _geojson_geometry(geom: BaseGeometry | None, working_crs: str) -> dict[str, Any] | None:
    if geom is None or geom.is_empty:
        return None
    out = dict(mapping(reproject(geom, working_crs, EXCHANGE_CRS)))
    out["coordinates"] = _round_coords(out["coordinates"], GEOJSON_DECIMALS) if "coordinates" in out else None
    if out["coordinates"] is None:  # GeometryCollection
        out = {
            "type": "GeometryCollection",
            "geometries": [_geojson_geometry(g, EXCHANGE_CRS) for g in getattr(geom, "geoms", [])],
        }
    return out


def work_properties(w: Work, *, lead_work_id: str) -> dict[str, Any]:
    """Return the attribute row of a work, shared by the GeoJSON and the GeoPackage."""
    return {
        "work_id": w.work_id,
        "name": w.name,
        "utility": w.utility.value,
        "utility_zh": w.utility.zh,
        "owner": w.owner,
        "start": w.start.isoformat(),
        "end": w.end.isoformat(),
        "method_zh": w.method.zh,
        "size_zh": size_text(w),
        "trench_width_m": w.trench_width_m,
        "depth_m": w.depth_m,
        "is_lead": w.work_id == lead_work_id,
        "length_m": round(w.geometry.length, 3),
    }


def build_geojson(bundle: Bundle, works: Sequence[Work], roads: Mapping[str, Road], *, working_crs: str) -> bytes:
    """Return ``excavation.geojson``: works, road stretches and the joint footprint in EPSG:4490."""
    features: list[dict[str, Any]] = []
    for w in sorted(works, key=lambda w: w.work_id):
        props = {"feature_kind": "work", **work_properties(w, lead_work_id=bundle.lead_work_id)}
        features.append(
            {"type": "Feature", "properties": props, "geometry": _geojson_geometry(w.geometry, working_crs)}
        )
    for s in sorted_stretches(bundle):
        props = {
            "feature_kind": "stretch",
            "road_id": s.road_id,
            "road_name": s.road_name,
            "from_m": round(s.interval.from_m, 3),
            "to_m": round(s.interval.to_m, 3),
            "width_m": round(s.width_m, 3),
            "area_m2": round(s.area_m2, 3),
            "pavement_zh": s.pavement.zh,
        }
        geom = stretch_line(s, roads.get(s.road_id))
        features.append({"type": "Feature", "properties": props, "geometry": _geojson_geometry(geom, working_crs)})
    if bundle.footprint is not None and not bundle.footprint.is_empty:
        props = {"feature_kind": "footprint", "bundle_id": bundle.bundle_id, "area_m2": round(bundle.footprint.area, 3)}
        features.append(
            {"type": "Feature", "properties": props, "geometry": _geojson_geometry(bundle.footprint, working_crs)}
        )
    doc = {
        "type": "FeatureCollection",
        "name": f"excavation_{bundle.bundle_id}",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}},
        "features": features,
    }
    return (json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


@contextmanager
def _fixed_gdal_date() -> Iterator[None]:
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_FIXED_DATE})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """One GeoPackage layer as listed in the manifest."""

    name: str
    title_zh: str
    feature_count: int


def build_gpkg(
    bundle: Bundle, works: Sequence[Work], roads: Mapping[str, Road], *, working_crs: str
) -> tuple[bytes, list[LayerInfo]]:
    """Return ``excavation.gpkg`` (one layer per utility, plus stretches and footprint) and its layers."""
    layers: list[tuple[LayerInfo, gpd.GeoDataFrame, str]] = []
    for utility in UtilityKind:
        own = sorted((w for w in works if w.utility == utility), key=lambda w: w.work_id)
        if not own:
            continue
        rows = [work_properties(w, lead_work_id=bundle.lead_work_id) for w in own]
        gdf = gpd.GeoDataFrame(rows, geometry=[w.geometry for w in own], crs=working_crs)
        info = LayerInfo(utility.value, f"{utility.zh}管线工程", len(own))
        layers.append((info, gdf, f"{utility.zh} {utility.en}"))
    stretches = sorted_stretches(bundle)
    if stretches:
        rows = [
            {
                "road_id": s.road_id,
                "road_name": s.road_name,
                "from_m": round(s.interval.from_m, 3),
                "to_m": round(s.interval.to_m, 3),
                "width_m": round(s.width_m, 3),
                "area_m2": round(s.area_m2, 3),
                "pavement_zh": s.pavement.zh,
            }
            for s in stretches
        ]
        geoms = [stretch_line(s, roads.get(s.road_id)) for s in stretches]
        gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs=working_crs)
        layers.append((LayerInfo(STRETCH_LAYER, "占掘路段中心线", len(rows)), gdf, "占掘路段 road stretches"))
    if bundle.footprint is not None and not bundle.footprint.is_empty:
        gdf = gpd.GeoDataFrame(
            [{"bundle_id": bundle.bundle_id, "area_m2": round(bundle.footprint.area, 3)}],
            geometry=[bundle.footprint],
            crs=working_crs,
        )
        layers.append((LayerInfo(FOOTPRINT_LAYER, "联合沟槽范围", 1), gdf, "联合沟槽范围 joint footprint"))

    with tempfile.TemporaryDirectory(prefix="onetrench-gpkg-") as tmp, _fixed_gdal_date():
        path = Path(tmp) / GPKG_NAME
        for i, (info, gdf, title) in enumerate(layers):
            pyogrio.write_dataframe(
                gdf,
                path,
                layer=info.name,
                driver="GPKG",
                append=i > 0,
                # GeoPackage 1.2: read by every QGIS 3 / GDAL >= 2.2 without a version warning.
                dataset_options=None if i > 0 else {"VERSION": "1.2"},
                layer_options={"IDENTIFIER": title, "DESCRIPTION": f"onetrench bundle {bundle.bundle_id}"},
            )
        data = path.read_bytes()
    return data, [info for info, _, _ in layers]


# --------------------------------------------------------------------------------------
# Reading back
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GeoFeature:
    """One feature read back from a package, geometry in the working CRS."""

    kind: str
    key: str
    properties: dict[str, Any]
    geometry: BaseGeometry | None


def read_geojson(data: bytes, *, working_crs: str, problems: list[Problem]) -> list[GeoFeature]:
    """Parse ``excavation.geojson``; append every problem to ``problems`` and return the usable features."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(
            Problem(
                "geojson.parse",
                f"{GEOJSON_NAME} 不是有效的 JSON：{exc}",
                f"{GEOJSON_NAME} is not valid JSON: {exc}",
                source=GEOJSON_NAME,
            )
        )
        return []
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        problems.append(
            Problem(
                "geojson.structure",
                f"{GEOJSON_NAME} 不是 FeatureCollection",
                f"{GEOJSON_NAME} is not a FeatureCollection",
                source=GEOJSON_NAME,
            )
        )
        return []
    out: list[GeoFeature] = []
    for i, feat in enumerate(doc["features"]):
        props = feat.get("properties") if isinstance(feat, dict) else None
        if not isinstance(props, dict) or not isinstance(props.get("feature_kind"), str):
            problems.append(
                Problem(
                    "geojson.feature",
                    f"第 {i} 个要素缺少属性 feature_kind",
                    f"feature {i} lacks feature_kind",
                    source=GEOJSON_NAME,
                    index=i,
                )
            )
            continue
        kind = props["feature_kind"]
        key = str(props.get("work_id") or props.get("road_id") or props.get("bundle_id") or i)
        if kind == "stretch":
            key = f"{props.get('road_id')}@{props.get('from_m')}"
        raw = feat.get("geometry")
        geom: BaseGeometry | None = None
        if raw is not None:
            try:
                geom_ll = shape(raw)
            except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.GEOSException) as exc:
                problems.append(
                    Problem(
                        "geojson.geometry",
                        f"要素 {key} 的几何无法解析：{exc}",
                        f"feature {key}: unreadable geometry: {exc}",
                        source=GEOJSON_NAME,
                        index=i,
                        feature_id=key,
                    )
                )
                continue
            if geom_ll.is_empty or not geom_ll.is_valid:
                problems.append(
                    Problem(
                        "geojson.geometry_invalid",
                        f"要素 {key} 的几何为空或无效",
                        f"feature {key}: empty or invalid geometry",
                        source=GEOJSON_NAME,
                        index=i,
                        feature_id=key,
                    )
                )
                continue
            minx, miny, maxx, maxy = geom_ll.bounds
            if not (73 <= minx <= maxx <= 136 and 3 <= miny <= maxy <= 54):
                problems.append(
                    Problem(
                        "geojson.bounds",
                        f"要素 {key} 的坐标不在中国范围内（应为 EPSG:4490 经度、纬度）",
                        f"feature {key}: coordinates outside China (expected EPSG:4490 lon/lat)",
                        source=GEOJSON_NAME,
                        index=i,
                        feature_id=key,
                    )
                )
                continue
            geom = reproject(geom_ll, EXCHANGE_CRS, working_crs)
        elif kind in ("work", "footprint"):
            problems.append(
                Problem(
                    "geojson.geometry_missing",
                    f"要素 {key} 没有几何",
                    f"feature {key} has no geometry",
                    source=GEOJSON_NAME,
                    index=i,
                    feature_id=key,
                )
            )
            continue
        out.append(GeoFeature(kind, key, props, geom))
    return out


def read_gpkg(data: bytes, *, problems: list[Problem]) -> dict[str, gpd.GeoDataFrame]:
    """Read every layer of ``excavation.gpkg``; append problems to ``problems``."""
    with tempfile.TemporaryDirectory(prefix="onetrench-gpkg-") as tmp:
        path = Path(tmp) / GPKG_NAME
        path.write_bytes(data)
        try:
            names = [str(row[0]) for row in pyogrio.list_layers(path)]
            return {name: pyogrio.read_dataframe(path, layer=name) for name in names}
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError) as exc:
            problems.append(
                Problem(
                    "gpkg.read", f"{GPKG_NAME} 无法读取：{exc}", f"{GPKG_NAME} cannot be read: {exc}", source=GPKG_NAME
                )
            )
            return {}


def raise_problems(problems: list[Problem], zh: str, en: str) -> None:
    """Raise one :class:`InputError` listing every problem, when there is any."""
    if problems:
        raise InputError(
            f"{zh}（共 {len(problems)} 个问题）：" + "；".join(p.zh for p in problems[:20]),
            f"{en} ({len(problems)} problems): " + "; ".join(p.en for p in problems[:20]),
            details=problems,
        )

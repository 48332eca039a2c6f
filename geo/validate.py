"""Validation of route features: geometry, place, attributes and dates, every problem collected.

Each check returns :class:`onetrench.errors.Problem` objects addressed by source file, feature
index, feature id (工程编号) and field, with a Chinese and an English message; nothing here
raises for bad input. ``severity="error"`` rejects the feature, ``"warning"`` keeps it.

Problem codes (stable, for clients):

=================================  ========  ===============================================
code                               severity  meaning
=================================  ========  ===============================================
geometry.missing / .empty          error     no geometry, or an empty one
geometry.unsupported_type          error     not a (Multi)LineString or (Multi)Polygon
geometry.not_finite                error     NaN or infinite coordinates
geometry.not_transformable         error     a vertex has no place in the working CRS (e.g. latitude 95°)
geometry.too_many_vertices         error     more than ``settings.max_vertices_per_feature``
geometry.swapped_axes              error     lon/lat swapped (Qijiang read as latitude 106)
geometry.invalid                   error     invalid polygon (``extra.make_valid_fixes``)
geometry.self_intersection         error     a route crossing itself
geometry.zero_length / .zero_area  error     degenerate after projection (< 1 cm / 1 cm²)
geometry.outside_district          error     entirely outside 綦江区
geometry.partly_outside_district   warning   partly outside 綦江区
geometry.z_dropped / .m_dropped    warning   Z or M values were dropped
district.fallback_bbox             warning   boundary file missing, bounding box used
attribute.*                        both      see :func:`parse_attributes`
date.*                             error     missing, unreadable or impossible dates
work_id.duplicate                  error     the same 工程编号 twice
=================================  ========  ===============================================
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString, MultiLineString, MultiPolygon, box
from shapely.geometry.base import BaseGeometry

from geo.chinacrs import ChinaDatum
from geo.crs import QIJIANG_BBOX, CRSSpec, geometry_to_working, inside_extent, resolve_crs, to_lonlat, transform_xy
from geo.fields import (
    is_blank,
    parse_bool,
    parse_date,
    parse_diameter_mm,
    parse_length_m,
    parse_number,
    utility_from_text,
)
from geo.prepared import prepared_here
from onetrench.domain import ExcavationMethod, GasPressureClass, UtilityKind, Work
from onetrench.errors import ConfigError, InputError, Problem
from onetrench.settings import Settings, get_settings

#: Plausible planning years.
YEAR_RANGE = (2000, 2100)
MAX_DEPTH_M = 10.0
MAX_TRENCH_WIDTH_M = 10.0
MAX_DIAMETER_MM = 5000.0
MAX_VOLTAGE_KV = 1000.0
#: Below these, a geometry in the working CRS is degenerate.
MIN_LENGTH_M = 0.01
MIN_AREA_M2 = 1e-4

_LINEAR = ("LineString", "MultiLineString")
_POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True, slots=True)
class Where:
    """Address of one feature: its file, zero-based index and id, for :class:`Problem`."""

    source: str
    index: int | None = None
    feature_id: str | None = None

    def problem(
        self,
        code: str,
        zh: str,
        en: str,
        *,
        field: str | None = None,
        location: tuple[float, float] | None = None,
        severity: str = "error",
        **extra: Any,
    ) -> Problem:
        """Return a Problem at this address."""
        return Problem(
            code=code,
            zh=zh,
            en=en,
            source=self.source,
            index=self.index,
            feature_id=self.feature_id,
            field=field,
            location=location,
            severity=severity,
            extra=extra,
        )


# --------------------------------------------------------------------------------------
# District boundary
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class District:
    """The district boundary in the working CRS; ``is_fallback`` when it is the bounding box."""

    geometry: BaseGeometry
    is_fallback: bool
    source: str


def load_district(*, settings: Settings | None = None) -> District:
    """Return 綦江区's boundary in the working CRS.

    Reads ``settings.district_boundary`` (GeoJSON, EPSG:4490 unless its ``crs`` member says
    otherwise). When the file is missing, falls back to the bounding box
    106.38–107.06 E, 28.45–29.19 N (:data:`geo.crs.QIJIANG_BBOX`) with ``is_fallback=True``:
    callers report that as a ``district.fallback_bbox`` warning.

    Raises
    ------
    ConfigError
        When the boundary file exists but cannot be read.
    """
    settings = settings or get_settings()
    path = Path(settings.district_boundary)
    mtime = path.stat().st_mtime if path.is_file() else None
    return _load_district(str(path), mtime, settings.working_crs)


@lru_cache(maxsize=8)
def _load_district(path: str, mtime: float | None, working_crs: str) -> District:
    settings = Settings(working_crs=working_crs)
    if mtime is None:
        lon_min, lat_min, lon_max, lat_max = QIJIANG_BBOX
        bbox = shapely.segmentize(box(lon_min, lat_min, lon_max, lat_max), 0.01)
        geom = geometry_to_working(bbox, resolve_crs("EPSG:4490"), settings=settings)
        return District(geom, True, "bbox 106.38–107.06E 28.45–29.19N")
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        crs_name = (((doc.get("crs") or {}).get("properties") or {}).get("name")) or "EPSG:4490"
        if doc.get("type") == "FeatureCollection":
            shapes = [shapely.geometry.shape(f["geometry"]) for f in doc["features"] if f.get("geometry")]
        elif doc.get("type") == "Feature":
            shapes = [shapely.geometry.shape(doc["geometry"])]
        else:
            shapes = [shapely.geometry.shape(doc)]
        merged = shapely.make_valid(shapely.union_all([shapely.force_2d(s) for s in shapes]))
        geom = geometry_to_working(merged, resolve_crs(_ogc_urn_to_code(crs_name)), settings=settings)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, InputError) as exc:
        raise ConfigError(
            f"区界文件 {path} 无法读取：{exc}", f"district boundary {path} cannot be read: {exc}"
        ) from exc
    if geom.is_empty or geom.area <= 0:
        raise ConfigError(f"区界文件 {path} 没有面要素", f"district boundary {path} has no polygon")
    return District(geom, False, path)


def _ogc_urn_to_code(name: str) -> str:
    """``urn:ogc:def:crs:EPSG::4490`` → ``EPSG:4490``; ``OGC:CRS84`` → ``EPSG:4326``."""
    text = str(name).strip()
    if re.search(r"crs84$", text, re.IGNORECASE):
        return "EPSG:4326"
    match = re.search(r"epsg:+(\d+)$", text, re.IGNORECASE)
    return f"EPSG:{match.group(1)}" if match else text


@dataclass(frozen=True, slots=True)
class OutsidePart:
    """The part of one work outside the district (working CRS).

    ``measure`` is a length (m) for routes and an area (m²) for work zones; ``fraction`` is
    that measure over the work's whole.
    """

    work_id: str
    geometry: BaseGeometry
    measure: float
    fraction: float

    @property
    def entirely_outside(self) -> bool:
        """Whether nothing of the work is inside the district."""
        return self.fraction >= 1.0 - 1e-9


def _measure(geom: BaseGeometry) -> float:
    return float(geom.area) if geom.geom_type in _POLYGONAL else float(geom.length)


def outside_parts(
    geoms: Sequence[BaseGeometry], *, district: District, tolerance_m: float = 0.0
) -> list[tuple[int, BaseGeometry, float, float]]:
    """Return ``(position, outside geometry, measure, fraction)`` for geometries not inside."""
    if tolerance_m > 0:
        area = district.geometry.buffer(tolerance_m)
        shapely.prepare(area)
    else:
        area = prepared_here(district.geometry)  # shared by threads: see geo.prepared
    arr = np.asarray(list(geoms), dtype=object)
    if arr.size == 0:
        return []
    inside = shapely.covers(area, arr)
    out = []
    for pos in np.flatnonzero(~inside):
        geom = arr[pos]
        rest = geom.difference(area)
        total = _measure(geom)
        part = _measure(rest)
        if part <= 0 or total <= 0:
            continue
        out.append((int(pos), rest, part, min(1.0, part / total)))
    return out


def outside_district(
    works: Iterable[Work], *, settings: Settings | None = None, tolerance_m: float = 0.0
) -> list[OutsidePart]:
    """Return, for each work reaching outside 綦江区, the part outside (for scheduling's findings).

    Parameters
    ----------
    works
        Works in the working CRS.
    settings
        Gives the boundary file and the working CRS; see :func:`load_district` for the fallback.
    tolerance_m
        Widen the boundary by this much (for generalised boundaries).

    Examples
    --------
    >>> from shapely import LineString
    >>> from onetrench.domain import Work
    >>> import datetime as dt
    >>> far = LineString([(0, 0), (100, 0)])  # working CRS, far from Qijiang
    >>> w = Work(work_id="W1", utility=UtilityKind.GAS, owner="", geometry=far, start=dt.date(2026, 3, 1),
    ...          end=dt.date(2026, 3, 5))
    >>> [p.entirely_outside for p in outside_district([w])]
    [True]
    """
    work_list = list(works)
    district = load_district(settings=settings)
    found = outside_parts([w.geometry for w in work_list], district=district, tolerance_m=tolerance_m)
    return [OutsidePart(work_list[pos].work_id, geom, measure, fraction) for pos, geom, measure, fraction in found]


# --------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------


def normalise_geometry_type(geom: BaseGeometry) -> BaseGeometry:
    """Turn a GeometryCollection of only lines (or only polygons) into a Multi geometry."""
    if geom.geom_type != "GeometryCollection" or geom.is_empty:
        return geom
    parts = [p for g in geom.geoms for p in (getattr(g, "geoms", None) or [g])]
    kinds = {p.geom_type for p in parts}
    if kinds <= {"LineString"}:
        return MultiLineString(parts)
    if kinds <= {"Polygon"}:
        return MultiPolygon(parts)
    return geom


def _fmt(xy: tuple[float, float]) -> str:
    return f"({xy[0]:.7g}, {xy[1]:.7g})"


def _first_xy(geom: BaseGeometry) -> tuple[float, float] | None:
    coords = shapely.get_coordinates(geom)
    finite = coords[np.isfinite(coords).all(axis=1)]
    if finite.size == 0:
        return None
    return float(finite[0, 0]), float(finite[0, 1])


def _line_self_crossings(line: LineString) -> list[tuple[float, float]]:
    """Points where a LineString crosses or touches itself (not at consecutive segments)."""
    coords = np.asarray(line.coords)[:, :2]
    if len(coords) < 4:
        return []
    segments = shapely.linestrings(np.stack([coords[:-1], coords[1:]], axis=1))
    tree = shapely.STRtree(segments)
    left, right = tree.query(segments, predicate="intersects")
    n = len(segments)
    closed = bool(np.allclose(coords[0], coords[-1]))
    keep = right > left + 1
    if closed:
        keep &= ~((left == 0) & (right == n - 1))
    points: list[tuple[float, float]] = []
    for i, j in zip(left[keep], right[keep], strict=True):
        hit = segments[i].intersection(segments[j])
        pt = hit.representative_point() if not hit.is_empty else None
        if pt is not None:
            points.append((float(pt.x), float(pt.y)))
    return points


def check_geometry(
    geom: BaseGeometry | None, where: Where, *, src: CRSSpec, settings: Settings
) -> tuple[BaseGeometry | None, list[Problem]]:
    """Check a geometry in its file's coordinates; return it (2-D, type normalised) or ``None``.

    ``None`` is returned with at least one error when the geometry cannot be used. Swapped
    lon/lat, outside-the-extent and validity are checked here; the precise boundary test and
    degenerate lengths come after projection (:func:`check_projected`).
    """
    problems: list[Problem] = []
    if geom is None:
        return None, [where.problem("geometry.missing", "要素没有几何图形", "the feature has no geometry")]
    geom = normalise_geometry_type(geom)
    if geom.is_empty:
        return None, [where.problem("geometry.empty", "几何图形为空", "the geometry is empty")]
    if geom.geom_type not in _LINEAR + _POLYGONAL:
        return None, [
            where.problem(
                "geometry.unsupported_type",
                f"几何类型 {geom.geom_type} 不支持："
                "管线路由应为线（LineString/MultiLineString），作业面应为面（Polygon）",
                f"geometry type {geom.geom_type} is not supported: routes are (Multi)LineStrings, "
                "work zones (Multi)Polygons",
            )
        ]
    n_vertices = int(shapely.get_num_coordinates(geom))
    if n_vertices > settings.max_vertices_per_feature:
        return None, [
            where.problem(
                "geometry.too_many_vertices",
                f"顶点数 {n_vertices} 超过上限 {settings.max_vertices_per_feature}，请简化后再上传",
                f"{n_vertices} vertices exceed the limit of {settings.max_vertices_per_feature}; simplify the route",
                vertices=n_vertices,
            )
        ]
    xy = shapely.get_coordinates(geom)
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        first_bad = int(np.flatnonzero(bad)[0])
        return None, [
            where.problem(
                "geometry.not_finite",
                f"坐标含 NaN 或无穷大（第 {first_bad + 1} 个顶点，共 {int(bad.sum())} 个）",
                f"coordinates contain NaN or infinity (vertex {first_bad + 1}, {int(bad.sum())} in all)",
                location=_first_xy(geom),
            )
        ]
    if shapely.has_z(geom):
        problems.append(
            where.problem(
                "geometry.z_dropped", "已忽略 Z 值（高程）", "Z values (elevation) were dropped", severity="warning"
            )
        )
    if shapely.has_m(geom):
        problems.append(where.problem("geometry.m_dropped", "已忽略 M 值", "M values were dropped", severity="warning"))
    geom = shapely.force_2d(geom)
    first = (float(xy[0, 0]), float(xy[0, 1]))
    lonlat = to_lonlat(xy, src)
    inside = inside_extent(lonlat)
    if not inside.any():
        if inside_extent(to_lonlat(xy[:, ::-1], src)).all():
            problems.append(
                where.problem(
                    "geometry.swapped_axes",
                    f"经纬度顺序颠倒：按 {src.name} 读出的点 {_fmt(first)} 在綦江区外，交换后才在区内；"
                    "请按「经度, 纬度」（x=东, y=北）导出",
                    f"longitude and latitude are swapped: read as {src.name}, {_fmt(first)} is outside Qijiang "
                    "and only lands inside when swapped; export as lon, lat (x = east, y = north)",
                    location=first,
                )
            )
        else:
            lon, lat = (float(v) for v in lonlat[0]) if np.isfinite(lonlat[0]).all() else (math.nan, math.nan)
            problems.append(
                where.problem(
                    "geometry.outside_district",
                    f"按坐标系 {src.name} 读，要素位于 ({lon:.5f}, {lat:.5f})，完全不在綦江区范围内；请检查坐标系",
                    f"read as {src.name}, the feature lies at ({lon:.5f}, {lat:.5f}), entirely outside Qijiang; "
                    "check the CRS",
                    location=first,
                )
            )
        return None, problems
    problems.extend(_validity_problems(geom, where))
    if any(p.severity == "error" for p in problems):
        return None, problems
    return geom, problems


def _validity_problems(geom: BaseGeometry, where: Where) -> list[Problem]:
    if geom.geom_type in _POLYGONAL:
        if shapely.is_valid(geom):
            return []
        reason = str(shapely.is_valid_reason(geom))
        match = re.search(r"\[([-+0-9.eE]+) ([-+0-9.eE]+)\]", reason)
        location = (float(match.group(1)), float(match.group(2))) if match else _first_xy(geom)
        fixed = shapely.make_valid(geom)
        fixes = bool(fixed.geom_type in _POLYGONAL and not fixed.is_empty and fixed.area > 0)
        hint_zh = "可用 make_valid 修复（自相交处拆分为多个面）" if fixes else "make_valid 无法修复为面"
        hint_en = "make_valid would fix it (splitting at the crossing)" if fixes else "make_valid cannot repair it"
        return [
            where.problem(
                "geometry.invalid",
                f"面几何无效：{reason}；{hint_zh}",
                f"invalid polygon: {reason}; {hint_en}",
                location=location,
                make_valid_fixes=fixes,
                reason=reason,
            )
        ]
    lines = list(geom.geoms) if isinstance(geom, MultiLineString) else [geom]
    crossings = [pt for line in lines for pt in _line_self_crossings(line)]
    if not crossings:
        return []
    return [
        where.problem(
            "geometry.self_intersection",
            f"路由自相交 {len(crossings)} 处，首处位于 {_fmt(crossings[0])}；"
            "线几何 make_valid 不会改变它，请在交叉处拆分或删除回环",
            f"the route crosses itself {len(crossings)} time(s), first at {_fmt(crossings[0])}; make_valid does not "
            "change lines: split the route at the crossing or remove the loop",
            location=crossings[0],
            make_valid_fixes=False,
            crossings=[list(p) for p in crossings[:20]],
        )
    ]


#: Route parts of up to this many vertices have their self-crossings looked for by
#: :func:`clean_geometries` as all segment pairs at once; longer parts by their own STRtree.
PAIRWISE_MAX_VERTICES = 64


def _crossing_free(parts: NDArray[np.object_]) -> NDArray[np.bool_]:
    """Per LineString (file coordinates, 2-D, finite): whether it neither crosses nor touches itself.

    The same test as :func:`_line_self_crossings` (segments ``i < j - 1`` that intersect, the
    closing pair of a closed line excepted), for all short parts at once: candidate pairs by
    their envelopes in numpy, then GEOS ``intersects`` with the first segment prepared, as the
    STRtree query does. Longer parts go through :func:`_line_self_crossings` itself.
    """
    ok = np.ones(len(parts), dtype=bool)
    if len(parts) == 0:
        return ok
    counts = shapely.get_num_coordinates(parts)
    xy = shapely.get_coordinates(parts)
    first = np.zeros(len(parts), dtype=np.int64)
    first[1:] = np.cumsum(counts)[:-1]
    for pos in np.flatnonzero(counts > PAIRWISE_MAX_VERTICES):
        ok[pos] = not _line_self_crossings(parts[pos])
    short = (counts >= 4) & (counts <= PAIRWISE_MAX_VERTICES)
    for n in np.unique(counts[short]):
        group = np.flatnonzero(counts == n)
        m = int(n) - 1  # segments per part
        i, j = np.triu_indices(m, k=2)
        a = first[group][:, None] + i[None, :]  # start vertex of segment i, per part
        b = first[group][:, None] + j[None, :]
        lo_a, hi_a = np.minimum(xy[a], xy[a + 1]), np.maximum(xy[a], xy[a + 1])
        lo_b, hi_b = np.minimum(xy[b], xy[b + 1]), np.maximum(xy[b], xy[b + 1])
        near = ((lo_a <= hi_b) & (lo_b <= hi_a)).all(axis=-1)
        start, end = xy[first[group]], xy[first[group] + m]
        closed = (np.abs(start - end) <= 1e-8 + 1e-5 * np.abs(end)).all(axis=-1)  # np.allclose, per part
        near[:, (i == 0) & (j == m - 1)] &= ~closed[:, None]
        rows, cols = np.nonzero(near)
        if rows.size == 0:
            continue
        sa, sb = a[rows, cols], b[rows, cols]
        seg_a = shapely.linestrings(np.stack([xy[sa], xy[sa + 1]], axis=1))
        seg_b = shapely.linestrings(np.stack([xy[sb], xy[sb + 1]], axis=1))
        shapely.prepare(seg_a)
        hit = shapely.intersects(seg_a, seg_b)
        ok[group[np.unique(rows[hit])]] = False
    return ok


def clean_geometries(
    geoms: Sequence[BaseGeometry | None], *, src: CRSSpec, district: District, settings: Settings
) -> list[BaseGeometry | None]:
    """The working-CRS geometry of every feature that passes all geometry checks, else ``None``.

    Vectorised equivalent of :func:`check_geometry`, :func:`geo.crs.geometry_to_working` and
    :func:`check_projected` for the common case, a whole file at once: a geometry is *clean*
    when those three would report no problem at all (a 2-D, finite, valid (Multi)LineString or
    (Multi)Polygon, not self-crossing, within the vertex limit, somewhere in Qijiang's extent,
    non-degenerate and covered by the district after projection); its working geometry is then
    the one :func:`geo.crs.geometry_to_working` returns (every vertex goes through the same PROJ
    transformation). ``None`` means: run the per-feature checks, which say what is wrong.
    GCJ-02 / BD-09 sources are left to the per-feature path (their inverse iterates until the
    worst vertex of the call converges, so a batch would round differently).
    """
    out: list[BaseGeometry | None] = [None] * len(geoms)
    if not geoms or src.datum is not ChinaDatum.WGS84:
        return out
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    present = np.array([g is not None for g in geoms], dtype=bool)
    cand = np.flatnonzero(present)
    if cand.size == 0:
        return out
    sub = arr[cand]
    type_id = shapely.get_type_id(sub)
    keep = np.isin(type_id, (1, 3, 5, 6)) & ~shapely.is_empty(sub)
    keep &= ~shapely.has_z(sub) & ~shapely.has_m(sub)
    keep &= shapely.get_num_coordinates(sub) <= settings.max_vertices_per_feature
    cand, sub = cand[keep], sub[keep]
    if cand.size == 0:
        return out
    xy, owner = shapely.get_coordinates(sub, return_index=True)
    finite = np.bincount(owner, weights=~np.isfinite(xy).all(axis=1), minlength=len(sub)) == 0
    cand, sub = cand[finite], sub[finite]
    if cand.size == 0:
        return out
    xy, owner = shapely.get_coordinates(sub, return_index=True)
    inside = np.bincount(owner, weights=inside_extent(to_lonlat(xy, src)), minlength=len(sub)) > 0
    cand, sub = cand[inside], shapely.force_2d(sub[inside])
    if cand.size == 0:
        return out
    polygonal = np.isin(shapely.get_type_id(sub), (3, 6))
    ok = np.ones(len(sub), dtype=bool)
    if polygonal.any():
        ok[polygonal] = shapely.is_valid(sub[polygonal])
    lines = np.flatnonzero(~polygonal)
    if lines.size:
        parts, part_of = shapely.get_parts(sub[lines], return_index=True)
        free = _crossing_free(parts)
        ok[lines] = np.bincount(part_of, weights=~free, minlength=lines.size) == 0
    cand, sub = cand[ok], sub[ok]
    if cand.size == 0:
        return out
    dst = resolve_crs(settings.working_crs)
    working = shapely.transform(sub, lambda pts: transform_xy(pts, src, dst))
    wxy, wowner = shapely.get_coordinates(working, return_index=True)
    ok = np.bincount(wowner, weights=~np.isfinite(wxy).all(axis=1), minlength=len(working)) == 0
    polygonal = np.isin(shapely.get_type_id(working), (3, 6))
    big_enough = np.where(polygonal, shapely.area(working) >= MIN_AREA_M2, shapely.length(working) >= MIN_LENGTH_M)
    ok &= big_enough
    ok[ok] = shapely.covers(prepared_here(district.geometry), working[ok])
    for pos, geom in zip(cand[ok], working[ok], strict=True):
        out[int(pos)] = geom
    return out


def check_projected(
    geom: BaseGeometry, where: Where, *, src: CRSSpec, district: District, settings: Settings
) -> list[Problem]:
    """Check a geometry in the working CRS: transformable, degenerate length/area, the district boundary."""
    bad = ~np.isfinite(shapely.get_coordinates(geom)).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0]) + 1
        return [
            where.problem(
                "geometry.not_transformable",
                f"第 {first} 个顶点无法换算到工作坐标系 {settings.working_crs}"
                f"（超出 {src.name} 的有效范围，例如纬度超过 90°），共 {int(bad.sum())} 个",
                f"vertex {first} cannot be transformed to the working CRS {settings.working_crs} "
                f"(outside the valid range of {src.name}, e.g. a latitude beyond 90°); {int(bad.sum())} in all",
            )
        ]
    if geom.geom_type in _LINEAR and geom.length < MIN_LENGTH_M:
        return [
            where.problem(
                "geometry.zero_length",
                f"路由长度为零（{geom.length:.3f} m）",
                f"the route has zero length ({geom.length:.3f} m)",
                location=_first_xy_in(geom, src, settings),
            )
        ]
    if geom.geom_type in _POLYGONAL and geom.area < MIN_AREA_M2:
        return [
            where.problem(
                "geometry.zero_area",
                f"作业面面积为零（{geom.area:.4f} m²）",
                f"the work zone has zero area ({geom.area:.4f} m²)",
                location=_first_xy_in(geom, src, settings),
            )
        ]
    found = outside_parts([geom], district=district)
    if not found:
        return []
    _, rest, measure, fraction = found[0]
    unit = "m²" if geom.geom_type in _POLYGONAL else "m"
    location = _first_xy_in(rest.representative_point(), src, settings)
    if fraction >= 1.0 - 1e-9:
        return [
            where.problem(
                "geometry.outside_district",
                "要素完全位于綦江区界外",
                "the feature lies entirely outside the Qijiang district boundary",
                location=location,
            )
        ]
    return [
        where.problem(
            "geometry.partly_outside_district",
            f"要素有 {measure:.1f} {unit}（{fraction:.0%}）位于綦江区界外",
            f"{measure:.1f} {unit} ({fraction:.0%}) of the feature lie outside the Qijiang district boundary",
            location=location,
            severity="warning",
            outside=round(measure, 2),
            fraction=round(fraction, 4),
        )
    ]


def _first_xy_in(geom: BaseGeometry, src: CRSSpec, settings: Settings) -> tuple[float, float] | None:
    """First vertex of a working-CRS geometry, in the file's coordinates."""
    xy = _first_xy(geom)
    if xy is None:
        return None
    back = transform_xy([xy], resolve_crs(settings.working_crs), src)
    return float(back[0, 0]), float(back[0, 1])


# --------------------------------------------------------------------------------------
# Attributes
# --------------------------------------------------------------------------------------


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_attributes(
    values: Mapping[str, object], where: Where, *, layer_kinds: Mapping[str, UtilityKind] | None = None
) -> tuple[dict[str, Any], list[Problem]]:
    """Parse raw Work-field values (already mapped by :func:`geo.fields.map_fields`).

    Returns the parsed values and every problem: unreadable or implausible numbers
    (``attribute.invalid``, ``attribute.implausible``), unknown utility kind with the allowed
    list (``attribute.unknown_utility``), missing utility (``attribute.missing``), missing
    owner (warning), and all date problems (:func:`check_dates`).
    """
    out: dict[str, Any] = {}
    problems: list[Problem] = []

    def bad(field: str, raw: object, zh: str, en: str, code: str = "attribute.invalid", **extra: Any) -> None:
        problems.append(where.problem(code, f"{zh}（值「{raw}」）", f"{en} (value {raw!r})", field=field, **extra))

    for key in ("work_id", "name", "owner", "contact"):
        raw = values.get(key)
        if not is_blank(raw):
            out[key] = _text(raw)

    raw = values.get("utility")
    if is_blank(raw):
        problems.append(
            where.problem(
                "attribute.missing",
                f"缺少管线类别（允许：{UtilityKind.allowed()}）",
                f"utility kind is missing (allowed: {', '.join(m.value for m in UtilityKind)})",
                field="utility",
            )
        )
    else:
        kind = utility_from_text(_text(raw), layer_kinds)
        if kind is None:
            problems.append(
                where.problem(
                    "attribute.unknown_utility",
                    f"管线类别「{raw}」无法识别，允许的值：{UtilityKind.allowed()}",
                    f"unknown utility kind {raw!r}; allowed: {', '.join(m.value for m in UtilityKind)}",
                    field="utility",
                    allowed=[m.value for m in UtilityKind],
                )
            )
        else:
            out["utility"] = kind

    if is_blank(values.get("owner")):
        problems.append(
            where.problem(
                "attribute.missing_owner",
                "缺少建设单位",
                "owner (建设单位) is missing",
                field="owner",
                severity="warning",
            )
        )

    numeric = (
        ("diameter_mm", parse_diameter_mm, 0.0, MAX_DIAMETER_MM, "管径", "diameter", "mm"),
        ("voltage_kv", parse_number, 0.0, MAX_VOLTAGE_KV, "电压等级", "voltage", "kV"),
        ("trench_width_m", parse_length_m, 0.0, MAX_TRENCH_WIDTH_M, "沟槽宽度", "trench width", "m"),
        ("depth_m", parse_length_m, 0.0, MAX_DEPTH_M, "埋深", "depth", "m"),
    )
    for key, parser, low, high, zh_name, en_name, unit in numeric:
        raw = values.get(key)
        if is_blank(raw):
            continue
        try:
            number = parser(raw)
        except ValueError:
            bad(key, raw, f"{zh_name}不是数值", f"{en_name} is not a number")
            continue
        if not math.isfinite(number):
            bad(key, raw, f"{zh_name}不是有限数值", f"{en_name} is not finite")
        elif number < low or (key == "trench_width_m" and number == 0):
            bad(key, raw, f"{zh_name}不能为负或零", f"{en_name} cannot be negative or zero", "attribute.implausible")
        elif number > high:
            bad(
                key,
                raw,
                f"{zh_name} {number:g} {unit} 超出合理范围（≤{high:g} {unit}）",
                f"{en_name} {number:g} {unit} is implausible (≤ {high:g} {unit})",
                "attribute.implausible",
            )
        else:
            out[key] = number

    raw = values.get("gas_pressure")
    if not is_blank(raw):
        try:
            out["gas_pressure"] = GasPressureClass.parse(_text(raw), field_name="压力级制/gas pressure")
        except InputError as exc:
            try:
                out["gas_pressure"] = GasPressureClass.from_mpa(parse_number(raw))
            except (ValueError, InputError):
                problems.append(where.problem("attribute.invalid", exc.zh, exc.en, field="gas_pressure"))

    raw = values.get("method")
    if not is_blank(raw):
        try:
            out["method"] = ExcavationMethod.parse(_text(raw), field_name="施工方式/method")
        except InputError as exc:
            problems.append(where.problem("attribute.invalid", exc.zh, exc.en, field="method"))

    raw = values.get("emergency")
    if not is_blank(raw):
        try:
            out["emergency"] = parse_bool(raw)
        except ValueError:
            bad("emergency", raw, "抢修应为 是/否", "emergency must be yes/no")

    dates, date_problems = check_dates(values, where)
    out.update(dates)
    problems.extend(date_problems)
    return out, problems


_DATE_FIELDS = {
    "start": ("计划开工", "planned start"),
    "end": ("计划完工", "planned end"),
    "earliest_start": ("最早开工", "earliest start"),
    "latest_end": ("最晚完工", "latest end"),
}


def check_dates(values: Mapping[str, object], where: Where) -> tuple[dict[str, dt.date], list[Problem]]:
    """Parse and check the four dates: missing, unreadable, out of 2000–2100, out of order.

    Examples
    --------
    >>> _, problems = check_dates({"start": "2026-03-10", "end": "2026/3/1"}, Where("f.csv", 0))
    >>> [p.code for p in problems]
    ['date.end_before_start']
    """
    dates: dict[str, dt.date] = {}
    problems: list[Problem] = []
    for key, (zh, en) in _DATE_FIELDS.items():
        raw = values.get(key)
        if is_blank(raw):
            if key in ("start", "end"):
                problems.append(where.problem("date.missing", f"缺少{zh}日期", f"{en} date is missing", field=key))
            continue
        try:
            value = parse_date(raw)
        except (ValueError, OverflowError):
            problems.append(
                where.problem(
                    "date.invalid",
                    f"{zh}「{raw}」不是日期（可用 2026-03-01、2026/3/1、2026年3月1日）",
                    f"{en} {raw!r} is not a date (use 2026-03-01, 2026/3/1 or 2026年3月1日)",
                    field=key,
                )
            )
            continue
        if not YEAR_RANGE[0] <= value.year <= YEAR_RANGE[1]:
            problems.append(
                where.problem(
                    "date.out_of_range",
                    f"{zh} {value.isoformat()} 不在 {YEAR_RANGE[0]}–{YEAR_RANGE[1]} 年之间",
                    f"{en} {value.isoformat()} is outside the years {YEAR_RANGE[0]}–{YEAR_RANGE[1]}",
                    field=key,
                )
            )
            continue
        dates[key] = value
    start, end = dates.get("start"), dates.get("end")
    if start and end and end < start:
        problems.append(
            where.problem(
                "date.end_before_start",
                f"计划完工 {end} 早于计划开工 {start}",
                f"planned end {end} is before planned start {start}",
                field="end",
            )
        )
    earliest = dates.get("earliest_start")
    if earliest and start and earliest > start:
        problems.append(
            where.problem(
                "date.earliest_after_start",
                f"最早开工 {earliest} 晚于计划开工 {start}",
                f"earliest start {earliest} is after planned start {start}",
                field="earliest_start",
            )
        )
    latest = dates.get("latest_end")
    if latest and end and latest < end:
        problems.append(
            where.problem(
                "date.latest_before_end",
                f"最晚完工 {latest} 早于计划完工 {end}",
                f"latest end {latest} is before planned end {end}",
                field="latest_end",
            )
        )
    return dates, problems


def duplicate_ids(items: Sequence[tuple[str, str, int | None]]) -> dict[str, list[tuple[str, int | None]]]:
    """Return ``work_id → [(source, index), ...]`` for every id that occurs more than once."""
    seen: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
    for work_id, source, index in items:
        seen[work_id].append((source, index))
    return {k: v for k, v in seen.items() if len(v) > 1}


def duplicate_problems(items: Sequence[tuple[str, str, int | None]]) -> list[Problem]:
    """One ``work_id.duplicate`` error per occurrence of a repeated work id."""
    problems = []
    for work_id, places in duplicate_ids(items).items():
        listing = ", ".join(f"{src}#{idx}" for src, idx in places)
        for source, index in places:
            problems.append(
                Where(source, index, work_id).problem(
                    "work_id.duplicate",
                    f"工程编号「{work_id}」重复出现 {len(places)} 次（{listing}），全部不予导入",
                    f"work id {work_id!r} occurs {len(places)} times ({listing}); none is imported",
                    field="work_id",
                )
            )
    return problems


__all__ = [
    "District",
    "OutsidePart",
    "Where",
    "check_dates",
    "check_geometry",
    "check_projected",
    "clean_geometries",
    "duplicate_problems",
    "load_district",
    "outside_district",
    "parse_attributes",
]

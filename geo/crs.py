"""Coordinate reference systems of route files: resolve, check, transform to the working CRS.

Accepted inputs (:func:`resolve_crs`): an EPSG code (``"EPSG:4545"``, ``"4545"``, ``4545``), any
WKT / ``.prj`` / PROJ text that pyproj understands, and the two systems of Chinese web maps that
PROJ does not know — GCJ-02 (``"gcj02"``, 高德, 火星坐标, 腾讯) and BD-09 (``"bd09"``, 百度),
converted by :mod:`geo.chinacrs`.

Everything is transformed to the working CRS of the settings (metres) with
``always_xy=True``. Before that, :func:`check_plausible` looks at where the coordinates land:
Qijiang (about 106.38–107.06 E, 28.45–29.19 N) cannot be at latitude 106, so swapped lon/lat
is detected rather than silently accepted.

When a file carries no CRS, :func:`guess_crs` decides, and it guesses only one thing: lon/lat
degrees inside Qijiang are assumed to be CGCS2000 (EPSG:4490), and the caller must report that
assumption as a warning (the same numbers could be GCJ-02 or BD-09, several hundred metres
away). Projected numbers are never assumed, even when they fit a CGCS2000 Gauss-Krüger zone,
because Beijing 1954 and Xi'an 1980 grids give nearly the same numbers tens of metres away: the
error names the candidate so the user can confirm it with ``--crs``.

Examples
--------
>>> resolve_crs("高德").name
'GCJ-02'
>>> resolve_crs(4545).name
'EPSG:4545'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import TypeVar

import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray
from pyproj.exceptions import CRSError as PyprojCRSError
from shapely.geometry.base import BaseGeometry

from geo.chinacrs import ChinaDatum, from_wgs84, to_wgs84
from onetrench.errors import CRSError
from onetrench.settings import Settings, get_settings

_V = TypeVar("_V")

#: Rough extent of 綦江区 (lon_min, lat_min, lon_max, lat_max), CGCS2000 degrees.
QIJIANG_BBOX: tuple[float, float, float, float] = (106.38, 28.45, 107.06, 29.19)
#: Margin (degrees, about 10 km) around the extent inside which coordinates count as plausible.
PLAUSIBLE_MARGIN_DEG = 0.1
#: Geographic CRS of GCJ-02 / BD-09 after correction, and of assumed lon/lat.
CGCS2000 = "EPSG:4490"

#: Projected systems whose numbers could hold Qijiang; only ever *suggested* (module docstring).
_PROJECTED_CANDIDATES = (4545, 4544, 4524, 4523, 4496)

_CHINA_ALIASES: dict[str, ChinaDatum] = {
    "gcj02": ChinaDatum.GCJ02,
    "gcj": ChinaDatum.GCJ02,
    "gcj02ll": ChinaDatum.GCJ02,
    "火星": ChinaDatum.GCJ02,
    "火星坐标": ChinaDatum.GCJ02,
    "火星坐标系": ChinaDatum.GCJ02,
    "高德": ChinaDatum.GCJ02,
    "高德坐标": ChinaDatum.GCJ02,
    "高德坐标系": ChinaDatum.GCJ02,
    "高德地图": ChinaDatum.GCJ02,
    "amap": ChinaDatum.GCJ02,
    "autonavi": ChinaDatum.GCJ02,
    "腾讯": ChinaDatum.GCJ02,
    "腾讯坐标": ChinaDatum.GCJ02,
    "tencent": ChinaDatum.GCJ02,
    "国测局坐标": ChinaDatum.GCJ02,
    "bd09": ChinaDatum.BD09,
    "bd09ll": ChinaDatum.BD09,
    "bd": ChinaDatum.BD09,
    "百度": ChinaDatum.BD09,
    "百度坐标": ChinaDatum.BD09,
    "百度坐标系": ChinaDatum.BD09,
    "百度地图": ChinaDatum.BD09,
    "baidu": ChinaDatum.BD09,
}
_GEOGRAPHIC_ALIASES: dict[str, str] = {
    "wgs84": "EPSG:4326",
    "wgs1984": "EPSG:4326",
    "gps": "EPSG:4326",
    "cgcs2000": CGCS2000,
    "2000国家大地坐标系": CGCS2000,
    "国家2000": CGCS2000,
    "国家2000坐标系": CGCS2000,
    "cgcs2000经纬度": CGCS2000,
}
_UNSUPPORTED: dict[str, tuple[str, str]] = {
    "bd09mc": (
        "百度墨卡托坐标（BD-09MC）暂不支持，请导出为 BD-09 经纬度",
        "Baidu Mercator (BD-09MC) is not supported; export BD-09 lon/lat",
    ),
    "百度墨卡托": (
        "百度墨卡托坐标（BD-09MC）暂不支持，请导出为 BD-09 经纬度",
        "Baidu Mercator (BD-09MC) is not supported; export BD-09 lon/lat",
    ),
}

FloatArray = NDArray[np.float64]


class Plausibility(StrEnum):
    """Where a set of coordinates lands when read in a given CRS."""

    INSIDE = "inside"
    SWAPPED = "swapped"
    OUTSIDE = "outside"
    NOT_FINITE = "not_finite"


@dataclass(frozen=True, slots=True)
class CRSSpec:
    """A resolved coordinate reference system of input coordinates.

    Parameters
    ----------
    crs
        The PROJ CRS of the coordinates; for GCJ-02 / BD-09 the geographic CRS they are
        corrected to (EPSG:4490).
    datum
        :attr:`ChinaDatum.WGS84` for every PROJ system, else the web-map system to undo first.
    label
        How the user or the file named it (for messages).
    """

    crs: pyproj.CRS
    datum: ChinaDatum = ChinaDatum.WGS84
    label: str = ""

    @property
    def name(self) -> str:
        """Short name: ``"GCJ-02"``, ``"BD-09"``, ``"EPSG:4545"`` or the CRS name."""
        if self.datum is ChinaDatum.GCJ02:
            return "GCJ-02"
        if self.datum is ChinaDatum.BD09:
            return "BD-09"
        code = self.crs.to_epsg(min_confidence=90)
        return f"EPSG:{code}" if code is not None else str(self.crs.name)

    @property
    def is_geographic(self) -> bool:
        """Whether the coordinates are longitude/latitude degrees."""
        return bool(self.crs.is_geographic)


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-—]+", "", text.strip().lower())


def resolve_crs(spec: str | int | pyproj.CRS | CRSSpec | None) -> CRSSpec:
    """Resolve a user- or file-given CRS.

    Parameters
    ----------
    spec
        ``"EPSG:4545"``, ``4545``, ``"4545"``, WKT or ``.prj`` text, a PROJ string, ``"gcj02"`` /
        ``"bd09"`` or their Chinese names (高德, 火星坐标, 腾讯, 百度), ``"wgs84"``, ``"cgcs2000"``,
        a :class:`pyproj.CRS` or an already resolved :class:`CRSSpec`.

    Raises
    ------
    CRSError
        When ``spec`` is ``None`` or empty (no CRS: see :func:`guess_crs`) or names no known system.

    Examples
    --------
    >>> resolve_crs("EPSG:4490").is_geographic
    True
    >>> resolve_crs("BD-09").datum
    <ChinaDatum.BD09: 'bd09'>
    """
    if isinstance(spec, CRSSpec):
        return spec
    if isinstance(spec, pyproj.CRS):
        return CRSSpec(spec, label=str(spec.name))
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        raise CRSError("未指定坐标系", "no coordinate reference system given")
    if isinstance(spec, bool):
        raise CRSError(f"坐标系「{spec}」无法识别", f"unknown CRS {spec!r}")
    if isinstance(spec, int):
        return _resolve_text(f"EPSG:{spec}")
    return _resolve_text(str(spec).strip())


@lru_cache(maxsize=256)
def _resolve_text(text: str) -> CRSSpec:
    """:func:`resolve_crs` of a text, once per text (each upload names its CRS again: ~0.15 ms each)."""
    key = _norm(text)
    if key in _UNSUPPORTED:
        zh, en = _UNSUPPORTED[key]
        raise CRSError(zh, en)
    if key in _CHINA_ALIASES:
        return CRSSpec(pyproj.CRS.from_user_input(CGCS2000), _CHINA_ALIASES[key], label=text)
    if key in _GEOGRAPHIC_ALIASES:
        return _from_pyproj(_GEOGRAPHIC_ALIASES[key], label=text)
    if key.isdigit():
        return _from_pyproj(f"EPSG:{key}", label=text)
    return _from_pyproj(text, label=text[:60])


def _from_pyproj(text: str, *, label: str) -> CRSSpec:
    try:
        crs = pyproj.CRS.from_user_input(text)
    except (PyprojCRSError, ValueError, TypeError) as exc:
        short = text if len(text) <= 80 else text[:77] + "..."
        raise CRSError(
            f"坐标系「{short}」无法识别（可用 EPSG 代码、WKT/.prj、gcj02 或 bd09）",
            f"unknown CRS {short!r} (use an EPSG code, WKT/.prj text, gcj02 or bd09): {exc}",
        ) from None
    if crs.is_geocentric or crs.is_vertical or crs.is_engineering:
        raise CRSError(
            f"坐标系「{crs.name}」不是平面或经纬度坐标系", f"CRS {crs.name!r} is neither projected nor geographic"
        )
    return CRSSpec(crs, label=label)


def _remembered(cache: dict[tuple[str, str], _V], key: tuple[str, str], make: Callable[[], _V], limit: int) -> _V:
    """``cache[key]``, made by ``make()`` the first time; the cache is emptied when it holds ``limit``."""
    found = cache.get(key)
    if found is None:
        if len(cache) >= limit:
            cache.clear()
        found = cache[key] = make()
    return found


#: Transformers by the texts their two CRS were made from (hashing a pyproj.CRS writes its WKT: ~25 µs).
_TRANSFORMERS: dict[tuple[str, str], pyproj.Transformer] = {}
#: Whether two CRS are equal, by the same texts (pyproj's comparison costs ~0.1 ms a call).
_SAME: dict[tuple[str, str], bool] = {}


def transformer(source: str | int | pyproj.CRS, target: str | int | pyproj.CRS) -> pyproj.Transformer:
    """The transformer from ``source`` to ``target`` (x / longitude first), made once per pair.

    Cheap on each new thread as well (see :func:`_make_transformer`).

    Raises
    ------
    CRSError
        When either CRS is not understood, or there is no way between them.

    Examples
    --------
    >>> lon, lat = transformer("EPSG:4545", "EPSG:4490").transform(500000.0, 3250000.0)
    >>> round(lon, 6), 29.3 < lat < 29.4
    (108.0, True)
    """
    try:
        return _transformer(_as_crs(source), _as_crs(target))
    except pyproj.exceptions.ProjError as exc:  # CRSError too
        raise CRSError(
            f"无法识别坐标系 {source} 或 {target}：{exc}", f"cannot transform {source} to {target}: {exc}"
        ) from exc


def _as_crs(crs: str | int | pyproj.CRS) -> pyproj.CRS:
    return crs if isinstance(crs, pyproj.CRS) else _crs_of_text(str(crs))


@lru_cache(maxsize=64)
def _crs_of_text(text: str) -> pyproj.CRS:
    return pyproj.CRS.from_user_input(text)


def _transformer(src: pyproj.CRS, dst: pyproj.CRS) -> pyproj.Transformer:
    return _remembered(_TRANSFORMERS, (src.srs, dst.srs), lambda: _make_transformer(src, dst), 64)


def _make_transformer(src: pyproj.CRS, dst: pyproj.CRS) -> pyproj.Transformer:
    """``Transformer.from_crs(src, dst, always_xy=True)``, or its operation's pipeline where that is the same.

    pyproj keeps one PROJ object per thread and transformer, made on the thread's first call:
    from two CRS that takes 60-90 ms (PROJ searches its database for the operation), from a
    pipeline 0.2 ms. The service's worker threads come and go (idle ones end after 10 s), so
    every new thread paid that for each transformer of an upload. The pipeline of the operation
    PROJ chose is used instead when it gives the same coordinates, bit for bit, over Qijiang
    (:data:`QIJIANG_BBOX`, a grid of points): PROJ may choose per point among several operations
    by their areas of use, or defer the choice ("unavailable until proj_trans is called").
    """
    chosen = pyproj.Transformer.from_crs(src, dst, always_xy=True)
    lon0, lat0, lon1, lat1 = QIJIANG_BBOX
    lon, lat = np.meshgrid(np.linspace(lon0 - 0.5, lon1 + 0.5, 9), np.linspace(lat0 - 0.5, lat1 + 0.5, 9))
    try:
        pipeline = pyproj.Transformer.from_pipeline(chosen.definition)
        x, y = pyproj.Transformer.from_crs(CGCS2000, src, always_xy=True).transform(lon.ravel(), lat.ravel())
        finite = np.isfinite(x) & np.isfinite(y)
        same = finite.sum() >= 40 and np.array_equal(
            np.array(chosen.transform(x[finite], y[finite])), np.array(pipeline.transform(x[finite], y[finite]))
        )
    # no pipeline ("unavailable until proj_trans is called"), or no way from Qijiang
    except pyproj.exceptions.ProjError:
        return chosen
    return pipeline if same else chosen


def _same_crs(a: pyproj.CRS, b: pyproj.CRS) -> bool:
    """``a == b``, remembered by their definitions."""
    return a is b or _remembered(_SAME, (a.srs, b.srs), lambda: bool(a == b), 256)


def _as_xy(coords: object) -> FloatArray:
    arr = np.asarray(coords, dtype=np.float64)
    if arr.ndim == 1 and arr.size >= 2:
        arr = arr[:2].reshape(1, 2)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise CRSError("坐标数组应为 N×2", f"coordinates must be an N×2 array, got shape {arr.shape}")
    return arr[:, :2]


def transform_xy(coords: object, src: CRSSpec, dst: str | pyproj.CRS | CRSSpec) -> FloatArray:
    """Transform an ``(N, 2)`` array of x/y (lon/lat) from ``src`` to ``dst`` (vectorised).

    GCJ-02 / BD-09 on either side are undone or applied around the PROJ step.

    Examples
    --------
    >>> xy = transform_xy([[106.65, 29.03]], resolve_crs("EPSG:4490"), "EPSG:4545")
    >>> bool(300_000 < xy[0, 0] < 500_000)
    True
    """
    xy = _as_xy(coords)
    dst_spec = resolve_crs(dst) if not isinstance(dst, CRSSpec) else dst
    x = xy[:, 0]
    y = xy[:, 1]
    src_crs = src.crs
    if src.datum is not ChinaDatum.WGS84:
        x, y = to_wgs84(x, y, src.datum)
    if dst_spec.datum is not ChinaDatum.WGS84:
        if not _same_crs(src_crs, dst_spec.crs):
            x, y = _transformer(src_crs, dst_spec.crs).transform(x, y)
        x, y = from_wgs84(x, y, dst_spec.datum)
    elif not _same_crs(src_crs, dst_spec.crs):
        with np.errstate(invalid="ignore"):
            x, y = _transformer(src_crs, dst_spec.crs).transform(x, y)
    return np.column_stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])


def to_working(
    geoms: BaseGeometry | Sequence[BaseGeometry] | FloatArray, src: CRSSpec, *, settings: Settings | None = None
) -> BaseGeometry | list[BaseGeometry] | FloatArray:
    """Transform geometries (or an ``(N, 2)`` coordinate array) from ``src`` to the working CRS.

    Z and M are dropped. One vectorised call transforms every vertex of every geometry.

    Parameters
    ----------
    geoms
        One shapely geometry, a sequence of them, or an ``(N, 2)`` array of x/y.
    src
        The CRS of the input, from :func:`resolve_crs`.
    settings
        Gives ``working_crs``; the process settings when omitted.

    Examples
    --------
    >>> from shapely import LineString
    >>> line = to_working(LineString([(106.65, 29.03), (106.66, 29.03)]), resolve_crs(4490))
    >>> round(line.length)  # 0.01° of longitude at 29°N
    974
    """
    return _convert(geoms, src, (settings or get_settings()).working_crs)


def geometry_to_working(geom: BaseGeometry, src: CRSSpec, *, settings: Settings | None = None) -> BaseGeometry:
    """Transform one shapely geometry from ``src`` to the working CRS (typed :func:`to_working`)."""
    return _convert(geom, src, (settings or get_settings()).working_crs)


def from_working(
    geoms: BaseGeometry | Sequence[BaseGeometry] | FloatArray,
    dst: str | int | CRSSpec,
    *,
    settings: Settings | None = None,
) -> BaseGeometry | list[BaseGeometry] | FloatArray:
    """Transform working-CRS geometries (or coordinates) to ``dst`` (e.g. EPSG:4490 for exchange)."""
    working = resolve_crs((settings or get_settings()).working_crs)
    dst_spec = resolve_crs(dst)
    if isinstance(geoms, np.ndarray):
        return transform_xy(geoms, working, dst_spec)

    def func(xy: FloatArray) -> FloatArray:
        return transform_xy(xy, working, dst_spec)

    if isinstance(geoms, BaseGeometry):
        return shapely.transform(shapely.force_2d(geoms), func)
    return list(shapely.transform(shapely.force_2d(np.asarray(list(geoms), dtype=object)), func))


def _convert(
    geoms: BaseGeometry | Sequence[BaseGeometry] | FloatArray, src: CRSSpec, working_crs: str
) -> BaseGeometry | list[BaseGeometry] | FloatArray:
    dst = resolve_crs(working_crs)
    if isinstance(geoms, np.ndarray):
        return transform_xy(geoms, src, dst)

    def func(xy: FloatArray) -> FloatArray:
        return transform_xy(xy, src, dst)

    if isinstance(geoms, BaseGeometry):
        return shapely.transform(shapely.force_2d(geoms), func)
    return list(shapely.transform(shapely.force_2d(np.asarray(list(geoms), dtype=object)), func))


def to_lonlat(coords: object, src: CRSSpec) -> FloatArray:
    """Return CGCS2000 lon/lat of an ``(N, 2)`` coordinate array read in ``src``."""
    return transform_xy(coords, src, resolve_crs(CGCS2000))


def inside_extent(lonlat: FloatArray, *, margin_deg: float = PLAUSIBLE_MARGIN_DEG) -> NDArray[np.bool_]:
    """Per point: whether CGCS2000 lon/lat lie in Qijiang's extent widened by ``margin_deg``."""
    lon_min, lat_min, lon_max, lat_max = QIJIANG_BBOX
    lon = lonlat[:, 0]
    lat = lonlat[:, 1]
    with np.errstate(invalid="ignore"):
        result: NDArray[np.bool_] = (
            (lon >= lon_min - margin_deg)
            & (lon <= lon_max + margin_deg)
            & (lat >= lat_min - margin_deg)
            & (lat <= lat_max + margin_deg)
        )
    return result


def check_plausible(coords: object, src: CRSSpec) -> Plausibility:
    """Say whether coordinates read in ``src`` land in Qijiang, land there only swapped, or not.

    Examples
    --------
    >>> wgs = resolve_crs("EPSG:4490")
    >>> check_plausible([[106.65, 29.03]], wgs).value, check_plausible([[29.03, 106.65]], wgs).value
    ('inside', 'swapped')
    """
    xy = _as_xy(coords)
    if xy.size == 0:
        return Plausibility.OUTSIDE
    if not np.isfinite(xy).all():
        return Plausibility.NOT_FINITE
    if inside_extent(_safe_lonlat(xy, src)).all():
        return Plausibility.INSIDE
    if inside_extent(_safe_lonlat(xy[:, ::-1], src)).all():
        return Plausibility.SWAPPED
    return Plausibility.OUTSIDE


def _safe_lonlat(xy: FloatArray, src: CRSSpec) -> FloatArray:
    """Lon/lat of ``xy``, with NaN where the transformation does not apply."""
    if src.is_geographic and src.datum is ChinaDatum.WGS84 and src.crs.to_epsg() in (4490, 4326):
        return xy
    try:
        return to_lonlat(xy, src)
    except (PyprojCRSError, ValueError, FloatingPointError, OverflowError):  # pragma: no cover - PROJ edge cases
        return np.full_like(xy, np.nan)


@dataclass(frozen=True, slots=True)
class CRSGuess:
    """Result of :func:`guess_crs`: the assumed system and whether the axes are swapped."""

    spec: CRSSpec
    swapped: bool


def guess_crs(coords: object) -> CRSGuess:
    """Decide the CRS of coordinates from a file that declares none.

    Only lon/lat degrees in Qijiang's extent (in either axis order) are assumed, as CGCS2000
    (EPSG:4490); the caller must report the assumption as a warning.

    Raises
    ------
    CRSError
        When the coordinates are not degrees in Qijiang; the message names any projected
        system they would fit, for the user to confirm with ``--crs``.

    Examples
    --------
    >>> guess_crs([[106.65, 29.03], [106.66, 29.04]]).spec.name
    'EPSG:4490'
    """
    xy = _as_xy(coords)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if xy.size == 0:
        raise CRSError("文件未声明坐标系，且没有可用的坐标", "the file declares no CRS and has no usable coordinates")
    geographic = resolve_crs(CGCS2000)
    inside = inside_extent(xy).mean()
    inside_swapped = inside_extent(xy[:, ::-1]).mean()
    if inside >= 0.5 or inside_swapped >= 0.5:
        return CRSGuess(geographic, swapped=inside_swapped > inside)
    fits = []
    for code in _PROJECTED_CANDIDATES:
        spec = resolve_crs(code)
        for swapped in (False, True):
            sample = xy[:, ::-1] if swapped else xy
            if inside_extent(_safe_lonlat(sample, spec)).mean() >= 0.5:
                fits.append(f"EPSG:{code}" + ("（坐标轴顺序为北、东 / northing first）" if swapped else ""))
    lo = xy.min(axis=0)
    hi = xy.max(axis=0)
    extent = f"x {lo[0]:.6g}…{hi[0]:.6g}, y {lo[1]:.6g}…{hi[1]:.6g}"
    if fits:
        candidates = "、".join(fits)
        raise CRSError(
            f"文件未声明坐标系。坐标（{extent}）像是投影坐标 {candidates}，但也可能是北京54/西安80，"
            f"为避免数十米的误差不作猜测：请用 --crs 指定（例如 --crs {fits[0].split('（')[0]}）",
            f"the file declares no CRS; its coordinates ({extent}) look like {candidates}, but could be "
            f"Beijing 1954 / Xi'an 1980, tens of metres apart: not guessed. Pass --crs "
            f"(e.g. --crs {fits[0].split('（')[0]})",
        )
    raise CRSError(
        f"文件未声明坐标系，坐标（{extent}）不符合任何可能的坐标系（CGCS2000 经纬度或 3 度带），"
        "可能是地方独立坐标系：请用 --crs 指定，或导出为 EPSG:4490",
        f"the file declares no CRS and its coordinates ({extent}) fit no plausible system for Qijiang "
        "(CGCS2000 lon/lat or Gauss-Krüger zones); maybe a local grid: pass --crs or export EPSG:4490",
    )

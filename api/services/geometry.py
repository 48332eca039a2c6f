"""Geometry conversions between the database (WKB in the working CRS), shapely and GeoJSON.

Responses carry GeoJSON in the exchange CRS (EPSG:4490, longitude first); the database and the
layers hold the working CRS (metres).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from api.models import SRID
from geo.crs import transformer
from onetrench.errors import InputError
from onetrench.settings import Settings


class ShapedWKB(WKBElement):
    """A WKB element that remembers the shapely geometry it was made from (no re-parsing)."""

    shape: BaseGeometry


def to_db(geom: BaseGeometry) -> WKBElement:
    """Shapely geometry (working CRS) → geoalchemy2 element with the schema's SRID.

    The element keeps ``geom``, so :func:`from_db` of it costs nothing (a new work's geometry is
    read back by the check and by the response right after it was stored).
    """
    element = ShapedWKB(memoryview(shapely.to_wkb(geom)), srid=SRID, extended=False)
    element.shape = geom
    return element


def shaped_element(geom: BaseGeometry, ewkb: bytes) -> WKBElement:
    """The element of ``geom`` from its EWKB (with SRID) computed beforehand, e.g. for many at once."""
    element = ShapedWKB(ewkb, srid=SRID, extended=True)
    element.shape = geom
    return element


def from_db(element: Any) -> BaseGeometry:
    """geoalchemy2 element → shapely geometry (working CRS)."""
    shape_ = getattr(element, "shape", None)
    if shape_ is not None:
        return shape_
    return to_shape(element)


def to_exchange(geom: BaseGeometry, settings: Settings) -> BaseGeometry:
    """Reproject a working-CRS geometry to the exchange CRS (lon/lat order)."""
    tr = transformer(settings.working_crs, settings.exchange_crs)
    return shapely.transform(geom, lambda xy: _stack(tr.transform(xy[:, 0], xy[:, 1])))


def from_exchange(geom: BaseGeometry, settings: Settings) -> BaseGeometry:
    """Reproject an exchange-CRS geometry (lon/lat order) to the working CRS."""
    tr = transformer(settings.exchange_crs, settings.working_crs)
    return shapely.transform(geom, lambda xy: _stack(tr.transform(xy[:, 0], xy[:, 1])))


def _stack(xy: tuple[Any, Any]) -> Any:
    import numpy as np

    return np.column_stack([xy[0], xy[1]])


def geojson(geom: BaseGeometry | None, settings: Settings) -> dict[str, Any] | None:
    """GeoJSON geometry in the exchange CRS, coordinates rounded to 1e-7° (about 1 cm)."""
    if geom is None or geom.is_empty:
        return None
    tr = transformer(settings.working_crs, settings.exchange_crs)
    out = shapely.transform(geom, lambda xy: _stack(tr.transform(xy[:, 0], xy[:, 1])).round(7))
    return dict(mapping(out))


def geojson_many(geoms: Sequence[BaseGeometry | None], settings: Settings) -> list[dict[str, Any] | None]:
    """:func:`geojson` of many geometries, reprojected in one call (the same values, element by element)."""
    out: list[dict[str, Any] | None] = [None] * len(geoms)
    index = [i for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    if not index:
        return out
    tr = transformer(settings.working_crs, settings.exchange_crs)
    moved = shapely.transform(
        np.array([geoms[i] for i in index], dtype=object),
        lambda xy: _stack(tr.transform(xy[:, 0], xy[:, 1])).round(7),
    )
    # plane lines (nearly every work) by one coordinate array, split per line; others by mapping()
    fast = (shapely.get_type_id(moved) == shapely.GeometryType.LINESTRING) & ~shapely.has_z(moved)
    if fast.any():
        coords, which = shapely.get_coordinates(moved[fast], return_index=True)
        parts = np.split(coords, np.flatnonzero(np.diff(which)) + 1)
        for i, part in zip(np.asarray(index)[fast].tolist(), parts, strict=True):
            out[i] = {"type": "LineString", "coordinates": part.tolist()}
    for i, g in zip(np.asarray(index)[~fast].tolist(), moved[~fast].tolist(), strict=True):
        out[i] = dict(mapping(g))
    return out


def parse_geojson(obj: dict[str, Any], settings: Settings, *, field_name: str = "geometry") -> BaseGeometry:
    """Parse a GeoJSON line or polygon geometry in the exchange CRS into the working CRS.

    Raises
    ------
    InputError
        Not a geometry, an unsupported type, an empty or invalid geometry.
    """
    allowed = ("LineString", "MultiLineString", "Polygon", "MultiPolygon")
    kind = obj.get("type") if isinstance(obj, dict) else None
    if kind not in allowed:
        raise InputError(
            f"{field_name} 必须是 GeoJSON 几何，类型为 {'、'.join(allowed)} 之一，收到「{kind}」",
            f"{field_name} must be a GeoJSON geometry of type {', '.join(allowed)}; got {kind!r}",
        )
    try:
        geom = shape(obj)
    except Exception as exc:
        raise InputError(f"{field_name} 无法解析：{exc}", f"{field_name} cannot be parsed: {exc}") from exc
    if geom.is_empty or not geom.is_valid:
        raise InputError(f"{field_name} 为空或无效", f"{field_name} is empty or invalid")
    return from_exchange(geom, settings)

"""Format readers: bytes of one file → :class:`RawFile` (features in the file's own coordinates).

Readers only parse; they never validate or transform (that is :mod:`geo.intake`). A feature
whose geometry cannot be parsed is kept with a problem so that it is reported by index. Any
failure to read the file as a whole is left to propagate; :func:`geo.intake.read_works` turns
it into :class:`onetrench.errors.UnreadableFile`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import math
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np
import orjson
import shapely
from defusedxml import ElementTree as SafeET
from shapely.geometry import LineString, MultiLineString, Polygon
from shapely.geometry.base import BaseGeometry

from geo.crs import CRSSpec, resolve_crs
from geo.fields import DEFAULT_LAYER_KINDS, normalise_name
from geo.readerrors import gdal_messages
from geo.validate import Where, _ogc_urn_to_code
from onetrench.errors import CRSError, InputError, Problem, UnreadableFile


class Format(StrEnum):
    """Route file formats, with their Chinese / English names."""

    GEOJSON = "geojson"
    SHAPEFILE = "shapefile"
    GEOPACKAGE = "gpkg"
    KML = "kml"
    KMZ = "kmz"
    DXF = "dxf"
    CSV = "csv"

    @property
    def label(self) -> str:
        """Bilingual label for messages."""
        return _FORMAT_LABELS[self]


_FORMAT_LABELS = {
    Format.GEOJSON: "GeoJSON",
    Format.SHAPEFILE: "Shapefile（zip 压缩包 / zipped）",
    Format.GEOPACKAGE: "GeoPackage",
    Format.KML: "KML",
    Format.KMZ: "KMZ",
    Format.DXF: "DXF（CAD）",
    Format.CSV: "CSV",
}

_EXTENSIONS = {
    ".geojson": Format.GEOJSON,
    ".json": Format.GEOJSON,
    ".zip": Format.SHAPEFILE,
    ".shp": Format.SHAPEFILE,
    ".gpkg": Format.GEOPACKAGE,
    ".kml": Format.KML,
    ".kmz": Format.KMZ,
    ".dxf": Format.DXF,
    ".csv": Format.CSV,
    ".txt": Format.CSV,
}

#: Limits against zip bombs: uncompressed bytes per upload byte limit, and member count.
ZIP_EXPANSION = 10
ZIP_MAX_MEMBERS = 2000
#: Bytes inflated at a time when reading a zip member.
ZIP_CHUNK = 1 << 20


@dataclass
class RawFeature:
    """One feature as read: geometry in file coordinates (or None) and raw properties."""

    index: int
    geometry: BaseGeometry | None
    props: dict[str, Any]
    layer: str | None = None
    problems: list[Problem] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RawFile:
    """What a reader found: features, the CRS the file declares, and reader warnings."""

    source: str
    fmt: Format
    features: list[RawFeature]
    crs: CRSSpec | None = None
    crs_note: str = ""
    warnings: list[Problem] = field(default_factory=list)
    #: Geographic by specification (GeoJSON RFC 7946, KML): used when nothing else is declared.
    default_crs: str | None = None
    #: A CRS suggested by the content (CSV column names such as ``bd_lng``), weaker than a declared one.
    hint: CRSSpec | None = None


def detect_format(name: str, data: bytes) -> Format:
    """Return the format of ``data`` from its content, then its extension.

    Raises
    ------
    UnreadableFile
        When neither tells.
    """
    head = data[:2048]
    ext = PurePosixPath(name.lower()).suffix
    if head.startswith(b"SQLite format 3\x00"):
        return Format.GEOPACKAGE
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        if ext == ".kmz":
            return Format.KMZ
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = [n.lower() for n in zf.namelist()]
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise UnreadableFile(f"{name}：zip 压缩包已损坏（{exc}）", f"{name}: corrupt zip archive ({exc})") from None
        if any(n.endswith(".kml") for n in names) and not any(n.endswith(".shp") for n in names):
            return Format.KMZ
        return Format.SHAPEFILE
    if ext in _EXTENSIONS and ext not in (".json", ".txt"):
        return _EXTENSIONS[ext]
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return Format.GEOJSON
    if text.startswith(b"<"):
        return Format.KML
    if re.match(rb"0\s*\r?\n\s*SECTION", text) or text.startswith(b"AutoCAD Binary DXF"):
        return Format.DXF
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    if b"," in text or b"\t" in text:
        return Format.CSV
    raise UnreadableFile(
        f"{name}：无法识别的文件格式（支持 GeoJSON、zip 压缩的 Shapefile、GeoPackage、KML/KMZ、DXF、CSV）",
        f"{name}: unrecognised file format (supported: GeoJSON, zipped Shapefile, GeoPackage, KML/KMZ, DXF, CSV)",
    )


# --------------------------------------------------------------------------------------
# GeoJSON
# --------------------------------------------------------------------------------------


def _fast_positions(obj: Any) -> tuple[Any, int] | None:
    """A list of numeric positions as one ``(n, 2)`` array and its dims, or None to take the slow path.

    One numpy conversion instead of a Python float per ordinate: a 1M-vertex route costs 0.1 s
    and no second copy of the nested lists. Anything irregular (ragged, bools, non-numbers) is
    left to :func:`_positions`, which names the bad position.
    """
    if not isinstance(obj, list) or not obj or not all(type(p) is list for p in obj):
        return None
    try:
        arr = np.asarray(obj, dtype=float)
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.ndim != 2 or arr.shape[1] < 2 or any(type(v) is bool for p in obj for v in p):
        return None
    with np.errstate(invalid="ignore"):
        dims = int(arr.shape[1]) if arr.shape[1] > 2 and bool(np.any(arr[:, 2:] != 0)) else 2
    return arr[:, :2], dims


def _positions(obj: Any, depth: int) -> tuple[Any, int]:
    """Coordinates nested ``depth`` deep → the same nesting with 2-D positions, and max dims."""
    if depth == 1 and (fast := _fast_positions(obj)) is not None:
        return fast
    if depth == 0:
        if not isinstance(obj, list | tuple) or len(obj) < 2:
            raise ValueError(f"invalid position {obj!r}")
        values = [float(v) for v in obj]
        if any(isinstance(v, bool) for v in obj):
            raise ValueError(f"invalid position {obj!r}")
        return values[:2], len(values) if any(v != 0 for v in values[2:]) else 2
    if not isinstance(obj, list | tuple):
        raise ValueError(f"invalid coordinates {obj!r}")
    out = []
    dims = 2
    for item in obj:
        pos, d = _positions(item, depth - 1)
        out.append(pos)
        dims = max(dims, d)
    return out, dims


_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


def geojson_geometry(obj: Any) -> tuple[BaseGeometry | None, int]:
    """Build a 2-D shapely geometry from a GeoJSON geometry object; also return the max dims.

    Raises
    ------
    ValueError
        When the object is not a valid GeoJSON geometry.
    """
    if obj is None:
        return None, 2
    if not isinstance(obj, dict):
        raise ValueError("geometry is not an object")
    gtype = obj.get("type")
    if gtype == "GeometryCollection":
        parts = [geojson_geometry(g) for g in obj.get("geometries") or []]
        geoms = [g for g, _ in parts if g is not None]
        return shapely.GeometryCollection(geoms), max([d for _, d in parts], default=2)
    if gtype not in _DEPTH:
        raise ValueError(f"unknown geometry type {gtype!r}")
    coords, dims = _positions(obj.get("coordinates"), _DEPTH[str(gtype)])
    with np.errstate(invalid="ignore", over="ignore"):
        if gtype == "LineString" and isinstance(coords, np.ndarray):
            # what shape() does for an array of positions, without its per-position Python checks
            line: BaseGeometry = shapely.linestrings(coords)
            return line, dims
        geom = shapely.geometry.shape({"type": gtype, "coordinates": coords})
    return geom, dims


def _json_document(data: bytes) -> Any:
    """The parsed JSON of ``data`` (UTF-8, with or without a byte-order mark).

    orjson reads it 2-3x faster than the standard library; what orjson refuses and the standard
    library reads (NaN, integers beyond 64 bits) is read by the latter, so that such a value is
    reported on its feature instead of failing the whole file.
    """
    try:
        return orjson.loads(data[3:] if data.startswith(codecs.BOM_UTF8) else data)
    except orjson.JSONDecodeError:
        return json.loads(data.decode("utf-8-sig"))


def read_geojson(source: str, data: bytes) -> RawFile:
    """Read a GeoJSON FeatureCollection, Feature or bare geometry."""
    doc = _json_document(data)
    if not isinstance(doc, dict):
        raise ValueError("GeoJSON top level is not an object")
    crs = None
    crs_member = doc.get("crs")
    if isinstance(crs_member, dict):
        name = (crs_member.get("properties") or {}).get("name")
        if name:
            crs = resolve_crs(_ogc_urn_to_code(str(name)))
    if doc.get("type") == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise ValueError("FeatureCollection without a features array")
    elif doc.get("type") == "Feature":
        features = [doc]
    elif doc.get("type") in _DEPTH or doc.get("type") == "GeometryCollection":
        features = [{"type": "Feature", "properties": {}, "geometry": doc}]
    else:
        raise ValueError(f"not GeoJSON (type {doc.get('type')!r})")
    out: list[RawFeature] = []
    for index, feat in enumerate(features):
        # let each parsed feature go once read: the document's nested lists would otherwise
        # all stay alive to the end, and make the garbage collector's full passes longer
        features[index] = None
        where = Where(source, index)
        if not isinstance(feat, dict):
            out.append(RawFeature(index, None, {}, problems=[_unreadable_geometry(where, "feature is not an object")]))
            continue
        props = feat.get("properties") if isinstance(feat.get("properties"), dict) else {}
        props = dict(props or {})
        if feat.get("id") is not None and not any(normalise_name(k) in ("id", "workid", "工程编号") for k in props):
            props["id"] = feat["id"]
        try:
            geom, dims = geojson_geometry(feat.get("geometry"))
        except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
            out.append(RawFeature(index, None, props, problems=[_unreadable_geometry(where, str(exc))]))
            continue
        raw = RawFeature(index, geom, props)
        if dims >= 3:
            raw.problems.append(
                where.problem(
                    "geometry.z_dropped",
                    "已忽略 Z/M 值（第 3、4 个坐标）",
                    "Z/M values (3rd and 4th ordinates) were dropped",
                    severity="warning",
                )
            )
        out.append(raw)
    return RawFile(source, Format.GEOJSON, out, crs=crs, crs_note="GeoJSON crs" if crs else "", default_crs="EPSG:4326")


def _unreadable_geometry(where: Where, why: str) -> Problem:
    return where.problem("geometry.unreadable", f"几何图形无法解析：{why}", f"the geometry cannot be parsed: {why}")


# --------------------------------------------------------------------------------------
# Zip archives (Shapefile, KMZ)
# --------------------------------------------------------------------------------------


def _open_zip(source: str, data: bytes, *, max_bytes: int) -> zipfile.ZipFile:
    zf = zipfile.ZipFile(io.BytesIO(data))
    infos = zf.infolist()
    if len(infos) > ZIP_MAX_MEMBERS:
        raise UnreadableFile(
            f"{source}：压缩包内文件过多（{len(infos)} 个）", f"{source}: too many files in the archive ({len(infos)})"
        )
    unsafe = [i.filename for i in infos if not _safe_member(i.filename)]
    if unsafe:
        shown = ", ".join(repr(n) for n in unsafe[:5])
        raise UnreadableFile(
            f"{source}：压缩包内有不安全的路径（{shown}），拒绝读取",
            f"{source}: the archive has members with unsafe paths ({shown}); refused",
        )
    total = sum(i.file_size for i in infos)
    if total > max_bytes * ZIP_EXPANSION:
        raise UnreadableFile(
            f"{source}：压缩包解压后过大（{total} 字节），疑似压缩炸弹",
            f"{source}: archive expands to {total} bytes, too large (zip bomb?)",
        )
    return zf


def _safe_member(name: str) -> bool:
    r"""Whether a zip member name stays inside the archive (no ``..``, no absolute or drive path).

    Examples
    --------
    >>> _safe_member("routes/a.shp"), _safe_member("../evil.shp"), _safe_member("/etc/x"), _safe_member("C:\\x")
    (True, False, False, False)
    """
    parts = name.replace("\\", "/").split("/")
    return not (name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name) or "\x00" in name)


def _read_member(zf: zipfile.ZipFile, name: str, *, max_bytes: int) -> bytes:
    # Inflate in small chunks, never past the declared size nor the limit: a member whose header
    # lies about its size costs at most one chunk before its CRC check fails.
    limit = min(max_bytes * ZIP_EXPANSION, zf.getinfo(name).file_size)
    chunks: list[bytes] = []
    total = 0
    with zf.open(name) as fh:
        while chunk := fh.read(ZIP_CHUNK):
            total += len(chunk)
            if total > limit:
                raise UnreadableFile(f"{name} 解压后过大", f"{name} expands beyond the size limit")
            chunks.append(chunk)
    return b"".join(chunks)


_CPG_ALIASES = {"936": "gbk", "cp936": "gbk", "65001": "utf-8", "54936": "gb18030", "950": "big5", "utf8": "utf-8"}
#: dBASE language driver ids (byte 29 of the header) that name a code page.
_LDID = {0x4D: "gbk", 0x4F: "big5", 0x7A: "gbk", 0x57: None, 0x00: None}


def detect_dbf_encoding(dbf: bytes, cpg: bytes | None) -> tuple[str, str]:
    r"""Return ``(encoding, how)`` for a .dbf: the .cpg, the language driver id, or detection.

    Detection tries UTF-8 on the header and records, then GB18030 (a superset of GBK/GB2312).

    Examples
    --------
    >>> detect_dbf_encoding(b"\x03" + bytes(31) + "管径".encode("gbk"), None)
    ('gb18030', 'detected')
    """
    if cpg is not None:
        name = cpg.decode("ascii", "ignore").strip().lower()
        name = _CPG_ALIASES.get(name, name)
        try:
            return codecs.lookup(name).name, "cpg"
        except LookupError:
            pass
    if len(dbf) > 29:
        ldid = _LDID.get(dbf[29])
        if ldid:
            return ldid, "ldid"
    limit = 32 + 256 * 1024
    sample = dbf[32:limit]
    truncated = len(dbf) > limit
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not (truncated and exc.reason == "unexpected end of data"):
            try:
                (sample[:-4] if truncated else sample).decode("gb18030")
            except UnicodeDecodeError:
                return "latin-1", "fallback"
            return "gb18030", "detected"
    return "utf-8", "detected"


def read_shapefile_zip(source: str, data: bytes, *, layer: str | None, max_bytes: int) -> RawFile:
    """Read one Shapefile from a zip archive (the one named ``layer``, or the only one)."""
    with _open_zip(source, data, max_bytes=max_bytes) as zf:
        members = {PurePosixPath(n).name: n for n in zf.namelist() if not n.endswith("/")}
        stems = sorted({PurePosixPath(n).stem for n in members if n.lower().endswith(".shp")})
        if not stems:
            raise UnreadableFile(f"{source}：压缩包内没有 .shp 文件", f"{source}: the archive holds no .shp file")
        stem = _choose_layer(source, stems, layer)
        files = {PurePosixPath(n).suffix.lower(): members[n] for n in members if PurePosixPath(n).stem == stem}
        missing = [ext for ext in (".shp", ".shx", ".dbf") if ext not in files]
        if missing:
            raise UnreadableFile(
                f"{source}：Shapefile「{stem}」缺少 {'、'.join(missing)} 文件",
                f"{source}: shapefile {stem!r} lacks its {', '.join(missing)} file(s)",
            )
        blobs = {ext: _read_member(zf, name, max_bytes=max_bytes) for ext, name in files.items()}
    return _read_shapefile_parts(source, stem, blobs)


def read_shapefile_path(path: Path) -> dict[str, bytes]:
    """Collect the sidecar files of a ``.shp`` given by path."""
    blobs = {}
    for sibling in path.parent.iterdir():
        if sibling.stem == path.stem and sibling.suffix.lower() in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            blobs[sibling.suffix.lower()] = sibling.read_bytes()
    return blobs


def _read_shapefile_parts(source: str, stem: str, blobs: dict[str, bytes]) -> RawFile:
    encoding, how = detect_dbf_encoding(blobs.get(".dbf", b""), blobs.get(".cpg"))
    warnings: list[Problem] = []
    where = Where(source)
    if how in ("detected", "fallback") and ".cpg" not in blobs:
        warnings.append(
            where.problem(
                "file.encoding_detected",
                f"Shapefile 没有 .cpg 编码文件，属性按 {encoding} 读取（自动识别）",
                f"the shapefile has no .cpg file; attributes read as {encoding} (detected)",
                severity="warning",
                encoding=encoding,
            )
        )
    crs = None
    if ".prj" in blobs:
        prj = blobs[".prj"].decode("utf-8", "replace").strip()
        if prj:
            try:
                crs = resolve_crs(prj)
            except CRSError as exc:
                raise CRSError(
                    f"{source}：.prj 坐标系无法识别：{exc.zh}", f"{source}: the .prj cannot be read: {exc.en}"
                ) from None
    with tempfile.TemporaryDirectory(prefix="onetrench-shp-") as tmp:
        for ext, blob in blobs.items():
            Path(tmp, f"layer{ext}").write_bytes(blob)
        with gdal_messages() as messages:
            features = _read_ogr(source, str(Path(tmp, "layer.shp")), layer=None, encoding=encoding)
    warnings.extend(_gdal_problems(source, messages))
    return RawFile(source, Format.SHAPEFILE, features, crs=crs, crs_note=".prj" if crs else "", warnings=warnings)


def _choose_layer(source: str, names: list[str], layer: str | None) -> str:
    if layer is not None:
        if layer in names:
            return layer
        raise InputError(
            f"{source}：没有名为「{layer}」的图层，现有：{'、'.join(names)}",
            f"{source}: no layer {layer!r}; layers: {', '.join(names)}",
        )
    if len(names) == 1:
        return names[0]
    raise InputError(
        f"{source} 有多个图层（{'、'.join(names)}），请用 --layer 指定一个",
        f"{source} has several layers ({', '.join(names)}); choose one with --layer",
    )


def _plain(value: Any) -> Any:
    """Numpy / datetime64 values → plain Python for attributes."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _gdal_problems(source: str, messages: list[str]) -> list[Problem]:
    unique = list(dict.fromkeys(messages))[:5]
    return [
        Where(source).problem("file.gdal_warning", f"GDAL 读取提示：{m}", f"GDAL warning: {m}", severity="warning")
        for m in unique
    ]


def _read_ogr(source: str, path_or_bytes: str | bytes, *, layer: str | None, encoding: str | None) -> list[RawFeature]:
    from pyogrio.raw import read as ogr_read

    meta, _fids, geometry, field_data = ogr_read(path_or_bytes, layer=layer, encoding=encoding)
    names = list(meta["fields"])
    geoms = shapely.from_wkb(geometry, on_invalid="ignore") if geometry is not None else [None] * len(field_data[0])
    n = len(geoms)
    out = []
    for i in range(n):
        props = {name: _plain(field_data[j][i]) for j, name in enumerate(names)}
        geom = geoms[i]
        raw = RawFeature(i, geom if geom is not None else None, props)
        if geometry is not None and geometry[i] is not None and geom is None:
            raw.problems.append(_unreadable_geometry(Where(source, i), "invalid WKB"))
        out.append(raw)
    return out


# --------------------------------------------------------------------------------------
# GeoPackage
# --------------------------------------------------------------------------------------


def read_geopackage(source: str, data: bytes, *, layer: str | None) -> RawFile:
    """Read one layer of a GeoPackage (the one named ``layer``, or the only spatial one)."""
    from pyogrio import list_layers, read_info

    with tempfile.TemporaryDirectory(prefix="onetrench-gpkg-") as tmp, gdal_messages() as messages:
        path = str(Path(tmp, "upload.gpkg"))
        Path(path).write_bytes(data)
        layers = [str(name) for name, gtype in list_layers(path) if gtype is not None]
        if not layers:
            raise UnreadableFile(
                f"{source}：GeoPackage 中没有空间图层", f"{source}: the GeoPackage has no spatial layer"
            )
        chosen = _choose_layer(source, layers, layer)
        info = read_info(path, layer=chosen)
        crs = None
        if info.get("crs"):
            try:
                crs = resolve_crs(str(info["crs"]))
            except CRSError:
                crs = None
        features = _read_ogr(source, path, layer=chosen, encoding=None)
    return RawFile(
        source,
        Format.GEOPACKAGE,
        features,
        crs=crs,
        crs_note="GeoPackage" if crs else "",
        warnings=_gdal_problems(source, messages),
    )


# --------------------------------------------------------------------------------------
# KML / KMZ
# --------------------------------------------------------------------------------------


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _child(el: Element, name: str) -> Element | None:
    return next((c for c in el if _local(c.tag) == name), None)


def _kml_coords(el: Element | None) -> tuple[list[list[float]], int]:
    if el is None:
        raise ValueError("missing <coordinates>")
    text = (el.text or "").strip()
    points = []
    dims = 2
    for token in text.split():
        parts = token.split(",")
        if len(parts) < 2:
            raise ValueError(f"invalid coordinate tuple {token!r}")
        values = [float(p) for p in parts if p != ""]
        if any(v != 0 for v in values[2:]):  # altitude 0 is "clamped to ground", nothing dropped
            dims = max(dims, len(values))
        points.append(values[:2])
    return points, dims


def _kml_geometry(el: Element) -> tuple[list[BaseGeometry], int]:
    name = _local(el.tag)
    with np.errstate(invalid="ignore", over="ignore"):
        if name == "LineString":
            pts, dims = _kml_coords(_child(el, "coordinates"))
            return [LineString(pts)], dims
        if name == "LinearRing":
            pts, dims = _kml_coords(_child(el, "coordinates"))
            return [LineString(pts)], dims
        if name == "Polygon":
            outer = _child(el, "outerBoundaryIs")
            ring = _child(outer, "LinearRing") if outer is not None else None
            shell, dims = _kml_coords(_child(ring, "coordinates") if ring is not None else None)
            holes = []
            for inner in (c for c in el if _local(c.tag) == "innerBoundaryIs"):
                ring = _child(inner, "LinearRing")
                pts, d = _kml_coords(_child(ring, "coordinates") if ring is not None else None)
                holes.append(pts)
                dims = max(dims, d)
            return [Polygon(shell, holes)], dims
        if name == "Point":
            pts, dims = _kml_coords(_child(el, "coordinates"))
            return [shapely.Point(pts[0]) if pts else shapely.Point()], dims
        if name == "MultiGeometry":
            geoms: list[BaseGeometry] = []
            dims = 2
            for child in el:
                parts, d = _kml_geometry(child)
                geoms.extend(parts)
                dims = max(dims, d)
            return geoms, dims
    return [], 2


_KML_GEOMETRIES = {"LineString", "LinearRing", "Polygon", "Point", "MultiGeometry"}


def read_kml(source: str, data: bytes, *, fmt: Format = Format.KML) -> RawFile:
    """Read the Placemarks of a KML document (parsed with defusedxml: no DTD, no entities)."""
    root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    if _local(root.tag) not in ("kml", "Document", "Folder", "Placemark"):
        raise ValueError(f"not KML (root element <{_local(root.tag)}>)")
    features: list[RawFeature] = []

    def walk(el: Element, folder: str | None) -> None:
        for child in el:
            tag = _local(child.tag)
            if tag == "Folder":
                name_el = _child(child, "name")
                walk(child, (name_el.text or "").strip() if name_el is not None and name_el.text else folder)
            elif tag == "Placemark":
                features.append(_placemark(source, len(features), child, folder))
            elif tag in ("Document", "kml"):
                walk(child, folder)

    if _local(root.tag) == "Placemark":
        features.append(_placemark(source, 0, root, None))
    else:
        walk(root, None)
    return RawFile(source, fmt, features, default_crs="EPSG:4326")


def _placemark(source: str, index: int, pm: Element, folder: str | None) -> RawFeature:
    props: dict[str, Any] = {}
    for child in pm:
        tag = _local(child.tag)
        if tag == "name" and child.text:
            props["name"] = child.text.strip()
        elif tag == "description" and child.text:
            props["description"] = child.text.strip()
        elif tag == "ExtendedData":
            for item in child.iter():
                itag = _local(item.tag)
                if itag == "Data" and item.get("name"):
                    value = _child(item, "value")
                    props[str(item.get("name"))] = (value.text or "").strip() if value is not None else ""
                elif itag == "SimpleData" and item.get("name"):
                    props[str(item.get("name"))] = (item.text or "").strip()
    where = Where(source, index)
    geom_el = next((c for c in pm if _local(c.tag) in _KML_GEOMETRIES), None)
    raw = RawFeature(index, None, props, layer=folder)
    if geom_el is None:
        return raw
    try:
        parts, dims = _kml_geometry(geom_el)
    except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
        raw.problems.append(_unreadable_geometry(where, str(exc)))
        return raw
    if len(parts) == 1:
        raw.geometry = parts[0]
    elif parts:
        raw.geometry = shapely.GeometryCollection(parts)
    if dims >= 3:
        raw.problems.append(
            where.problem("geometry.z_dropped", "已忽略 KML 高度值", "KML altitudes were dropped", severity="warning")
        )
    return raw


def read_kmz(source: str, data: bytes, *, max_bytes: int) -> RawFile:
    """Read the main KML document (``doc.kml`` or the first ``.kml``) of a KMZ archive."""
    with _open_zip(source, data, max_bytes=max_bytes) as zf:
        kmls = [n for n in zf.namelist() if n.lower().endswith(".kml")]
        if not kmls:
            raise UnreadableFile(f"{source}：KMZ 中没有 .kml 文件", f"{source}: the KMZ holds no .kml file")
        main = next((n for n in kmls if PurePosixPath(n).name.lower() == "doc.kml"), kmls[0])
        return read_kml(source, _read_member(zf, main, max_bytes=max_bytes), fmt=Format.KMZ)


# --------------------------------------------------------------------------------------
# DXF
# --------------------------------------------------------------------------------------


def _xdata_id(entity: Any) -> str:
    """The first non-empty XDATA string (group code 1000) of an entity, or ``""``."""
    xdata = getattr(entity, "xdata", None)
    if not xdata:
        return ""
    for appid in list(xdata.data.keys()):
        for tag in entity.get_xdata(appid):
            if tag.code == 1000 and str(tag.value).strip():
                return str(tag.value).strip()
    return ""


def read_dxf(source: str, data: bytes) -> RawFile:
    """Read LINE, LWPOLYLINE and POLYLINE entities of the model space.

    An entity whose XDATA carries a string (group code 1000, any application) is tagged with
    it as its 工程编号, and the entities of one id form one feature. A CAD drawing draws one
    route in many entities, so untagged lines are merged per layer into one feature (the layer
    tells the utility kind, :data:`geo.fields.DEFAULT_LAYER_KINDS`). Each closed polyline is a
    separate work-zone feature. Arcs (bulges) become chords, with a warning; other entity types
    are counted in a warning. Properties: ``layer``, ``handle`` (句柄, of the first entity).
    """
    from ezdxf import recover
    from ezdxf.entities import Line, LWPolyline, Polyline

    logger = logging.getLogger("ezdxf")
    level = logger.level
    logger.setLevel(logging.ERROR)  # recover mode logs every repaired value; its auditor is summarised below
    try:
        doc, auditor = recover.read(io.BytesIO(data))
    finally:
        logger.setLevel(level)
    lines: dict[tuple[str, str], list[LineString]] = {}
    handles: dict[tuple[str, str], str] = {}
    zones: list[tuple[str, str, str, Polygon]] = []
    ignored: dict[str, int] = {}
    bulges = 0
    zero_length = 0
    for entity in doc.modelspace():
        kind = entity.dxftype()
        if not isinstance(entity, Line | LWPolyline | Polyline):
            ignored[kind] = ignored.get(kind, 0) + 1
            continue
        layer = str(entity.dxf.get("layer", "0"))
        handle = str(entity.dxf.get("handle", ""))
        work_id = _xdata_id(entity)
        if isinstance(entity, Line):
            start, end = entity.dxf.start, entity.dxf.end
            pts = [(float(start[0]), float(start[1])), (float(end[0]), float(end[1]))]
            closed = False
        elif isinstance(entity, LWPolyline):
            raw_pts = list(entity.get_points("xyb"))
            pts = [(float(p[0]), float(p[1])) for p in raw_pts]
            bulges += any(abs(float(p[2])) > 1e-12 for p in raw_pts)
            closed = bool(entity.closed)
        else:
            if entity.is_poly_face_mesh or entity.is_polygon_mesh:
                ignored[kind] = ignored.get(kind, 0) + 1
                continue
            pts = [(float(v.dxf.location[0]), float(v.dxf.location[1])) for v in entity.vertices]
            bulges += any(abs(float(v.dxf.get("bulge", 0.0))) > 1e-12 for v in entity.vertices)
            closed = bool(entity.is_closed)
        with np.errstate(invalid="ignore", over="ignore"):
            if closed and len(pts) >= 3:
                zones.append((layer, handle, work_id, Polygon(pts)))
                continue
            if len(pts) < 2 or all(p == pts[0] for p in pts):
                zero_length += 1
                continue
            key = (layer, work_id)
            lines.setdefault(key, []).append(LineString(pts))
            handles.setdefault(key, handle)
    features: list[RawFeature] = []
    for (layer, work_id), parts in lines.items():
        merged = shapely.line_merge(MultiLineString(parts)) if len(parts) > 1 else parts[0]
        props = {"layer": layer, "handle": handles[(layer, work_id)]}
        if work_id:
            props["工程编号"] = work_id
        features.append(RawFeature(len(features), merged, props, layer=layer, extra={"entities": len(parts)}))
    for layer, handle, work_id, zone in zones:
        props = {"layer": layer, "handle": handle}
        if work_id:
            props["工程编号"] = work_id
        features.append(RawFeature(len(features), zone, props, layer=layer))
    where = Where(source)
    warnings = []
    if auditor.has_errors or auditor.has_fixes:
        warnings.append(
            where.problem(
                "dxf.repaired",
                f"DXF 文件有 {len(auditor.errors)} 处错误、{len(auditor.fixes)} 处已自动修复，请核对图形",
                f"the DXF had {len(auditor.errors)} error(s) and {len(auditor.fixes)} automatic fix(es); "
                "check the drawing",
                severity="warning",
            )
        )
    if bulges:
        warnings.append(
            where.problem(
                "dxf.arcs_as_chords",
                f"{bulges} 条多段线含圆弧段，已按弦线处理",
                f"{bulges} polyline(s) have arc segments; chords were used",
                severity="warning",
            )
        )
    if zero_length:
        warnings.append(
            where.problem(
                "geometry.zero_length",
                f"已跳过 {zero_length} 个零长度线段",
                f"skipped {zero_length} zero-length entities",
                severity="warning",
            )
        )
    if ignored:
        listing = ", ".join(f"{k}×{v}" for k, v in sorted(ignored.items()))
        warnings.append(
            where.problem(
                "dxf.ignored_entities",
                f"已忽略非线实体：{listing}",
                f"ignored entities other than lines: {listing}",
                severity="warning",
            )
        )
    return RawFile(source, Format.DXF, features, warnings=warnings)


# --------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------

_WKT_COLUMNS = {"wkt", "geometry", "geom", "thegeom", "shape", "几何", "图形", "几何图形", "wkt坐标"}
_LON_COLUMNS = {"lon", "lng", "long", "longitude", "x", "经度", "东经"}
_LAT_COLUMNS = {"lat", "latitude", "y", "纬度", "北纬"}
_ORDER_COLUMNS = {
    "seq",
    "order",
    "vertex",
    "pointno",
    "sequence",
    "序号",
    "点号",
    "顺序",
    "节点序号",
    "点序",
    "点序号",
    "顶点序号",
}
_HINTS = (("gcj", "gcj02"), ("高德", "gcj02"), ("火星", "gcj02"), ("腾讯", "gcj02"), ("bd", "bd09"), ("百度", "bd09"))
_WKT_START = re.compile(r"^\s*(MULTI)?(LINESTRING|POLYGON|POINT)|^\s*GEOMETRYCOLLECTION", re.IGNORECASE)


def decode_text(data: bytes) -> tuple[str, str]:
    r"""Decode CSV bytes: UTF-8 (with or without BOM), else GB18030 (a GBK superset).

    When neither decodes the whole file but each line decodes as one or the other, the encoding is
    ``"mixed"``. Otherwise undecodable bytes become U+FFFD and the encoding is reported as
    ``"utf-8 (damaged)"`` so that the caller can warn.

    Examples
    --------
    >>> decode_text("给水".encode() + b"\n" + "燃气".encode("gbk"))
    ('给水\n燃气', 'mixed')
    """
    if data.startswith(codecs.BOM_UTF8):
        body = data[3:]
        try:
            return body.decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            return body.decode("utf-8", "replace"), "utf-8 (damaged)"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Not UTF-8 as a whole: decode line by line, UTF-8 first (GBK text is almost never valid
    # UTF-8, while UTF-8 text often decodes as GB18030 mojibake). Rows pasted together from
    # several sources mix both; a line feed is the same single byte in both encodings.
    lines: list[str] = []
    found: set[str] = set()
    for line in data.splitlines(keepends=True):
        try:
            lines.append(line.decode("utf-8"))
            if not line.isascii():
                found.add("utf-8")
        except UnicodeDecodeError:
            try:
                lines.append(line.decode("gb18030"))
                found.add("gb18030")
            except UnicodeDecodeError:
                return data.decode("utf-8", "replace"), "utf-8 (damaged)"
    return "".join(lines), "mixed" if len(found) > 1 else "gb18030"


def _strip_hint(name: str) -> tuple[str, str | None]:
    key = normalise_name(name)
    for word, datum in _HINTS:
        if word in key and key.replace(word, "").replace("02", "").replace("09", "") in _LON_COLUMNS | _LAT_COLUMNS:
            return key.replace(word, "").replace("02", "").replace("09", ""), datum
    return key, None


def read_csv(source: str, data: bytes) -> RawFile:
    """Read a CSV of routes: one WKT column per row, or lon/lat columns with one vertex per row."""
    text, encoding = decode_text(data)
    if "\x00" in text:
        raise ValueError("binary data in a CSV file")
    sample = text[:4096]
    delimiter = max((",", ";", "\t"), key=lambda d: sample.splitlines()[0].count(d) if sample else 0)
    if csv.field_size_limit() <= len(text):  # a long route's WKT exceeds the default 128 kB per cell
        csv.field_size_limit(len(text) + 1)  # the upload limit bounds it
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = list(reader)
    if not rows:
        raise ValueError("empty CSV file")
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    records = [dict(zip(header, r + [""] * (len(header) - len(r)), strict=False)) for r in body]
    where = Where(source)
    warnings = []
    if encoding == "utf-8 (damaged)":
        warnings.append(
            where.problem(
                "file.encoding_damaged",
                "CSV 含无法解码的字节（既非 UTF-8 也非 GBK），已替换为 �，请检查文字内容",
                "the CSV has bytes that decode neither as UTF-8 nor GBK; replaced by �, check the text",
                severity="warning",
            )
        )
    if encoding == "mixed":
        warnings.append(
            where.problem(
                "file.encoding_mixed",
                "CSV 各行编码不一致（部分 UTF-8、部分 GBK），已逐行识别，请核对文字内容",
                "the CSV mixes encodings (some lines UTF-8, some GBK); decoded line by line, check the text",
                severity="warning",
            )
        )
    if encoding == "gb18030":
        warnings.append(
            where.problem(
                "file.encoding_detected",
                "CSV 不是 UTF-8，按 GBK/GB18030 读取",
                "the CSV is not UTF-8; read as GBK/GB18030",
                severity="warning",
            )
        )
    wkt_col = next((h for h in header if normalise_name(h) in _WKT_COLUMNS), None)
    if wkt_col is None and records:
        wkt_col = next((h for h in header if _WKT_START.match(records[0].get(h, ""))), None)
    lon_col = lat_col = None
    hint: str | None = None
    for h in header:
        key, datum = _strip_hint(h)
        if key in _LON_COLUMNS and lon_col is None:
            lon_col, hint = h, datum or hint
        elif key in _LAT_COLUMNS and lat_col is None:
            lat_col, hint = h, datum or hint
    crs = None
    note = ""
    if hint is not None and not (wkt_col and wkt_col not in (lon_col, lat_col)):
        crs = resolve_crs(hint)
        note = f"列名 / column names ({lon_col}, {lat_col})"
    if wkt_col is not None:
        features = []
        for index, rec in enumerate(records):
            props = {k: v for k, v in rec.items() if k != wkt_col}
            raw = RawFeature(index, None, props, extra={"line": index + 2})
            try:
                with np.errstate(invalid="ignore", over="ignore"):
                    raw.geometry = shapely.from_wkt(rec.get(wkt_col, ""), on_invalid="raise")
            except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
                raw.problems.append(_unreadable_geometry(Where(source, index), f"WKT: {exc}"))
            features.append(raw)
        return RawFile(source, Format.CSV, features, hint=crs, crs_note=note, warnings=warnings)
    if lon_col is None or lat_col is None:
        raise UnreadableFile(
            f"{source}：CSV 既没有 WKT 列，也没有经度/纬度列（如 lon,lat 或 经度,纬度）",
            f"{source}: the CSV has neither a WKT column nor lon/lat columns (e.g. lon,lat or 经度,纬度)",
        )
    return _csv_vertices(source, records, lon_col, lat_col, header, crs, note, warnings)


def _csv_vertices(  # noqa: PLR0917 - private helper of read_csv
    source: str,
    records: list[dict[str, str]],
    lon_col: str,
    lat_col: str,
    header: list[str],
    crs: CRSSpec | None,
    note: str,
    warnings: list[Problem],
) -> RawFile:
    from geo.fields import map_fields

    id_col = next((col for col, target in map_fields(header).items() if target == "work_id"), None)
    if id_col is None:
        raise UnreadableFile(
            f"{source}：按顶点（经度/纬度）组织的 CSV 需要工程编号列，把同一工程的顶点连成路由",
            f"{source}: a lon/lat CSV needs a work id column (工程编号) to join each work's vertices",
        )
    order_col = next((h for h in header if normalise_name(h) in _ORDER_COLUMNS), None)
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, rec in enumerate(records, start=2):
        groups.setdefault(rec.get(id_col, "").strip(), []).append((line, rec))
    features = []
    for index, (work_id, rows) in enumerate(groups.items()):
        first = rows[0][1]
        props = {k: v for k, v in first.items() if k not in (lon_col, lat_col, order_col)}
        raw = RawFeature(index, None, props, extra={"lines": [line for line, _ in rows][:50]})
        where = Where(source, index, work_id or None)
        try:
            ordered = rows
            if order_col is not None:
                ordered = sorted(rows, key=lambda item: float(item[1].get(order_col, "") or "inf"))
            pts = [(float(rec[lon_col]), float(rec[lat_col])) for _, rec in ordered]
        except (ValueError, TypeError) as exc:
            bad_line = next(
                (line for line, rec in rows if not _is_float(rec.get(lon_col)) or not _is_float(rec.get(lat_col))),
                rows[0][0],
            )
            raw.problems.append(_unreadable_geometry(where, f"line {bad_line}: {exc}"))
            features.append(raw)
            continue
        if len(pts) < 2:
            raw.problems.append(
                where.problem(
                    "geometry.too_few_vertices",
                    f"工程「{work_id}」只有 {len(pts)} 个顶点，路由至少需要 2 个",
                    f"work {work_id!r} has {len(pts)} vertex; a route needs at least 2",
                )
            )
        else:
            with np.errstate(invalid="ignore", over="ignore"):
                raw.geometry = LineString(pts)
        features.append(raw)
    return RawFile(source, Format.CSV, features, hint=crs, crs_note=note, warnings=warnings)


def _is_float(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def default_layer_table() -> dict[str, Any]:
    """The default DXF layer table (for documentation and the CLI)."""
    return dict(DEFAULT_LAYER_KINDS)


__all__ = ["Format", "RawFeature", "RawFile", "detect_format"]

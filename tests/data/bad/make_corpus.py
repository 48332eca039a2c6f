"""The hostile corpus: broken and malicious uploads, one builder per kind, with what must happen.

Run ``python tests/data/bad/make_corpus.py`` to (re)write the small files of this folder.
Cases marked ``large`` (1M vertices, zip bombs, oversized uploads, thousands of zip members) are
never committed: the tests build them into ``tmp_path`` with :func:`build`.

Every case says what :func:`geo.intake.read_works` must answer:

- ``raise``: one of onetrench's errors (``error`` names the class), its English message
  containing ``mention``;
- ``reject``: a result without works whose errors include every code in ``codes``;
- ``accept``: the file is fine as data (e.g. formula-like text in a CSV cell): the works are kept
  and the hostile text stays literal (it is neutralised where it is exported, not here); the
  warnings include every code in ``codes``.

``api`` is the HTTP status the upload endpoint must answer (200 only for ``accept``).
``settings`` are overrides of :class:`onetrench.settings.Settings` for the case (small limits make
a bomb of a few kB prove the same as one of a few GB).
"""

from __future__ import annotations

import io
import json
import math
import sqlite3
import struct
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

HERE = Path(__file__).resolve().parent

#: A valid route in Qijiang (lon/lat, EPSG:4490), about 600 m long.
LINE = [[106.65, 29.03], [106.653, 29.031], [106.656, 29.0305]]
#: The same route in the working CRS EPSG:4545 (metres), computed with pyproj in :func:`_line_4545`.
PROPS = {
    "工程编号": "BAD-1",
    "工程名称": "綦江测试给水管",
    "建设单位": "渝綦水务",
    "管线类别": "给水",
    "计划开工": "2027-03-01",
    "计划完工": "2027-03-20",
}
FORMULAS = ("=cmd|' /C calc'!A0", "+SUM(1+1)", "-2+3", "@SUM(A1)", '=HYPERLINK("http://x")')
ZIP_TIME = (2026, 1, 1, 0, 0, 0)

Outcome = Literal["raise", "reject", "accept"]


@dataclass(frozen=True)
class Case:
    """One kind of hostile or broken upload and the answer it must get."""

    name: str
    kind: str
    build: Callable[[], bytes]
    outcome: Outcome
    error: str = ""
    mention: str = ""
    codes: tuple[str, ...] = ()
    api: int = 400
    large: bool = False
    crs: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _fc(*features: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"type": "FeatureCollection", **extra, "features": list(features)}, ensure_ascii=False).encode()


def _feat(coords: Any = None, *, gtype: str = "LineString", **props: Any) -> dict[str, Any]:
    geometry = None if gtype == "" else {"type": gtype, "coordinates": LINE if coords is None else coords}
    return {"type": "Feature", "properties": {**PROPS, **props}, "geometry": geometry}


def _zip(members: dict[str, bytes], *, level: int = 6) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, blob in members.items():
            zf.writestr(zipfile.ZipInfo(name, ZIP_TIME), blob, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _line_4545() -> list[list[float]]:
    from pyproj import Transformer

    t = Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True)
    return [[round(c, 3) for c in t.transform(x, y)] for x, y in LINE]


def _shapefile_parts(coords: list[list[float]], *, crs: str | None = "EPSG:4490") -> dict[str, bytes]:
    import geopandas as gpd
    from shapely.geometry import LineString

    with tempfile.TemporaryDirectory() as tmp:
        gdf = gpd.GeoDataFrame(
            {"gcbh": ["BAD-1"], "gxlb": ["给水"], "jsdw": ["渝綦水务"], "kg": ["2027-03-01"], "wg": ["2027-03-20"]},
            geometry=[LineString(coords)],
            crs=crs,
        )
        gdf.to_file(Path(tmp, "route.shp"), encoding="utf-8", engine="pyogrio")
        return {p.name: p.read_bytes() for p in sorted(Path(tmp).iterdir())}


def _shapefile_zip(**kwargs: Any) -> bytes:
    return _zip(_shapefile_parts(LINE, **kwargs))


def _gpkg(*, crs: str = "EPSG:4490") -> bytes:
    import geopandas as gpd
    from shapely.geometry import LineString

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "r.gpkg")
        gdf = gpd.GeoDataFrame({**{k: [v] for k, v in PROPS.items()}}, geometry=[LineString(LINE)], crs=crs)
        gdf.to_file(path, layer="routes", engine="pyogrio")
        return path.read_bytes()


def _gpkg_edit(sql: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "r.gpkg")
        path.write_bytes(_gpkg())
        con = sqlite3.connect(path)
        for (trigger,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            con.execute(f'DROP TRIGGER "{trigger}"')  # the R-tree triggers call SpatiaLite functions
        con.executescript(sql)
        con.commit()
        con.close()
        return path.read_bytes()


def _sqlite_plain() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "p.sqlite")
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE t (a TEXT)")
        con.execute("INSERT INTO t VALUES ('not spatial')")
        con.commit()
        con.close()
        return path.read_bytes()


def _kml(body: str, *, prolog: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + prolog
        + '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        + body
        + "</Document></kml>"
    ).encode()


def _placemark(coords: str = "", name: str = "綦江测试给水管") -> str:
    coords = coords or " ".join(f"{x},{y},0" for x, y in LINE)
    data = "".join(f'<Data name="{k}"><value>{v}</value></Data>' for k, v in PROPS.items())
    return (
        f"<Placemark><name>{name}</name><ExtendedData>{data}</ExtendedData>"
        f"<LineString><coordinates>{coords}</coordinates></LineString></Placemark>"
    )


XXE = '<!DOCTYPE kml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
LAUGHS = (
    '<!DOCTYPE kml [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>\n"
)


def _dxf(entities: Callable[[Any], None]) -> bytes:
    import ezdxf

    doc = ezdxf.new("R2010")
    entities(doc.modelspace())
    stream = io.StringIO()
    doc.write(stream)
    return stream.getvalue().encode("utf-8")


def _dxf_bogus(msp: Any) -> None:
    msp.add_circle((500000, 3210000), 5, dxfattribs={"layer": "给水"})
    msp.add_text("给水", dxfattribs={"layer": "给水"})
    msp.add_3dface([(0, 0, 0), (1, 0, 0), (1, 1, 0)])
    msp.add_point((500000, 3210000))


def _dxf_line(msp: Any) -> None:
    msp.add_line((508000.0, 3212000.0), (508500.0, 3212100.0), dxfattribs={"layer": "给水"})


def _dxf_with(value: str) -> bytes:
    return _dxf(_dxf_line).replace(b"508000.0", value.encode(), 1)


def _csv(rows: list[list[str]], *, encoding: str = "utf-8") -> bytes:
    import csv

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode(encoding)


CSV_HEADER = ["工程编号", "工程名称", "建设单位", "管线类别", "计划开工", "计划完工", "wkt"]
WKT = "LINESTRING (" + ", ".join(f"{x} {y}" for x, y in LINE) + ")"


def _csv_row(work_id: str = "BAD-1", name: str = "綦江测试给水管", owner: str = "渝綦水务") -> list[str]:
    return [work_id, name, owner, "给水", "2027-03-01", "2027-03-20", WKT]


def _long_wkt(n: int) -> str:
    """A route of ``n`` vertices along a straight line in Qijiang, as WKT."""
    step = 0.01 / n
    return "LINESTRING (" + ", ".join(f"{106.65 + i * step:.7f} {29.03 + i * step / 3:.7f}" for i in range(n)) + ")"


def _mixed_encodings() -> bytes:
    head = ",".join(CSV_HEADER).encode("utf-8") + b"\n"
    utf8 = ",".join(_csv_row("BAD-1")).encode("utf-8") + b"\n"
    row = _csv_row("BAD-2", name="古南街道燃气管")
    gbk = ",".join(f'"{c}"' if "," in c else c for c in row).encode("gbk") + b"\n"
    return head + utf8.replace(WKT.encode(), f'"{WKT}"'.encode()) + gbk


def _patch_sizes(data: bytes, *, uncompressed: int) -> bytes:
    """Rewrite the uncompressed size of every entry (local headers and central directory)."""
    out = bytearray(data)
    pos = 0
    while (pos := out.find(b"PK\x03\x04", pos)) >= 0:
        struct.pack_into("<I", out, pos + 22, uncompressed)
        pos += 4
    pos = 0
    while (pos := out.find(b"PK\x01\x02", pos)) >= 0:
        struct.pack_into("<I", out, pos + 24, uncompressed)
        pos += 4
    return bytes(out)


def _encrypted_flag(data: bytes) -> bytes:
    out = bytearray(data)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = 0
        while (pos := out.find(sig, pos)) >= 0:
            flags = struct.unpack_from("<H", out, pos + off)[0]
            struct.pack_into("<H", out, pos + off, flags | 0x1)
            pos += 4
    return bytes(out)


def _overlapping_bomb(members: int = 1500, size: int = 2_000_000) -> bytes:
    """A non-recursive overlapping zip bomb (Fifield 2019 style): many entries, one compressed body."""
    import zlib

    body = zlib.compress(b"\0" * size, 9)[2:-4]
    crc = zlib.crc32(b"\0" * size)
    name = b"a.shp"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(body), size, len(name), 0) + name + body
    central = b""
    for i in range(members):
        nm = f"{i}.shp".encode()
        central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(body), size, len(nm), 0, 0, 0, 0, 0, 0
            )
            + nm
        )
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, members, members, len(central), len(local), 0)
    return local + central + end


def _deep_json(depth: int = 100_000) -> bytes:
    return (
        b'{"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": '
        + (b"[" * depth + b"]" * depth)
        + b"}}"
    )


def _million_vertices() -> bytes:
    n = 1_000_000
    step = 0.3 / n
    coords = ",".join(f"[{106.5 + i * step:.7f},{29.0 + (i % 2) * 1e-5:.6f}]" for i in range(n))
    return (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        + json.dumps(PROPS, ensure_ascii=False)
        + ',"geometry":{"type":"LineString","coordinates":['
        + coords
        + "]}}]}"
    ).encode()


# --------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------

UF, CE, PTL, IE = "UnreadableFile", "CRSError", "PayloadTooLarge", "InputError"
SMALL_LIMIT = {"max_upload_bytes": 64 * 1024}

CASES: list[Case] = [
    # --- any format
    Case("empty.geojson", "empty file", lambda: b"", "raise", UF, "empty"),
    Case("unknown.bin", "unknown format", lambda: bytes(range(256)) * 4, "raise", UF, "binary data"),
    Case(
        "oversized.geojson",
        "upload over max_upload_bytes",
        lambda: _fc(_feat(), pad="x" * (70 * 1024)),
        "raise",
        PTL,
        "the limit",
        api=413,
        large=True,
        settings=SMALL_LIMIT,
    ),
    # --- GeoJSON
    Case(
        "truncated.geojson", "GeoJSON truncated", lambda: _fc(_feat())[:150], "raise", UF, "cannot be read as GeoJSON"
    ),
    Case("not_object.geojson", "GeoJSON top level an array", lambda: b"[1, 2, 3]", "raise", UF, "not an object"),
    Case(
        "features_not_array.geojson",
        "GeoJSON features not an array",
        lambda: b'{"type": "FeatureCollection", "features": {"a": 1}}',
        "raise",
        UF,
        "features array",
    ),
    Case("utf16.geojson", "GeoJSON in UTF-16", lambda: _fc(_feat()).decode().encode("utf-16"), "raise", UF, "GeoJSON"),
    Case("deep_nesting.geojson", "GeoJSON nested 100k deep", _deep_json, "raise", UF, "GeoJSON", large=True),
    Case("no_features.geojson", "GeoJSON without features", _fc, "reject", codes=("file.no_features",), api=422),
    Case(
        "null_geometry.geojson",
        "null geometry",
        lambda: _fc(_feat(gtype="")),
        "reject",
        codes=("geometry.missing",),
        api=422,
    ),
    Case(
        "empty_geometry.geojson",
        "empty LineString",
        lambda: _fc(_feat([])),
        "reject",
        codes=("geometry.empty",),
        api=422,
    ),
    Case(
        "nan.geojson",
        "NaN and Infinity coordinates",
        lambda: _fc(_feat([[math.nan, 29.03], [106.653, math.inf]])),
        "reject",
        codes=("geometry.not_finite",),
        api=422,
    ),
    Case(
        "string_coords.geojson",
        "coordinates that are strings",
        lambda: _fc(_feat([["a", "b"], ["c", "d"]])),
        "reject",
        codes=("geometry.unreadable",),
        api=422,
    ),
    Case(
        "unknown_type.geojson",
        "unknown geometry type",
        lambda: _fc(_feat(gtype="Circle")),
        "reject",
        codes=("geometry.unreadable",),
        api=422,
    ),
    Case(
        "single_vertex.geojson",
        "line of one vertex",
        lambda: _fc(_feat([[106.65, 29.03]])),
        "reject",
        codes=("geometry.unreadable",),
        api=422,
    ),
    Case(
        "bowtie.geojson",
        "self-intersecting polygon",
        lambda: _fc(
            _feat(
                [[[106.65, 29.03], [106.652, 29.032], [106.652, 29.03], [106.65, 29.032], [106.65, 29.03]]],
                gtype="Polygon",
            )
        ),
        "reject",
        codes=("geometry.invalid",),
        api=422,
    ),
    Case(
        "point.geojson",
        "unsupported Point",
        lambda: _fc(_feat([106.65, 29.03], gtype="Point")),
        "reject",
        codes=("geometry.unsupported_type",),
        api=422,
    ),
    Case(
        "outside.geojson",
        "route in Beijing",
        lambda: _fc(_feat([[116.40, 39.90], [116.41, 39.91]])),
        "reject",
        codes=("geometry.outside_district",),
        api=422,
    ),
    Case(
        "lying_crs.geojson",
        "crs member says EPSG:4545 on lon/lat numbers",
        lambda: _fc(_feat(), crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4545"}}),
        "reject",
        codes=("geometry.outside_district",),
        api=422,
    ),
    Case(
        "unknown_crs.geojson",
        "crs member names no CRS",
        lambda: _fc(_feat(), crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::999999"}}),
        "raise",
        CE,
        "999999",
        api=422,
    ),
    Case(
        "beyond_90.geojson",
        "a vertex at latitude 29503 (no place in the working CRS)",
        lambda: _fc(_feat([[106.65, 29503.0], [106.653, 29.031], [106.656, 29.0305]])),
        "reject",
        codes=("geometry.not_transformable",),
        api=422,
    ),
    Case(
        "million_vertices.geojson",
        "1M-vertex route",
        _million_vertices,
        "reject",
        codes=("geometry.too_many_vertices",),
        api=422,
        large=True,
    ),
    Case(
        "dates_out_of_range.geojson",
        "dates out of range, impossible and reversed",
        lambda: _fc(
            _feat(计划开工="1899-12-31", 计划完工="9999-12-31", 工程编号="D-1"),
            _feat(计划开工="2027-02-30", 计划完工="2027-13-01", 工程编号="D-2"),
            _feat(计划开工="2027-05-01", 计划完工="2027-03-01", 工程编号="D-3"),
            _feat(计划开工=1e300, 计划完工=-5, 工程编号="D-4"),
        ),
        "reject",
        codes=("date.out_of_range", "date.invalid", "date.end_before_start"),
        api=422,
    ),
    Case(
        "no_attributes.geojson",
        "features without any attribute",
        lambda: json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": None, "geometry": {"type": "LineString", "coordinates": LINE}}
                ],
            }
        ).encode(),
        "reject",
        codes=("date.missing",),
        api=422,
    ),
    # --- zipped Shapefile
    Case("truncated.zip", "zip truncated", lambda: _shapefile_zip()[:300], "raise", UF, "zip"),
    Case("no_shp.zip", "zip without .shp", lambda: _zip({"readme.txt": b"hello"}), "raise", UF, "no .shp"),
    Case(
        "missing_dbf.zip",
        "shapefile without .dbf",
        lambda: _zip({k: v for k, v in _shapefile_parts(LINE).items() if not k.endswith(".dbf")}),
        "raise",
        UF,
        ".dbf",
    ),
    Case(
        "corrupt_shp.zip",
        "shapefile with garbage .shp",
        lambda: _zip({**_shapefile_parts(LINE), "route.shp": b"\x00\x00\x27\x0a" + b"garbage" * 20}),
        "reject",
        codes=("geometry.missing",),
        api=422,
    ),
    Case(
        "traversal.zip",
        "zip path traversal ../evil.shp",
        lambda: _zip({f"../evil{Path(k).suffix}": v for k, v in _shapefile_parts(LINE).items()}),
        "raise",
        UF,
        "unsafe path",
    ),
    Case(
        "absolute.zip",
        "zip member with absolute path",
        lambda: _zip({f"/tmp/evil{Path(k).suffix}": v for k, v in _shapefile_parts(LINE).items()}),
        "raise",
        UF,
        "unsafe path",
    ),
    Case(
        "encrypted.zip",
        "zip with encrypted members",
        lambda: _encrypted_flag(_shapefile_zip()),
        "raise",
        UF,
        "Shapefile",
    ),
    Case(
        "prj_4490_on_metres.zip",
        ".prj says EPSG:4490 on projected coordinates",
        lambda: _zip({**_shapefile_parts(_line_4545(), crs="EPSG:4490")}),
        "reject",
        codes=("geometry.outside_district",),
        api=422,
    ),
    Case(
        "prj_garbage.zip",
        ".prj that is no CRS",
        lambda: _zip({**_shapefile_parts(LINE), "route.prj": b'PROJCS["nonsense", GARBAGE]'}),
        "raise",
        CE,
        ".prj",
        api=422,
    ),
    Case(
        "bomb.zip",
        "zip bomb (honest headers)",
        lambda: _zip({"route.shp": b"\0" * 20_000_000, "route.shx": b"", "route.dbf": b""}, level=9),
        "raise",
        UF,
        "zip bomb",
        large=True,
        settings={"max_upload_bytes": 1_000_000},
    ),
    Case(
        "bomb_lying.zip",
        "zip bomb with lying (small) declared sizes",
        lambda: _patch_sizes(
            _zip({"route.shp": b"\0" * 20_000_000, "route.shx": b"\0" * 100, "route.dbf": b"\0" * 100}, level=9),
            uncompressed=100,
        ),
        "raise",
        UF,
        "Shapefile",
        large=True,
        settings={"max_upload_bytes": 1_000_000},
    ),
    Case(
        "bomb_overlapping.zip",
        "overlapping-entries zip bomb",
        _overlapping_bomb,
        "raise",
        UF,
        "zip bomb",
        large=True,
    ),
    Case(
        "many_members.zip",
        "zip with 3000 members",
        lambda: _zip({f"f{i}.txt": b"" for i in range(3000)}),
        "raise",
        UF,
        "too many files",
        large=True,
    ),
    # --- GeoPackage
    Case("truncated.gpkg", "GeoPackage truncated", lambda: _gpkg()[:3000], "raise", UF, "GeoPackage"),
    Case("not_spatial.gpkg", "SQLite without spatial layer", _sqlite_plain, "raise", UF, "gpkg_contents"),
    Case(
        "garbage.gpkg",
        "SQLite header then garbage",
        lambda: b"SQLite format 3\x00" + bytes(range(256)) * 16,
        "raise",
        UF,
        "GeoPackage",
    ),
    Case(
        "bad_wkb.gpkg",
        "GeoPackage with a garbage geometry blob",
        lambda: _gpkg_edit("UPDATE routes SET geom = X'4750000100000000DEADBEEF';"),
        "reject",
        codes=("geometry.missing",),
        api=422,
    ),
    # --- KML / KMZ
    Case(
        "xxe.kml", "KML with an external entity", lambda: _kml(_placemark(name="&xxe;"), prolog=XXE), "raise", UF, "KML"
    ),
    Case(
        "laughs.kml", "KML billion laughs", lambda: _kml(_placemark(name="&lol9;"), prolog=LAUGHS), "raise", UF, "KML"
    ),
    Case("truncated.kml", "KML truncated", lambda: _kml(_placemark())[:200], "raise", UF, "KML"),
    Case("html.kml", "HTML named .kml", lambda: b"<html><body>hi</body></html>", "raise", UF, "not KML"),
    Case(
        "bad_coords.kml",
        "KML coordinates that are not numbers",
        lambda: _kml(_placemark(coords="abc,def 1,2,3,4,5,x")),
        "reject",
        codes=("geometry.unreadable",),
        api=422,
    ),
    Case("empty.kml", "KML without placemarks", lambda: _kml(""), "reject", codes=("file.no_features",), api=422),
    Case(
        "deep_folders.kml",
        "KML folders nested 50k deep",
        lambda: _kml("<Folder>" * 50_000 + _placemark() + "</Folder>" * 50_000),
        "raise",
        UF,
        "KML",
        large=True,
    ),
    Case("no_kml.kmz", "KMZ without .kml", lambda: _zip({"doc.txt": b"x"}), "raise", UF, "no .kml"),
    Case(
        "xxe.kmz",
        "KMZ holding an XXE KML",
        lambda: _zip({"doc.kml": _kml(_placemark(name="&xxe;"), prolog=XXE)}),
        "raise",
        UF,
        "KML",
    ),
    Case(
        "bomb.kmz",
        "KMZ bomb",
        lambda: _zip({"doc.kml": b" " * 20_000_000}, level=9),
        "raise",
        UF,
        "zip bomb",
        large=True,
        settings={"max_upload_bytes": 1_000_000},
    ),
    # --- DXF
    Case(
        "truncated.dxf",
        "DXF truncated",
        lambda: _dxf(_dxf_line)[:2000],
        "reject",
        codes=("file.no_features",),
        api=422,
        crs="EPSG:4545",
    ),
    Case(
        "garbage.dxf",
        "DXF header then garbage",
        lambda: b"0\nSECTION\n2\nENTITIES\n0\nLINE\n8\n",
        "reject",
        codes=("file.no_features",),
        api=422,
        crs="EPSG:4545",
    ),
    Case(
        "bogus_entities.dxf",
        "DXF with only circles, text, faces, points",
        lambda: _dxf(_dxf_bogus),
        "reject",
        codes=("file.no_features",),
        api=422,
        crs="EPSG:4545",
    ),
    Case(
        "nan.dxf",
        "DXF with NaN coordinates",
        lambda: _dxf_with("nan"),
        "reject",
        codes=("geometry.not_finite",),
        api=422,
        crs="EPSG:4545",
    ),
    Case(
        "huge_coords.dxf",
        "DXF with 1e300 coordinates",
        lambda: _dxf_with("1e300"),
        "reject",
        codes=("geometry.outside_district",),
        api=422,
        crs="EPSG:4545",
    ),
    # --- CSV
    Case(
        "formula.csv",
        "formula injection in text fields",
        lambda: _csv([CSV_HEADER, _csv_row(name=FORMULAS[0], owner=FORMULAS[4])]),
        "accept",
        api=200,
    ),
    Case(
        "mixed_encodings.csv",
        "CSV with a UTF-8 row and a GBK row",
        _mixed_encodings,
        "accept",
        codes=("file.encoding_mixed",),
        api=200,
    ),
    Case("binary.csv", "CSV with NUL bytes", lambda: b"a,b\n\x00\x01,\x02\n", "raise", UF, "binary"),
    Case(
        "no_geometry.csv",
        "CSV without WKT or lon/lat",
        lambda: _csv([["工程编号", "名称"], ["A", "B"]]),
        "raise",
        UF,
        "neither a WKT column",
    ),
    Case(
        "bad_wkt.csv",
        "CSV with broken WKT",
        lambda: _csv([CSV_HEADER, [*_csv_row()[:-1], "LINESTRING (106.65 29.03, banana)"]]),
        "reject",
        codes=("geometry.unreadable",),
        api=422,
    ),
    Case(
        "overflow.csv",
        "CSV WKT with a coordinate of 1e999",
        lambda: _csv([CSV_HEADER, [*_csv_row()[:-1], "LINESTRING (106.65 1e999, 106.653 29.031)"]]),
        "reject",
        codes=("geometry.not_finite",),
        api=422,
    ),
    Case(
        "huge_cell.csv",
        "CSV with a 190 kB cell (an 8000-vertex WKT route)",
        lambda: _csv([CSV_HEADER, [*_csv_row()[:-1], _long_wkt(8000)]]),
        "accept",
        api=200,
        large=True,
    ),
    Case(
        "dates.csv",
        "CSV with out-of-range dates",
        lambda: _csv([CSV_HEADER, ["D-1", "n", "渝綦水务", "给水", "0001-01-01", "2200-01-01", WKT]]),
        "reject",
        codes=("date.out_of_range",),
        api=422,
    ),
    Case(
        "lonlat_no_id.csv",
        "lon/lat CSV without work id",
        lambda: _csv([["lon", "lat"], ["106.65", "29.03"], ["106.66", "29.04"]]),
        "raise",
        UF,
        "work id",
    ),
]

BY_NAME = {c.name: c for c in CASES}


def build(name: str) -> bytes:
    """The bytes of one case (for large cases, built at test time)."""
    return BY_NAME[name].build()


def main() -> None:
    """Write the small cases into this folder."""
    for case in CASES:
        if not case.large:
            (HERE / case.name).write_bytes(case.build())
    print(f"{sum(not c.large for c in CASES)} files written, {sum(c.large for c in CASES)} built at test time")


if __name__ == "__main__":
    main()

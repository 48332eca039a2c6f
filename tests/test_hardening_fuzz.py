"""Structure-aware fuzzing of every reader: only onetrench's own errors may escape.

tests/test_intake_fuzz.py truncates and flips bytes of valid fixtures; here hypothesis builds
documents that are well-formed enough to reach the deep parts of each reader — GeoJSON with
arbitrary JSON where geometries, coordinates, properties and ``crs`` go; KML and KMZ (zip member
names included) with arbitrary coordinate text and nesting; DXF drawings with arbitrary floats
(NaN, ±inf, 1e308), layers and XDATA; GeoPackage and zipped Shapefile with arbitrary attribute
values, ``.prj`` and ``.cpg`` text; CSV with arbitrary cells under known column names; the road
reader :func:`geo.roads.read_roads` with arbitrary road properties and corrupted files; and byte
flips of every small file of the hostile corpus (tests/data/bad/).

Budget: ``ONETRENCH_FUZZ_EXAMPLES`` examples per test (default 8, for CI). For a long run, e.g.
``ONETRENCH_FUZZ_EXAMPLES=2000 pytest tests/test_hardening_fuzz.py -p no:cacheprovider``.
"""

from __future__ import annotations

import io
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.intake import IntakeResult, read_works
from geo.roads import read_roads
from onetrench.errors import OnetrenchError
from onetrench.settings import Settings

HERE = Path(__file__).parent
BAD = HERE / "data" / "bad"
INTAKE = HERE / "data" / "intake"
ROADS = HERE / "data" / "roads" / "qijiang_roads.geojson"
EXAMPLES = int(os.environ.get("ONETRENCH_FUZZ_EXAMPLES", "8"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
SETTINGS = Settings(max_upload_bytes=2_000_000)
LINE = [[106.65, 29.03], [106.653, 29.031], [106.656, 29.0305]]

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([106.65, 29.03, 0.0, -0.0, 1e308, -1e308, 5e-324, 500000.0, 3212000.0]),
)
texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["给水", "电力", "燃气", "2027-03-01", "2027/3/1", "46447", "DN300", "中压A", "EPSG:4545", "", " ", "NaN"]
    ),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, texts),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(texts, inner, max_size=5)),
    max_leaves=30,
)
FIELDS = [
    "工程编号",
    "工程名称",
    "建设单位",
    "管线类别",
    "计划开工",
    "计划完工",
    "最早开工",
    "最晚完工",
    "管径",
    "电压等级",
]
properties = st.dictionaries(st.sampled_from(FIELDS), st.one_of(json_values, texts), max_size=len(FIELDS))


def check(name: str, data: bytes, **kwargs: Any) -> None:
    """Read ``data`` as ``name``: a result whose problems all speak both languages, or our error."""
    try:
        result = read_works(name, data=data, settings=SETTINGS, **kwargs)
    except OnetrenchError as exc:
        assert exc.zh and exc.en
        return
    assert isinstance(result, IntakeResult)
    assert all(p.zh and p.en for p in result.errors + result.warnings)
    json.dumps(result.to_json(), allow_nan=False)


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, allow_nan=True).encode()


# --- GeoJSON -------------------------------------------------------------------------------


@FUZZ
@given(
    gtype=st.sampled_from(["LineString", "MultiLineString", "Polygon", "MultiPolygon", "Point", "GeometryCollection"]),
    coords=json_values,
    props=properties,
    crs=st.one_of(st.none(), json_values, st.sampled_from(["urn:ogc:def:crs:EPSG::4545", "EPSG:4490", "gcj02"])),
)
def test_geojson_documents(gtype: str, coords: Any, props: dict[str, Any], crs: Any) -> None:
    geometry = {"type": gtype, "coordinates": coords, "geometries": coords}
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": props, "geometry": geometry}],
    }
    if crs is not None:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    check("fuzz.geojson", _dumps(doc))


@FUZZ
@given(doc=json_values)
def test_geojson_any_json(doc: Any) -> None:
    check("fuzz.geojson", _dumps(doc))


# --- KML / KMZ ------------------------------------------------------------------------------

coord_text = st.one_of(
    st.lists(st.tuples(numbers, numbers, numbers), max_size=6).map(
        lambda pts: " ".join(f"{x},{y},{z}" for x, y, z in pts)
    ),
    st.text(alphabet=" ,.-0123456789eEnaNinf\n\t", max_size=60),
)
kml_geometry = st.sampled_from(
    [
        "<LineString><coordinates>{c}</coordinates></LineString>",
        "<Polygon><outerBoundaryIs><LinearRing><coordinates>{c}</coordinates></LinearRing></outerBoundaryIs></Polygon>",
        "<MultiGeometry><LineString><coordinates>{c}</coordinates></LineString><Point><coordinates>{c}</coordinates></Point></MultiGeometry>",
        "<Point><coordinates>{c}</coordinates></Point>",
        "<LineString></LineString>",
        "",
    ]
)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _kml_doc(geometry: str, coords: str, props: dict[str, Any], depth: int) -> bytes:
    data = "".join(f'<Data name="{_escape(k)}"><value>{_escape(str(v))}</value></Data>' for k, v in props.items())
    name = _escape(str(props.get("工程名称", "")))
    placemark = (
        f"<Placemark><name>{name}</name><ExtendedData>{data}</ExtendedData>{geometry.format(c=coords)}</Placemark>"
    )
    body = "<Folder><name>电力</name>" * depth + placemark + "</Folder>" * depth
    return f'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>{body}</Document></kml>'.encode()


@FUZZ
@given(geometry=kml_geometry, coords=coord_text, props=properties, depth=st.integers(0, 5))
def test_kml_documents(geometry: str, coords: str, props: dict[str, Any], depth: int) -> None:
    doc = _kml_doc(geometry, coords, props, depth)
    check("fuzz.kml", doc)


@FUZZ
@given(
    geometry=kml_geometry,
    coords=coord_text,
    props=properties,
    names=st.lists(
        st.one_of(
            st.sampled_from(["doc.kml", "a/doc.kml", "../doc.kml", "/doc.kml", "x.kml", "images/a.png"]),
            st.text(min_size=1, max_size=12),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_kmz_archives(geometry: str, coords: str, props: dict[str, Any], names: list[str]) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in dict.fromkeys(names):
            if name.split("\x00")[0]:  # zipfile cuts names at NUL and cannot write an empty one
                zf.writestr(name, _kml_doc(geometry, coords, props, 1))
    check("fuzz.kmz", buf.getvalue())


# --- DXF ------------------------------------------------------------------------------------


@FUZZ
@given(
    entities=st.lists(
        st.tuples(
            st.sampled_from(["line", "lwpolyline", "polyline", "closed", "circle", "text"]),
            st.lists(st.tuples(numbers, numbers), min_size=0, max_size=5),
            st.sampled_from(["0", "给水", "电力", "燃气", "ELEC", "随便"]),
            st.one_of(st.none(), texts),
        ),
        max_size=6,
    ),
    crs=st.sampled_from([None, "EPSG:4545", "EPSG:4490"]),
)
def test_dxf_drawings(entities: list[tuple[str, list[tuple[Any, Any]], str, str | None]], crs: str | None) -> None:
    import ezdxf

    doc = ezdxf.new("R2010")
    msp = doc.modelspace()
    doc.appids.add("ONETRENCH")
    for kind, raw_pts, layer, xdata in entities:
        pts = [(_float(x), _float(y)) for x, y in raw_pts]
        attribs = {"layer": layer}
        e: Any
        if kind == "line" and len(pts) >= 2:
            e = msp.add_line(pts[0], pts[1], dxfattribs=attribs)
        elif kind in ("lwpolyline", "closed"):
            e = msp.add_lwpolyline(pts, close=kind == "closed", dxfattribs=attribs)
        elif kind == "polyline":
            e = msp.add_polyline2d(pts, dxfattribs=attribs)
        elif kind == "circle" and pts:
            e = msp.add_circle(pts[0], 5, dxfattribs=attribs)
        else:
            e = msp.add_text(str(xdata or "x"), dxfattribs=attribs)
        if xdata:
            e.set_xdata("ONETRENCH", [(1000, xdata[:200])])
    stream = io.StringIO()
    try:
        doc.write(stream)
    except (ValueError, TypeError, OverflowError):  # ezdxf refuses to write some values itself
        return
    check("fuzz.dxf", stream.getvalue().encode("utf-8", "surrogatepass"), crs=crs)


def _float(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


# --- GeoPackage and zipped Shapefile ---------------------------------------------------------

_GPKG = (INTAKE / "two_layers.gpkg").read_bytes()
sql_values = st.one_of(
    st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=40), st.binary(max_size=40)
)


@FUZZ
@given(values=st.lists(sql_values, min_size=1, max_size=12), blob=st.one_of(st.none(), st.binary(max_size=64)))
def test_geopackage_attribute_and_geometry_values(values: list[Any], blob: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "f.gpkg")
        path.write_bytes(_GPKG)
        con = sqlite3.connect(path)
        for (trigger,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            con.execute(f'DROP TRIGGER "{trigger}"')
        table = "water"
        columns = [row[1] for row in con.execute(f'PRAGMA table_info("{table}")') if row[1] not in ("fid", "geom")]
        for column, value in zip(columns, values, strict=False):
            con.execute(f'UPDATE "{table}" SET "{column}" = ?', (value,))
        if blob is not None:
            con.execute(f'UPDATE "{table}" SET geom = ?', (blob,))
        con.commit()
        con.close()
        data = path.read_bytes()
    check("fuzz.gpkg", data, layer="water")


_SHP = zipfile.ZipFile(INTAKE / "utf8_cpg.zip")
_SHP_MEMBERS = {n: _SHP.read(n) for n in _SHP.namelist()}


@FUZZ
@given(
    prj=st.one_of(st.none(), st.text(max_size=80), st.sampled_from(["EPSG:4545", 'GEOGCS["x"]', "PROJCS[", "gcj02"])),
    cpg=st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["936", "UTF-8", "65001", "nonsense"])),
    dbf_noise=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
)
def test_shapefile_sidecars_and_records(prj: str | None, cpg: str | None, dbf_noise: list[tuple[int, int]]) -> None:
    members = dict(_SHP_MEMBERS)
    for name in list(members):
        if name.endswith(".prj") and prj is not None:
            members[name] = prj.encode("utf-8", "surrogatepass")
        if name.endswith(".cpg") and cpg is not None:
            members[name] = cpg.encode("utf-8", "surrogatepass")
        if name.endswith(".dbf") and dbf_noise:
            dbf = bytearray(members[name])
            for where, value in dbf_noise:
                dbf[where % len(dbf)] = value
            members[name] = bytes(dbf)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    check("fuzz.zip", buf.getvalue())


# --- CSV ------------------------------------------------------------------------------------

CSV_COLUMNS = ["wkt", "lon", "lat", "经度", "纬度", "bd_lng", "gcj_lat", "序号", *FIELDS]
cells = st.one_of(
    texts,
    numbers.map(str),
    st.sampled_from(
        ["LINESTRING (106.65 29.03, 106.66 29.031)", "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))", "LINESTRING EMPTY"]
    ),
)


@FUZZ
@given(
    header=st.lists(st.sampled_from(CSV_COLUMNS), min_size=1, max_size=8, unique=True),
    rows=st.lists(st.lists(cells, max_size=9), max_size=6),
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
)
def test_csv_tables(header: list[str], rows: list[list[str]], delimiter: str, encoding: str) -> None:
    import csv

    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    check("fuzz.csv", buf.getvalue().encode(encoding, "replace"))


# --- the hostile corpus, mutated --------------------------------------------------------------

SMALL = sorted(p.name for p in BAD.iterdir() if p.name != "make_corpus.py")


@pytest.mark.parametrize("name", SMALL)
@FUZZ
@given(flips=st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6))
def test_corpus_byte_flips(name: str, flips: list[tuple[float, int]]) -> None:
    data = bytearray((BAD / name).read_bytes())
    if not data:
        return
    for where, value in flips:
        data[int(where * len(data))] = value
    check(name, bytes(data), crs="EPSG:4545" if name.endswith(".dxf") else None)


# --- roads ----------------------------------------------------------------------------------

ROAD_FIELDS = [
    "道路编号",
    "道路名称",
    "道路等级",
    "红线宽度",
    "竣工日期",
    "工程类型",
    "路面类型",
    "road_id",
    "width_m",
    "class",
]


def _read_roads(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, name)
        path.write_bytes(data)
        # No warning may escape (pytest turns them into errors): GDAL's become road warnings.
        try:
            network = read_roads(path, settings=SETTINGS)
        except OnetrenchError as exc:
            assert exc.zh and exc.en
            assert tmp not in exc.zh + exc.en, "no server path in a user's message"
            return
    assert all(p.zh and p.en for p in network.warnings)


@FUZZ
@given(
    features=st.lists(
        st.tuples(
            st.dictionaries(st.sampled_from(ROAD_FIELDS), st.one_of(json_values, texts), max_size=8), json_values
        ),
        max_size=4,
    ),
)
def test_road_documents(features: list[tuple[dict[str, Any], Any]]) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "LineString", "coordinates": coords if i % 2 else LINE},
            }
            for i, (props, coords) in enumerate(features)
        ],
    }
    _read_roads("roads.geojson", _dumps(doc))


_ROADS = ROADS.read_bytes()


@FUZZ
@given(
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(0, 255)), max_size=6),
    suffix=st.sampled_from([".geojson", ".json", ".gpkg", ".zip"]),
)
def test_road_files_corrupted(cut: float, flips: list[tuple[float, int]], suffix: str) -> None:
    data = bytearray(_ROADS[: max(1, int(len(_ROADS) * cut))])
    for where, value in flips:
        data[int(where * len(data))] = value
    _read_roads(f"roads{suffix}", bytes(data))


@FUZZ
@given(blob=st.binary(max_size=600), suffix=st.sampled_from([".geojson", ".gpkg", ".zip", ".shp", ".txt"]))
def test_road_files_random_bytes(blob: bytes, suffix: str) -> None:
    _read_roads(f"roads{suffix}", blob)


def test_road_reader_reports_gdal_warnings_instead_of_emitting_them(tmp_path: Path) -> None:
    doc = json.loads(_ROADS)
    doc["features"][0]["geometry"]["coordinates"][0] = [106.65, 29.03, 0.0, 1.0, 2.0]  # 5 ordinates
    path = tmp_path / "roads.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    # In a fresh process: GDAL reports each kind of message once per process, so an earlier test
    # (the fuzzing above) may already have used it up here.
    script = (
        "import sys, warnings\n"
        "from geo.roads import read_roads\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    net = read_roads(sys.argv[1])\n"
        "gdal = [w.en for w in net.warnings if w.code == 'file.gdal_warning']\n"
        "print(len(caught), len(gdal), any(sys.argv[1].rsplit('/', 1)[0] in m for m in gdal))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True, cwd=HERE.parent
    )
    escaped, reported, shows_path = out.stdout.split()
    assert (escaped, shows_path) == ("0", "False"), out.stdout
    assert int(reported) >= 1, "GDAL's warning is reported as a road warning"

"""Write the small intake fixtures of tests/test_intake_*.py into this folder.

Run ``.venv/bin/python tests/data/intake/make_fixtures.py``. The routes are hand-picked
CGCS2000 lon/lat vertices in 古南街道 (``TRUTH`` below, also written to ``truth.json``); each
file stores them in another format and coordinate system:

================  =========================================================================
file              what
================  =========================================================================
routes.geojson    RFC 7946 (no crs member), Chinese and English field names, a Z route, a zone
bad.geojson       one feature per error class; expected codes in ``bad_expected.json``
gbk_nocpg.zip     Shapefile, EPSG:4545 .prj, GBK attribute names and values, no .cpg, LDID 0
utf8_cpg.zip      Shapefile, EPSG:4490 .prj, UTF-8 with a .cpg
two_layers.gpkg   GeoPackage, layers ``water`` and ``power``, EPSG:4545
routes.kml/.kmz   KML with a 燃气 folder and ExtendedData; the KMZ zips it as doc.kml
cad.dxf           DXF in EPSG:4545 metres, layers 给水 / DL-10kV / TX / 0, a closed pit, a TEXT
amap_gcj02.csv    GBK, one vertex per row, GCJ-02 (via the independent ``prcoords``), 序号 shuffled
baidu_bd09.csv    UTF-8 with BOM, WKT column, BD-09 (via ``prcoords``)
baidu_cols.csv    UTF-8, columns ``bd_lng`` / ``bd_lat`` telling BD-09 by their names
================  =========================================================================

Shifted coordinates come from ``prcoords`` (public domain), not from :mod:`geo.chinacrs`, so
the tests compare the project's inverse with an independent forward transform.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import ezdxf
import numpy as np
import prcoords
import pyogrio
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Polygon

HERE = Path(__file__).resolve().parent
FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)

#: Hand-picked CGCS2000 lon/lat vertices (古南街道, 綦江区).
TRUTH: dict[str, list[tuple[float, float]]] = {
    "GS-001": [(106.6500, 29.0300), (106.6530, 29.0310), (106.6560, 29.0305)],
    "RQ-001": [(106.6505, 29.0295), (106.6550, 29.0300)],
    "DL-001": [(106.6600, 29.0350), (106.6600, 29.0400)],
    "TX-001": [(106.6450, 29.0250), (106.6480, 29.0260), (106.6520, 29.0262)],
    "ZONE-1": [(106.6520, 29.0320), (106.6524, 29.0320), (106.6524, 29.0324), (106.6520, 29.0324), (106.6520, 29.0320)],
}
TO_4545 = Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True)


def _xy4545(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    xs, ys = TO_4545.transform([p[0] for p in points], [p[1] for p in points])
    return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]


def _gcj(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for lon, lat in points:
        c = prcoords.wgs_gcj(prcoords.Coords(lat, lon))
        out.append((c.lon, c.lat))
    return out


def _bd(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for lon, lat in points:
        c = prcoords.wgs_bd(prcoords.Coords(lat, lon))
        out.append((c.lon, c.lat))
    return out


def _feature(props: dict[str, Any], geometry: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _line(points: list[tuple[float, float]]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [list(p) for p in points]}


def routes_geojson() -> None:
    features = [
        _feature(
            {
                "工程编号": "GS-001",
                "工程名称": "古南大道给水管改造",
                "建设单位": "渝綦水务",
                "管线类别": "给水",
                "管径(mm)": "DN300",
                "埋深": "1.5",
                "计划开工": "2027/3/1",
                "计划完工": "2027年3月20日",
                "最早开工": "20270215",
                "最晚完工": "2027-04-30",
                "施工方式": "明挖",
                "联系人": "张工 13800000000",
                "备注": "保留的原始字段",
            },
            _line(TRUTH["GS-001"]),
        ),
        _feature(
            {
                "work_id": "RQ-001",
                "owner": "重庆港华燃气",
                "utility": "gas",
                "diameter": 200,
                "pressure": "中压A",
                "start": "2027-03-05",
                "end": "2027-03-25",
                "emergency": "否",
            },
            {"type": "LineString", "coordinates": [[lon, lat, 250.0] for lon, lat in TRUTH["RQ-001"]]},
        ),
        _feature(
            {"工程编号": "ZONE-1", "管线类别": "给水", "建设单位": "渝綦水务", "计划开工": 46447, "计划完工": 46450},
            {"type": "Polygon", "coordinates": [[list(p) for p in TRUTH["ZONE-1"]]]},
        ),
    ]
    (HERE / "routes.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, indent=1), encoding="utf-8"
    )


#: One feature per error class: (expected code, feature). Expected codes are declared by hand.
def bad_geojson() -> None:
    ok = {"管线类别": "燃气", "建设单位": "港华燃气", "计划开工": "2027-05-01", "计划完工": "2027-05-10"}
    line = _line(TRUTH["RQ-001"])
    bowtie = [[106.650, 29.030], [106.651, 29.031], [106.651, 29.030], [106.650, 29.031], [106.650, 29.030]]
    loop = [[106.650, 29.030], [106.652, 29.032], [106.652, 29.030], [106.650, 29.032]]
    cases: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
        ("geometry.invalid", {"工程编号": "B-01", **ok}, {"type": "Polygon", "coordinates": [bowtie]}),
        ("geometry.self_intersection", {"工程编号": "B-02", **ok}, {"type": "LineString", "coordinates": loop}),
        ("geometry.empty", {"工程编号": "B-03", **ok}, {"type": "LineString", "coordinates": []}),
        ("geometry.missing", {"工程编号": "B-04", **ok}, None),
        ("geometry.swapped_axes", {"工程编号": "B-05", **ok}, _line([(lat, lon) for lon, lat in TRUTH["RQ-001"]])),
        ("geometry.outside_district", {"工程编号": "B-06", **ok}, _line([(106.55, 29.56), (106.56, 29.57)])),
        ("geometry.zero_length", {"工程编号": "B-07", **ok}, _line([(106.65, 29.03), (106.65, 29.03)])),
        ("geometry.unsupported_type", {"工程编号": "B-08", **ok}, {"type": "Point", "coordinates": [106.65, 29.03]}),
        ("attribute.unknown_utility", {**ok, "工程编号": "B-09", "管线类别": "石油"}, line),
        ("date.end_before_start", {**ok, "工程编号": "B-10", "计划完工": "2027-04-01"}, line),
        ("date.earliest_after_start", {**ok, "工程编号": "B-11", "最早开工": "2027-05-03"}, line),
        ("date.latest_before_end", {**ok, "工程编号": "B-12", "最晚完工": "2027-05-09"}, line),
        ("date.out_of_range", {**ok, "工程编号": "B-13", "计划开工": "1999-05-01"}, line),
        ("date.missing", {"工程编号": "B-14", "管线类别": "燃气", "计划开工": "2027-05-01"}, line),
        ("date.invalid", {**ok, "工程编号": "B-15", "计划完工": "下个月"}, line),
        ("attribute.implausible", {**ok, "工程编号": "B-16", "管径": "-300"}, line),
        ("attribute.implausible", {**ok, "工程编号": "B-17", "埋深": "12"}, line),
        ("work_id.duplicate", {**ok, "工程编号": "B-18"}, line),
        ("work_id.duplicate", {**ok, "工程编号": "B-18"}, line),
        ("attribute.missing", {"工程编号": "B-19", "计划开工": "2027-05-01", "计划完工": "2027-05-10"}, line),
    ]
    features = [_feature(props, geom) for _, props, geom in cases]
    # NaN coordinates are valid Python JSON (json.dumps writes NaN), as some exporters do.
    features.append(
        _feature(
            {"工程编号": "B-20", **ok}, {"type": "LineString", "coordinates": [[106.65, 29.03], [float("nan"), 29.04]]}
        )
    )
    expected = [code for code, _, _ in cases] + ["geometry.not_finite"]
    (HERE / "bad.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    (HERE / "bad_expected.json").write_text(json.dumps(expected, indent=1), encoding="utf-8")


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in members.items():
            info = zipfile.ZipInfo(name, FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, blob)


def _shapefile(  # noqa: PLR0917 - fixture helper
    stem: str, rows: list[dict[str, Any]], geoms: list[Any], crs: str, encoding: str, tmp: Path
) -> dict[str, bytes]:
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs=crs)
    target = tmp / f"{stem}.shp"
    pyogrio.write_dataframe(gdf, target, encoding=encoding)
    return {p.suffix: p.read_bytes() for p in tmp.iterdir() if p.stem == stem}


def shapefiles() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            {
                "工程编号": "GS-001",
                "管线类别": "给水",
                "建设单位": "渝綦水务",
                "管径": 300,
                "计划开工": "2027-03-01",
                "计划完工": "2027-03-20",
            },
            {
                "工程编号": "DL-001",
                "管线类别": "电力",
                "建设单位": "国网綦江供电",
                "电压等级": "10kV",
                "计划开工": "2027-04-01",
                "计划完工": "2027-04-15",
            },
        ]
        geoms = [LineString(_xy4545(TRUTH["GS-001"])), LineString(_xy4545(TRUTH["DL-001"]))]
        parts = _shapefile("管线", rows, geoms, "EPSG:4545", "GBK", Path(tmp))
        dbf = bytearray(parts[".dbf"])
        dbf[29] = 0  # no language driver id, as older tools write
        members = {
            "管线.shp": parts[".shp"],
            "管线.shx": parts[".shx"],
            "管线.dbf": bytes(dbf),
            "管线.prj": parts[".prj"],
        }
        _zip(HERE / "gbk_nocpg.zip", members)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            {
                "work_id": "TX-001",
                "utility": "通信",
                "owner": "中国移动綦江分公司",
                "start": "2027-06-01",
                "end": "2027-06-05",
            }
        ]
        parts = _shapefile("telecom", rows, [LineString(TRUTH["TX-001"])], "EPSG:4490", "UTF-8", Path(tmp))
        parts[".cpg"] = b"UTF-8"
        _zip(HERE / "utf8_cpg.zip", {f"telecom{ext}": blob for ext, blob in parts.items()})


def geopackage() -> None:
    import geopandas as gpd

    path = HERE / "two_layers.gpkg"
    path.unlink(missing_ok=True)
    water = gpd.GeoDataFrame(
        [
            {
                "工程编号": "GS-001",
                "管线类别": "给水",
                "建设单位": "渝綦水务",
                "计划开工": "2027-03-01",
                "计划完工": "2027-03-20",
            }
        ],
        geometry=[LineString(_xy4545(TRUTH["GS-001"]))],
        crs="EPSG:4545",
    )
    power = gpd.GeoDataFrame(
        [
            {
                "工程编号": "DL-001",
                "管线类别": "电力",
                "建设单位": "国网綦江供电",
                "计划开工": "2027-04-01",
                "计划完工": "2027-04-15",
            }
        ],
        geometry=[LineString(_xy4545(TRUTH["DL-001"]))],
        crs="EPSG:4545",
    )
    pyogrio.write_dataframe(water, path, layer="water")
    pyogrio.write_dataframe(power, path, layer="power", append=True)


def kml() -> bytes:
    coords = " ".join(f"{lon},{lat},0" for lon, lat in TRUTH["RQ-001"])
    ring = " ".join(f"{lon},{lat}" for lon, lat in TRUTH["ZONE-1"])
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2">
<Document><name>路由</name>
<Folder><name>燃气</name>
<Placemark><name>RQ-001 燃气中压管</name>
<ExtendedData><Data name="工程编号"><value>RQ-001</value></Data>
<Data name="建设单位"><value>重庆港华燃气</value></Data>
<Data name="计划开工"><value>2027-03-05</value></Data>
<Data name="计划完工"><value>2027-03-25</value></Data></ExtendedData>
<LineString><coordinates>{coords}</coordinates></LineString></Placemark>
</Folder>
<Folder><name>给水</name>
<Placemark><name>工作坑</name>
<ExtendedData><SchemaData schemaUrl="#s"><SimpleData name="工程编号">ZONE-1</SimpleData>
<SimpleData name="建设单位">渝綦水务</SimpleData><SimpleData name="计划开工">2027-03-01</SimpleData>
<SimpleData name="计划完工">2027-03-04</SimpleData></SchemaData></ExtendedData>
<Polygon><outerBoundaryIs><LinearRing><coordinates>{ring}</coordinates></LinearRing></outerBoundaryIs></Polygon>
</Placemark>
</Folder>
</Document>
</kml>
"""
    data = text.encode("utf-8")
    (HERE / "routes.kml").write_bytes(data)
    _zip(HERE / "routes.kmz", {"doc.kml": data})
    return data


def dxf() -> None:
    doc = ezdxf.new("R2010")
    for name in ("给水", "DL-10kV", "TX", "0"):
        if name not in doc.layers:
            doc.layers.add(name)
    msp = doc.modelspace()
    water = _xy4545(TRUTH["GS-001"])
    msp.add_line(water[0], water[1], dxfattribs={"layer": "给水"})
    msp.add_line(water[1], water[2], dxfattribs={"layer": "给水"})
    msp.add_polyline2d(_xy4545(TRUTH["DL-001"]), dxfattribs={"layer": "DL-10kV"})
    msp.add_lwpolyline(_xy4545(TRUTH["TX-001"]), dxfattribs={"layer": "TX"})
    msp.add_lwpolyline(_xy4545(TRUTH["ZONE-1"][:-1]), close=True, dxfattribs={"layer": "给水"})
    msp.add_text("给水 DN300", dxfattribs={"layer": "0", "insert": water[0]})
    doc.header["$TDCREATE"] = 2461041.5
    stream = io.StringIO()
    doc.write(stream)
    (HERE / "cad.dxf").write_text(stream.getvalue(), encoding="utf-8")


def csvs() -> None:
    gcj = _gcj(TRUTH["GS-001"])
    rows = ["工程编号,序号,经度,纬度,管线类别,建设单位,计划开工,计划完工"]
    order = [2, 0, 1]  # shuffled on purpose: 序号 gives the vertex order
    for i in order:
        lon, lat = gcj[i]
        rows.append(f"GS-001,{i + 1},{lon:.10f},{lat:.10f},给水,渝綦水务,2027/3/1,2027/3/20")
    for i, (lon, lat) in enumerate(_gcj(TRUTH["DL-001"])):
        rows.append(f"DL-001,{i + 1},{lon:.10f},{lat:.10f},电力,国网綦江供电,2027/4/1,2027/4/15")
    (HERE / "amap_gcj02.csv").write_bytes(("\r\n".join(rows) + "\r\n").encode("gbk"))

    bd = _bd(TRUTH["RQ-001"])
    wkt = "LINESTRING (" + ", ".join(f"{lon:.10f} {lat:.10f}" for lon, lat in bd) + ")"
    text = f'工程编号,管线类别,建设单位,计划开工,计划完工,WKT\nRQ-001,燃气,重庆港华燃气,2027-03-05,2027-03-25,"{wkt}"\n'
    (HERE / "baidu_bd09.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))

    rows = ["工程编号,bd_lng,bd_lat,管线类别,建设单位,计划开工,计划完工"]
    for lon, lat in _bd(TRUTH["TX-001"]):
        rows.append(f"TX-001,{lon:.10f},{lat:.10f},通信,中国电信綦江分公司,2027-06-01,2027-06-05")
    (HERE / "baidu_cols.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def main() -> None:
    """Write every fixture."""
    np.seterr(all="ignore")
    (HERE / "truth.json").write_text(json.dumps(TRUTH, indent=1), encoding="utf-8")
    routes_geojson()
    bad_geojson()
    shapefiles()
    geopackage()
    kml()
    dxf()
    csvs()
    assert shapely.get_num_coordinates(Polygon(TRUTH["ZONE-1"])) == 5


if __name__ == "__main__":
    main()

"""geo.intake: every format and CRS path, against hand-picked vertices (tests/data/intake/truth.json).

The expected working-CRS coordinates are computed here with pyproj from the hand-picked
CGCS2000 lon/lat, never by the code under test; GCJ-02 / BD-09 fixtures were shifted with the
independent ``prcoords`` package (see make_fixtures.py).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely

from geo.intake import IntakeResult, read_many, read_works
from onetrench.domain import ExcavationMethod, GasPressureClass, UtilityKind
from onetrench.errors import CRSError, InputError, PayloadTooLarge, UnreadableFile
from onetrench.settings import Settings

DATA = Path(__file__).parent / "data" / "intake"
TRUTH: dict[str, list[list[float]]] = json.loads((DATA / "truth.json").read_text(encoding="utf-8"))
TO_4545 = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True)
CM = 0.01


def expected_xy(work_id: str) -> np.ndarray:
    pts = np.asarray(TRUTH[work_id])
    return np.column_stack(TO_4545.transform(pts[:, 0], pts[:, 1]))


def assert_at_truth(result: IntakeResult, work_id: str) -> None:
    work = next(w for w in result.works if w.work_id == work_id)
    got = shapely.get_coordinates(work.geometry)
    want = expected_xy(work_id)
    assert got.shape == want.shape, (work_id, got.shape, want.shape)
    assert np.hypot(*(got - want).T).max() < CM


def codes(problems: list) -> list[str]:
    return [p.code for p in problems]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with no boundary file: the bounding-box fallback (tested separately)."""
    return Settings(district_boundary=tmp_path / "missing.geojson")


# --------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------


def test_geojson_chinese_and_english_fields(settings: Settings) -> None:
    result = read_works(DATA / "routes.geojson", settings=settings)
    assert result.errors == []
    assert [w.work_id for w in result.works] == ["GS-001", "RQ-001", "ZONE-1"]
    for wid in ("GS-001", "RQ-001", "ZONE-1"):
        assert_at_truth(result, wid)
    water, gas, zone = result.works
    assert water.utility is UtilityKind.WATER
    assert (water.owner, water.name) == ("渝綦水务", "古南大道给水管改造")
    assert (water.start, water.end) == (dt.date(2027, 3, 1), dt.date(2027, 3, 20))
    assert (water.earliest_start, water.latest_end) == (dt.date(2027, 2, 15), dt.date(2027, 4, 30))
    assert (water.diameter_mm, water.depth_m, water.method) == (300.0, 1.5, ExcavationMethod.OPEN_CUT)
    assert water.contact.startswith("张工")
    assert water.attributes["备注"] == "保留的原始字段"
    assert water.source == "routes.geojson#0"
    assert gas.gas_pressure is GasPressureClass.MEDIUM_A and gas.emergency is False
    # Excel serials 46447 / 46450 = 2027-03-01 / 2027-03-04 (1899-12-30 epoch)
    assert (zone.start, zone.end) == (dt.date(2027, 3, 1), dt.date(2027, 3, 4))
    assert zone.geometry.geom_type == "Polygon"
    assert "geometry.z_dropped" in codes(result.warnings)
    assert "district.fallback_bbox" in codes(result.warnings)


def test_geojson_with_bom_or_nan_reads_as_without(settings: Settings) -> None:
    """orjson reads the document; a byte-order mark is skipped, and NaN (which orjson refuses) still
    reads, by the standard library, so that only its feature is reported."""
    data = (DATA / "routes.geojson").read_bytes()
    plain = read_works("routes.geojson", data=data, settings=settings)
    with_bom = read_works("routes.geojson", data=b"\xef\xbb\xbf" + data, settings=settings)
    assert [w.work_id for w in with_bom.works] == [w.work_id for w in plain.works] == ["GS-001", "RQ-001", "ZONE-1"]
    doc = json.loads(data)
    first = doc["features"][0]["geometry"]["coordinates"]
    first[0] = [float("nan"), first[0][1], *first[0][2:]]
    with_nan = read_works("routes.geojson", data=json.dumps(doc).encode(), settings=settings)
    assert [w.work_id for w in with_nan.works] == ["RQ-001", "ZONE-1"]
    assert {e.index for e in with_nan.errors} == {0}


def test_shapefile_gbk_without_cpg(settings: Settings) -> None:
    result = read_works(DATA / "gbk_nocpg.zip", settings=settings)
    assert result.errors == []
    assert {w.work_id: w.owner for w in result.works} == {"GS-001": "渝綦水务", "DL-001": "国网綦江供电"}
    assert_at_truth(result, "GS-001")
    assert_at_truth(result, "DL-001")
    power = result.works[1]
    assert power.utility is UtilityKind.POWER and power.voltage_kv == 10.0
    detected = [p for p in result.warnings if p.code == "file.encoding_detected"]
    assert detected and detected[0].extra["encoding"] == "gb18030"


def test_shapefile_with_cpg_utf8(settings: Settings) -> None:
    result = read_works(DATA / "utf8_cpg.zip", settings=settings)
    assert result.errors == []
    assert_at_truth(result, "TX-001")
    assert result.works[0].owner == "中国移动綦江分公司"
    assert "file.encoding_detected" not in codes(result.warnings)


def test_shapefile_by_path(settings: Settings, tmp_path: Path) -> None:
    with zipfile.ZipFile(DATA / "gbk_nocpg.zip") as zf:
        zf.extractall(tmp_path)
    result = read_works(tmp_path / "管线.shp", settings=settings)
    assert [w.work_id for w in result.works] == ["GS-001", "DL-001"]


def test_geopackage_layers(settings: Settings) -> None:
    for layer, wid in (("water", "GS-001"), ("power", "DL-001")):
        result = read_works(DATA / "two_layers.gpkg", layer=layer, settings=settings)
        assert result.errors == [] and [w.work_id for w in result.works] == [wid]
        assert_at_truth(result, wid)
    with pytest.raises(InputError) as info:
        read_works(DATA / "two_layers.gpkg", settings=settings)
    assert "water" in info.value.en and "power" in info.value.en and "--layer" in info.value.zh
    with pytest.raises(InputError):
        read_works(DATA / "two_layers.gpkg", layer="gas", settings=settings)


@pytest.mark.parametrize("name", ["routes.kml", "routes.kmz"])
def test_kml_and_kmz(name: str, settings: Settings) -> None:
    result = read_works(DATA / name, settings=settings)
    assert result.errors == []
    assert_at_truth(result, "RQ-001")
    assert_at_truth(result, "ZONE-1")
    gas, zone = result.works
    assert gas.utility is UtilityKind.GAS  # from the 燃气 folder
    assert zone.utility is UtilityKind.WATER and zone.geometry.geom_type == "Polygon"
    assert gas.name == "RQ-001 燃气中压管"


def test_dxf_layers_to_utilities(settings: Settings) -> None:
    defaults = {"计划开工": "2027-03-01", "计划完工": "2027-03-09", "建设单位": "设计院"}
    result = read_works(DATA / "cad.dxf", crs="EPSG:4545", settings=settings, defaults=defaults)
    assert result.errors == []
    by_layer = {w.attributes["layer"]: w for w in result.works}
    assert by_layer["DL-10kV"].utility is UtilityKind.POWER
    assert by_layer["TX"].utility is UtilityKind.TELECOM
    water = [w for w in result.works if w.utility is UtilityKind.WATER]
    assert sorted(w.geometry.geom_type for w in water) == ["LineString", "Polygon"]
    line = next(w for w in water if w.geometry.geom_type == "LineString")
    # two LINE entities merged into one route with the three truth vertices
    assert np.hypot(*(shapely.get_coordinates(line.geometry) - expected_xy("GS-001")).T).max() < CM
    assert "dxf.ignored_entities" in codes(result.warnings)


def test_dxf_layer_table_is_configurable(settings: Settings) -> None:
    defaults = {"start": "2027-03-01", "end": "2027-03-09"}
    table = {"tx": UtilityKind.POWER}
    result = read_works(DATA / "cad.dxf", crs=4545, settings=settings, defaults=defaults, layer_kinds=table)
    assert {w.attributes["layer"]: w.utility for w in result.works}["TX"] is UtilityKind.POWER


def test_dxf_without_crs_is_refused_with_candidate(settings: Settings) -> None:
    with pytest.raises(CRSError) as info:
        read_works(DATA / "cad.dxf", settings=settings)
    assert "EPSG:4545" in info.value.en


def _dxf_with_xdata() -> bytes:
    import ezdxf

    doc = ezdxf.new("R2010")
    doc.appids.add("QJ_TEST")
    msp = doc.modelspace()
    for wid in ("GS-001", "DL-001"):
        entity = msp.add_lwpolyline(expected_xy(wid).tolist(), dxfattribs={"layer": "管线"})
        entity.set_xdata("QJ_TEST", [(1000, wid)])
    stream = io.StringIO()
    doc.write(stream)
    return stream.getvalue().encode("utf-8")


def test_dxf_xdata_ids_and_attribute_table(settings: Settings, tmp_path: Path) -> None:
    table = "工程编号,管线类别,建设单位,计划开工,计划完工\nGS-001,给水,渝綦水务,2027-03-01,2027-03-20\n"
    table += "DL-001,电力,国网綦江供电,2027-04-01,2027-04-15\nXX-9,燃气,港华,2027-01-01,2027-01-02\n"
    result = read_works("cad.dxf", data=_dxf_with_xdata(), crs=4545, attributes=table.encode(), settings=settings)
    assert result.errors == []
    assert {w.work_id: w.utility for w in result.works} == {"GS-001": UtilityKind.WATER, "DL-001": UtilityKind.POWER}
    assert_at_truth(result, "GS-001")
    assert_at_truth(result, "DL-001")
    unmatched = next(p for p in result.warnings if p.code == "attributes.unmatched")
    assert "XX-9" in unmatched.en
    # the same by path: X_attrs.csv next to X.dxf is found, and read_many does not read it as routes
    (tmp_path / "plan.dxf").write_bytes(_dxf_with_xdata())
    (tmp_path / "plan_attrs.csv").write_text(table, encoding="utf-8-sig")
    both = read_many([tmp_path / "plan.dxf", tmp_path / "plan_attrs.csv"], crs="EPSG:4545", settings=settings)
    assert sorted(w.work_id for w in both.works) == ["DL-001", "GS-001"]
    assert "dxf.attributes_sidecar" in codes(both.warnings)


def test_csv_gcj02_vertices_gbk_and_order(settings: Settings) -> None:
    result = read_works(DATA / "amap_gcj02.csv", crs="gcj02", settings=settings)
    assert result.errors == []
    assert_at_truth(result, "GS-001")  # rows shuffled, 序号 restores the order
    assert_at_truth(result, "DL-001")
    assert result.works[0].owner == "渝綦水务"
    assert "file.encoding_detected" in codes(result.warnings)


def test_csv_gcj02_read_as_cgcs2000_is_hundreds_of_metres_off(settings: Settings) -> None:
    """Without --crs the same file is assumed CGCS2000, with a warning saying so."""
    data = (DATA / "amap_gcj02.csv").read_bytes()
    result = read_works("routes.csv", data=data, settings=settings)
    assert "crs.assumed" in codes(result.warnings)
    work = next(w for w in result.works if w.work_id == "GS-001")
    off = np.hypot(*(shapely.get_coordinates(work.geometry) - expected_xy("GS-001")).T)
    assert off.min() > 200


def test_crs_from_file_name(settings: Settings) -> None:
    result = read_works(DATA / "amap_gcj02.csv", settings=settings)
    assert "crs.from_file_name" in codes(result.warnings)
    assert_at_truth(result, "GS-001")


def test_csv_bd09_wkt_with_bom(settings: Settings) -> None:
    result = read_works(DATA / "baidu_bd09.csv", crs="百度", settings=settings)
    assert result.errors == []
    assert_at_truth(result, "RQ-001")


def test_csv_bd09_from_column_names(settings: Settings) -> None:
    result = read_works(DATA / "baidu_cols.csv", settings=settings)
    assert result.errors == []
    assert_at_truth(result, "TX-001")
    assert "crs.from_column_names" in codes(result.warnings)


def test_bytes_upload_and_source_name(settings: Settings) -> None:
    data = (DATA / "routes.kmz").read_bytes()
    result = read_works("upload.bin", data=data, source_name="规划院.kmz", settings=settings)
    assert [w.source for w in result.works] == ["规划院.kmz#0", "规划院.kmz#1"]


# --------------------------------------------------------------------------------------
# CRS choices
# --------------------------------------------------------------------------------------


def _csv_wkt(points: list[tuple[float, float]], extra: str = "") -> bytes:
    wkt = "LINESTRING (" + ", ".join(f"{x} {y}" for x, y in points) + ")"
    return (f'工程编号,管线类别,计划开工,计划完工,wkt{extra}\nX-1,燃气,2027-05-01,2027-05-09,"{wkt}"\n').encode()


def test_projected_without_crs_is_an_error_naming_the_candidate(settings: Settings) -> None:
    pts = [tuple(p) for p in expected_xy("GS-001")]
    with pytest.raises(CRSError) as info:
        read_works("p.csv", data=_csv_wkt(pts), settings=settings)
    assert "EPSG:4545" in info.value.zh
    result = read_works("p.csv", data=_csv_wkt(pts), crs="EPSG:4545", settings=settings)
    assert result.errors == [] and len(result.works) == 1


def test_local_grid_without_crs_fits_nothing(settings: Settings) -> None:
    with pytest.raises(CRSError) as info:
        read_works("local.csv", data=_csv_wkt([(1200.0, 3400.0), (1300.0, 3500.0)]), settings=settings)
    assert "fit no plausible system" in info.value.en


def test_declared_crs_versus_the_files_own(settings: Settings) -> None:
    result = read_works(DATA / "gbk_nocpg.zip", crs="EPSG:4545", settings=settings)
    assert not {"crs.overridden", "crs.declared_ignored"} & set(codes(result.warnings))  # same CRS
    # a file with its own CRS keeps it (fallback mode); the declared one is reported as not used
    result = read_works(DATA / "gbk_nocpg.zip", crs="EPSG:4490", settings=settings)
    assert "crs.declared_ignored" in codes(result.warnings)
    assert_at_truth(result, "GS-001")
    # override mode: the declared CRS wins (here wrongly: metres read as degrees are outside)
    result = read_works(DATA / "gbk_nocpg.zip", crs="EPSG:4490", crs_mode="override", settings=settings)
    assert "crs.overridden" in codes(result.warnings) and not result.works
    assert set(codes(result.errors)) == {"geometry.outside_district"}


def test_declared_crs_beats_specification_default_and_hints(settings: Settings) -> None:
    """KML is WGS84 by specification, but 奥维 exports may be GCJ-02: a declared CRS applies."""
    kml = (DATA / "routes.kml").read_text(encoding="utf-8")
    result = read_works("ovi.kml", data=kml.encode(), crs="gcj02", settings=settings)
    assert not {"crs.overridden", "crs.declared_ignored"} & set(codes(result.warnings))
    work = next(w for w in result.works if w.work_id == "RQ-001")
    off = np.hypot(*(shapely.get_coordinates(work.geometry) - expected_xy("RQ-001")).T)
    assert off.min() > 200  # truth was WGS84, so reading it as GCJ-02 shifts it
    # the declared CRS also beats the BD-09 hint of the column names
    result = read_works(DATA / "baidu_cols.csv", crs="bd09", settings=settings)
    assert "crs.from_column_names" not in codes(result.warnings)
    assert_at_truth(result, "TX-001")


def test_geojson_crs_member_projected(settings: Settings) -> None:
    pts = expected_xy("DL-001").tolist()
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4545"}},
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "工程编号": "DL-001",
                    "管线类别": "电力",
                    "计划开工": "2027-04-01",
                    "计划完工": "2027-04-15",
                },
                "geometry": {"type": "LineString", "coordinates": pts},
            }
        ],
    }
    result = read_works("p.geojson", data=json.dumps(doc).encode(), settings=settings)
    assert result.errors == []
    assert_at_truth(result, "DL-001")


def test_unknown_declared_crs(settings: Settings) -> None:
    with pytest.raises(CRSError):
        read_works(DATA / "routes.geojson", crs="EPSG:0", settings=settings)


# --------------------------------------------------------------------------------------
# Trench width, JSON, several files, boundary
# --------------------------------------------------------------------------------------


def test_every_work_has_a_trench_width(settings: Settings) -> None:
    result = read_many([*sorted(DATA.glob("*.kml")), DATA / "routes.geojson"], settings=settings)
    assert all(w.trench_width_m and w.trench_width_m > 0 for w in result.works)
    water = next(w for w in result.works if w.work_id == "GS-001")
    assert water.trench_width_m == pytest.approx(0.3 + 2 * 0.3)  # GB 50268 table 4.3.2, D0 ≤ 500 metal/plastic
    assert "GB 50268" in water.attributes["trench_width_basis"]


def test_given_trench_width_is_kept(settings: Settings) -> None:
    doc = json.loads((DATA / "routes.geojson").read_text(encoding="utf-8"))
    doc["features"][0]["properties"]["沟槽宽度"] = "1.6m"
    result = read_works("r.geojson", data=json.dumps(doc).encode(), settings=settings)
    assert result.works[0].trench_width_m == 1.6
    assert "trench_width_basis" not in result.works[0].attributes


def test_to_json_shape(settings: Settings) -> None:
    result = read_works(DATA / "routes.geojson", settings=settings)
    out = json.loads(json.dumps(result.to_json(), ensure_ascii=False))
    assert set(out) == {"works", "errors", "warnings"}
    work = out["works"][0]
    assert work["work_id"] == "GS-001" and work["utility"] == "water" and work["start"] == "2027-03-01"
    assert work["geometry_crs"] == "EPSG:4490"
    np.testing.assert_allclose(work["geometry"]["coordinates"], TRUTH["GS-001"], atol=1e-7)
    assert work["length_m"] == pytest.approx(LineStringLength.of("GS-001"), abs=0.01)
    assert all({"code", "zh", "en", "severity"} <= set(w) for w in out["warnings"])


class LineStringLength:
    @staticmethod
    def of(work_id: str) -> float:
        xy = expected_xy(work_id)
        return float(np.hypot(*np.diff(xy, axis=0).T).sum())


def test_read_many_duplicates_across_files(settings: Settings) -> None:
    result = read_many([DATA / "routes.kml", DATA / "baidu_bd09.csv"], crs=None, settings=settings)
    # RQ-001 is in both files (the CSV needs --crs bd09, but the id clash is what matters here)
    dupes = [p for p in result.errors if p.code == "work_id.duplicate"]
    assert {p.source for p in dupes} == {"routes.kml", "baidu_bd09.csv"}
    assert "RQ-001" not in [w.work_id for w in result.works]


def test_read_many_reports_unreadable(settings: Settings, tmp_path: Path) -> None:
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json", encoding="utf-8")
    result = read_many([broken, DATA / "routes.kml"], settings=settings, on_unreadable="report")
    assert result.unreadable == ["broken.geojson"] and not result.ok
    assert len(result.works) == 2
    with pytest.raises(UnreadableFile):
        read_many([broken], settings=settings)


def test_boundary_file_partly_and_entirely_outside(tmp_path: Path) -> None:
    # A boundary whose east edge is at 106.655 E: GS-001 (106.650–106.656) is partly outside,
    # DL-001 (106.660) entirely.
    boundary = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[106.6, 29.0], [106.655, 29.0], [106.655, 29.1], [106.6, 29.1], [106.6, 29.0]]],
                },
            }
        ],
    }
    path = tmp_path / "boundary.geojson"
    path.write_text(json.dumps(boundary), encoding="utf-8")
    settings = Settings(district_boundary=path)
    result = read_works(DATA / "gbk_nocpg.zip", settings=settings)
    assert "district.fallback_bbox" not in codes(result.warnings)
    partly = [p for p in result.warnings if p.code == "geometry.partly_outside_district"]
    assert [p.feature_id for p in partly] == ["GS-001"]
    # outside part: the last third of the last segment (106.653 → 106.656 E, cut at 106.655 E)
    xy = expected_xy("GS-001")
    last_segment = float(np.hypot(*(xy[2] - xy[1])))
    assert partly[0].extra["outside"] == pytest.approx(last_segment / 3, rel=0.02)
    outside = [p for p in result.errors if p.code == "geometry.outside_district"]
    assert [p.feature_id for p in outside] == ["DL-001"]
    assert [w.work_id for w in result.works] == ["GS-001"]


def test_size_limits(settings: Settings) -> None:
    small = Settings(district_boundary=settings.district_boundary, max_upload_bytes=100)
    with pytest.raises(PayloadTooLarge):
        read_works(DATA / "routes.geojson", settings=small)
    with pytest.raises(PayloadTooLarge):
        read_works("x.geojson", data=b"{" * 200, settings=small)


def test_zip_bomb_is_refused(settings: Settings) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", b"<kml>" + b" " * 5_000_000 + b"</kml>")
    small = Settings(district_boundary=settings.district_boundary, max_upload_bytes=100_000)
    with pytest.raises(UnreadableFile) as info:
        read_works("bomb.kmz", data=buf.getvalue(), settings=small)
    assert "zip bomb" in info.value.en


@pytest.mark.parametrize(
    "payload",
    [
        # billion laughs
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b"<kml><Placemark><name>&lol2;</name></Placemark></kml>",
        # XXE
        b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<kml><Placemark><name>&xxe;</name></Placemark></kml>",
    ],
    ids=["billion-laughs", "xxe"],
)
def test_hostile_kml_is_unreadable(payload: bytes, settings: Settings) -> None:
    with pytest.raises(UnreadableFile) as info:
        read_works("evil.kml", data=payload, settings=settings)
    assert "evil.kml" in info.value.zh


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.geojson", b""),
        ("x.geojson", b"[1, 2, 3]"),
        ("x.gpkg", b"SQLite format 3\x00" + b"\x00" * 100),
        ("x.zip", b"PK\x03\x04garbage"),
        ("x.bin", b"\x00\x01\x02\x03"),
        ("x.csv", "名称,备注\n甲,乙\n".encode()),
    ],
)
def test_unreadable_files(name: str, data: bytes, settings: Settings) -> None:
    with pytest.raises(UnreadableFile) as info:
        read_works(name, data=data, settings=settings)
    assert info.value.zh and info.value.en


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("x.dxf", b"0\nSECTION\n2\nENTITIES\n0\nLINE\n10\nabc\n"),
        ("x.geojson", b'{"type": "FeatureCollection", "features": []}'),
        ("x.kml", b"<kml><Document/></kml>"),
    ],
)
def test_files_without_features_are_an_error(name: str, data: bytes, settings: Settings) -> None:
    result = read_works(name, data=data, settings=settings)
    assert codes(result.errors) == ["file.no_features"] and not result.ok


def test_missing_file(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile):
        read_works(tmp_path / "nope.geojson", settings=settings)


ROOT = Path(__file__).parents[1]
TELECOM_COMPANIES = {"mobile", "dianxin", "unicom"}


def _road_corridors() -> dict[str, shapely.Geometry]:
    """Road name → corridor (centreline buffered by half the red-line width), EPSG:4545."""
    doc = json.loads((ROOT / "data" / "roads.geojson").read_text(encoding="utf-8"))
    parts: dict[str, list[shapely.Geometry]] = {}
    for feature in doc["features"]:
        xy = np.asarray(feature["geometry"]["coordinates"])
        line = shapely.LineString(np.column_stack(TO_4545.transform(xy[:, 0], xy[:, 1])))
        half = feature["properties"]["width_m"] / 2
        parts.setdefault(feature["properties"]["name"], []).append(line.buffer(half, cap_style="flat"))
    return {name: shapely.union_all(p) for name, p in parts.items()}


def test_data_routes_match_ground_truth() -> None:
    """Every file in data/routes/ reads without error into the works of data/cases.json.

    Each work lies in the corridors of the roads its legs name (a GCJ-02 / BD-09 file read in
    the wrong CRS would be hundreds of metres off), with the planned dates and attributes.
    """
    routes = ROOT / "data" / "routes"
    if not (ROOT / "data" / "cases.json").is_file() or not routes.is_dir():
        pytest.skip("data/ not generated (run data/generate.py)")
    cases = json.loads((ROOT / "data" / "cases.json").read_text(encoding="utf-8"))["works"]
    settings = Settings()
    others = [p for p in sorted(routes.iterdir()) if p.suffix != ".dxf" and not p.name.endswith("_attrs.csv")]
    result = read_many(others, settings=settings)
    result.add(read_works(routes / "unicom_cad.dxf", crs="EPSG:4545", settings=settings))
    assert result.errors == []
    works = {w.work_id: w for w in result.works}
    assert set(works) == set(cases)
    corridors = _road_corridors()
    for work_id, case in cases.items():
        work = works[work_id]
        utility = "telecom" if case["utility"] in TELECOM_COMPANIES else case["utility"]
        assert (work.utility.value, work.owner, work.emergency) == (utility, case["owner"], case["emergency"])
        assert work.diameter_mm == case["diameter_mm"]
        for key in ("start", "end", "earliest_start", "latest_end"):
            value = getattr(work, key)
            assert (value.isoformat() if value else None) == case[key], (work_id, key)
        legs = shapely.union_all([corridors[road] for road, *_ in case["legs"]])
        inside = work.geometry.intersection(legs).length
        assert inside >= work.geometry.length - case["off_road_m"] - 1.0, work_id
        along = sum(abs(b - a) for _, a, b, _ in case["legs"]) + case["off_road_m"]
        assert work.geometry.length == pytest.approx(along, rel=0.03), work_id  # bends and off-road ends

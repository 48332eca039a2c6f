"""Road network reading and validation (geo.roads)."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pyproj
import pytest
from shapely import LineString, MultiLineString, Point

from geo.roads import read_roads, roads_from_geodataframe
from onetrench.domain import PavementKind, RoadClass, WorksKind
from onetrench.errors import CRSError, InputError, UnreadableFile
from onetrench.settings import Settings

DATA = Path(__file__).parent / "data" / "roads"
GOOD = DATA / "qijiang_roads.geojson"
BAD = DATA / "bad_roads.geojson"


def _projected_length(lonlat: list[tuple[float, float]], crs: str = "EPSG:4545") -> float:
    tr = pyproj.Transformer.from_crs("EPSG:4490", crs, always_xy=True)
    pts = [tr.transform(x, y) for x, y in lonlat]
    return sum(math.dist(a, b) for a, b in itertools.pairwise(pts))


def _write_variants(tmp_path: Path) -> dict[str, Path]:
    gdf = pyogrio.read_dataframe(GOOD)
    gdf["竣工日期"] = [None if pd.isna(v) else str(v)[:10] for v in gdf["竣工日期"]]  # text, as in .dbf files
    gpkg = tmp_path / "roads.gpkg"
    pyogrio.write_dataframe(gdf, gpkg, layer="道路中心线")
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    pyogrio.write_dataframe(gdf, shp_dir / "roads.shp", encoding="GBK")
    zpath = tmp_path / "roads.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for f in shp_dir.iterdir():
            z.write(f, f.name)
    return {"geojson": GOOD, "gpkg": gpkg, "zip": zpath}


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "zip"])
def test_read_formats_with_chinese_aliases(tmp_path: Path, fmt: str) -> None:
    path = _write_variants(tmp_path)[fmt]
    net = read_roads(path, settings=Settings())
    assert [r.road_id for r in net.roads] == ["QJ-001", "QJ-002", "QJ-003"]
    r1, r2, r3 = net.roads
    assert r1.name == "通惠大道"
    assert r1.road_class is RoadClass.ARTERIAL
    assert r1.width_m == 40.0
    assert r1.last_works_date == dt.date(2023, 5, 1)
    assert r1.last_works_kind is WorksKind.REBUILD
    assert r3.last_works_kind is WorksKind.OVERHAUL
    assert r3.last_works_date == dt.date(2019, 10, 1)
    assert r3.pavement is PavementKind.CONCRETE
    assert r3.width_m == 16.0
    # Missing width: the class default, with a warning naming the road.
    assert r2.road_class is RoadClass.SECONDARY
    assert r2.width_m == Settings().default_road_width_m[RoadClass.SECONDARY]
    assert [(w.code, w.feature_id, w.severity) for w in net.warnings] == [("road.width_default", "QJ-002", "warning")]
    # Reprojected to the working CRS (metres), length as pyproj computes it.
    expected = _projected_length([(106.65, 29.03), (106.66, 29.03), (106.67, 29.0305)])
    assert r1.geometry.length == pytest.approx(expected, rel=1e-9)
    assert 300_000 < r1.geometry.coords[0][0] < 500_000  # west of CM 108E, no zone prefix


def test_working_crs_setting_is_used() -> None:
    net = read_roads(GOOD, settings=Settings(working_crs="EPSG:4544"))
    expected = _projected_length([(106.655, 29.025), (106.655, 29.035)], "EPSG:4544")
    assert net.roads[1].geometry.length == pytest.approx(expected, rel=1e-9)
    assert net.crs == "EPSG:4544"


def test_every_problem_is_collected() -> None:
    with pytest.raises(InputError) as info:
        read_roads(BAD, settings=Settings())
    err = info.value
    got = sorted((p.code, p.index) for p in err.details)
    assert got == sorted(
        [
            ("road.duplicate_id", 0),
            ("road.duplicate_id", 1),
            ("road.zero_length", 2),
            ("road.bad_class", 3),
            ("road.bad_width", 4),
            ("road.missing_id", 5),
            ("road.not_line", 6),
            ("road.bad_date", 7),
        ]
    )
    for p in err.details:
        assert p.zh and p.en and p.source == "bad_roads.geojson"
        assert "bad_roads.geojson" in p.en
    unknown = next(p for p in err.details if p.code == "road.bad_class")
    assert "高速公路" in unknown.zh and "快速路" in unknown.zh  # says what is wrong and what is allowed


def test_missing_required_columns() -> None:
    gdf = gpd.GeoDataFrame({"名称": ["x"]}, geometry=[LineString([(0, 0), (1, 0)])], crs="EPSG:4545")
    with pytest.raises(InputError) as info:
        roads_from_geodataframe(gdf, settings=Settings())
    assert sorted(p.field for p in info.value.details if p.field) == ["class", "road_id"]


def test_no_crs_is_refused() -> None:
    gdf = gpd.GeoDataFrame({"road_id": ["a"], "class": ["支路"]}, geometry=[LineString([(0, 0), (1, 0)])])
    with pytest.raises(CRSError):
        roads_from_geodataframe(gdf, settings=Settings())


def test_unreadable_and_unsupported(tmp_path: Path) -> None:
    junk = tmp_path / "junk.geojson"
    junk.write_text("{not json", encoding="utf-8")
    with pytest.raises(UnreadableFile):
        read_roads(junk)
    with pytest.raises(UnreadableFile):
        read_roads(tmp_path / "roads.csv")
    txt = tmp_path / "roads.txt"
    txt.write_text("x", encoding="utf-8")
    with pytest.raises(UnreadableFile):
        read_roads(txt)


def test_english_fields_numeric_ids_and_multilines() -> None:
    gdf = gpd.GeoDataFrame(
        {
            "road_id": [101.0, 102.0],
            "name": ["a", None],
            "class": ["Arterial", "branch"],
            "width_m": [30.0, 12.0],
        },
        geometry=[
            MultiLineString([[(0, 0), (50, 0)], [(50, 0), (100, 0)]]),  # mergeable → LineString
            LineString([(0, 10, 5), (80, 10, 6)]),  # Z dropped
        ],
        crs="EPSG:4545",
    )
    net = roads_from_geodataframe(gdf, settings=Settings())
    assert [r.road_id for r in net.roads] == ["101", "102"]
    assert net.roads[0].geometry.geom_type == "LineString"
    assert net.roads[0].geometry.length == pytest.approx(100.0)
    assert not net.roads[1].geometry.has_z
    assert net.roads[1].name == ""
    assert net.warnings == []


def test_point_geometry_and_empty() -> None:
    gdf = gpd.GeoDataFrame(
        {"road_id": ["a", "b"], "class": ["支路", "支路"], "width_m": [10, 10]},
        geometry=[Point(0, 0), LineString()],
        crs="EPSG:4545",
    )
    with pytest.raises(InputError) as info:
        roads_from_geodataframe(gdf, settings=Settings())
    assert sorted(p.code for p in info.value.details) == ["road.empty_geometry", "road.not_line"]


def test_read_then_detect_on_real_coordinates() -> None:
    from geo.overlap import detect
    from onetrench.domain import UtilityKind, Work

    settings = Settings()
    net = read_roads(GOOD, settings=settings)
    tr = pyproj.Transformer.from_crs("EPSG:4490", settings.working_crs, always_xy=True)

    def work(wid: str, lon0: float, lon1: float, dlat: float) -> Work:
        pts = [tr.transform(lon, 29.0300 + dlat) for lon in (lon0, lon1)]
        return Work(
            work_id=wid,
            utility=UtilityKind.WATER,
            owner="渝綦水务",
            geometry=LineString(pts),
            start=dt.date(2027, 3, 1),
            end=dt.date(2027, 3, 30),
        )

    # Two works along 通惠大道 (QJ-001, 40 m): 0.00005° of latitude ≈ 5.5 m off the centreline.
    a = work("A", 106.6510, 106.6560, 0.00005)
    b = work("B", 106.6540, 106.6590, -0.00005)
    res = detect([a, b], net, settings=settings)
    on_1 = [s for s in res.shared if s.road_id == "QJ-001"]
    assert len(on_1) == 1
    expected = _projected_length([(106.6540, 29.0300), (106.6560, 29.0300)])  # ≈ 195 m
    assert on_1[0].shared_m == pytest.approx(expected, rel=0.01)


def test_gbk_shapefile_without_cpg_and_without_prj(tmp_path: Path) -> None:
    gdf = pyogrio.read_dataframe(GOOD)
    gdf["竣工日期"] = [None if pd.isna(v) else str(v)[:10] for v in gdf["竣工日期"]]
    pyogrio.write_dataframe(gdf, tmp_path / "roads.shp", encoding="GBK")
    zpath = tmp_path / "roads.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for ext in ("shp", "shx", "dbf"):  # no .cpg (GBK assumed), no .prj (lon/lat in Chongqing)
            z.write(tmp_path / f"roads.{ext}", f"roads.{ext}")
    net = read_roads(zpath, settings=Settings())
    assert [r.name for r in net.roads] == ["通惠大道", "九龙大道", "沙溪路"]
    assert {w.code for w in net.warnings} == {"road.crs_assumed", "road.width_default"}
    expected = _projected_length([(106.65, 29.03), (106.66, 29.03), (106.67, 29.0305)])
    assert net.roads[0].geometry.length == pytest.approx(expected, rel=1e-9)


def test_no_crs_outside_chongqing_is_refused() -> None:
    gdf = gpd.GeoDataFrame({"road_id": ["a"], "class": ["支路"]}, geometry=[LineString([(116.3, 39.9), (116.4, 39.9)])])
    with pytest.raises(CRSError):
        roads_from_geodataframe(gdf, settings=Settings())

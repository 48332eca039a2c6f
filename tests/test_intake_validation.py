"""geo.validate, geo.fields and geo.trench: every error class, value parsers, default widths."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiLineString, Point, Polygon

from geo.crs import resolve_crs
from geo.fields import (
    map_fields,
    normalise_name,
    parse_bool,
    parse_date,
    parse_diameter_mm,
    parse_length_m,
    parse_number,
    utility_from_text,
)
from geo.intake import read_works
from geo.trench import default_trench_width, working_space_b1_m
from geo.validate import Where, check_geometry, load_district, outside_district, parse_attributes
from onetrench.domain import UtilityKind, Work
from onetrench.settings import Settings

DATA = Path(__file__).parent / "data" / "intake"
TO_4545 = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(district_boundary=tmp_path / "missing.geojson")


# --------------------------------------------------------------------------------------
# Every error class, one feature each (tests/data/intake/bad.geojson)
# --------------------------------------------------------------------------------------


def test_bad_file_reports_every_feature_with_its_class(settings: Settings) -> None:
    expected = json.loads((DATA / "bad_expected.json").read_text(encoding="utf-8"))
    ids = [f"B-{i:02d}" for i in range(1, 19)] + ["B-18", "B-19", "B-20"]  # B-18 twice
    result = read_works(DATA / "bad.geojson", settings=settings)
    assert result.works == []
    assert result.n_features == len(expected) == result.invalid_features
    for index, code in enumerate(expected):
        got = [p.code for p in result.errors if p.index == index]
        assert code in got, (index, code, got)
    for p in result.errors:
        assert p.source == "bad.geojson" and p.zh and p.en and p.severity == "error"
        assert p.feature_id == ids[p.index]


def test_invalid_polygon_location_and_make_valid(settings: Settings) -> None:
    result = read_works(DATA / "bad.geojson", settings=settings)
    invalid = next(p for p in result.errors if p.code == "geometry.invalid")
    # the bow-tie's diagonals cross at its centre (106.6505, 29.0305), in file coordinates
    assert invalid.location == pytest.approx((106.6505, 29.0305))
    assert invalid.extra["make_valid_fixes"] is True
    loop = next(p for p in result.errors if p.code == "geometry.self_intersection")
    # segments (106.650,29.030)-(106.652,29.032) and (106.652,29.030)-(106.650,29.032) cross at (106.651, 29.031)
    assert loop.location == pytest.approx((106.651, 29.031))
    assert loop.extra["make_valid_fixes"] is False


def test_one_broken_feature_does_not_stop_the_others(settings: Settings) -> None:
    doc = json.loads((DATA / "routes.geojson").read_text(encoding="utf-8"))
    doc["features"].insert(
        1,
        {
            "type": "Feature",
            "properties": {"工程编号": "X"},
            "geometry": {"type": "LineString", "coordinates": [[1, "a"]]},
        },
    )
    doc["features"].insert(2, "not a feature")
    result = read_works("r.geojson", data=json.dumps(doc).encode(), settings=settings)
    assert [w.work_id for w in result.works] == ["GS-001", "RQ-001", "ZONE-1"]
    assert [p.index for p in result.errors if p.code == "geometry.unreadable"] == [1, 2]


def test_vertex_limit(settings: Settings) -> None:
    small = Settings(district_boundary=settings.district_boundary, max_vertices_per_feature=2)
    result = read_works(DATA / "routes.geojson", settings=small)
    assert [p.feature_id for p in result.errors if p.code == "geometry.too_many_vertices"] == ["GS-001", "ZONE-1"]


def test_infinite_coordinates_in_csv(settings: Settings) -> None:
    data = (
        "工程编号,管线类别,计划开工,计划完工,wkt\n"
        'I-1,燃气,2027-05-01,2027-05-09,"LINESTRING (106.65 29.03, inf 29.04)"\n'
    )
    result = read_works("i.csv", data=data.encode(), crs="EPSG:4490", settings=settings)
    assert [p.code for p in result.errors] == ["geometry.not_finite"]


def test_check_geometry_normalises_collections(settings: Settings) -> None:
    src = resolve_crs("EPSG:4490")
    where = Where("f", 0)
    coll = shapely.GeometryCollection(
        [LineString([(106.65, 29.03), (106.66, 29.03)]), LineString([(106.66, 29.03), (106.66, 29.04)])]
    )
    geom, problems = check_geometry(coll, where, src=src, settings=settings)
    assert geom is not None and geom.geom_type == "MultiLineString" and problems == []
    mixed = shapely.GeometryCollection([Point(106.65, 29.03), LineString([(106.65, 29.03), (106.66, 29.03)])])
    geom, problems = check_geometry(mixed, where, src=src, settings=settings)
    assert geom is None and [p.code for p in problems] == ["geometry.unsupported_type"]


def test_crossing_branches_of_a_multilinestring_are_fine(settings: Settings) -> None:
    """A network of branches may cross; only a part crossing itself is an error."""
    multi = MultiLineString([[(106.650, 29.030), (106.652, 29.032)], [(106.652, 29.030), (106.650, 29.032)]])
    geom, problems = check_geometry(multi, Where("f", 0), src=resolve_crs(4490), settings=settings)
    assert geom is not None and problems == []


def test_closed_ring_route_is_not_self_intersecting(settings: Settings) -> None:
    ring = LineString([(106.650, 29.030), (106.652, 29.030), (106.652, 29.032), (106.650, 29.030)])
    geom, problems = check_geometry(ring, Where("f", 0), src=resolve_crs(4490), settings=settings)
    assert geom is not None and problems == []


# --------------------------------------------------------------------------------------
# District boundary
# --------------------------------------------------------------------------------------


def _work(geom: object, wid: str = "W") -> Work:
    return Work(
        work_id=wid,
        utility=UtilityKind.GAS,
        owner="",
        geometry=geom,
        start=dt.date(2027, 1, 1),
        end=dt.date(2027, 1, 2),
    )


def _line(lons: list[float], lats: list[float]) -> LineString:
    return LineString(list(zip(*TO_4545.transform(lons, lats), strict=True)))


def test_outside_district_fallback_bbox(settings: Settings) -> None:
    district = load_district(settings=settings)
    assert district.is_fallback
    inside = _line([106.65, 106.66], [29.03, 29.03])
    across = _line([107.05, 107.07], [29.0, 29.0])
    far = _line([108.0, 108.1], [30.0, 30.0])
    found = outside_district([_work(inside, "A"), _work(across, "B"), _work(far, "C")], settings=settings)
    assert [(p.work_id, p.entirely_outside) for p in found] == [("B", False), ("C", True)]
    # B: from 107.06 E to 107.07 E is outside: half the route, measured in metres
    assert found[0].fraction == pytest.approx(0.5, abs=0.01)
    assert found[0].measure == pytest.approx(across.length / 2, rel=0.01)


def test_outside_district_with_boundary_file_and_polygon(tmp_path: Path) -> None:
    path = tmp_path / "b.geojson"
    square = [[106.6, 29.0], [106.7, 29.0], [106.7, 29.1], [106.6, 29.1], [106.6, 29.0]]
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [square]}), encoding="utf-8")
    settings = Settings(district_boundary=path)
    assert not load_district(settings=settings).is_fallback
    corners = TO_4545.transform([106.69, 106.71, 106.71, 106.69], [29.05, 29.05, 29.06, 29.06])
    zone = Polygon(list(zip(*corners, strict=True)))
    (part,) = outside_district([_work(zone)], settings=settings)
    assert part.fraction == pytest.approx(0.5, abs=0.02)
    assert part.geometry.geom_type == "Polygon"


def test_broken_boundary_file_is_a_config_error(tmp_path: Path) -> None:
    from onetrench.errors import ConfigError

    path = tmp_path / "b.geojson"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_district(settings=Settings(district_boundary=path))


# --------------------------------------------------------------------------------------
# Field names and values
# --------------------------------------------------------------------------------------


def test_map_fields_chinese_and_english() -> None:
    names = [
        "工程编号",
        "工程名称",
        "建设单位",
        "管线类别",
        "管径(mm)",
        "电压等级",
        "压力级制",
        "沟槽宽度（m）",
        "埋深/m",
        "计划开工",
        "计划完工",
        "最早开工",
        "最晚完工",
        "施工方式",
        "抢修",
        "联系人",
        "Work_ID",
        "备注",
    ]
    mapped = map_fields(names)
    assert mapped == {
        "工程编号": "work_id",
        "工程名称": "name",
        "建设单位": "owner",
        "管线类别": "utility",
        "管径(mm)": "diameter_mm",
        "电压等级": "voltage_kv",
        "压力级制": "gas_pressure",
        "沟槽宽度（m）": "trench_width_m",
        "埋深/m": "depth_m",
        "计划开工": "start",
        "计划完工": "end",
        "最早开工": "earliest_start",
        "最晚完工": "latest_end",
        "施工方式": "method",
        "抢修": "emergency",
        "联系人": "contact",
    }
    assert map_fields(["START_DATE", "End Date", "Trench-Width"]) == {
        "START_DATE": "start",
        "End Date": "end",
        "Trench-Width": "trench_width_m",
    }
    assert normalise_name(" Planned Start ") == "plannedstart"


@pytest.mark.parametrize(
    "raw",
    [
        "2026-03-01",
        "2026/3/1",
        "2026.3.1",
        "2026年3月1日",
        "2026年03月01日",
        "20260301",
        20260301,
        46082,
        "46082",
        "2026-03-01 08:30:00",
        "2026-03-01T08:30:00",
        dt.date(2026, 3, 1),
        dt.datetime(2026, 3, 1, 8),
    ],
)
def test_parse_date_forms(raw: object) -> None:
    assert parse_date(raw) == dt.date(2026, 3, 1)


@pytest.mark.parametrize("raw", ["", "下个月", "2026-13-01", "2026-02-30", "1", True, float("nan"), "3/1/2026"])
def test_parse_date_rejects(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_date(raw)


def test_number_parsers() -> None:
    assert parse_diameter_mm("DN300") == 300 and parse_diameter_mm("De110") == 110 and parse_diameter_mm("Φ600") == 600
    assert parse_diameter_mm("0.3m") == 300 and parse_diameter_mm("300mm") == 300
    assert parse_number("10kV") == 10 and parse_number("110千伏") == 110 and parse_number("1,200") == 1200
    assert parse_length_m("1.2m") == 1.2 and parse_length_m("120cm") == 1.2 and parse_length_m("800mm") == 0.8
    with pytest.raises(ValueError):
        parse_number("无")
    assert parse_bool("是") and not parse_bool("否") and parse_bool("Y") and not parse_bool(0)
    with pytest.raises(ValueError):
        parse_bool("也许")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("给水", UtilityKind.WATER),
        ("JS", UtilityKind.WATER),
        ("JS_DN300", UtilityKind.WATER),
        ("给水管线", UtilityKind.WATER),
        ("DL-10kV", UtilityKind.POWER),
        ("10kV电力电缆", UtilityKind.POWER),
        ("RQ", UtilityKind.GAS),
        ("燃气中压", UtilityKind.GAS),
        ("TX", UtilityKind.TELECOM),
        ("通信光缆", UtilityKind.TELECOM),
        ("雨水", UtilityKind.DRAINAGE),
        ("telecom", UtilityKind.TELECOM),
        ("0", None),
        ("电力通信综合", None),
        ("", None),
    ],
)
def test_utility_from_text(text: str, kind: UtilityKind | None) -> None:
    assert utility_from_text(text) is kind


def test_parse_attributes_collects_everything() -> None:
    values = {
        "utility": "石油",
        "diameter_mm": "abc",
        "voltage_kv": "-10",
        "trench_width_m": "0",
        "depth_m": "11",
        "gas_pressure": "超高压",
        "method": "爆破",
        "emergency": "也许",
        "start": "2027-05-10",
        "end": "2027-05-01",
    }
    _, problems = parse_attributes(values, Where("f.csv", 3, "W-1"))
    by_field = {p.field: p.code for p in problems}
    assert by_field == {
        "utility": "attribute.unknown_utility",
        "owner": "attribute.missing_owner",
        "diameter_mm": "attribute.invalid",
        "voltage_kv": "attribute.implausible",
        "trench_width_m": "attribute.implausible",
        "depth_m": "attribute.implausible",
        "gas_pressure": "attribute.invalid",
        "method": "attribute.invalid",
        "emergency": "attribute.invalid",
        "end": "date.end_before_start",
    }
    assert all(p.index == 3 and p.feature_id == "W-1" and p.source == "f.csv" for p in problems)
    unknown = next(p for p in problems if p.code == "attribute.unknown_utility")
    assert unknown.extra["allowed"] == [m.value for m in UtilityKind] and "给水" in unknown.zh


def test_gas_pressure_from_mpa() -> None:
    parsed, _ = parse_attributes(
        {"utility": "燃气", "gas_pressure": "0.3MPa", "start": "2027-1-1", "end": "2027-1-2"}, Where("f")
    )
    assert parsed["gas_pressure"].value == "medium_a"


# --------------------------------------------------------------------------------------
# Trench widths (GB 50268-2008 §4.3.2: B = D0 + 2·b1, table 4.3.2)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "diameter", "voltage", "width"),
    [
        (UtilityKind.WATER, 300, None, 0.3 + 2 * 0.3),
        (UtilityKind.WATER, 800, None, 0.8 + 2 * 0.4),
        (UtilityKind.WATER, None, None, 0.3 + 2 * 0.3),  # DN300 assumed
        (UtilityKind.GAS, 160, None, 0.16 + 2 * 0.3),  # 0.76 → 0.80 (5 cm steps)
        (UtilityKind.DRAINAGE, 1200, None, 1.2 + 2 * 0.6),  # concrete rigid joint column
        (UtilityKind.DRAINAGE, None, None, 0.6 + 2 * 0.5),
        (UtilityKind.HEAT, 300, None, 2 * 0.3 + 0.3 + 2 * 0.3),
        (UtilityKind.POWER, None, 10, 0.8),
        (UtilityKind.POWER, None, 110, 1.4),
        (UtilityKind.POWER, None, 220, 1.8),
        (UtilityKind.POWER, 600, None, 0.6 + 2 * 0.3),  # duct bank width given
        (UtilityKind.TELECOM, None, None, 0.8),
    ],
)
def test_default_trench_width(kind: UtilityKind, diameter: float | None, voltage: float | None, width: float) -> None:
    got = default_trench_width(kind, diameter_mm=diameter, voltage_kv=voltage)
    expected = max(0.6, np.ceil(round(width * 20, 6)) / 20)
    assert got.width_m == pytest.approx(expected)
    assert got.basis_zh and got.basis_en


def test_b1_table_edges() -> None:
    assert working_space_b1_m(500, concrete=False) == 0.3
    assert working_space_b1_m(501, concrete=False) == 0.4
    assert working_space_b1_m(1500, concrete=True) == 0.6
    assert working_space_b1_m(4000, concrete=True) == 1.0


@hypothesis_settings(max_examples=60, deadline=None)
@given(day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_parse_date_every_chinese_form(day: dt.date) -> None:
    forms = [
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}.{day.month:02d}.{day.day:02d}",
        f"{day.year}年{day.month}月{day.day}日",
        f"{day.year}{day.month:02d}{day.day:02d}",
        (day - dt.date(1899, 12, 30)).days,  # Excel day serial
    ]
    for form in forms:
        if isinstance(form, int) and not 32874 <= form <= 91310:
            continue  # serials are only accepted for 1990–2149
        assert parse_date(form) == day, form


@pytest.mark.parametrize(
    ("dbf", "cpg", "expected"),
    [
        (b"\x03" + bytes(28) + b"\x4d" + bytes(2) + "管径".encode("gbk"), None, ("gbk", "ldid")),
        (b"\x03" + bytes(31) + "管径".encode("gbk"), b"936", ("gbk", "cpg")),
        (b"\x03" + bytes(31) + "管径".encode(), b"UTF-8\r\n", ("utf-8", "cpg")),
        (b"\x03" + bytes(31) + "管径".encode(), None, ("utf-8", "detected")),
        (b"\x03" + bytes(31) + "管径".encode("gbk"), b"nonsense", ("gb18030", "detected")),
        (b"\x03" + bytes(31) + b"\xff\xff\xff\xff", None, ("latin-1", "fallback")),
    ],
)
def test_dbf_encoding(dbf: bytes, cpg: bytes | None, expected: tuple[str, str]) -> None:
    from geo.intake.readers import detect_dbf_encoding

    assert detect_dbf_encoding(dbf, cpg) == expected

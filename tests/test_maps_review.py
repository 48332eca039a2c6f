"""Review and bundle maps (HTML): offline, escaped, the right features in the right layers."""

from __future__ import annotations

import colorsys
import datetime as dt
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from pyproj import Transformer
from shapely.geometry import LineString, shape

from maps._common import UTILITY_COLOURS, moratorium_until, stretch_geometry
from maps.bundle import bundle_map
from maps.review import review_map
from maps.sample import small_world
from onetrench.domain import (
    Finding,
    FindingKind,
    Interval,
    Occupancy,
    Road,
    RoadClass,
    Severity,
    UtilityKind,
    Work,
    WorksKind,
)
from onetrench.errors import InputError
from onetrench.settings import Settings

SETTINGS = Settings()
HOSTILE = '<script>alert("x")</script>'


class _Fetches(HTMLParser):
    """Collect every URL the page would fetch by itself (scripts, styles, images, frames)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
            if a.get("src"):
                self.urls.append(a["src"] or "")
        if tag == "link" and a.get("href") and not (a["href"] or "").startswith("data:"):
            self.urls.append(a["href"] or "")
        if tag in ("img", "iframe", "embed", "source") and a.get("src"):
            self.urls.append(a["src"] or "")


def layers_of(html: str) -> dict[str, list[dict[str, Any]]]:
    """Registry key → GeoJSON features, parsed from the page text."""
    data = {m.group(1): json.loads(m.group(2)) for m in re.finditer(r"var (\w+)_data = (\{.*?\});\n", html)}
    keys = dict(re.findall(r'onetrench\.register\("([^"]+)", \w+, (\w+),', html))
    return {key: data[var]["features"] for key, var in keys.items()}


def style_of(html: str, key: str) -> dict[str, Any]:
    var = dict(re.findall(r'onetrench\.register\("([^"]+)", \w+, (\w+),', html))[key]
    m = re.search(rf"var {var}_main = {var}_part\((\{{.*?\}}), true\);", html)
    assert m is not None
    return dict(json.loads(m.group(1)))


@pytest.fixture(scope="module")
def plan() -> Any:
    return small_world()


@pytest.fixture(scope="module")
def html(plan: Any) -> str:
    return review_map(
        works=plan.works, roads=plan.roads, findings=plan.findings, bundles=plan.bundles, settings=SETTINGS
    )


def test_page_fetches_nothing_from_the_network(html: str) -> None:
    parser = _Fetches()
    parser.feed(html)
    assert parser.urls == []
    assert parser.scripts >= 2  # Leaflet and the runtime are inlined
    assert not re.search(r"jsdelivr|cdnjs|unpkg|bootstrapcdn|code\.jquery|googleapis", html)
    assert "L.map(" in html and "preferCanvas" in html
    # every external-looking URL left in the page is a link target or a comment inside Leaflet
    assert not re.search(r"url\((?!data:|#)", html)  # data: URIs and same-document references only


def test_hostile_text_is_escaped(html: str) -> None:
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<b>某热力</b>" not in html
    # no string in the page closes a script element early: as many closings as openings
    assert html.count("</script>") == html.count("<script")


def test_features_per_layer_match_the_plan(html: str, plan: Any) -> None:
    layers = layers_of(html)
    for kind in UtilityKind:
        expected = sum(1 for w in plan.works if w.utility is kind)
        assert len(layers.get(f"utility:{kind.value}", [])) == expected, kind
    assert len(layers["roads"]) == len(plan.roads)
    assert len(layers["finding:same_road_different_period"]) == 1
    assert len(layers["finding:same_road_same_period"]) == 1
    assert len(layers["bundles"]) == 1
    # only 滨河路 (new 2024-05-01) is under moratorium
    assert len(layers["moratorium"]) == 1


def test_work_features_carry_their_dates_and_lie_where_the_work_is(html: str, plan: Any) -> None:
    to_gk = Transformer.from_crs("EPSG:4326", SETTINGS.working_crs, always_xy=True)
    layers = layers_of(html)
    water = plan.works[0]
    (feat,) = layers["utility:water"]
    assert (feat["properties"]["s"], feat["properties"]["e"]) == ("2026-03-02", "2026-04-15")
    lon, lat = feat["geometry"]["coordinates"][0]
    x, y = to_gk.transform(lon, lat)
    start = water.geometry.coords[0]
    assert abs(x - start[0]) < 0.5 and abs(y - start[1]) < 0.5  # 6 decimals ≈ 0.1 m


def test_dug_twice_stretch_is_the_shared_measures(html: str) -> None:
    to_gk = Transformer.from_crs("EPSG:4326", SETTINGS.working_crs, always_xy=True)
    (feat,) = layers_of(html)["finding:same_road_different_period"]
    coords = [to_gk.transform(*c) for part in shape(feat["geometry"]).geoms for c in part.coords]
    xs = sorted(x for x, _ in coords)
    x0 = 368_000.0  # 文化路 starts here and runs east; the shared measures are 400–700 m
    assert xs[0] == pytest.approx(x0 + 400, abs=0.5) and xs[-1] == pytest.approx(x0 + 700, abs=0.5)
    assert "重复开挖" in feat["properties"]["l"]


def _hue(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


@pytest.mark.parametrize(
    ("kind", "lo", "hi"),
    [
        (UtilityKind.WATER, 180, 220),  # sky blue
        (UtilityKind.DRAINAGE, 15, 35),  # brown (dark orange hue)
        (UtilityKind.GAS, 290, 340),  # pink / magenta
        (UtilityKind.HEAT, 25, 45),  # orange
        (UtilityKind.POWER, -10, 8),  # red
        (UtilityKind.TELECOM, 100, 160),  # green
    ],
)
def test_utility_colours_follow_cjj61(html: str, kind: UtilityKind, lo: float, hi: float) -> None:
    colour = style_of(html, f"utility:{kind.value}")["color"]
    assert colour == UTILITY_COLOURS[kind]
    hue = _hue(colour)
    hue = hue - 360 if hue > 300 and lo < 0 else hue
    assert lo <= hue <= hi


def test_legend_is_chinese_first_with_english(html: str) -> None:
    for kind in UtilityKind:
        assert f"{kind.zh} {kind.en}" in html
    assert "同一路段、不同时段（重复开挖） same road, different period" in html


def test_output_is_byte_stable(plan: Any, html: str) -> None:
    again = review_map(
        works=plan.works, roads=plan.roads, findings=plan.findings, bundles=plan.bundles, settings=SETTINGS
    )
    assert again == html


def test_tile_layer_only_when_configured(plan: Any, html: str) -> None:
    assert "L.tileLayer" not in html
    url = "https://t{s}.tianditu.gov.cn/vec_w/wmts?tk=KEY&x={x}&y={y}&l={z}"
    with_tiles = review_map(
        works=plan.works, roads=plan.roads, settings=Settings(map_tile_url=url, map_tile_attribution="天地图")
    )
    assert "L.tileLayer" in with_tiles and "tianditu.gov.cn" in with_tiles


def test_moratorium_until_per_regulation() -> None:
    def road(kind: WorksKind, day: dt.date) -> Road:
        return Road(road_id="R", name="r", road_class=RoadClass.BRANCH, width_m=16,
                    geometry=LineString([(0, 0), (1, 0)]), last_works_date=day, last_works_kind=kind)  # fmt: skip

    assert moratorium_until(road(WorksKind.NEW, dt.date(2024, 5, 1)), SETTINGS) == dt.date(2029, 4, 30)
    assert moratorium_until(road(WorksKind.OVERHAUL, dt.date(2024, 5, 1)), SETTINGS) == dt.date(2027, 4, 30)
    assert moratorium_until(road(WorksKind.REBUILD, dt.date(2024, 2, 29)), SETTINGS) == dt.date(2029, 2, 27)


def test_expired_moratorium_is_not_marked(plan: Any) -> None:
    old = Road(road_id="R9", name="老街", road_class=RoadClass.BRANCH, width_m=12,
               geometry=LineString([(368_000, 3_212_000), (368_300, 3_212_000)]),
               last_works_date=dt.date(2019, 1, 1), last_works_kind=WorksKind.NEW)  # fmt: skip
    page = review_map(works=plan.works, roads=[*plan.roads, old], settings=SETTINGS)
    assert len(layers_of(page)["moratorium"]) == 1
    assert len(layers_of(page)["roads"]) == 4


def test_finding_without_geometry_is_cut_from_its_road() -> None:
    road = Road(road_id="R", name="r", road_class=RoadClass.BRANCH, width_m=16,
                geometry=LineString([(0, 0), (100, 0), (100, 100)]))  # fmt: skip
    cut = stretch_geometry(road, [Interval(50, 150)])
    assert cut is not None
    assert cut.length == pytest.approx(100)
    assert list(cut.geoms[0].coords) == [(50, 0), (100, 0), (100, 50)]


def test_date_filter_bounds_and_blackouts(html: str) -> None:
    m = re.search(r"onetrench\.config = (\{.*?\});", html)
    assert m is not None
    config = json.loads(m.group(1))
    assert (config["min"], config["max"]) == ("2026-03-02", "2026-11-20")
    assert {"s": "2026-06-07", "e": "2026-06-10", "zh": "2026年高考", "en": "Gaokao 2026"} in config["blackouts"]
    assert 'type=\\"range\\" id=\\"ot-slider\\"' in html


def test_findings_appear_in_work_popups(html: str) -> None:
    layers = layers_of(html)
    blocks = json.loads(re.search(r"onetrench\.blocks = (\[.*?\]);", html).group(1))  # type: ignore[union-attr]
    (gas,) = layers["utility:gas"]
    cited = [blocks[i] for i in gas["properties"]["f"]]
    assert len(cited) == 1 and "重复开挖" in cited[0]


def test_bundle_map_draws_only_the_bundle(plan: Any) -> None:
    page = bundle_map(plan.bundles[0], plan.works, plan.roads, findings=plan.findings, settings=SETTINGS)
    layers = layers_of(page)
    works = {k: len(v) for k, v in layers.items() if k.startswith("utility:")}
    assert works == {"utility:power": 1, "utility:telecom": 1}
    assert len(layers["stretches"]) == 1
    assert "finding:same_road_different_period" not in layers
    assert "联合开挖 B1 Joint excavation" in page


def test_bundle_map_reports_unknown_works(plan: Any) -> None:
    with pytest.raises(InputError) as err:
        bundle_map(plan.bundles[0], plan.works[:2], plan.roads, settings=SETTINGS)
    assert "W3" in err.value.zh and "W4" in err.value.en


def test_empty_plan_still_renders() -> None:
    page = review_map(works=[], roads=[], settings=SETTINGS)
    assert page.startswith("<!DOCTYPE html>") and layers_of(page)["roads"] == []


def test_polygon_work_zone_and_point_finding() -> None:
    zone = LineString([(368_000, 3_213_000), (368_050, 3_213_000)]).buffer(3)
    work = Work(work_id="Z", utility=UtilityKind.POWER, owner="o", geometry=zone,
                start=dt.date(2026, 1, 5), end=dt.date(2026, 1, 9))  # fmt: skip
    point = Finding(kind=FindingKind.CLEARANCE, severity=Severity.WARNING, work_ids=("Z",), zh="净距不足",
                    en="too close", fix_zh="", fix_en="", geometry=zone.centroid)  # fmt: skip
    layers = layers_of(review_map(works=[work], roads=[], findings=[point], settings=SETTINGS))
    assert layers["utility:power"][0]["geometry"]["type"] == "Polygon"
    assert layers["finding:clearance"][0]["geometry"]["type"] == "Point"


def test_road_popups_carry_their_timeline_rows(html: str) -> None:
    roads = {f["properties"]["t"].split(" ")[0]: f["properties"] for f in layers_of(html)["roads"]}
    # 文化路: W1 at 100–700 m, W2 at 400–900 m (hand-made plan); no bundle moves them
    assert roads["文化路"]["g"] == [
        ["W1", "water", "2026-03-02", "2026-04-15", 100, 700, None, None],
        ["W2", "gas", "2026-08-03", "2026-09-10", 400, 900, None, None],
    ]
    # 通惠大道: W3, W4 are bundled into 03-10..05-30 ("after"); W6 (hostile name) is not
    g = {row[0]: row for row in roads["通惠大道"]["g"]}
    assert g["W3"][6:] == ["2026-03-10", "2026-05-30"] and g["W4"][6:] == ["2026-03-10", "2026-05-30"]
    assert g["W6"][6:] == [None, None] and g["W6"][4:6] == [950, 1150]


def test_occupancies_place_works_in_timelines(plan: Any) -> None:
    occ = [Occupancy(work_id="W5", road_id="R1", intervals=(Interval(5, 20), Interval(30, 40)), offsets_m=(0, 0))]
    page = review_map(works=plan.works, roads=plan.roads, settings=SETTINGS, occupancies=occ)
    rows = {f["properties"]["t"].split(" ")[0]: f["properties"].get("g") for f in layers_of(page)["roads"]}
    assert rows == {"文化路": [["W5", "drainage", "2026-06-01", "2026-07-15", 5, 40, None, None]], "通惠大道": None,
                    "滨河路": None}  # fmt: skip


def test_one_label_per_road_dug_twice() -> None:
    from maps.review import twice_labels

    def twice(road: str, a: float, b: float, name: str = "") -> Finding:
        return Finding(kind=FindingKind.SAME_ROAD_DIFFERENT_PERIOD, severity=Severity.BLOCKING, work_ids=("A", "B"),
                       zh="", en="", fix_zh="", fix_en="", road_id=road, road_name=name or f"路{road}",
                       measures=(Interval(a, b),))  # fmt: skip

    found = [twice("1", 100, 200), twice("2", 0, 50), twice("1", 150, 400)]
    assert twice_labels(found) == {0: "⚠ 重复开挖 dug twice ×2：路1 100–400 m", 1: "⚠ 重复开挖 dug twice：路2 0–50 m"}
    segments = [twice("R-1", 0, 10, "古南大道"), twice("R-2", 5, 30, "古南大道")]
    assert twice_labels(segments) == {0: "⚠ 重复开挖 dug twice ×2：古南大道"}


def test_empty_geometries_are_skipped(plan: Any) -> None:
    from shapely.geometry import Point

    w = plan.works[0]
    empty = Work(work_id="E", utility=UtilityKind.WATER, owner="o", geometry=Point(), start=w.start, end=w.end)
    layers = layers_of(review_map(works=[w, empty], roads=[], settings=SETTINGS))
    assert len(layers["utility:water"]) == 1

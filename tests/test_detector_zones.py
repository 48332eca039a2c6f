"""Work zones (polygons): the numpy 'certainly inside the corridor' test and the zone occupancy."""

from __future__ import annotations

import math
import random

import pytest
import shapely
from shapely import affinity
from shapely.geometry import LineString, Polygon

from geo._clip import zone_candidates
from geo.occupancy import as_geometry_array, road_segments
from geo.roads import RoadNetwork
from onetrench.domain import Road
from tests.test_detector import S10, R, W, assert_matches_reference, make_city


def _zones(roads: list[Road], n: int, seed: int) -> list[Polygon]:
    """Rectangles and triangles around the roads: inside, across the edges, past the ends, at bends."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        road = rnd.choice(roads).geometry
        m = rnd.uniform(-15.0, road.length + 15.0)
        # past an end: continue along the end segment's direction
        ref = 1.0 if m < 0 else road.length - 1.0
        p, q = road.interpolate(min(max(m, 0.0), road.length)), road.interpolate(ref)
        over = -m if m < 0 else max(m - road.length, 0.0)
        norm = math.hypot(p.x - q.x, p.y - q.y) or 1.0
        x0, y0 = p.x + (p.x - q.x) / norm * over, p.y + (p.y - q.y) / norm * over
        w, h = rnd.uniform(1.0, 30.0), rnd.uniform(0.5, 12.0)
        x, y = x0 + rnd.uniform(-12, 12), y0 + rnd.uniform(-12, 12)
        if rnd.random() < 0.7:
            poly = Polygon([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])
        else:
            poly = Polygon([(x, y), (x + w, y + rnd.uniform(-3, 3)), (x + rnd.uniform(0, w), y + h)])
        out.append(affinity.rotate(poly, rnd.uniform(0, 180), origin="centroid"))
    return out


def _shallow_road() -> Road:
    # a vertex 5 cm off the chord of its neighbours: GEOS may simplify the offset curves there
    return R("SH", LineString([(0, 1000), (100, 1000), (200, 1000.05), (300, 1000)]), 20.0)


def test_certainly_inside_is_sound_and_usually_decides() -> None:
    roads, _ = make_city(2, split=True)
    roads = [*roads, _shallow_road()]
    net = RoadNetwork(roads=roads, crs=S10.working_crs)
    zones = as_geometry_array(_zones(roads, 1500, 2))
    gi, ri, inside = zone_candidates(zones, road_segments(net))
    corridors = shapely.buffer(net.centrelines[ri], net.widths[ri] / 2, quad_segs=16, cap_style="flat")
    truly = shapely.covered_by(zones[gi], corridors)
    assert not (inside & ~truly).any()  # never claims a zone inside that is not
    assert inside.sum() > 0.6 * truly.sum()  # and decides most of those that are
    assert inside.sum() < truly.sum()  # the rest (bends, edges, shallow roads) is left to GEOS
    assert not inside[ri == len(roads) - 1].any()  # never on a road with shallow vertices


def test_zones_match_reference() -> None:
    roads, works = make_city(4, split=False)
    roads = [*roads, _shallow_road()]
    zones = [W(f"Z{k:03d}", g) for k, g in enumerate(_zones(roads, 160, 4))]
    routes = [w for w in works if w.geometry.geom_type != "Polygon"][:12]
    assert_matches_reference([*zones, *routes], roads, S10)


def test_zone_offsets_and_off_road_equal_shapely() -> None:
    """Zones inside a corridor, decided without GEOS, keep the offsets and off-road areas of GEOS."""
    from geo.overlap import detect

    road = R("R", LineString([(0, 0), (400, 0), (700, 120)]), 24.0)
    zones = [
        W("in", Polygon([(50, 2), (80, 2), (80, 9), (50, 9)])),
        W("edge", Polygon([(100, 5), (130, 5), (130, 15), (100, 15)])),
        W("cap", Polygon([(-5, -3), (10, -3), (10, 3), (-5, 3)])),
        W("bend", Polygon([(390, -8), (410, -8), (410, -2), (390, -2)])),
    ]
    res = detect(zones, [road], settings=S10)
    corridor = road.geometry.buffer(12.0, cap_style="flat")
    off = {p.work_id: p.area_m2 for p in res.off_road}
    for z in zones:
        outside = z.geometry.difference(corridor).area
        assert off.get(z.work_id, 0.0) == pytest.approx(outside if outside > 1e-4 else 0.0, abs=1e-6), z.work_id
    assert set(off) == {"edge", "cap"}
    occ = {o.work_id: o for o in res.occupancy}
    assert occ["in"].offsets_m == (pytest.approx(5.5),)
    assert [(iv.from_m, iv.to_m) for iv in occ["in"].intervals] == [(50.0, 80.0)]

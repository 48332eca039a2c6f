"""The same-road detector (geo.overlap) against a plain brute-force reference and hand-made cases."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import random
from collections import defaultdict

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import LineString, MultiLineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from geo.overlap import WorkIndex, detect, detect_without_roads, detection_to_json
from geo.roads import RoadNetwork
from onetrench.domain import Road, RoadClass, UtilityKind, Work
from onetrench.errors import InputError
from onetrench.settings import Settings

S0 = Settings(min_shared_m=0.0)
S10 = Settings()


def W(wid: str, geom: BaseGeometry, *, trench: float | None = None) -> Work:
    return Work(
        work_id=wid,
        utility=UtilityKind.GAS,
        owner="重庆港华燃气",
        geometry=geom,
        start=dt.date(2027, 4, 1),
        end=dt.date(2027, 4, 20),
        trench_width_m=trench,
    )


def R(rid: str, geom: BaseGeometry, width: float = 20.0, cls: RoadClass = RoadClass.SECONDARY) -> Road:
    return Road(road_id=rid, name=rid, road_class=cls, width_m=width, geometry=geom)


# --------------------------------------------------------------------------------------
# Brute-force reference, written plainly: clip, project, intersect.
# --------------------------------------------------------------------------------------


def _merge(ivs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(ivs):
        if out and a <= out[-1][1] + 1e-6:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def reference(works: list[Work], roads: list[Road], s: Settings) -> tuple[dict, dict]:
    """Return ({(work, road): merged intervals}, {(road, a, b): shared_m}) by plain loops."""
    occ: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for w in works:
        for r in roads:
            corridor = r.geometry.buffer(r.width_m / 2, cap_style="flat")
            piece = w.geometry.intersection(corridor)
            parts = list(getattr(piece, "geoms", [piece]))
            ivs = []
            for part in parts:
                if part.is_empty or part.geom_type not in ("LineString", "Polygon"):
                    continue
                if part.geom_type == "LineString" and part.length <= 1e-6:
                    continue
                angle = s.rule_for(r.road_class).crossing_angle_deg
                if part.geom_type == "Polygon":
                    ms = [r.geometry.project(Point(c)) for c in part.exterior.coords]
                    ivs.append((min(ms), max(ms)))
                    continue
                # each segment on its own: along the road when its angle is at most the crossing angle
                # (the road's direction at a segment: chord over ±0.5 m around its midpoint's projection)
                cs = list(part.coords)
                for p0, p1 in itertools.pairwise(cs):
                    seg = math.dist(p0, p1)
                    if seg == 0:
                        continue
                    mid = r.geometry.project(Point((p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2))
                    ta = r.geometry.interpolate(max(mid - 0.5, 0.0))
                    tb = r.geometry.interpolate(min(mid + 0.5, r.geometry.length))
                    cos_angle = abs((p1[0] - p0[0]) * (tb.x - ta.x) + (p1[1] - p0[1]) * (tb.y - ta.y)) / (
                        seg * math.dist((ta.x, ta.y), (tb.x, tb.y))
                    )
                    if cos_angle >= math.cos(math.radians(angle)):
                        m0, m1 = r.geometry.project(Point(p0)), r.geometry.project(Point(p1))
                        ivs.append((min(m0, m1), max(m0, m1)))
            if ivs:
                occ[(w.work_id, r.road_id)] = _merge(ivs)
    shared: dict[tuple[str, str, str], float] = {}
    ids = sorted(w.work_id for w in works)
    for r in roads:
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                total = 0.0
                for fa, ta in occ.get((a, r.road_id), []):
                    for fb, tb in occ.get((b, r.road_id), []):
                        total += max(0.0, min(ta, tb) - max(fa, fb))
                if total > 0 and total >= s.rule_for(r.road_class).min_shared_m - 1e-6:
                    shared[(r.road_id, a, b)] = total
    return occ, shared


def as_maps(res) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    occ = {(o.work_id, o.road_id): [(iv.from_m, iv.to_m) for iv in o.intervals] for o in res.occupancy if o.intervals}
    shared = {(s.road_id, *s.work_ids): s.shared_m for s in res.shared}
    return occ, shared


def assert_close_maps(got: dict, want: dict, tol: float = 1e-6) -> None:
    assert set(got) == set(want)
    for k, w in want.items():
        g = got[k]
        if isinstance(w, list):
            assert len(g) == len(w), k
            for (a, b), (c, d) in zip(g, w, strict=True):
                assert a == pytest.approx(c, abs=tol) and b == pytest.approx(d, abs=tol), k
        else:
            assert g == pytest.approx(w, abs=tol), k


# --------------------------------------------------------------------------------------
# Generated city: grid + curved road, works of every kind.
# --------------------------------------------------------------------------------------


def arc(cx: float, cy: float, radius: float, a0: float, a1: float, *, n: int = 24) -> LineString:
    angles = np.linspace(a0, a1, n)
    return LineString(np.c_[cx + radius * np.cos(angles), cy + radius * np.sin(angles)])


def make_city(seed: int, *, split: bool) -> tuple[list[Road], list[Work]]:
    rnd = random.Random(seed)
    block = 200.0
    roads: list[Road] = []
    for k in range(4):  # horizontal roads at y = 0, 200, 400, 600 (wide one at y=200)
        y = k * block
        width = 40.0 if k == 1 else 16.0
        cls = RoadClass.ARTERIAL if k == 1 else RoadClass.BRANCH
        xs = [0, 200, 400, 600] if split else [0, 600]
        for p, (x0, x1) in enumerate(itertools.pairwise(xs)):
            geom = LineString([(x0, y), (x1, y)])
            if k == 3:  # reversed digitising direction
                geom = geom.reverse()
            roads.append(R(f"H{k}-{p}", geom, width, cls))
    for k in range(4):  # vertical roads, one with a kink
        x = k * block
        ys = [0, 200, 400, 600] if split else [0, 600]
        for p, (y0, y1) in enumerate(itertools.pairwise(ys)):
            pts = [(x, y0), (x, y1)] if k != 2 else [(x, y0), (x + 6, (y0 + y1) / 2), (x, y1)]
            roads.append(R(f"V{k}-{p}", LineString(pts), 20.0, RoadClass.SECONDARY))
    roads.append(R("C", arc(300, 900, 150, math.pi, 0), 24.0, RoadClass.SECONDARY))  # curved road

    works: list[Work] = []

    def along_h(y: float, x0: float, x1: float, off: float) -> LineString:
        return LineString([(x0, y + off), ((x0 + x1) / 2, y + off + rnd.uniform(-0.5, 0.5)), (x1, y + off)])

    n = 0
    for _ in range(14):  # along horizontal roads, some through junctions
        k = rnd.randrange(4)
        w = 40.0 if k == 1 else 16.0
        x0 = rnd.uniform(0, 450)
        x1 = x0 + rnd.uniform(30, 300)
        g = along_h(k * block, x0, min(x1, 600), rnd.uniform(-0.4, 0.4) * w)
        if rnd.random() < 0.3:
            g = g.reverse()
        works.append(W(f"W{n:02d}", g))
        n += 1
    for _ in range(6):  # L-shaped through a junction: along H then turn along V
        k, kv = rnd.randrange(4), rnd.randrange(1, 4)
        xj, yj = kv * block, k * block
        off = rnd.uniform(-3, 3)
        g = LineString(
            [
                (xj - rnd.uniform(40, 180), yj + off),
                (xj + off, yj + off),
                (xj + off, yj + rnd.choice([-1, 1]) * rnd.uniform(40, 150)),
            ]
        )
        works.append(W(f"W{n:02d}", g))
        n += 1
    for _ in range(4):  # multi-part routes
        k = rnd.randrange(4)
        x0 = rnd.uniform(0, 300)
        g = MultiLineString(
            [[(x0, k * block + 2), (x0 + 80, k * block + 2)], [(x0 + 120, k * block - 1), (x0 + 260, k * block - 1)]]
        )
        works.append(W(f"W{n:02d}", g))
        n += 1
    for _ in range(4):  # along the curved road, inside and outside of the curve
        r = 150 + rnd.uniform(-9, 9)
        a0 = rnd.uniform(0.2, 1.5)
        works.append(W(f"W{n:02d}", arc(300, 900, r, math.pi - a0, math.pi - a0 - rnd.uniform(0.3, 1.2), n=17)))
        n += 1
    for _ in range(5):  # crossings only
        k = rnd.randrange(4)
        x = rnd.uniform(20, 580)
        ang = rnd.uniform(60, 120)
        dx = 40 * math.cos(math.radians(ang))
        works.append(W(f"W{n:02d}", LineString([(x - dx, k * block - 40), (x + dx, k * block + 40)])))
        n += 1
    for _ in range(3):  # excavation pits (polygons) on horizontal roads
        k = rnd.randrange(4)
        x = rnd.uniform(20, 560)
        works.append(
            W(
                f"W{n:02d}",
                Polygon([(x, k * block - 3), (x + 25, k * block - 3), (x + 25, k * block + 4), (x, k * block + 4)]),
            )
        )
        n += 1
    # opposite sides of the wide road, overlapping
    works.append(W(f"W{n:02d}", LineString([(100, 200 + 15), (350, 200 + 15)])))
    works.append(W(f"W{n + 1:02d}", LineString([(200, 200 - 15), (500, 200 - 15)])))
    # entirely off-road
    works.append(W(f"W{n + 2:02d}", LineString([(50, 100), (150, 100)])))
    return roads, works


@pytest.mark.parametrize("split", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force_reference(seed: int, split: bool) -> None:
    roads, works = make_city(seed, split=split)
    res = detect(works, roads, settings=S10)
    want_occ, want_shared = reference(works, roads, S10)
    got_occ, got_shared = as_maps(res)
    assert_close_maps(got_occ, want_occ)
    assert_close_maps(got_shared, want_shared)
    # Shared intervals lie inside both works' occupancy and sum to shared_m.
    occ = {(o.work_id, o.road_id): o for o in res.occupancy}
    for s in res.shared:
        for wid in s.work_ids:
            o = occ[(wid, s.road_id)]
            for iv in s.intervals:
                assert any(a.from_m - 1e-9 <= iv.from_m and iv.to_m <= a.to_m + 1e-9 for a in o.intervals)
    assert len(want_shared) > 3  # the generated cases do exercise sharing


def test_split_and_unsplit_roads_agree() -> None:
    for seed in range(4):
        totals = []
        for split in (True, False):
            roads, works = make_city(seed, split=split)
            res = detect(works, roads, settings=S0)
            per: dict[tuple[str, str, str], float] = defaultdict(float)
            for s in res.shared:
                per[(s.road_id.split("-")[0], *s.work_ids)] += s.shared_m
            totals.append({k: v for k, v in per.items() if v > 1e-6})
        # V2 bends at its junctions: unsplit, its corridor has a round join there, split it has two
        # flat caps, and projection jumps across the inner bisector: lengths may differ by up to
        # about width·tan(bend/2) at those junctions (here < 1 m), and nowhere else.
        assert_close_maps(totals[0], totals[1], tol=1.0)
        straight = [{k: v for k, v in t.items() if k[0] != "V2"} for t in totals]
        assert_close_maps(straight[0], straight[1], tol=1e-6)


# --------------------------------------------------------------------------------------
# Hand-made cases with answers worked out by hand.
# --------------------------------------------------------------------------------------


def test_hand_made_straight_road() -> None:
    road = R("R", LineString([(0, 0), (1000, 0)]), 30.0)
    works = [
        W("a", LineString([(100, 5), (400, 5)])),
        W("b", LineString([(350, -12), (600, -12)])),  # opposite side, overlaps a by 50 m
        W("c", LineString([(395, 2), (420, 2)])),  # overlaps a by 5 m (< 10) and b by 25 m
        W("d", LineString([(500, -40), (500, 40)])),  # crossing at 500
        W("e", LineString([(700, 20), (900, 20)])),  # outside the corridor (|y| > 15)
    ]
    res = detect(works, [road], settings=S10)
    got = {s.work_ids: round(s.shared_m, 6) for s in res.shared}
    assert got == {("a", "b"): 50.0, ("b", "c"): 25.0}
    occ = {o.work_id: o for o in res.occupancy}
    assert occ["a"].offsets_m[0] == pytest.approx(5.0)
    assert occ["b"].offsets_m[0] == pytest.approx(-12.0)  # right of the digitising direction
    assert occ["d"].intervals == () and occ["d"].crossings == pytest.approx((500.0,))
    assert "e" not in occ
    off = {p.work_id: p for p in res.off_road}
    assert off["e"].length_m == pytest.approx(200.0)
    assert off["d"].length_m == pytest.approx(80.0 - 30.0)
    assert set(off) == {"d", "e"}


def test_hand_made_curved_road() -> None:
    # Quarter circle of radius 100 (densely digitised); works on concentric arcs.
    road = R("C", arc(0, 0, 100, 0, math.pi / 2, n=400), 20.0)
    a = W("a", arc(0, 0, 105, 0, math.pi / 4, n=200))  # measures 0 .. 100·π/4
    b = W("b", arc(0, 0, 95, math.pi / 8, math.pi / 2, n=200))  # measures 100·π/8 .. 100·π/2
    res = detect([a, b], [road], settings=S10)
    assert len(res.shared) == 1
    assert res.shared[0].shared_m == pytest.approx(100 * math.pi / 8, abs=0.05)


def test_exactly_min_shared_counts() -> None:
    road = R("R", LineString([(0, 0), (300, 0)]), 30.0)
    for x in (13.7, 14.4, 15.8, 20.7, 24.9):  # projections with rounding noise just below 10 m
        works = [W("a", LineString([(x - 50, 3), (x + 10, 3)])), W("b", LineString([(x, -4), (x + 80, -4)]))]
        assert [s.work_ids for s in detect(works, [road], settings=S10).shared] == [("a", "b")], x


def test_min_shared_is_per_class() -> None:
    road = R("R", LineString([(0, 0), (200, 0)]), 16.0, RoadClass.BRANCH)
    works = [W("a", LineString([(0, 1), (100, 1)])), W("b", LineString([(85, 2), (200, 2)]))]  # 15 m shared
    from onetrench.settings import RuleThresholds

    assert len(detect(works, [road], settings=S10).shared) == 1
    strict = Settings(class_overrides={RoadClass.BRANCH: RuleThresholds(min_shared_m=20)})
    assert detect(works, [road], settings=strict).shared == []


def test_duplicate_ids_rejected() -> None:
    road = R("R", LineString([(0, 0), (200, 0)]))
    g = LineString([(0, 1), (100, 1)])
    with pytest.raises(InputError):
        detect([W("a", g), W("a", g)], [road], settings=S10)


def test_no_roads_and_no_works() -> None:
    assert detect([], [], settings=S10).shared == []
    res = detect([W("a", LineString([(0, 0), (10, 0)]))], RoadNetwork(roads=[]), settings=S10)
    assert res.shared == [] and res.occupancy == [] and res.off_road[0].length_m == pytest.approx(10)


def test_json_form() -> None:
    road = R("R", LineString([(0, 0), (1000, 0)]), 30.0)
    works = [W("b", LineString([(100, 5), (400, 5)])), W("a", LineString([(350, -12), (600, -12)]))]
    out = detection_to_json(detect(works, [road], settings=S10))
    json.dumps(out)
    assert out["shared"] == [{"road_id": "R", "work_ids": ["a", "b"], "shared_m": 50.0, "intervals": [[350.0, 400.0]]}]
    assert {o["work_id"] for o in out["occupancy"]} == {"a", "b"}
    assert out["off_road"] == []


# --------------------------------------------------------------------------------------
# Fallback without roads and the incremental index.
# --------------------------------------------------------------------------------------


def test_fallback_without_roads() -> None:
    works = [
        W("a", LineString([(0, 0), (100, 0)])),
        W("b", LineString([(40, 0.3), (200, 0.3)])),  # inside a's 1 m footprint from x=40 to 100
        W("c", LineString([(50, 5), (150, 5)])),  # 5 m away: no shared
        W("d", LineString([(60, -20), (60, 20)])),  # crosses: ~1 m only
        W("e", LineString([(150, 0.9), (300, 0.9)]), trench=2.0),  # wide trench reaches b
    ]
    got = {s.work_ids: s.shared_m for s in detect_without_roads(works, settings=S10).shared}
    assert set(got) == {("a", "b"), ("b", "e")}
    assert got[("a", "b")] == pytest.approx(60.0)
    assert got[("b", "e")] == pytest.approx(50.0)


def test_work_index_matches_batch() -> None:
    roads, works = make_city(3, split=True)
    batch = detect(works, roads, settings=S10).shared
    index = WorkIndex(works[:-5], roads, settings=S10)
    for w in works[-5:]:
        index.add(w)
    for w in works:
        want = sorted((s.road_id, s.work_ids, round(s.shared_m, 6)) for s in batch if w.work_id in s.work_ids)
        got = sorted((s.road_id, s.work_ids, round(s.shared_m, 6)) for s in index.query(w))
        assert got == want
    index.remove(works[0].work_id)
    assert all(works[0].work_id not in s.work_ids for s in index.query(works[1]))
    assert len(index) == len(works) - 1


def test_work_index_fallback() -> None:
    works = [W("a", LineString([(0, 0), (100, 0)])), W("b", LineString([(40, 0.3), (200, 0.3)]))]
    index = WorkIndex(works[:1], None, settings=S10)
    assert [s.work_ids for s in index.query(works[1])] == [("a", "b")]
    index.add(works[1])
    assert [s.work_ids for s in index.query(W("n", LineString([(150, 0), (190, 0)])))] == [("b", "n")]


# --------------------------------------------------------------------------------------
# Hypothesis properties.
# --------------------------------------------------------------------------------------


@st.composite
def scenes(draw: st.DrawFn) -> tuple[list[Road], list[Work]]:
    n_vertices = draw(st.integers(2, 4))
    pts = [(0.0, 0.0)]
    heading = draw(st.floats(0, 2 * math.pi))
    for _ in range(n_vertices - 1):
        heading += draw(st.floats(-0.5, 0.5))
        step = draw(st.floats(80, 300))
        pts.append((pts[-1][0] + step * math.cos(heading), pts[-1][1] + step * math.sin(heading)))
    centre = LineString(pts)
    width = draw(st.floats(8, 50))
    roads = [R("R", centre, width)]
    works = []
    for k in range(draw(st.integers(2, 4))):
        m0 = draw(st.floats(0, centre.length - 20))
        m1 = draw(st.floats(m0 + 10, centre.length))
        off = draw(st.floats(-0.45, 0.45)) * width
        piece = substring(centre, m0, m1)
        geom = piece.offset_curve(off, join_style="mitre") if abs(off) > 1e-3 else piece
        if geom.is_empty or geom.geom_type != "LineString" or geom.length < 1:
            geom = piece
        if draw(st.booleans()):
            geom = geom.reverse()
        works.append(W(f"w{k}", geom))
    if draw(st.booleans()):  # a work crossing one road segment at right angles, away from bends
        i = draw(st.integers(0, len(pts) - 2))
        t = draw(st.floats(0.3, 0.7))
        (x0, y0), (x1, y1) = pts[i], pts[i + 1]
        mx, my = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        seg = math.dist(pts[i], pts[i + 1])
        nx, ny = -(y1 - y0) / seg, (x1 - x0) / seg
        h = width / 2 + 5
        works.append(W("x", LineString([(mx - h * nx, my - h * ny), (mx + h * nx, my + h * ny)])))
    return roads, works


PROPS = hsettings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def shared_map(res) -> dict:  # type: ignore[no-untyped-def]
    return {(s.road_id, *s.work_ids): s.shared_m for s in res.shared if s.shared_m > 1e-6}


def close(a: dict, b: dict, tol: float = 1e-5) -> bool:
    keys = set(a) | set(b)
    return all(abs(a.get(k, 0.0) - b.get(k, 0.0)) <= tol for k in keys)


@PROPS
@given(scenes())
def test_prop_symmetric_in_order(scene: tuple[list[Road], list[Work]]) -> None:
    roads, works = scene
    a = shared_map(detect(works, roads, settings=S0))
    b = shared_map(detect(works[::-1], roads, settings=S0))
    assert close(a, b)


@PROPS
@given(scenes(), st.integers(0, 3))
def test_prop_reverse_and_densify(scene: tuple[list[Road], list[Work]], which: int) -> None:
    roads, works = scene
    base = shared_map(detect(works, roads, settings=S0))
    k = which % len(works)
    rev = [*works[:k], W(works[k].work_id, works[k].geometry.reverse()), *works[k + 1 :]]
    dense = [W(w.work_id, shapely.segmentize(w.geometry, 7.3)) for w in works]
    assert close(base, shared_map(detect(rev, roads, settings=S0)))
    assert close(base, shared_map(detect(dense, roads, settings=S0)))


@PROPS
@given(scenes(), st.floats(-5e5, 5e5), st.floats(-3e6, 3e6))
def test_prop_translation(scene: tuple[list[Road], list[Work]], dx: float, dy: float) -> None:
    roads, works = scene
    base = shared_map(detect(works, roads, settings=S0))
    moved_roads = [R(r.road_id, affinity.translate(r.geometry, dx, dy), r.width_m) for r in roads]
    moved = [W(w.work_id, affinity.translate(w.geometry, dx, dy)) for w in works]
    assert close(base, shared_map(detect(moved, moved_roads, settings=S0)), tol=1e-4)


@PROPS
@given(scenes())
def test_prop_shared_within_occupancy(scene: tuple[list[Road], list[Work]]) -> None:
    roads, works = scene
    res = detect(works, roads, settings=S0)
    occ = {(o.work_id, o.road_id): o.length_m for o in res.occupancy}
    for s in res.shared:
        assert s.shared_m <= occ[(s.work_ids[0], s.road_id)] + 1e-9
        assert s.shared_m <= occ[(s.work_ids[1], s.road_id)] + 1e-9
    # and the detector agrees with the reference on these scenes too
    assert close(shared_map(res), reference(works, roads, S0)[1])


def test_work_zones_and_reversed_road() -> None:
    # Road digitised east → west: measures run from x=500 down to x=0, left is south.
    road = R("R", LineString([(500, 0), (0, 0)]), 20.0)
    pit = W("pit", Polygon([(100, 2), (130, 2), (130, 6), (100, 6)]))  # measures 370..400, north = right
    half_out = W("half", Polygon([(200, 5), (240, 5), (240, 15), (200, 15)]))  # 5 m of 10 m depth outside
    route = W("route", LineString([(90, -3), (250, -3)]))  # measures 250..410, south = left
    res = detect([pit, half_out, route], [road], settings=S10)
    occ = {o.work_id: o for o in res.occupancy}
    assert [(iv.from_m, iv.to_m) for iv in occ["pit"].intervals] == [pytest.approx((370.0, 400.0))]
    assert occ["pit"].offsets_m[0] == pytest.approx(-4.0)
    assert occ["route"].offsets_m[0] == pytest.approx(3.0)
    assert occ["half"].offsets_m[0] == pytest.approx(-7.5)
    got = {s.work_ids: round(s.shared_m, 6) for s in res.shared}
    assert got == {("pit", "route"): 30.0, ("half", "route"): 40.0}
    off = {p.work_id: p for p in res.off_road}
    assert set(off) == {"half"}
    assert off["half"].area_m2 == pytest.approx(40 * 5) and off["half"].length_m == 0.0


def test_invalid_work_zone_is_repaired() -> None:
    road = R("R", LineString([(0, 0), (200, 0)]), 20.0)
    bowtie = W("z", Polygon([(10, -5), (50, 5), (50, -5), (10, 5)]))  # self-intersecting
    route = W("r", LineString([(0, 1), (100, 1)]))
    res = detect([bowtie, route], [road], settings=S10)
    assert [(s.work_ids, round(s.shared_m, 6)) for s in res.shared] == [(("r", "z"), 40.0)]


def test_fallback_with_work_zones() -> None:
    works = [
        W("z1", Polygon([(0, -2), (50, -2), (50, 2), (0, 2)])),
        W("r", LineString([(20, 0), (200, 0)])),  # 30 m of the route inside z1
        W("z2", Polygon([(30, -1), (80, -1), (80, 1), (30, 1)])),  # overlaps z1 over 20 m, r over 50 m
    ]
    got = {s.work_ids: s.shared_m for s in detect_without_roads(works, settings=S10).shared}
    assert got == pytest.approx({("r", "z1"): 30.0, ("r", "z2"): 50.0, ("z1", "z2"): 20.0})


# --------------------------------------------------------------------------------------
# Edge cases of the numpy clipping (geo._clip), each against the brute-force reference.
# --------------------------------------------------------------------------------------


def assert_matches_reference(works: list[Work], roads: list[Road], s: Settings = S0) -> None:
    res = detect(works, roads, settings=s)
    want_occ, want_shared = reference(works, roads, s)
    got_occ, got_shared = as_maps(res)
    assert_close_maps(got_occ, want_occ)
    # (pairs of works that only touch end to end share 0 m give or take rounding: left out)
    assert_close_maps(
        {k: v for k, v in got_shared.items() if v > 1e-6}, {k: v for k, v in want_shared.items() if v > 1e-6}
    )
    # off-road lengths against shapely's difference with the union of the corridors
    corridors = shapely.union_all([r.geometry.buffer(r.width_m / 2, cap_style="flat") for r in roads])
    off = {p.work_id: p.length_m for p in res.off_road}
    for w in works:
        if w.geometry.geom_type in ("LineString", "MultiLineString"):
            rest = w.geometry.difference(corridors).length
            assert off.get(w.work_id, 0.0) == pytest.approx(rest if rest > 0.01 else 0.0, abs=1e-6), w.work_id


def test_segments_ending_exactly_on_the_corridor_edge() -> None:
    road = R("R", LineString([(0, 0), (300, 0)]), 20.0)  # edges at y = ±10
    works = [
        W("into_edge", LineString([(50, 30), (50, 10)])),  # ends on the edge: touches only
        W("from_edge", LineString([(60, 10), (60, -10)])),  # edge to edge: a crossing
        W("diag_edge", LineString([(100, 10), (140, 5), (180, 10)])),  # vertices on the edge
        W("to_cap", LineString([(250, 2), (300, 2)])),  # ends exactly on the flat cap
        W("past_cap", LineString([(280, -3), (330, -3)])),  # leaves through the cap
        W("start_cap", LineString([(0, 4), (60, 4)])),  # starts on the start cap
    ]
    assert_matches_reference(works, [road])
    res = detect(works, [road], settings=S0)
    occ = {o.work_id: o for o in res.occupancy}
    assert "into_edge" not in occ or occ["into_edge"].intervals == ()
    assert occ["from_edge"].crossings == pytest.approx((60.0,))
    assert [(iv.from_m, iv.to_m) for iv in occ["past_cap"].intervals] == [pytest.approx((280.0, 300.0))]
    off = {p.work_id: p.length_m for p in res.off_road}
    assert off["past_cap"] == pytest.approx(30.0) and off["into_edge"] == pytest.approx(20.0)


def test_segments_parallel_to_and_on_the_edge() -> None:
    roads = [
        R("H", LineString([(0, 0), (400, 0)]), 20.0),
        R("D", LineString([(0, 100), (300, 400)]), 2 * math.sqrt(2) * 5),  # 45°, half width 5·√2
    ]
    works = [
        W("on_edge", LineString([(20, 10), (120, 10)])),  # lies on the edge: GEOS keeps it
        W("on_edge2", LineString([(60, -10), (200, -10)])),
        W("outside", LineString([(20, 10.001), (120, 10.001)])),  # just outside
        W("inside", LineString([(20, 9.999), (120, 9.999)])),
        W("diag_in", LineString([(10, 105), (110, 205)])),  # parallel, inside (offset 5/√2)
        W("diag_far", LineString([(10, 130), (110, 230)])),  # parallel, outside
    ]
    assert_matches_reference(works, roads)
    got = {s.work_ids: s.shared_m for s in detect(works, roads, settings=S0).shared}
    assert got[("inside", "on_edge")] == pytest.approx(100.0)
    assert got[("on_edge", "on_edge2")] == pytest.approx(60.0)
    assert all("outside" not in k for k in got)


def test_segment_spanning_several_road_segments_of_a_curve() -> None:
    # A road digitised with many short segments; works with long chords across several of them,
    # inside, leaving through the outer edge, and one reversed.
    road = R("C", arc(0, 0, 200, 0, math.pi / 2, n=40), 30.0)
    chord = W("chord", LineString([(200, 0), (200 * math.cos(0.3), 200 * math.sin(0.3))]))
    inner = W("inner", LineString([(190 * math.cos(a), 190 * math.sin(a)) for a in np.linspace(0.1, 1.2, 4)]))
    outer = W("outer", LineString([(212 * math.cos(a), 212 * math.sin(a)) for a in np.linspace(0.2, 1.4, 3)]))
    rev = W("rev", LineString(inner.geometry.coords[::-1]))
    assert_matches_reference([chord, inner, outer, rev], [road])


def test_reversed_digitising_and_junctions() -> None:
    # A cross-roads: H split at the junction (one half digitised backwards), V not split.
    roads = [
        R("H1", LineString([(0, 0), (200, 0)]), 20.0),
        R("H2", LineString([(400, 0), (200, 0)]), 20.0),
        R("V", LineString([(200, -200), (200, 200)]), 16.0),
    ]
    works = [
        W("through", LineString([(50, 3), (350, 3)])),  # through the junction along H
        W("back", LineString([(380, -4), (120, -4)])),  # the other way, other side
        W("turn", LineString([(100, 2), (202, 2), (202, 150)])),  # turns from H onto V
        W("turn2", LineString([(198, -150), (198, -1), (330, -1)])),
        W("cross", LineString([(260, -40), (260, 40)])),  # crosses H2 only
    ]
    assert_matches_reference(works, roads)


@pytest.mark.parametrize("bend_deg", [0.02, 0.3, 3.0, 12.0, 40.0])
@pytest.mark.parametrize("side", [1, -1])
def test_routes_through_the_band_where_geos_buffers_differ(bend_deg: float, side: int) -> None:
    # GEOS buffers drop shallow concave vertices (< 1 % of the distance) and draw round joins
    # with chords: routes grazing the edge near a bend take the corridor-polygon path.
    b = math.radians(bend_deg)
    road = R("B", LineString([(0, 0), (200, 0), (200 + 200 * math.cos(b), side * 200 * math.sin(b))]), 20.0)
    works = []
    for k, off in enumerate((9.95, 9.999, 10.0, 10.02, 10.3, -9.97, -10.01)):
        # parallel to the first leg, passing the bend vertex at offset `off`, then straight on
        works.append(W(f"g{k}", LineString([(120, off), (330, off)])))
        # crossing the corridor obliquely right at the bend
        works.append(W(f"x{k}", LineString([(185, off - 25), (215, off + 25)])))
    assert_matches_reference(works, [road])


@PROPS
@given(scenes(), st.floats(0.9, 0.999) | st.floats(1.001, 1.1), st.floats(-1.2, 1.2))
def test_prop_grazing_routes_match_reference(scene: tuple[list[Road], list[Work]], scale: float, turn: float) -> None:
    # Works near the corridor edge (offset scale·h) and a route cut across at an angle. (A route
    # lying on an oblique edge within rounding noise is left out: GEOS decides it by rounding.)
    roads, _ = scene
    centre = roads[0].geometry
    h = roads[0].width_m / 2
    works = []
    for k, m in enumerate((0.2, 0.5, 0.8)):
        piece = substring(centre, centre.length * (m - 0.15), centre.length * (m + 0.15))
        g = piece.offset_curve(scale * h * (1 if k % 2 else -1), join_style="round")
        if g.is_empty or g.geom_type != "LineString":
            continue
        works.append(W(f"e{k}", g))
    p = centre.interpolate(0.5, normalized=True)
    d = 1.5 * h
    works.append(
        W(
            "cut",
            LineString(
                [
                    (p.x - d * math.cos(turn), p.y - d * math.sin(turn)),
                    (p.x + d * math.cos(turn), p.y + d * math.sin(turn)),
                ]
            ),
        )
    )
    assert_matches_reference(works, roads)


@pytest.mark.parametrize("dy", [0.05, -0.05, 0.5, -0.5])
def test_flat_cap_after_a_shallow_vertex(dy: float) -> None:
    # The vertex before the end is shallow (GEOS may simplify it away): routes leaving through
    # the end cap at several offsets, and grazing the edges beside it.
    road = R("R", LineString([(0, 0), (100, 0), (200, dy), (300, 0)]), 20.0)
    works = [W(f"w{k}", LineString([(250, v), (350, v)])) for k, v in enumerate((-9.5, -5, 0, 5, 9.5, 9.99, -10.01))]
    assert_matches_reference(works, [road])


def test_shared_stretches_equal_those_built_by_init() -> None:
    """The detector builds stretches without the dataclass ``__init__``: same values, equality, hash."""
    from onetrench.domain import Interval, SharedStretch

    roads, works = make_city(3, split=True)
    res = detect(works, roads, settings=S0)
    assert res.shared
    rebuilt = [
        SharedStretch(
            road_id=s.road_id,
            work_ids=(s.work_ids[0], s.work_ids[1]),
            intervals=tuple(Interval(iv.from_m, iv.to_m) for iv in s.intervals),
        )
        for s in res.shared
    ]
    assert rebuilt == res.shared
    assert [hash(s) for s in rebuilt] == [hash(s) for s in res.shared]
    assert all(isinstance(s.road_id, str) and isinstance(s.intervals, tuple) for s in res.shared)
    assert all(type(iv.from_m) is float and type(iv.to_m) is float for s in res.shared for iv in s.intervals)


def _bench_city(n: int) -> tuple[list[Road], list[Work]]:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "overlap.py"
    spec = importlib.util.spec_from_file_location("_bench_overlap", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_city(n)  # type: ignore[no-any-return]


@pytest.mark.parametrize("n", [1000, 10000])
def test_compiled_path_equals_numpy_path_on_bench_city(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """geo._fused (numba) against the numpy path of geo._clip: same pairs, occupancy, crossings, off-road."""
    import geo._clip
    import geo._fused

    roads, works = _bench_city(n)
    got = {}
    for compiled in (False, True):
        monkeypatch.setattr(geo._clip, "COMPILED", compiled)
        got[compiled] = detect(works, RoadNetwork(roads=roads, crs=S10.working_crs), settings=S10)
    assert geo._fused.row_ranges.compiled.signatures and geo._fused.nearest.compiled.signatures  # type: ignore[attr-defined]
    a, b = got[False], got[True]
    assert len(a.shared) > n // 4
    assert [(s.road_id, s.work_ids, len(s.intervals)) for s in a.shared] == [
        (s.road_id, s.work_ids, len(s.intervals)) for s in b.shared
    ]
    fa = np.array([(iv.from_m, iv.to_m) for s in a.shared for iv in s.intervals])
    fb = np.array([(iv.from_m, iv.to_m) for s in b.shared for iv in s.intervals])
    assert np.abs(fa - fb).max() <= 1e-6
    ta, tb = a.table, b.table
    assert ta is not None and tb is not None
    for name in ("work", "road", "cross_work", "cross_road", "off_road_work"):
        assert np.array_equal(getattr(ta, name), getattr(tb, name)), name
    for name in ("from_m", "to_m", "offset_m", "cross_m", "off_road_length_m"):
        assert np.allclose(getattr(ta, name), getattr(tb, name), rtol=0, atol=1e-6), name
    assert all(ga.equals_exact(gb, 1e-6) for ga, gb in zip(ta.off_road_geom, tb.off_road_geom, strict=True))


def test_compiled_path_without_a_writable_numba_cache(tmp_path: object) -> None:
    """numba compiles in memory when its cache dir cannot be written: no error, no warning (-W error)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import datetime as dt\n"
        "from shapely import LineString\n"
        "from geo.overlap import detect\n"
        "from onetrench.domain import Road, RoadClass, UtilityKind, Work\n"
        "road = Road(road_id='R', name='R', road_class=RoadClass.BRANCH, width_m=16, "
        "geometry=LineString([(0, 0), (300, 0)]))\n"
        "ws = [Work(work_id=i, utility=UtilityKind.GAS, owner='x', geometry=LineString([(x, 1), (x + 120, 1)]), "
        "start=dt.date(2027, 1, 1), end=dt.date(2027, 1, 2)) for i, x in (('A', 0), ('B', 50))]\n"
        "print(round(detect(ws, [road]).shared[0].shared_m, 6))\n"
    )
    env = dict(os.environ, NUMBA_CACHE_DIR="/dev/null/numba-cache")
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "70.0"
    assert "Warning" not in proc.stderr


@pytest.mark.parametrize("compiled", [True, False])
def test_long_work_segments_along_finely_digitised_roads(compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """One work segment against hundreds of road segments of one road (large groups in the loops)."""
    import geo._clip

    monkeypatch.setattr(geo._clip, "COMPILED", compiled)
    x = np.linspace(600.0, 0.0, 401)  # digitised backwards, 1.5 m steps with a 3 cm zigzag
    y = np.where(np.arange(401) % 2 == 0, 0.03, -0.03)
    roads = [R("Z", LineString(np.c_[x, y])), R("C", LineString([(300, -300), (300, 300)]), width=16)]
    works = [
        W("A", LineString([(15, 2), (585, 2)])),
        W("B", LineString([(590, -3), (10, -3)])),
        W("C", LineString([(100, 6), (250, 6), (400, 6), (500, 40)])),
        W("D", LineString([(300, -250), (300, 250)])),
    ]
    assert_matches_reference(works, roads)


@pytest.mark.parametrize("compiled", [True, False])
def test_flat_cap_after_short_segments(compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import geo._clip

    monkeypatch.setattr(geo._clip, "COMPILED", compiled)
    roads = [R("Z", LineString(np.c_[np.linspace(600.0, 0.0, 100), np.zeros(100)]))]  # 6 m segments, h = 10 m
    assert_matches_reference([W("A", LineString([(-20, 2), (620, 2)]))], roads)


def _past_the_ends(road: LineString, name: str) -> list[Work]:
    """Routes running along ``road`` past both its ends, at several offsets, and across each end."""
    coords = np.asarray(road.coords)
    works = []
    for end, (p, q) in enumerate(((coords[0], coords[1]), (coords[-1], coords[-2]))):
        d = (p - q) / np.hypot(*(p - q))  # outwards at this end
        n = np.array([-d[1], d[0]])
        for k, off in enumerate((-9.9, -6.0, -2.0, 0.0, 3.0, 7.5, 9.9)):
            a, b = p - 40 * d + off * n, p + 25 * d + off * n
            works.append(W(f"{name}{end}o{k}", LineString([a, b])))
        for k, back in enumerate((-3.0, 1.0, 4.0, 9.0)):  # across the corridor, near the cap
            c = p - back * d
            works.append(W(f"{name}{end}x{k}", LineString([c - 15 * n, c + 15 * n])))
    return works


def _short_ends(step: float, bend_deg: float) -> LineString:
    """A road of 6 m segments at both ends around a 200 m middle; the last 3 segments turn by ``bend_deg``."""
    pts = [(-3 * step + k * step, 0.0) for k in range(3)] + [(0.0, 0.0), (200.0, 0.0)]
    heading, x, y = 0.0, 200.0, 0.0
    for _ in range(3):
        heading += math.radians(bend_deg) / 3
        x, y = x + step * math.cos(heading), y + step * math.sin(heading)
        pts.append((x, y))
    return LineString(pts)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("bend_deg", [0.0, 4.0, 45.0, -60.0, 120.0])
@pytest.mark.parametrize("reverse", [False, True])
def test_flat_caps_after_short_segments_at_both_ends(
    compiled: bool, bend_deg: float, reverse: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Segments shorter than the half width at both ends, a closing angle, either digitising direction."""
    import geo._clip

    monkeypatch.setattr(geo._clip, "COMPILED", compiled)
    line = _short_ends(6.0, bend_deg)
    if reverse:
        line = line.reverse()
    works = _past_the_ends(line, "w")
    assert_matches_reference(works, [R("S", line, width=20.0)])
    # the routes running past the end leave the corridor at the cap: off-road beyond it
    res = detect(works, [R("S", line, width=20.0)], settings=S0)
    assert sum(p.length_m for p in res.off_road) > 7 * 2 * 20.0


@pytest.mark.parametrize("n", [0, 1, 5, 32, 33, 200, 1001])
def test_compiled_sorts_match_numpy(n: int) -> None:
    """The hand-written sorts in geo._fused (no numpy sort inside numba: shorter compile) equal numpy's."""
    from geo import _fused

    rng = np.random.default_rng(n)
    vals = rng.integers(0, max(n // 3, 1), n).astype(np.float64)  # many ties: stability matters
    idx = np.arange(n, dtype=np.int64)
    _fused._sort_by(idx, vals, 0, n)
    assert idx.tolist() == np.argsort(vals, kind="stable").tolist()
    ints = rng.permutation(3 * n)[:n].astype(np.int64)
    want = ints.copy()
    want[2:] = np.sort(want[2:])
    _fused._sort_ints(ints, 2, n) if n > 2 else None
    assert ints.tolist() == (want.tolist() if n > 2 else ints.tolist())


def test_compiled_loops_use_the_clip_constants() -> None:
    from geo import _clip, _fused

    assert (_fused.SIMPLIFY_BAND, _fused.FILLET_BAND, _fused.BAND_SLACK_M) == (
        _clip.SIMPLIFY_BAND,
        _clip.FILLET_BAND,
        _clip.BAND_SLACK_M,
    )


@pytest.mark.parametrize("compiled", [True, False])
def test_inside_turn_snapped_by_geos(compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1e-3 rad turn: GEOS snaps the inside corner to an offset segment's end, moving its edge by ~1e-6 m.

    (Found by test_prop_grazing_routes_match_reference: the cut's off-road length was 1.03e-6 m off.)
    """
    import geo._clip

    monkeypatch.setattr(geo._clip, "COMPILED", compiled)
    road = R(
        "R",
        LineString(
            [
                (0, 0),
                (43.22418446945118, 67.31767878463172),
                (48.88316060286741, 147.11727771295608),
                (54.60181366412493, 228.9176261667675),
            ]
        ),
        width=8.0,
    )
    works = [W("cut", LineString([(40.124409737827, 108.21497323539796), (52.124409737827, 108.21497323539796)]))]
    works += [W(f"p{k}", LineString([(40.0 + k * 0.7, 60.0), (57.0 + k * 0.7, 240.0)])) for k in range(8)]
    assert_matches_reference(works, [road])

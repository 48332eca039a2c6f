"""The intake's whole-file geometry checks give exactly what the per-feature checks give.

``geo.intake.BATCH = False`` runs every feature through :func:`geo.validate.check_geometry`,
:func:`geo.crs.geometry_to_working` and :func:`geo.validate.check_projected` (the reference);
the default checks a file's geometries at once (:func:`geo.validate.clean_geometries`) and runs
the per-feature checks only for the features with a problem. Works (every field, geometries
byte for byte), errors and warnings must be equal, in the same order.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from geo import intake
from geo.intake import IntakeResult, read_works
from geo.validate import PAIRWISE_MAX_VERTICES, _line_self_crossings
from onetrench.settings import Settings

LON0, LAT0 = 106.65, 29.03
TO_4545 = Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True)


def _props(i: int, rng: random.Random) -> dict[str, Any]:
    props: dict[str, Any] = {
        "工程编号": f"T-{i}",
        "管线类别": rng.choice(["给水", "燃气", "电力", "通信", "排水", "电缆沟"]),
        "计划开工": rng.choice(["2026-03-01", "2026/3/2", "2026年3月3日", "20260301"] * 5 + ["2026-13-01", "", "x"]),
        "计划完工": rng.choice(["2026-03-20", "2026/5/2", "2026年7月3日"] * 5 + ["2025-01-01"]),
    }
    if rng.random() < 0.3:
        props["建设单位"] = "渝綦水务"
    if rng.random() < 0.3:
        props["管径"] = rng.choice(["DN300", "De110", "0.3m", "abc", "9000"])
    if rng.random() < 0.05:
        props["工程编号"] = "T-dup"
    return props


def _line(rng: random.Random, n: int, *, step: float = 2e-4) -> list[list[float]]:
    lon, lat = LON0 + rng.uniform(-0.05, 0.05), LAT0 + rng.uniform(-0.05, 0.05)
    angle = rng.uniform(0, 2 * math.pi)
    pts = []
    for _ in range(n):
        pts.append([lon, lat])
        angle += rng.uniform(-0.6, 0.6)
        lon, lat = lon + step * math.cos(angle), lat + step * math.sin(angle)
    return pts


def _geometry(kind: str, rng: random.Random) -> dict[str, Any] | None:
    if kind == "line":
        return {"type": "LineString", "coordinates": _line(rng, rng.randint(2, 12))}
    if kind == "long":
        return {"type": "LineString", "coordinates": _line(rng, rng.randint(PAIRWISE_MAX_VERTICES, 150))}
    if kind == "crossing":  # a loop: the 5th vertex comes back across the first segment
        a = _line(rng, 2)
        (x0, y0), (x1, y1) = a
        mid = [(x0 + x1) / 2, (y0 + y1) / 2]
        pts = [a[0], a[1], [x1 + 1e-4, y1 + 2e-4], [mid[0] - 1e-4, mid[1] + 3e-4], [mid[0], mid[1] - 2e-4]]
        return {"type": "LineString", "coordinates": pts}
    if kind == "touch":  # a vertex exactly on an earlier segment
        (x0, y0), (x1, y1) = _line(rng, 2)
        mid = [(x0 + x1) / 2, (y0 + y1) / 2]
        return {"type": "LineString", "coordinates": [[x0, y0], [x1, y1], [x1, y1 + 3e-4], mid]}
    if kind == "closed":
        pts = _line(rng, 4, step=5e-4)
        return {"type": "LineString", "coordinates": [*pts, [pts[0][0] + 1e-7, pts[0][1]]]}
    if kind == "backtrack":
        pts = _line(rng, 3)
        return {"type": "LineString", "coordinates": [*pts, pts[1], pts[0]]}
    if kind == "repeated":
        pts = _line(rng, 4)
        return {"type": "LineString", "coordinates": [pts[0], pts[1], pts[1], pts[2], pts[3]]}
    if kind == "long_crossing":
        pts = _line(rng, PAIRWISE_MAX_VERTICES + 10)
        return {"type": "LineString", "coordinates": [*pts, pts[3], [pts[3][0] + 1e-3, pts[3][1] - 1e-3]]}
    if kind == "multi":
        return {"type": "MultiLineString", "coordinates": [_line(rng, 5), _line(rng, 6)]}
    if kind == "multi_crossing":
        return {"type": "MultiLineString", "coordinates": [_line(rng, 3), _geometry("crossing", rng)["coordinates"]]}  # type: ignore[index]
    if kind == "polygon":
        x, y = LON0 + rng.uniform(-0.05, 0.05), LAT0 + rng.uniform(-0.05, 0.05)
        ring = [[x, y], [x + 3e-4, y], [x + 3e-4, y + 2e-4], [x, y + 2e-4], [x, y]]
        return {"type": "Polygon", "coordinates": [ring]}
    if kind == "bowtie":
        x, y = LON0, LAT0 + rng.uniform(-0.05, 0.05)
        return {
            "type": "Polygon",
            "coordinates": [[[x, y], [x + 3e-4, y + 2e-4], [x + 3e-4, y], [x, y + 2e-4], [x, y]]],
        }
    if kind == "multipolygon":
        return {"type": "MultiPolygon", "coordinates": [_geometry("polygon", rng)["coordinates"]]}  # type: ignore[index]
    if kind == "outside":
        return {"type": "LineString", "coordinates": [[107.5, 29.5], [107.501, 29.5]]}
    if kind == "partly":  # across the district's west edge (about 106.38 E)
        return {"type": "LineString", "coordinates": [[106.25, 29.0], [106.75, 29.0]]}
    if kind == "near_edge":  # outside the box but within the plausible margin
        return {"type": "LineString", "coordinates": [[107.07, 29.0], [107.08, 29.0]]}
    if kind == "swapped":
        return {"type": "LineString", "coordinates": [[p[1], p[0]] for p in _line(rng, 3)]}
    if kind == "nan":
        pts = _line(rng, 3)
        return {"type": "LineString", "coordinates": [pts[0], [None, pts[1][1]], pts[2]]}
    if kind == "z":
        return {"type": "LineString", "coordinates": [[*p, 250.0] for p in _line(rng, 3)]}
    if kind == "zero":
        p = _line(rng, 1)[0]
        return {"type": "LineString", "coordinates": [p, [p[0] + 1e-12, p[1]]]}
    if kind == "one_point":
        return {"type": "LineString", "coordinates": [_line(rng, 1)[0]]}
    if kind == "point":
        return {"type": "Point", "coordinates": _line(rng, 1)[0]}
    if kind == "collection":
        return {"type": "GeometryCollection", "geometries": [_geometry("line", rng), _geometry("line", rng)]}
    if kind == "empty":
        return {"type": "LineString", "coordinates": []}
    if kind == "bool":
        return {"type": "LineString", "coordinates": [[True, 29.0], [106.6, 29.0]]}
    if kind == "huge_latitude":
        return {"type": "LineString", "coordinates": [[106.6, 29.0], [106.6, 95.0]]}
    return None  # "missing"


KINDS = [
    "line",
    "long",
    "crossing",
    "touch",
    "closed",
    "backtrack",
    "repeated",
    "long_crossing",
    "multi",
    "multi_crossing",
    "polygon",
    "bowtie",
    "multipolygon",
    "outside",
    "partly",
    "near_edge",
    "swapped",
    "nan",
    "z",
    "zero",
    "one_point",
    "point",
    "collection",
    "empty",
    "bool",
    "huge_latitude",
    "missing",
]


def _body(seed: int, n: int, *, crs: str | None = None) -> bytes:
    rng = random.Random(seed)
    features = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)] if i < 3 * len(KINDS) else rng.choice(KINDS + ["line"] * 20)
        geom = _geometry(kind, rng)
        if crs == "EPSG:4545" and geom is not None and geom["type"] == "LineString":
            geom = {
                "type": "LineString",
                "coordinates": [
                    list(TO_4545.transform(*p[:2])) if all(isinstance(v, float) for v in p[:2]) else p
                    for p in geom["coordinates"]
                ],
            }
        features.append({"type": "Feature", "properties": _props(i, rng), "geometry": geom})
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs is not None:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    return json.dumps(doc, ensure_ascii=False).encode()


def _fields(result: IntakeResult) -> list[dict[str, Any]]:
    out = []
    for w in result.works:
        row = {f.name: getattr(w, f.name) for f in dataclasses.fields(w)}
        row["geometry"] = shapely.to_wkb(w.geometry)  # bytes: the same coordinates to the last bit
        out.append(row)
    return out


def _both(name: str, data: bytes, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> tuple[IntakeResult, IntakeResult]:
    fast = read_works(name, data=data, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(intake, "BATCH", False)
        reference = read_works(name, data=data, **kwargs)
    return fast, reference


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("crs", [None, "EPSG:4490", "EPSG:4545"])
def test_batch_equals_per_feature(seed: int, crs: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _body(seed, 400, crs=crs)
    fast, reference = _both("routes.geojson", data, monkeypatch)
    assert _fields(fast) == _fields(reference)
    assert fast.errors == reference.errors
    assert fast.warnings == reference.warnings
    assert fast.n_features == reference.n_features == 400
    # the generated kinds really exercise the checks: valid works and most kinds of problem
    codes = {p.code for p in fast.errors + fast.warnings}
    assert len(fast.works) > 100
    if crs != "EPSG:4545":
        expected = {
            "geometry.self_intersection",
            "geometry.invalid",
            "geometry.outside_district",
            "geometry.partly_outside_district",
            "geometry.swapped_axes",
            "geometry.unreadable",
            "geometry.unsupported_type",
            "geometry.missing",
            "geometry.z_dropped",
            "geometry.not_transformable",
            "geometry.zero_length",
        }
        assert expected <= codes, expected - codes


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_web_map_systems_take_the_per_feature_path(crs: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, reference = _both("mobile.geojson", _body(7, 120), monkeypatch, crs=crs, crs_mode="override")
    assert _fields(fast) == _fields(reference)
    assert (fast.errors, fast.warnings) == (reference.errors, reference.warnings)
    assert fast.works


def test_vertex_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(max_vertices_per_feature=20)
    fast, reference = _both("routes.geojson", _body(4, 200), monkeypatch, settings=settings)
    assert _fields(fast) == _fields(reference)
    assert (fast.errors, fast.warnings) == (reference.errors, reference.warnings)
    assert any(p.code == "geometry.too_many_vertices" for p in fast.errors)


def test_crossing_test_matches_the_strtree_one() -> None:
    """Short and long parts, random walks that often cross: the same verdict as _line_self_crossings."""
    from geo.validate import _crossing_free

    rng = random.Random(11)
    parts = []
    for _ in range(600):
        n = rng.choice([2, 3, 4, 5, 6, 9, 20, PAIRWISE_MAX_VERTICES, PAIRWISE_MAX_VERTICES + 1, 90])
        pts = np.array([[rng.randint(0, 6), rng.randint(0, 6)] for _ in range(n)], dtype=float)
        if rng.random() < 0.5:
            pts = np.cumsum(np.array([[rng.uniform(-1, 1), rng.uniform(0, 1)] for _ in range(n)]), axis=0)
        if rng.random() < 0.1:
            pts[-1] = pts[0] + 1e-9
        parts.append(shapely.linestrings(pts))
    expected = np.array([not _line_self_crossings(p) for p in parts])
    got = _crossing_free(np.asarray(parts, dtype=object))
    assert got.tolist() == expected.tolist()
    assert 50 < int(expected.sum()) < 550  # both verdicts are common


def test_the_garbage_collector_is_resumed_after_read_works_also_on_errors() -> None:
    """read_works pauses the cyclic GC while it parses, and leaves it as it found it."""
    import gc

    from onetrench.errors import UnreadableFile

    assert gc.isenabled()
    assert read_works("routes.geojson", data=_body(5, 30)).works
    assert gc.isenabled()
    with pytest.raises(UnreadableFile):
        read_works("routes.geojson", data=b"{not json")
    assert gc.isenabled()
    gc.disable()
    try:
        read_works("routes.geojson", data=_body(5, 30))
        assert not gc.isenabled()  # left paused when the caller had paused it
    finally:
        gc.enable()

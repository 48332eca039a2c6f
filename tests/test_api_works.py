"""The service's works endpoints on SpatiaLite and PostGIS: upload, list, read, update, withdraw, history.

Expected values come from the construction of tests/data/api (see make_fixtures.py): P-1 runs
along R1 from 0 to 400 m, W-1 from 200 to 600 m (same period), G-1 from 100 to 300 m (August).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape

DATA = Path(__file__).parent / "data" / "api"
TO_WORK = Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True)


def metres(geojson: dict[str, Any]) -> Any:
    """A response geometry (EPSG:4490) in the working CRS, to measure it."""
    return shapely.transform(shape(geojson), lambda xy: np.column_stack(TO_WORK.transform(xy[:, 0], xy[:, 1])))


def pair(findings: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [f for f in findings if f["kind"] == kind]


def test_upload_returns_works_and_findings_against_stored(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    first = w.upload("power")
    assert first["created"] == 1
    assert [x["key"] for x in first["works"]] == ["power:P-1"]
    assert first["errors"] == []
    assert pair(first["findings"], "same_road_same_period") == []

    second = w.upload("water")
    shared = pair(second["findings"], "same_road_same_period")
    assert len(shared) == 1
    f = shared[0]
    assert f["work_keys"] == ["power:P-1", "water:W-1"]
    assert f["road_id"] == "R1"
    assert f["measures"] == [[pytest.approx(200.0, abs=0.5), pytest.approx(400.0, abs=0.5)]]
    work = second["works"][0]
    assert work["utility"] == "water"
    assert work["start"] == "2026-03-10"
    assert metres(work["geometry"]).length == pytest.approx(400.0, abs=0.5)


def test_upload_geojson_body(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    body = json.loads((DATA / "power.geojson").read_text(encoding="utf-8"))
    r = w.client.post("/works", json=body, headers=w.headers("power"))
    assert r.status_code == 200, r.text
    assert [x["work_id"] for x in r.json()["works"]] == ["P-1"]


def _fc(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def _feature(wid: str, start: str | None, end: str | None) -> dict[str, Any]:
    props: dict[str, Any] = {"工程编号": wid, "管线类别": "电力", "建设单位": "国网重庆綦江供电公司"}
    if start:
        props["计划开工"] = start
    if end:
        props["计划完工"] = end
    geom = {"type": "LineString", "coordinates": [[106.651, 29.0281], [106.653, 29.0281]]}
    return {"type": "Feature", "properties": props, "geometry": geom}


def test_upload_with_only_invalid_features_is_422_with_per_feature_details(api_world: Any) -> None:
    w = api_world
    body = _fc(_feature("X-1", None, "2026-03-01"), _feature("X-2", "2026-03-09", "2026-03-01"))
    r = w.client.post("/works", json=body, headers=w.headers("power"))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == 422
    assert problem["type"].endswith("input-error")
    assert problem["detail_zh"]
    indexes = {e.get("index") for e in problem["errors"]}
    assert indexes == {0, 1}  # every problem collected, each addressed to its feature
    assert w.client.get("/works", headers=w.headers("power")).json()["count"] == 0


def test_upload_stores_valid_features_and_reports_invalid_ones(api_world: Any) -> None:
    w = api_world
    body = _fc(_feature("OK-1", "2026-03-01", "2026-03-05"), _feature("BAD-1", "2026-03-09", "2026-03-01"))
    r = w.client.post("/works", json=body, headers=w.headers("power"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert [x["work_id"] for x in out["works"]] == ["OK-1"]
    assert {e.get("feature_id") for e in out["errors"]} == {"BAD-1"}


def test_unreadable_file_is_400(api_world: Any) -> None:
    w = api_world
    r = w.client.post("/works/upload", files={"file": ("routes.geojson", b"{not json")}, headers=w.headers("power"))
    assert r.status_code == 400
    assert r.json()["type"].endswith("unreadable-file")


def test_upload_over_the_size_limit_is_413(api_world: Any) -> None:
    w = api_world
    w.app.state.settings = w.settings.model_copy(update={"max_upload_bytes": 200})
    with (DATA / "power.geojson").open("rb") as fh:
        r = w.client.post("/works/upload", files={"file": ("power.geojson", fh)}, headers=w.headers("power"))
    assert r.status_code == 413
    assert r.json()["status"] == 413


def test_reupload_is_a_new_version_and_never_duplicates_findings(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    w.upload("power")
    w.upload("water")
    again = w.upload("water")
    assert again["created"] == 0
    assert again["updated"] == 1
    all_findings = w.client.get("/findings", headers=w.headers("bureau")).json()["findings"]
    assert len(pair(all_findings, "same_road_same_period")) == 1
    wid = again["works"][0]["id"]
    history = w.client.get(f"/works/{wid}/history", headers=w.headers("water")).json()
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert [v["change"] for v in history["versions"]] == ["created", "updated"]


def test_update_keeps_every_version_and_rechecks(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    w.upload("power")
    wid = w.upload("water")["works"][0]["id"]
    r = w.client.patch(f"/works/{wid}", json={"start": "2026-09-01", "end": "2026-09-20"}, headers=w.headers("water"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["works"][0]["version"] == 2
    assert pair(out["findings"], "same_road_same_period") == []
    assert len(pair(out["findings"], "same_road_different_period")) == 1
    versions = w.client.get(f"/works/{wid}/history", headers=w.headers("water")).json()["versions"]
    assert [v["snapshot"]["start"] for v in versions] == ["2026-03-10", "2026-09-01"]
    all_findings = w.client.get("/findings", headers=w.headers("bureau")).json()["findings"]
    assert [f["kind"] for f in all_findings] == ["same_road_different_period"]


def test_update_with_inconsistent_dates_is_422_listing_every_problem(api_world: Any) -> None:
    w = api_world
    wid = w.upload("power")["works"][0]["id"]
    r = w.client.patch(
        f"/works/{wid}",
        json={"start": "2026-05-10", "end": "2026-05-01", "earliest_start": "2026-05-20"},
        headers=w.headers("power"),
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"end", "earliest_start"}


def test_update_geometry_in_exchange_crs(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    wid = w.upload("power")["works"][0]["id"]
    water = json.loads((DATA / "water.geojson").read_text(encoding="utf-8"))
    geometry = water["features"][0]["geometry"]
    r = w.client.patch(f"/works/{wid}", json={"geometry": geometry}, headers=w.headers("power"))
    assert r.status_code == 200, r.text
    got = metres(r.json()["works"][0]["geometry"])
    assert got.length == pytest.approx(400.0, abs=0.5)
    bad = w.client.patch(
        f"/works/{wid}", json={"geometry": {"type": "Point", "coordinates": [106.6, 29]}}, headers=w.headers("power")
    )
    assert bad.status_code == 422


def test_withdraw_keeps_history_and_removes_findings(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    w.upload("power")
    wid = w.upload("water")["works"][0]["id"]
    r = w.client.post(f"/works/{wid}/withdraw", headers=w.headers("water"))
    assert r.status_code == 200
    assert r.json()["withdrawn"] is True
    assert w.client.get("/findings", headers=w.headers("bureau")).json()["count"] == 0
    listed = w.client.get("/works", headers=w.headers("bureau")).json()
    assert [x["key"] for x in listed["works"]] == ["power:P-1"]
    with_withdrawn = w.client.get("/works?include_withdrawn=true", headers=w.headers("bureau")).json()
    assert {x["key"] for x in with_withdrawn["works"]} == {"power:P-1", "water:W-1"}
    versions = w.client.get(f"/works/{wid}/history", headers=w.headers("water")).json()["versions"]
    assert [v["change"] for v in versions] == ["created", "withdrawn"]
    again = w.client.patch(f"/works/{wid}", json={"name": "x"}, headers=w.headers("water"))
    assert again.status_code == 422


def test_findings_per_work_per_road_and_kind(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    pid = w.upload("power")["works"][0]["id"]
    w.upload("water")
    w.upload("gas")
    tid = w.upload("telecom")["works"][0]["id"]
    h = w.headers("bureau")
    assert w.client.get("/findings", headers=h).json()["count"] == 3
    assert w.client.get(f"/works/{pid}/findings", headers=h).json()["count"] == 2
    assert w.client.get(f"/works/{tid}/findings", headers=h).json()["count"] == 0
    assert w.client.get("/roads/R1/findings", headers=h).json()["count"] == 3
    assert w.client.get("/roads/R2/findings", headers=h).json()["count"] == 0
    kinds = w.client.get("/findings?kind=same_road_different_period", headers=h).json()
    assert kinds["count"] == 2
    assert w.client.get("/roads/NOPE/findings", headers=h).status_code == 404
    assert w.client.get("/findings?kind=nonsense", headers=h).status_code == 422


def test_roads_load_list_and_get(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    roads = w.client.get("/roads", headers=w.headers("telecom")).json()
    assert [r["road_id"] for r in roads["roads"]] == ["R1", "R2"]
    r1 = w.client.get("/roads/R1", headers=w.headers("power")).json()
    assert r1["road_class"] == "arterial"
    assert r1["width_m"] == 40
    assert metres(r1["geometry"]).length == pytest.approx(600.0, abs=0.5)
    # loading again replaces by road_id
    with (DATA / "roads.geojson").open("rb") as fh:
        again = w.client.post("/roads", files={"file": ("roads.geojson", fh)}, headers=w.headers("admin"))
    assert again.json()["updated"] == 2
    assert again.json()["created"] == 0


def test_large_uploads_are_stored_with_the_cyclic_gc_paused(api_world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """From GC_PAUSE_MIN_BYTES on, the upload runs with the cyclic GC paused; a small one does not."""
    import gc

    from api.routes import works as works_route
    from api.services import works as work_service

    seen: list[bool] = []
    store = work_service.store_works

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return store(*args, **kwargs)

    monkeypatch.setattr(work_service, "store_works", spy)
    w = api_world
    w.load_roads()
    small = _fc(_feature("S-1", "2026-03-01", "2026-03-09"))
    padding = "说明" * (works_route.GC_PAUSE_MIN_BYTES // 6 + 1)  # 3 bytes per character in UTF-8
    large = _fc(_feature("L-1", "2026-03-01", "2026-03-09"))
    large["features"][0]["properties"]["备注"] = padding
    for body in (small, large):
        r = w.client.post("/works", json=body, headers=w.headers("power"))
        assert r.status_code == 200, r.text
    assert seen == [True, False]
    assert gc.isenabled()


def test_geojson_body_that_is_not_geojson_gets_the_intake_errors(api_world: Any) -> None:
    """The body is parsed once, by the intake: the same problems as for a file, in both languages."""
    w = api_world
    headers = {**w.headers("power"), "Content-Type": "application/json"}
    for body, status in ((b"{not json", 400), (b"", 400), (b"[1, 2]", 400), (b'{"type": "Topology"}', 400)):
        r = w.client.post("/works", content=body, headers=headers)
        assert r.status_code == status, (body, r.text)
        problem = r.json()
        assert problem["type"].endswith("unreadable-file"), problem
        assert problem["detail"] and problem["detail_zh"], problem
    no_geometry = b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "X-1"}}]}'
    r = w.client.post("/works", content=no_geometry, headers=headers)
    assert r.status_code == 422
    errors = r.json()["errors"]  # what the one feature lacks (geometry, dates …), each in both languages
    assert errors, r.text
    assert all(e["index"] == 0 and e["zh"] and e["en"] for e in errors), errors


def test_warm_up_makes_the_transformations_of_an_upload(tmp_path: Any) -> None:
    """A worker reads the example upload at start: its first real upload makes no transformer
    (each took ~60 ms, three of them, in the first uploads of every worker)."""
    from api.app import warm_up
    from api.db import make_engine
    from api.schemas import FEATURE_COLLECTION_EXAMPLE
    from geo import crs
    from geo.intake import read_works
    from onetrench.settings import Settings

    settings = Settings(database_url=f"sqlite:///{tmp_path}/warm.sqlite")
    crs._TRANSFORMERS.clear()
    warm_up(make_engine(settings.database_url), settings)
    made = set(crs._TRANSFORMERS)
    assert any(dst == settings.working_crs for _, dst in made), made
    body = json.dumps(FEATURE_COLLECTION_EXAMPLE).encode()
    read_works("upload.geojson", data=body, settings=settings)
    assert set(crs._TRANSFORMERS) == made


def test_database_failure_in_psycopgs_own_reads_is_a_503(api_world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The nearby works and the bulk writes go through psycopg directly on PostGIS: a lost server
    there is answered like one lost under SQLAlchemy, 503 with Retry-After, in both languages."""
    import psycopg

    from api.services import check as check_service

    w = api_world
    if w.engine.dialect.name != "postgresql":
        pytest.skip("psycopg is PostgreSQL's driver")
    w.load_roads()
    w.upload("power")

    def lost(*args: Any, **kwargs: Any) -> Any:
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(check_service, "_near_work_rows_pg", lost)
    with (DATA / "power.geojson").open("rb") as fh:  # a re-upload: the general path reads the nearby works so
        r = w.client.post("/works/upload", files={"file": ("power.geojson", fh)}, headers=w.headers("power"))
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"]
    assert r.json()["detail_zh"] and r.json()["detail"]

"""Roles and least disclosure on SpatiaLite and PostGIS: every refused access, and what each caller sees.

Roles: ``admin`` manages organisations and tokens only; the bureau sees everything and alone
approves; a utility sees its own works in full and of others only the stretches shared with its
own. ``power`` and ``water`` share 200 m of R1 (one bundle); ``telecom`` shares nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ApiToken, AuditEvent, Organisation

DATA = Path(__file__).parent / "data" / "api"
TO_WORK = Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True)
ROLES = ("admin", "bureau", "power", "telecom")


def metres(geojson: dict[str, Any]) -> Any:
    return shapely.transform(shape(geojson), lambda xy: np.column_stack(TO_WORK.transform(xy[:, 0], xy[:, 1])))


def _setup(w: Any, *, gas: bool = False) -> dict[str, Any]:
    w.load_roads()
    pw = w.upload("power")["works"][0]["id"]
    ww = w.upload("water")["works"][0]["id"]
    tw = w.upload("telecom")["works"][0]["id"]
    if gas:
        w.upload("gas")
    plan = w.client.post("/plan", json={}, headers=w.headers("bureau"))
    assert plan.status_code == 200, plan.text
    bundles = plan.json()["bundles"]
    assert len(bundles) == 1
    return {"pw": pw, "ww": ww, "tw": tw, "b": bundles[0]["bundle_id"], "v": bundles[0]["version"]}


def _matrix(ids: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None, dict[str, int]]]:
    """(method, path, json body, expected status per role); only reads succeed here, writes are refused."""
    pw, ww, tw, b, v = ids["pw"], ids["ww"], ids["tw"], ids["b"], ids["v"]
    util_read = {"admin": 403, "bureau": 200, "power": 200, "telecom": 200}
    body = json.loads((DATA / "power.geojson").read_text(encoding="utf-8"))
    return [
        ("GET", "/me", None, {"admin": 200, "bureau": 200, "power": 200, "telecom": 200}),
        ("GET", "/roads", None, {"admin": 200, "bureau": 200, "power": 200, "telecom": 200}),
        ("GET", "/roads/R1", None, {"admin": 200, "bureau": 200, "power": 200, "telecom": 200}),
        ("GET", "/works", None, util_read),
        ("GET", f"/works/{pw}", None, {"admin": 403, "bureau": 200, "power": 200, "telecom": 404}),
        ("GET", f"/works/{tw}", None, {"admin": 403, "bureau": 200, "power": 404, "telecom": 200}),
        ("GET", f"/works/{pw}/history", None, {"admin": 403, "bureau": 200, "power": 200, "telecom": 404}),
        ("GET", f"/works/{ww}/history", None, {"admin": 403, "bureau": 200, "power": 403, "telecom": 404}),
        ("GET", f"/works/{pw}/findings", None, {"admin": 403, "bureau": 200, "power": 200, "telecom": 404}),
        ("PATCH", f"/works/{ww}", {"name": "x"}, {"admin": 403, "bureau": 403, "power": 403, "telecom": 404}),
        ("POST", f"/works/{ww}/withdraw", None, {"admin": 403, "bureau": 403, "power": 403, "telecom": 404}),
        ("POST", "/works", body, {"admin": 403, "bureau": 403}),
        ("GET", "/findings", None, util_read),
        ("GET", "/roads/R1/findings", None, util_read),
        ("POST", "/plan", {}, {"admin": 403, "power": 403, "telecom": 403}),
        ("GET", "/bundles", None, util_read),
        ("GET", f"/bundles/{b}", None, {"admin": 403, "bureau": 200, "power": 200, "telecom": 404}),
        ("GET", f"/bundles/{b}/approvals", None, {"admin": 403, "bureau": 200, "power": 200, "telecom": 404}),
        ("POST", f"/bundles/{b}/approve", {"version": v}, {"admin": 403, "power": 403, "telecom": 403}),
        (
            "POST",
            f"/bundles/{b}/send-back",
            {"version": v, "comment": "x"},
            {"admin": 403, "power": 403, "telecom": 403},
        ),
        ("POST", f"/bundles/{b}/accept-dates", {"version": v}, {"admin": 403, "bureau": 403, "telecom": 404}),
        (
            "GET",
            f"/bundles/{b}/package?project_code=2026-500110-48-01-000123",
            None,
            {"admin": 403, "bureau": 409, "power": 403, "telecom": 403},
        ),
        ("GET", "/maps/review", None, util_read),
        ("GET", f"/maps/bundles/{b}", None, {"admin": 403, "bureau": 200, "power": 200, "telecom": 404}),
        ("GET", "/maps/roads/R1/timeline", None, util_read),
        ("GET", "/kpis", None, {"admin": 403, "bureau": 200, "power": 403, "telecom": 403}),
        ("GET", "/admin/organisations", None, {"admin": 200, "bureau": 403, "power": 403, "telecom": 403}),
        (
            "POST",
            "/admin/organisations",
            {"code": "new", "name": "n", "kind": "utility"},
            {"bureau": 403, "power": 403},
        ),
        ("GET", "/admin/tokens", None, {"admin": 200, "bureau": 403, "power": 403, "telecom": 403}),
        ("POST", "/admin/tokens", {"org": "power"}, {"bureau": 403, "power": 403, "telecom": 403}),
        ("POST", "/admin/tokens/1/revoke", None, {"bureau": 403, "power": 403, "telecom": 403}),
    ]


def test_role_matrix(api_world: Any) -> None:
    w = api_world
    ids = _setup(w)
    wrong = []
    for method, path, body, expected in _matrix(ids):
        for role, status in expected.items():
            r = w.client.request(method, path, json=body, headers=w.headers(role))
            if r.status_code != status:
                wrong.append((method, path, role, status, r.status_code, r.text[:200]))
            elif status >= 400:
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.json()["status"] == status
    assert wrong == []


def test_every_endpoint_refuses_missing_or_invalid_tokens(api_world: Any) -> None:
    w = api_world
    ids = _setup(w)
    wrong = []
    endpoints = {(m, p, json.dumps(b)) for m, p, b, _ in _matrix(ids)}
    endpoints |= {("POST", "/works/upload", "null"), ("POST", "/roads", "null")}
    for method, path, body in sorted(endpoints):
        for headers in ({}, {"Authorization": "Bearer ot_not-a-token"}, {"Authorization": "Basic eDp5"}):
            r = w.client.request(method, path, json=json.loads(body), headers=headers)
            if r.status_code != 401 or "Bearer" not in r.headers.get("www-authenticate", ""):
                wrong.append((method, path, headers, r.status_code))
    assert wrong == []


def test_expired_and_revoked_tokens_are_refused(api_world: Any) -> None:
    w = api_world
    assert w.client.get("/me", headers=w.headers("power")).status_code == 200
    with Session(w.engine) as session:
        row = session.scalar(select(ApiToken).join(ApiToken.organisation).where(Organisation.code == "power"))
        assert row is not None
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        session.commit()
    assert w.client.get("/me", headers=w.headers("power")).status_code == 401
    created = w.client.post("/admin/tokens", json={"org": "water"}, headers=w.headers("admin"))
    assert created.status_code == 201
    secret, token_id = created.json()["secret"], created.json()["id"]
    assert w.client.get("/me", headers={"Authorization": f"Bearer {secret}"}).json()["organisation"] == "water"
    assert w.client.post(f"/admin/tokens/{token_id}/revoke", headers=w.headers("admin")).status_code == 200
    assert w.client.get("/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_tokens_are_stored_hashed_and_roles_match_organisations(api_world: Any) -> None:
    w = api_world
    with Session(w.engine) as session:
        stored = {t.token_hash for t in session.scalars(select(ApiToken))}
    assert not stored & set(w.tokens.values())
    listed = w.client.get("/admin/tokens", headers=w.headers("admin")).text
    assert not any(secret in listed for secret in w.tokens.values())
    bad = w.client.post("/admin/tokens", json={"org": "power", "role": "bureau"}, headers=w.headers("admin"))
    assert bad.status_code == 422
    assert w.client.post("/admin/tokens", json={"org": "nope"}, headers=w.headers("admin")).status_code == 404


def test_refused_access_is_audited(api_world: Any) -> None:
    w = api_world
    assert w.client.get("/kpis", headers=w.headers("power")).status_code == 403
    assert w.client.get("/kpis").status_code == 401
    with Session(w.engine) as session:
        refused = [e for e in session.scalars(select(AuditEvent)) if e.action == "access.refused"]
    assert sorted(e.outcome for e in refused) == ["401", "403"]


def test_invisible_and_missing_works_look_the_same(api_world: Any) -> None:
    w = api_world
    ids = _setup(w)
    hidden = w.client.get(f"/works/{ids['tw']}", headers=w.headers("power")).json()
    missing = w.client.get("/works/999999", headers=w.headers("power")).json()
    assert hidden["status"] == missing["status"] == 404
    assert hidden["detail"].replace(str(ids["tw"]), "N") == missing["detail"].replace("999999", "N")


def _lon(x: float, y: float) -> str:
    """The longitude of a working-CRS point, as the 5-decimal prefix every finer rendering starts with."""
    to_lonlat = Transformer.from_crs("EPSG:4545", "EPSG:4490", always_xy=True)
    x0, y0 = TO_WORK.transform(106.651, 29.028)
    lon, _ = to_lonlat.transform(x0 + x, y0 + y)
    text = f"{lon:.9f}"
    assert text[8:10] not in ("99", "00")  # far from a rounding carry at the 5th decimal
    return text[:9]


def test_least_disclosure_other_routes_only_as_shared_stretches(api_world: Any) -> None:
    w = api_world
    ids = _setup(w, gas=True)
    # gas shares R1 100-300 m with P-1 (0-400 m) and 200-300 m with W-1 (200-600 m)
    works = w.client.get("/works", headers=w.headers("gas")).json()["works"]
    seen = {x["key"]: x for x in works}
    assert set(seen) == {"gas:G-1", "power:P-1", "water:W-1"}
    assert seen["gas:G-1"]["redacted"] is False
    for key, expected in (("power:P-1", 200.0), ("water:W-1", 100.0)):
        other = seen[key]
        assert other["redacted"] is True
        assert other["contact"] is None
        assert other["name"] is None
        geom = metres(other["geometry"])
        assert geom.length == pytest.approx(expected, abs=1.0)
    one = w.client.get(f"/works/{ids['pw']}", headers=w.headers("gas")).json()
    assert one["redacted"] is True
    assert metres(one["geometry"]).length == pytest.approx(200.0, abs=1.0)
    # telecom shares nothing: sees only its own work
    assert [x["key"] for x in w.client.get("/works", headers=w.headers("telecom")).json()["works"]] == ["telecom:T-1"]

    # No answer to gas carries P-1's far end (x = 400 m): the bureau's does (the test can fail).
    p1_end = _lon(400, 5)
    gas_paths = ["/works", f"/works/{ids['pw']}", "/findings", "/bundles", "/maps/review", "/maps/roads/R1/timeline"]
    for path in gas_paths:
        r = w.client.get(path, headers=w.headers("gas"))
        assert r.status_code == 200, path
        assert p1_end not in r.text, path
    assert p1_end in w.client.get("/works", headers=w.headers("bureau")).text
    assert p1_end in w.client.get("/maps/review", headers=w.headers("bureau")).text


def test_utility_sees_bundle_clipped_to_its_surroundings(api_world: Any) -> None:
    w = api_world
    ids = _setup(w)
    full = w.client.get(f"/bundles/{ids['b']}", headers=w.headers("bureau")).json()
    mine = w.client.get(f"/bundles/{ids['b']}", headers=w.headers("power")).json()
    assert full["redacted"] is False
    assert mine["redacted"] is True
    assert set(mine["proposed_dates"]) == {"power:P-1"}
    assert set(full["proposed_dates"]) == {"power:P-1", "water:W-1"}
    mine_geom, full_geom = metres(mine["footprint"]), metres(full["footprint"])
    assert mine_geom.area <= full_geom.area + 1e-6
    # W-1 runs to 600 m, P-1 only to 400 m: power sees nothing beyond 400 m + 30 m
    assert mine_geom.bounds[2] - full_geom.bounds[0] == pytest.approx(430.0, abs=2.0)


def test_road_timeline_shows_other_works_only_along_shared_stretches(api_world: Any) -> None:
    import re

    w = api_world
    _setup(w, gas=True)

    def rows(who: str) -> dict[str, str]:
        html = w.client.get("/maps/roads/R1/timeline", headers=w.headers(who)).text
        return dict(re.findall(r"<tr><td>([^<]*)</td>.*?<td>(K[^<]*)</td></tr>", html))

    # chainages by construction: P-1 0-400 m, W-1 200-600 m, G-1 100-300 m on R1
    assert rows("bureau") == {"power:P-1": "K0+000–K0+400", "water:W-1": "K0+200–K0+600", "gas:G-1": "K0+100–K0+300"}
    assert rows("gas") == {"power:P-1": "K0+100–K0+300", "water:W-1": "K0+200–K0+300", "gas:G-1": "K0+100–K0+300"}
    assert set(rows("telecom")) == set()

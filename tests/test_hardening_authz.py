"""Authorization matrix (issue 9): every endpoint × every caller, on SpatiaLite and PostGIS.

The expected statuses in :data:`MATRIX` are the specification, written by hand from the issue:
utilities manage only their own works (and see other organisations' works only where they share
a road with their own); the bureau sees everything and alone plans, approves, sends back and
exports permit packages; the admin manages organisations and tokens (and may load roads, which
are public reference data). A missing, malformed, unknown, expired or revoked token is 401 on
every endpoint but the public ones (health, OpenAPI and its documentation pages). Where the
existence of another organisation's work or bundle must not leak, the answer is 404.

The world (one per module and backend, built through the service itself):

- org A ``power``: P-1 on R1 0-400 m, then off-road to a distinctive vertex;
- org B ``water``: W-1 on R1 200-600 m (shares 200-400 m with P-1 in the same period), then
  along R4 (shared with D's G-1, same period), then off-road to a distinctive vertex: bundle 1 is
  P-1, W-1 and G-1, on R1 and R4; W-2 on R3 with D's G-2 (bundle 2, without A);
- org D ``gas``: G-1 on R4, G-2 on R3; org C ``telecom``: T-1 alone on R2 (shares nothing).

Every work ends in a distinctive vertex far from every road and every other work. No body,
map or export answered to a utility may contain another organisation's distinctive vertex, in
any rendering the service might print (EPSG:4490 with 4 to 12 decimals, EPSG:4545 metres),
nor the part of W-1 along R1 beyond P-1 (its longitudes, its chainage K0+600, "600 m" labels,
``"to_m": 600`` in JSON), nor bundle 1's stretch on R4, where power digs nothing; the bureau's
answers do (positive control). The API has no GeoJSON/CSV download besides its JSON bodies
(GeoJSON geometries) and the permit package (bureau only), so those are what is searched.

Tests in this module share the world and run in file order: refusals and reads first, then
re-uploads under idempotency keys, and last the allowed writes in a fixed order (plan, roads,
upload, update, accept dates, approve, export, send back, admin, withdraw).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import shutil
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pyproj import Transformer
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from api.db import make_engine
from api.models import ApiToken, AuditEvent, Base, BundleRow, WorkRow

TO_WORK = Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True)
TO_LONLAT = Transformer.from_crs("EPSG:4545", "EPSG:4490", always_xy=True)
X0, Y0 = TO_WORK.transform(106.651, 29.028)  # 古南街道, 綦江
PG_SCHEMA = "onetrench_authz_tests_" + os.environ.get("PYTEST_XDIST_WORKER", "main")  # one per xdist worker
PROJECT_CODE = "2027-500110-48-01-000009"

# --- the world -------------------------------------------------------------------------------

#: (code, kind) of every organisation; A = power, B = water, C = telecom (shares nothing), D = gas.
ORGS = (("admin", "admin"), ("bureau", "bureau"), ("power", "utility"), ("water", "utility"), ("gas", "utility"))
ORGS += (("telecom", "utility"),)

#: The distinctive vertex ending each work (metres from the origin, working CRS): far from
#: every road (R1 y=0, x 0-800; R2 x=1000, y 0-400; R3 y=1500, x 0-400; R4 x=680, y -60 to -400)
#: and from each other.
VERTEX = {
    "power:P-1": (-250.0, -800.0),
    "water:W-1": (1350.0, -1100.0),
    "water:W-2": (-600.0, 2300.0),
    "gas:G-1": (-1200.0, -1500.0),
    "gas:G-2": (900.0, 2600.0),
    "telecom:T-1": (1700.0, 700.0),
}

#: Where a work runs along R1 (x, m) beyond every other organisation's works: W-1 from 430 m
#: (P-1's end plus the 30 m a utility sees around its works) to 600 m, where it leaves R1. No
#: longitude of that part may reach A (its latitude is R1's own, which is public).
ALONG = {"water:W-1": (500.0, 600.0)}
#: The same part as measures along R1 (W-1 ends there at 600 m): chainage, label and JSON forms.
#: And bundle 1's stretch on R4 (W-1 and G-1), as a JSON stretch or a map label "通惠路 20–240 m".
ON_R4 = re.compile(r'"road_id":\s*"R4",\s*"road_name"|通惠路\s*\d+(?:\.\d+)?\s*[–-]\s*\d+')
MEASURES = {
    "water:W-1": (re.compile(r"K0\+600|(?<![\w.])600(?:\.0+)?\s*m(?![\w²])|\"to_m\":\s*600"), ON_R4),
    "gas:G-1": (ON_R4,),
}


def _line(points: list[tuple[float, float]]) -> dict[str, Any]:
    coords = [list(TO_LONLAT.transform(X0 + x, Y0 + y)) for x, y in points]
    return {"type": "LineString", "coordinates": [[round(c[0], 9), round(c[1], 9)] for c in coords]}


def _feature(props: dict[str, Any], points: list[tuple[float, float]]) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": _line(points)}


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


ROADS = _collection(
    [
        _feature({"road_id": "R1", "name": "东部新城大道", "class": "主干路", "width_m": 40}, [(0, 0), (800, 0)]),
        _feature({"road_id": "R2", "name": "沱湾路", "class": "支路", "width_m": 16}, [(1000, 0), (1000, 400)]),
        _feature({"road_id": "R3", "name": "永新大道", "class": "次干路", "width_m": 20}, [(0, 1500), (400, 1500)]),
        _feature({"road_id": "R4", "name": "通惠路", "class": "支路", "width_m": 20}, [(680, -60), (680, -400)]),
    ]
)


def _work(key: str, kind: str, start: str, end: str, route: list[tuple[float, float]]) -> dict[str, Any]:
    props = {"工程编号": key.split(":")[1], "管线类别": kind, "计划开工": start, "计划完工": end}
    return _feature(props | {"联系人": "王工 023-48612345"}, [*route, VERTEX[key]])


UPLOADS = {
    "power": _collection([_work("power:P-1", "电力", "2027-03-02", "2027-03-20", [(0, 5), (400, 5)])]),
    "water": _collection(
        [
            _work(
                "water:W-1",
                "给水",
                "2027-03-10",
                "2027-03-30",
                [(200, -5), (600, -5), (600, -40), (680, -80), (680, -300), (950, -300)],
            ),
            _work("water:W-2", "给水", "2027-05-04", "2027-05-20", [(0, 1505), (400, 1505)]),
        ]
    ),
    "gas": _collection(
        [
            _work("gas:G-1", "燃气", "2027-03-12", "2027-03-28", [(685, -100), (685, -260)]),
            _work("gas:G-2", "燃气", "2027-05-06", "2027-05-25", [(50, 1495), (350, 1495)]),
        ]
    ),
    "telecom": _collection([_work("telecom:T-1", "通信", "2027-03-05", "2027-03-25", [(1000, 50), (1000, 350)])]),
}


def needles(key: str) -> list[re.Pattern[str]]:
    """Patterns finding a work's distinctive vertex in any rendering the service might print.

    EPSG:4490 longitude and latitude to 4 decimals (about 10 m; truncated and rounded, so that
    every rendering with 4 or more decimals starts with one of them) and EPSG:4545 metres
    (floor and rounded integer part).
    """
    x, y = VERTEX[key]
    lon, lat = TO_LONLAT.transform(X0 + x, Y0 + y)
    out = []
    for value in (lon, lat):
        for four in (f"{int(value * 1e4) / 1e4:.4f}", f"{value:.4f}"):
            out.append(re.compile(r"(?<![\w.])" + re.escape(four)))
    for metres in (X0 + x, Y0 + y):
        for whole in {int(metres), round(metres)}:
            out.append(re.compile(rf"(?<![\w.]){whole}(?![\w])"))
    for x_on_road in ALONG.get(key, ()):
        lon, _ = TO_LONLAT.transform(X0 + x_on_road, Y0)
        for four in (f"{int(lon * 1e4) / 1e4:.4f}", f"{lon:.4f}"):
            out.append(re.compile(r"(?<![\w.])" + re.escape(four)))
    out.extend(MEASURES.get(key, ()))
    return out


def leaked(body: str, keys: list[str] | set[str]) -> list[str]:
    """The works among ``keys`` whose distinctive vertex appears in ``body``."""
    return sorted(k for k in keys if any(p.search(body) for p in needles(k)))


# --- the module's database and world ------------------------------------------------------------


def _postgis_url() -> str:
    url = os.environ.get("ONETRENCH_TEST_POSTGIS_URL")
    if not url:
        if os.environ.get("ONETRENCH_REQUIRE_POSTGIS") == "1":
            pytest.fail("ONETRENCH_REQUIRE_POSTGIS=1 but ONETRENCH_TEST_POSTGIS_URL is not set")
        pytest.skip("PostGIS 测试已跳过：未设置 ONETRENCH_TEST_POSTGIS_URL (run scripts/setup-postgis.sh)")
    return url


@pytest.fixture(scope="module", params=["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database for this module: a SpatiaLite file, or a PostGIS schema of its own."""
    from api.migrate import upgrade

    if request.param == "spatialite":
        path = tmp_path_factory.mktemp("authz") / "authz.sqlite"
        shutil.copyfile(request.getfixturevalue("api_spatialite_template"), path)
        eng = make_engine(f"sqlite:///{path}")
    else:
        url = _postgis_url()
        base = make_engine(url)
        with base.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
        base.dispose()
        sep = "&" if "?" in url else "?"
        eng = make_engine(f"{url}{sep}options=-csearch_path%3D{PG_SCHEMA},public")
        upgrade(eng)
    yield eng
    eng.dispose()


@dataclass
class World:
    """The app, its client, the tokens of every caller and the ids of the resources."""

    engine: Engine
    client: Any
    secrets: dict[str, str] = field(default_factory=dict)
    #: (label, headers) of every caller that must get 401: no, malformed, unknown, expired, revoked token.
    anonymous: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    work_pk: dict[str, int] = field(default_factory=dict)
    bundle1: str = ""
    bundle2: str = ""
    short_lived_until: float = 0.0
    org_id: dict[str, int] = field(default_factory=dict)

    def headers(self, org: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[org]}"}

    def version(self, bundle_id: str) -> int:
        with Session(self.engine) as session:
            row = session.scalar(select(BundleRow).where(BundleRow.bundle_id == bundle_id))
            assert row is not None
            return row.version

    def token_id(self, org: str) -> int:
        with Session(self.engine) as session:
            from api.services.auth import hash_token

            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(self.secrets[org])))
            assert row is not None
            return row.id


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _revoke_by_cli(engine: Engine, token_id: int) -> None:
    """``onetrench token revoke`` in its own process, as an operator would run it."""
    import subprocess
    import sys

    cli = Path(sys.executable).with_name("onetrench")
    env = os.environ | {"ONETRENCH_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    done = subprocess.run(
        [str(cli), "token", "revoke", str(token_id)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{token_id}" in done.stdout


def _tokens(w: World) -> None:
    """Tokens for every organisation, plus expired and revoked ones, each checked valid first."""
    from api.services.auth import create_organisation, create_token, revoke_token

    dead: dict[str, str] = {}
    with Session(w.engine) as session:
        for code, kind in ORGS:
            w.org_id[code] = create_organisation(session, code=code, name=code, kind=kind).id
            w.secrets[code], _ = create_token(session, org_code=code)
        for org in ("power", "bureau", "admin"):
            dead[f"expired {org}"], _ = create_token(session, org_code=org, label="to expire")
            dead[f"revoked {org}"], _ = create_token(session, org_code=org, label="to revoke")
        session.commit()
    for label, secret in dead.items():
        r = w.client.get("/me", headers=_bearer(secret))
        assert r.status_code == 200, (label, r.text)
    with Session(w.engine) as session:  # a token with a lifetime of 3 s: valid now, expired later
        short, _ = create_token(session, org_code="power", expires_in_days=3 / 86400)
        session.commit()
        w.short_lived_until = time.monotonic() + 3.0
    assert w.client.get("/me", headers=_bearer(short)).status_code == 200
    dead["expired power (short-lived)"] = short
    ids = {}
    with Session(w.engine) as session:
        from api.services.auth import hash_token

        for label, secret in dead.items():
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
            assert row is not None
            ids[label] = row.id
            if label.startswith("expired") and "short" not in label:
                row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)  # set in the database
        revoke_token(session, ids["revoked bureau"])  # the service function
        session.commit()
    r = w.client.post(f"/admin/tokens/{ids['revoked power']}/revoke", headers=w.headers("admin"))
    assert r.status_code == 200, r.text  # the admin endpoint
    _revoke_by_cli(w.engine, ids["revoked admin"])  # the CLI
    valid = w.secrets["bureau"]
    w.anonymous = [
        ("no token", {}),
        ("malformed: scheme only", {"Authorization": "Bearer"}),
        ("malformed: empty credentials", {"Authorization": "Bearer   "}),
        ("malformed: valid secret, no scheme", {"Authorization": valid}),
        ("malformed: valid secret, other scheme", {"Authorization": f"Token {valid}"}),
        ("malformed: basic", {"Authorization": "Basic eDp5"}),
        ("malformed: trailing junk", {"Authorization": f"Bearer {valid} x"}),
        ("unknown token", _bearer("ot_" + "A" * 43)),
        *((label, _bearer(secret)) for label, secret in sorted(dead.items())),
    ]


@pytest.fixture(scope="module")
def world(engine: Engine) -> Iterator[World]:
    """The world of the module docstring, built through the API; bundles from one plan run."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from onetrench.settings import Settings

    app = create_app(Settings(database_url="sqlite://"), engine=engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        w = World(engine=engine, client=client)
        _tokens(w)
        roads = json.dumps(ROADS, ensure_ascii=False).encode()
        r = client.post("/roads", files={"file": ("roads.geojson", roads)}, headers=w.headers("bureau"))
        assert r.status_code == 200, r.text
        for org, doc in UPLOADS.items():
            r = client.post("/works", json=doc, headers=w.headers(org))
            assert r.status_code == 200, r.text
            w.work_pk.update({x["key"]: x["id"] for x in r.json()["works"]})
        r = client.post("/plan", json={}, headers=w.headers("bureau"))
        assert r.status_code == 200, r.text
        bundles = {tuple(sorted(b["work_keys"])): b["bundle_id"] for b in r.json()["bundles"]}
        one, two = ("gas:G-1", "power:P-1", "water:W-1"), ("gas:G-2", "water:W-2")
        assert set(bundles) == {one, two}, bundles
        w.bundle1, w.bundle2 = bundles[one], bundles[two]
        yield w


# --- callers and the matrix ----------------------------------------------------------------------

#: The authenticated callers: A on its own resource (P-1, bundle 1), A on B's resource it shares
#: a road with (W-1; for bundles: bundle 2, which A is not in), A on B's resource it shares
#: nothing with (W-2, bundle 2), C (shares nothing with anyone) on B's W-1 and bundle 1, the
#: bureau and the admin (on W-1 and bundle 1).
CALLERS = ("own", "other", "hidden", "nothing", "bureau", "admin")
COLUMNS = ("anon", *CALLERS)
ORG_OF = {"own": "power", "other": "power", "hidden": "power", "nothing": "telecom", "bureau": "bureau"}
ORG_OF["admin"] = "admin"


#: The bureau sends back bundle 2 (bundle 1 is approved by then).
SEND_BACK = ("POST", "/bundles/{bundle_id}/send-back")


def targets(w: World, method: str, path: str, caller: str) -> dict[str, str]:
    """The resource each caller addresses in a path (anonymous callers use the bureau's)."""
    work = {"own": "power:P-1", "other": "water:W-1", "hidden": "water:W-2"}.get(caller, "water:W-1")
    bundle = {"other": w.bundle2, "hidden": w.bundle2}.get(caller, w.bundle1)
    if (method, path) == SEND_BACK and caller == "bureau":
        bundle = w.bundle2
    return {"work_pk": str(w.work_pk[work]), "bundle_id": bundle, "road_id": "R1", "token_id": "1"}


PUBLIC = (200, 200, None, None, 200, 200, 200)
#: Expected status per (method, path) and caller, in the order of COLUMNS:
#: anon (every 401 caller), own, other, hidden, nothing, bureau, admin. None: the path names no
#: resource, so "other" and "hidden" send the same request as "own" (not repeated).
MATRIX: dict[tuple[str, str], tuple[int | None, ...]] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/me"): (401, 200, None, None, 200, 200, 200),
    # works: own in full, others' only where shared (redacted); hidden ones do not exist for you
    ("POST", "/works/upload"): (401, 200, None, None, 200, 403, 403),
    ("POST", "/works"): (401, 200, None, None, 200, 403, 403),
    ("GET", "/works"): (401, 200, None, None, 200, 200, 403),
    ("GET", "/works/{work_pk}"): (401, 200, 200, 404, 404, 200, 403),
    ("PATCH", "/works/{work_pk}"): (401, 200, 403, 404, 404, 403, 403),
    ("POST", "/works/{work_pk}/withdraw"): (401, 200, 403, 404, 404, 403, 403),
    ("GET", "/works/{work_pk}/history"): (401, 200, 403, 404, 404, 200, 403),
    ("GET", "/works/{work_pk}/findings"): (401, 200, 200, 404, 404, 200, 403),
    # roads are public reference data; the bureau and the admin load them
    ("GET", "/roads"): (401, 200, None, None, 200, 200, 200),
    ("POST", "/roads"): (401, 403, None, None, 403, 200, 200),
    ("GET", "/roads/{road_id}"): (401, 200, None, None, 200, 200, 200),
    ("GET", "/roads/{road_id}/findings"): (401, 200, None, None, 200, 200, 403),
    ("GET", "/findings"): (401, 200, None, None, 200, 200, 403),
    # plan and bundles: the bureau plans, approves, sends back, exports; utilities accept dates
    ("POST", "/plan"): (401, 403, None, None, 403, 200, 403),
    ("GET", "/bundles"): (401, 200, None, None, 200, 200, 403),
    ("GET", "/bundles/{bundle_id}"): (401, 200, 404, 404, 404, 200, 403),
    ("POST", "/bundles/{bundle_id}/accept-dates"): (401, 200, 404, 404, 404, 403, 403),
    ("POST", "/bundles/{bundle_id}/approve"): (401, 403, 403, 403, 403, 200, 403),
    ("POST", "/bundles/{bundle_id}/send-back"): (401, 403, 403, 403, 403, 200, 403),
    ("GET", "/bundles/{bundle_id}/approvals"): (401, 200, 404, 404, 404, 200, 403),
    ("GET", "/bundles/{bundle_id}/package"): (401, 403, 403, 403, 403, 200, 403),
    # maps: drawn from what the caller may see
    ("GET", "/maps/review"): (401, 200, None, None, 200, 200, 403),
    ("GET", "/maps/bundles/{bundle_id}"): (401, 200, 404, 404, 404, 200, 403),
    ("GET", "/maps/roads/{road_id}/timeline"): (401, 200, None, None, 200, 200, 403),
    ("GET", "/kpis"): (401, 403, None, None, 403, 200, 403),
    # administration: the admin alone
    ("GET", "/admin/organisations"): (401, 403, None, None, 403, 403, 200),
    ("POST", "/admin/organisations"): (401, 403, None, None, 403, 403, 201),
    ("GET", "/admin/tokens"): (401, 403, None, None, 403, 403, 200),
    ("POST", "/admin/tokens"): (401, 403, None, None, 403, 403, 201),
    ("POST", "/admin/tokens/{token_id}/revoke"): (401, 403, None, None, 403, 403, 200),
}

#: The allowed writes, performed in this order by the last test (each leaves the world usable
#: for the next); must be exactly the write cells of MATRIX with a 2xx status.
WRITES = (
    ("POST", "/plan", "bureau"),
    ("POST", "/roads", "bureau"),
    ("POST", "/roads", "admin"),
    ("POST", "/works", "own"),
    ("POST", "/works", "nothing"),
    ("POST", "/works/upload", "own"),
    ("POST", "/works/upload", "nothing"),
    ("PATCH", "/works/{work_pk}", "own"),
    ("POST", "/bundles/{bundle_id}/accept-dates", "own"),
    ("POST", "/bundles/{bundle_id}/approve", "bureau"),
    ("GET", "/bundles/{bundle_id}/package", "bureau"),
    ("POST", "/bundles/{bundle_id}/send-back", "bureau"),
    ("POST", "/admin/organisations", "admin"),
    ("POST", "/admin/tokens", "admin"),
    ("POST", "/admin/tokens/{token_id}/revoke", "admin"),
    ("POST", "/works/{work_pk}/withdraw", "own"),
)
#: Cells that change state or depend on it (run only by the ordered writes test).
STATEFUL = {(m, p, c) for m, p, c in WRITES}


def expected(method: str, path: str, caller: str) -> int | None:
    return MATRIX[(method, path)][COLUMNS.index(caller)]


def request_kwargs(w: World, method: str, path: str, caller: str) -> dict[str, Any]:
    """A valid request for the cell (so that a refusal can only come from who is asking)."""
    org = ORG_OF.get(caller, "power")
    tg = targets(w, method, path, caller)
    if path == "/works":
        return {"json": UPLOADS["telecom" if org == "telecom" else "power"]} if method == "POST" else {}
    if path == "/works/upload":
        doc = UPLOADS["telecom" if org == "telecom" else "power"]
        return {"files": {"file": ("route.geojson", json.dumps(doc, ensure_ascii=False).encode())}}
    if path == "/roads" and method == "POST":
        return {"files": {"file": ("roads.geojson", json.dumps(ROADS, ensure_ascii=False).encode())}}
    if path == "/works/{work_pk}" and method == "PATCH":
        return {"json": {"name": "改线 / rerouted"}}
    if path.startswith("/bundles/{bundle_id}/") and method == "POST":
        body: dict[str, Any] = {"version": w.version(tg["bundle_id"])}
        return {"json": body | {"comment": "请补充交通组织方案"} if path.endswith("send-back") else body}
    if path.endswith("/package"):
        return {"params": {"project_code": PROJECT_CODE}}
    if path == "/plan":
        return {"json": {}}
    if path == "/admin/organisations" and method == "POST":
        return {"json": {"code": "cmcc", "name": "中国移动綦江分公司", "kind": "utility"}}
    if path == "/admin/tokens" and method == "POST":
        return {"json": {"org": "water", "label": "new"}}
    return {}


def url(w: World, method: str, path: str, caller: str) -> str:
    return path.format(**targets(w, method, path, caller))


# --- snapshots: refused requests change nothing ------------------------------------------------


def snapshot(engine: Engine) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table but the audit log, as text (binary and geometry as their bytes)."""
    out: dict[str, list[tuple[str, ...]]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name == "audit_log":
                continue
            rows = conn.execute(table.select()).all()
            out[table.name] = sorted(tuple(_text(v) for v in row) for row in rows)
    return out


def _text(value: Any) -> str:
    data = getattr(value, "data", value)  # geoalchemy2 elements
    if isinstance(data, memoryview):
        data = bytes(data)
    return data.hex() if isinstance(data, bytes) else repr(data)


def audit_since(engine: Engine, after_id: int) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.id > after_id).order_by(AuditEvent.id)))


def last_audit_id(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0)


# --- the app's routes ------------------------------------------------------------------------------


def app_routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) the app answers: its OpenAPI operations and every route it holds
    (routes hidden from the schema included; HEAD added automatically beside GET left out)."""
    found = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:  # FastAPI ≥ 0.160 keeps included routers as such
                walk(list(inner.routes), prefix + getattr(route.include_context, "prefix", ""))
            elif getattr(route, "methods", None) and getattr(route, "path", None) is not None:
                methods = set(route.methods)
                if "GET" in methods:
                    methods.discard("HEAD")
                found.update((m, prefix + route.path) for m in methods)

    walk(list(app.routes), "")
    return found


# --- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(VERTEX))
def test_needles_find_every_rendering_and_nothing_nearby(key: str) -> None:
    x, y = VERTEX[key]
    lon, lat = TO_LONLAT.transform(X0 + x, Y0 + y)
    renderings = [f"[{lon:.{k}f}, {lat:.{k}f}]" for k in range(4, 13)]
    renderings += [json.dumps([lon, lat]), json.dumps([round(lat, 7), round(lon, 7)])]  # Leaflet order too
    renderings += [f"{X0 + x:.{k}f} {Y0 + y:.{k}f}" for k in range(7)]
    for text_ in renderings:
        assert leaked(f"({text_})", [key]) == [key], text_
    lon2, lat2 = TO_LONLAT.transform(X0 + x + 40, Y0 + y + 40)  # 40 m away: not the vertex
    assert leaked(f"[{lon2:.7f}, {lat2:.7f}] {X0 + x + 40:.2f} {Y0 + y + 40:.2f}", [key]) == []


def test_the_matrix_covers_every_route_of_the_app(world: World) -> None:
    """A new endpoint that is not in the matrix fails here (and so does a removed one)."""
    assert set(MATRIX) == app_routes(world.client.app)
    for key, row in MATRIX.items():
        assert len(row) == len(COLUMNS), key
        assert ("{" in key[1]) or (row[2] is None and row[3] is None), key  # resource paths only
    writes = {
        (m, p, c)
        for (m, p), row in MATRIX.items()
        for c, s in zip(COLUMNS, row, strict=True)
        if m != "GET" and s and s < 300
    }
    assert writes == {cell for cell in STATEFUL if cell[0] != "GET"}


def _is_problem(r: Any, status: int) -> bool:
    return r.headers.get("content-type", "").startswith("application/problem+json") and r.json()["status"] == status


def test_every_invalid_token_is_refused_everywhere_and_changes_nothing(world: World) -> None:
    """No, malformed, unknown, expired (in the database, or by lifetime) and revoked (service,
    endpoint, CLI) tokens: 401 with a Bearer challenge on every endpoint, each refusal audited."""
    w = world
    time.sleep(max(0.0, w.short_lived_until - time.monotonic()))
    before, last = snapshot(w.engine), last_audit_id(w.engine)
    wrong, sent = [], []
    for (method, path), row in MATRIX.items():
        for label, headers in w.anonymous:
            target = url(w, method, path, "bureau")
            r = w.client.request(method, target, headers=headers, **request_kwargs(w, method, path, "bureau"))
            status = row[0]
            ok = r.status_code == status
            if ok and status == 401:
                ok = _is_problem(r, 401) and "Bearer" in r.headers.get("www-authenticate", "")
                sent.append(f"{method} {target.split('?')[0]}")
            if not ok:
                wrong.append((method, path, label, status, r.status_code, r.text[:120]))
    assert wrong == []
    assert snapshot(w.engine) == before
    events = audit_since(w.engine, last)
    assert [(e.action, e.outcome, e.target, e.org_id) for e in events] == [
        ("access.refused", "401", t, None) for t in sent
    ]


def test_every_authenticated_refusal_has_its_status_and_changes_nothing(world: World) -> None:
    """403 / 404 cells of the matrix: status, problem body, nothing changed, one audit entry each."""
    w = world
    wrong = []
    for (method, path), row in MATRIX.items():
        cells = [(c, s) for c, s in zip(COLUMNS, row, strict=True) if c != "anon" and s is not None and s >= 400]
        if not cells:
            continue
        before, last = snapshot(w.engine), last_audit_id(w.engine)
        sent = []
        for caller, status in cells:
            target = url(w, method, path, caller)
            r = w.client.request(
                method, target, headers=w.headers(ORG_OF[caller]), **request_kwargs(w, method, path, caller)
            )
            if r.status_code != status or not _is_problem(r, status) or leaked(r.text, _foreign(caller)):
                wrong.append((method, path, caller, status, r.status_code, r.text[:160]))
            sent.append((str(status), f"{method} {target.split('?')[0]}", w.org_id[ORG_OF[caller]]))
        assert snapshot(w.engine) == before, (method, path)
        events = audit_since(w.engine, last)
        assert [(e.action, e.outcome, e.target, e.org_id) for e in events] == [("access.refused", *s) for s in sent]
    assert wrong == []


def _foreign(caller: str) -> set[str]:
    """The works whose distinctive vertex the caller must never receive."""
    org = ORG_OF[caller]
    if org == "bureau":
        return set()
    return {k for k in VERTEX if not k.startswith(f"{org}:")}


def test_every_allowed_read_answers_and_leaks_no_foreign_route(world: World) -> None:
    """2xx read cells: status, and no other organisation's distinctive vertex in any body."""
    w = world
    wrong, leaks = [], []
    bureau_bodies = []
    for (method, path), row in MATRIX.items():
        for caller, status in zip(COLUMNS, row, strict=True):
            if caller == "anon" or status is None or status >= 300 or (method, path, caller) in STATEFUL:
                continue
            assert method == "GET", (method, path, caller)
            r = w.client.get(url(w, method, path, caller), headers=w.headers(ORG_OF[caller]))
            if r.status_code != status:
                wrong.append((path, caller, status, r.status_code, r.text[:160]))
            if found := leaked(r.text, _foreign(caller)):
                leaks.append((path, caller, found))
            if caller == "bureau":
                bureau_bodies.append((path, r.text))
    assert wrong == []
    assert leaks == []
    # positive control: the bureau receives every distinctive vertex, in JSON and in the map
    for path in ("/works", "/findings", "/maps/review"):
        body = next(b for p, b in bureau_bodies if p == path)
        assert leaked(body, set(VERTEX)) == sorted(VERTEX), path
    for path in ("/bundles", "/maps/review", "/maps/bundles/{bundle_id}", "/maps/roads/{road_id}/timeline"):
        body = next(b for p, b in bureau_bodies if p == path)
        assert MEASURES["water:W-1"][0].search(body), path
        if "timeline" not in path:
            assert ON_R4.search(body), path
    own = w.client.get("/works", headers=w.headers("power")).json()["works"]
    shared = next(x for x in own if x["key"] == "water:W-1")
    assert shared["redacted"] is True
    assert shared["geometry"] is not None  # the shared stretch itself is shown


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/works/{}", None),
        ("PATCH", "/works/{}", {"name": "x"}),
        ("POST", "/works/{}/withdraw", None),
        ("GET", "/works/{}/history", None),
        ("GET", "/works/{}/findings", None),
        ("GET", "/bundles/{}", None),
        ("POST", "/bundles/{}/accept-dates", {"version": 1}),
        ("GET", "/bundles/{}/approvals", None),
        ("GET", "/maps/bundles/{}", None),
    ],
)
def test_hidden_and_missing_resources_answer_alike(
    world: World, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """Another organisation's work or bundle that power may not see answers exactly like one that
    does not exist (only the id differs)."""
    w = world
    bundle = path.startswith(("/bundles", "/maps"))
    hidden = w.bundle2 if bundle else str(w.work_pk["water:W-2"])
    missing = "B-000000000000" if bundle else "999999"
    a = w.client.request(method, path.format(hidden), json=body, headers=w.headers("power"))
    b = w.client.request(method, path.format(missing), json=body, headers=w.headers("power"))
    assert a.status_code == b.status_code == 404
    assert dict(a.headers).keys() == dict(b.headers).keys()
    assert json.dumps(a.json(), ensure_ascii=False).replace(hidden, "N") == json.dumps(
        b.json(), ensure_ascii=False
    ).replace(missing, "N")


def test_a_utility_sees_bundle_stretches_only_near_its_own_works(world: World) -> None:
    """Like the footprint: P-1 runs along R1 0-400 m, so power sees bundle 1's stretches up to
    430 m (30 m margin), not W-1's 600 m, and none on R4, where it digs nothing; the bureau sees
    them in full (on R4: W-1 along 20-240 m, G-1 along 40-200 m)."""
    w = world

    def spans(org: str) -> list[tuple[str, float, float, float]]:
        body = w.client.get(f"/bundles/{w.bundle1}", headers=w.headers(org)).json()
        return [(s["road_id"], s["from_m"], s["to_m"], s["area_m2"]) for s in body["stretches"]]

    full, mine = spans("bureau"), spans("power")
    assert sorted((r, a, b) for r, a, b, _ in full if r == "R1") == [("R1", 0.0, 200.0), ("R1", 200.0, 600.0)]
    on_r4 = [(a, b) for r, a, b, _ in full if r == "R4"]
    assert on_r4 and min(a for a, _ in on_r4) <= 40.0 and max(b for _, b in on_r4) >= 200.0
    assert [(r, a, b) for r, a, b, _ in mine] == [("R1", 0.0, 200.0), ("R1", 200.0, 430.0)]
    assert mine[1][3] == pytest.approx(next(x[3] for x in full if x[1:3] == (200.0, 600.0)) * 230 / 400)
    listed = w.client.get("/bundles", headers=w.headers("power")).json()["bundles"]
    assert [[(s["from_m"], s["to_m"]) for s in b["stretches"]] for b in listed] == [[(0.0, 200.0), (200.0, 430.0)]]


def test_idempotency_keys_do_not_cross_organisations(world: World) -> None:
    """An upload retried with another organisation's idempotency key gets its own answer, never
    the stored answer of the other organisation's upload (which carries its full routes)."""
    w = world
    key = {"Idempotency-Key": "authz-9f1c2a9e-shared"}
    theirs = w.client.post("/works", json=UPLOADS["water"], headers=w.headers("water") | key)
    assert theirs.status_code == 200, theirs.text
    assert leaked(theirs.text, {"water:W-1", "water:W-2"}) == ["water:W-1", "water:W-2"]
    for org, doc in (("power", UPLOADS["power"]), ("telecom", UPLOADS["telecom"])):
        mine = w.client.post("/works", json=doc, headers=w.headers(org) | key)
        assert mine.status_code == 200, mine.text
        assert mine.headers["Idempotent-Replayed"] == "false"
        assert [x["key"] for x in mine.json()["works"]] == [k for k in VERTEX if k.startswith(f"{org}:")]
        assert leaked(mine.text, {k for k in VERTEX if not k.startswith(f"{org}:")}) == []
        again = w.client.post("/works", json=doc, headers=w.headers(org) | key)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.content == mine.content


def _package_text(data: bytes) -> str:
    """The text members of a permit package (ZIP), concatenated."""
    parts = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            if name.endswith((".json", ".geojson", ".html", ".csv", ".txt", ".md", ".sha256")):
                parts.append(zf.read(name).decode("utf-8", "replace"))
    return "\n".join(parts)


def test_allowed_writes_in_order_and_their_answers_leak_nothing(world: World) -> None:
    """The 2xx write cells, in the order of WRITES; the bureau's permit package carries the full
    routes of its bundle (positive control) and a utility may not fetch it (403 in the matrix)."""
    w = world
    wrong, leaks = [], []
    created_token: list[int] = []
    created_secret: list[str] = []
    for method, path, caller in WRITES:
        status = expected(method, path, caller)
        assert status is not None
        target = url(w, method, path, caller)
        if path == "/admin/tokens/{token_id}/revoke":
            target = path.format(token_id=created_token[0])
        r = w.client.request(
            method, target, headers=w.headers(ORG_OF[caller]), **request_kwargs(w, method, path, caller)
        )
        if r.status_code != status:
            wrong.append((method, path, caller, status, r.status_code, r.text[:200]))
            continue
        if path == "/admin/tokens":
            created_token.append(r.json()["id"])
            created_secret.append(r.json()["secret"])
            assert w.client.get("/me", headers=_bearer(created_secret[0])).status_code == 200
        if path.endswith("/package"):
            assert r.headers["content-type"] == "application/zip"
            assert leaked(_package_text(r.content), set(VERTEX)) == ["gas:G-1", "power:P-1", "water:W-1"]
        elif found := leaked(r.text, _foreign(caller)):
            leaks.append((method, path, caller, found))
    assert wrong == []
    assert leaks == []
    # the token the admin created and revoked is refused on every endpoint family
    refused = {
        path: w.client.request(method, url(w, method, path, "bureau"), headers=_bearer(created_secret[0])).status_code
        for method, path in MATRIX
        if MATRIX[(method, path)][0] == 401
    }
    assert set(refused.values()) == {401}
    with Session(w.engine) as session:
        row = session.get(ApiToken, created_token[0])
        assert row is not None and row.revoked_at is not None
        withdrawn = session.get(WorkRow, w.work_pk["power:P-1"])
        assert withdrawn is not None and withdrawn.withdrawn
    # once P-1 is withdrawn, power shares nothing: it sees no other organisation's work at all
    works = w.client.get("/works", headers=w.headers("power")).json()["works"]
    assert [x["key"] for x in works] == []
    for path in ("/works?include_withdrawn=true", "/findings", "/bundles", "/maps/review", "/maps/roads/R1/timeline"):
        r = w.client.get(path, headers=w.headers("power"))
        assert r.status_code == 200, path
        assert leaked(r.text, _foreign("own")) == [], path
    assert w.client.get(f"/works/{w.work_pk['water:W-1']}", headers=w.headers("power")).status_code == 404

"""Shared fixtures: databases (SpatiaLite and PostGIS), hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Connection, Engine

from api.db import make_engine
from onetrench.errors import ConfigError

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

POSTGIS_URL = os.environ.get("ONETRENCH_TEST_POSTGIS_URL")
REQUIRE_POSTGIS = os.environ.get("ONETRENCH_REQUIRE_POSTGIS") == "1"


def _postgis_engine() -> Engine:
    if not POSTGIS_URL:
        if REQUIRE_POSTGIS:
            pytest.fail("ONETRENCH_REQUIRE_POSTGIS=1 but ONETRENCH_TEST_POSTGIS_URL is not set")
        pytest.skip("PostGIS 测试已跳过：未设置 ONETRENCH_TEST_POSTGIS_URL (run scripts/setup-postgis.sh)")
    try:
        return make_engine(POSTGIS_URL)
    except ConfigError as exc:
        if REQUIRE_POSTGIS:
            pytest.fail(f"PostGIS required but unavailable: {exc.message}")
        pytest.skip(f"PostGIS unavailable: {exc.message}")


@pytest.fixture(scope="session")
def spatialite_engine() -> Iterator[Engine]:
    """An in-memory SpatiaLite database for the session."""
    engine = make_engine("sqlite://")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgis_engine() -> Iterator[Engine]:
    """The PostGIS test database (see scripts/setup-postgis.sh)."""
    engine = _postgis_engine()
    yield engine
    engine.dispose()


@pytest.fixture(params=["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)])
def db_engine(request: pytest.FixtureRequest) -> Engine:
    """Each database test runs on both SpatiaLite and PostGIS."""
    name = "spatialite_engine" if request.param == "spatialite" else "postgis_engine"
    engine: Engine = request.getfixturevalue(name)
    return engine


@pytest.fixture
def db_connection(db_engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with db_engine.connect() as conn:
        trans = conn.begin()
        try:
            yield conn
        finally:
            trans.rollback()


# --- api/ (tests/test_api*.py): migrated databases, fresh for each test -----------------------

API_PG_SCHEMA = "onetrench_api_tests"
API_TABLES = (
    "audit_log, exported_packages, approvals, bundle_works, bundles, finding_works, findings, "
    "occupancies, work_versions, works, roads, idempotency_keys, tokens, organisations, service_locks"
)


@pytest.fixture(scope="session")
def api_spatialite_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SpatiaLite file, copied for each test."""
    from api.migrate import upgrade

    path = tmp_path_factory.mktemp("api") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return str(path)


@pytest.fixture(scope="session")
def api_postgis_engine() -> Iterator[Engine]:
    """The PostGIS test database, in a schema of its own, migrated once."""
    from sqlalchemy import text

    from api.migrate import upgrade

    base = _postgis_engine()
    with base.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {API_PG_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {API_PG_SCHEMA}"))
    base.dispose()
    sep = "&" if "?" in str(POSTGIS_URL) else "?"
    engine = make_engine(f"{POSTGIS_URL}{sep}options=-csearch_path%3D{API_PG_SCHEMA},public")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)])
def api_engine(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[Engine]:
    """An empty, migrated database (SpatiaLite file or PostGIS schema) for one API test."""
    import shutil

    from sqlalchemy import text

    if request.param == "spatialite":
        path = os.path.join(tmp_path, "api.sqlite")  # noqa: PTH118
        shutil.copyfile(request.getfixturevalue("api_spatialite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    engine = request.getfixturevalue("api_postgis_engine")
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {API_TABLES} RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO service_locks (name, counter) VALUES ('works', 0)"))
    yield engine


API_DATA = os.path.join(os.path.dirname(__file__), "data", "api")  # noqa: PTH118, PTH120


class ApiWorld:
    """A test client on a fresh database with one admin, the bureau and four utilities.

    ``headers(name)`` gives the bearer header of ``"admin"``, ``"bureau"``, ``"power"``,
    ``"water"``, ``"gas"`` or ``"telecom"``; ``upload(name)`` posts ``tests/data/api/<name>.geojson``.
    """

    ORGS = (
        ("admin", "admin", "系统管理员"),
        ("bureau", "bureau", "綦江区城市管理局"),
        ("power", "utility", "国网重庆綦江供电公司"),
        ("water", "utility", "渝綦水务"),
        ("gas", "utility", "重庆港华燃气"),
        ("telecom", "utility", "中国电信綦江分公司"),
    )

    def __init__(self, engine: Engine) -> None:
        from fastapi.testclient import TestClient
        from sqlalchemy.orm import Session

        from api.app import create_app
        from api.services.auth import create_organisation, create_token
        from onetrench.settings import Settings

        self.engine = engine
        self.settings = Settings(database_url="sqlite://")
        self.app = create_app(self.settings, engine=engine)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        self.tokens: dict[str, str] = {}
        with Session(engine) as session:
            for code, kind, name in self.ORGS:
                create_organisation(session, code=code, name=name, kind=kind)
                self.tokens[code], _ = create_token(session, org_code=code)
            session.commit()

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def path(self, name: str) -> str:
        return os.path.join(API_DATA, name)  # noqa: PTH118

    def load_roads(self) -> None:
        with open(self.path("roads.geojson"), "rb") as fh:  # noqa: PTH123
            r = self.client.post("/roads", files={"file": ("roads.geojson", fh)}, headers=self.headers("bureau"))
        assert r.status_code == 200, r.text

    def upload(self, name: str, *, org: str | None = None) -> dict[str, object]:
        with open(self.path(f"{name}.geojson"), "rb") as fh:  # noqa: PTH123
            r = self.client.post(
                "/works/upload", files={"file": (f"{name}.geojson", fh)}, headers=self.headers(org or name)
            )
        assert r.status_code == 200, r.text
        body: dict[str, object] = r.json()
        return body


@pytest.fixture
def api_world(api_engine: Engine) -> Iterator[ApiWorld]:
    """:class:`ApiWorld` on SpatiaLite and on PostGIS."""
    world = ApiWorld(api_engine)
    with world.client:
        yield world

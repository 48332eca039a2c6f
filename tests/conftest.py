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

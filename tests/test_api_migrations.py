"""Migrations of the service database, on SpatiaLite and PostGIS."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api.migrate import current_revision, downgrade, head_revision, upgrade
from api.models import SRID, AuditEvent, Base, Organisation, OrgKind, ServiceLock

OUR_TABLES = set(Base.metadata.tables)


def _diffs(engine: Engine) -> list[object]:
    def include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        if type_ == "table":
            return name in OUR_TABLES
        # SpatiaLite's R*Tree spatial indexes are virtual tables, not reflected as indexes.
        return not (type_ == "index" and name is not None and name.startswith("idx_"))

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False, "include_object": include})
        return list(compare_metadata(ctx, Base.metadata))


def test_upgrade_creates_every_table_at_head(api_engine: Engine) -> None:
    assert current_revision(api_engine) == head_revision()
    assert set(inspect(api_engine).get_table_names()) >= OUR_TABLES
    assert _diffs(api_engine) == []


def test_geometry_columns_have_working_srid_and_spatial_index(api_engine: Engine) -> None:
    with api_engine.connect() as conn:
        if api_engine.dialect.name == "sqlite":
            rows = conn.execute(
                text("SELECT f_table_name, srid, spatial_index_enabled FROM geometry_columns")
            ).fetchall()
            got = {(r[0], int(r[1]), int(r[2])) for r in rows}
            expected = {(t, SRID, 1) for t in ("roads", "works", "findings", "bundles")} | {("work_versions", SRID, 0)}
            assert expected <= got
        else:
            rows = conn.execute(
                text("SELECT f_table_name, srid FROM geometry_columns WHERE f_table_schema = current_schema()")
            ).fetchall()
            assert {(r[0], int(r[1])) for r in rows} >= {
                (t, SRID) for t in ("roads", "works", "findings", "bundles", "work_versions")
            }
            gist = conn.execute(
                text("SELECT tablename FROM pg_indexes WHERE schemaname = current_schema() AND indexdef LIKE '%gist%'")
            ).scalars()
            assert {"roads", "works", "findings", "bundles"} <= set(gist)


def test_audit_log_is_append_only(api_engine: Engine) -> None:
    with Session(api_engine) as session:
        session.add(AuditEvent(action="test", target="x", detail={}))
        session.commit()
    for statement in ("UPDATE audit_log SET action = 'changed'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), api_engine.begin() as conn:
            conn.execute(text(statement))
    with Session(api_engine) as session:
        assert [e.action for e in session.query(AuditEvent)] == ["test"]


def test_timestamps_are_timezone_aware(api_engine: Engine) -> None:
    when = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with Session(api_engine) as session:
        session.add(Organisation(code="o", name="o", kind=OrgKind.UTILITY, created_at=when))
        session.commit()
    with Session(api_engine) as session:
        got = session.query(Organisation).one().created_at
    assert got.tzinfo is not None
    assert got == when
    assert got.utcoffset() == dt.timedelta(0)


def test_service_lock_row_is_seeded(api_engine: Engine) -> None:
    with Session(api_engine) as session:
        assert session.get(ServiceLock, "works") is not None


@pytest.mark.parametrize("backend", ["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_downgrade_then_upgrade_round_trips(backend: str, request: pytest.FixtureRequest, tmp_path: object) -> None:
    if backend == "spatialite":
        from api.db import make_engine

        engine = make_engine(f"sqlite:///{tmp_path}/round.sqlite")
        upgrade(engine)
    else:
        engine = request.getfixturevalue("api_postgis_engine")
    try:
        assert downgrade(engine) is None
        assert not OUR_TABLES & set(inspect(engine).get_table_names())
        assert upgrade(engine) == head_revision()
        assert _diffs(engine) == []
    finally:
        if backend == "postgis":
            upgrade(engine)


@pytest.mark.postgis
def test_concurrent_upgrades_on_postgis_do_not_collide(api_postgis_engine: Engine) -> None:
    """Several service processes starting at once on an empty database: one migrates, the others wait."""
    import os
    import threading

    from api.db import make_engine

    schema = "onetrench_api_migration_race"
    with api_postgis_engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    # lock_timeout: without the migration lock the processes would block each other; fail instead
    url = f"{os.environ['ONETRENCH_TEST_POSTGIS_URL']}?options=-csearch_path%3D{schema},public%20-clock_timeout%3D20s"
    engines = [make_engine(url) for _ in range(3)]
    reached: list[str | None] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(engines))

    def run(engine: Engine) -> None:
        try:
            barrier.wait(timeout=30)
            reached.append(upgrade(engine))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for engine in engines:
        engine.dispose()
    with api_postgis_engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    assert errors == []
    assert reached == [head_revision()] * 3

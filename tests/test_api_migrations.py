"""Migrations of the service database, on SpatiaLite and PostGIS."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, delete, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api.migrate import current_revision, downgrade, head_revision, upgrade
from api.models import SRID, AuditEvent, Base, Organisation, OrgKind, ServiceLock

OUR_TABLES = set(Base.metadata.tables)


#: Foreign keys that PostgreSQL enforces with per-statement triggers instead (migration 0004).
STATEMENT_CHECKED = {"fk_finding_works_finding_id_findings", "fk_finding_works_work_pk_works"}


def _diffs(engine: Engine) -> list[object]:
    postgres = engine.dialect.name == "postgresql"

    def include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        if type_ == "table":
            return name in OUR_TABLES
        if type_ == "foreign_key_constraint" and postgres and name in STATEMENT_CHECKED:
            return False  # tested by test_finding_links_keep_their_references
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
            expected = {(t, SRID, 1) for t in ("roads", "works", "bundles")} | {
                (t, SRID, 0) for t in ("work_versions", "findings")
            }
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
            indexed = set(gist)
            assert {"roads", "works", "bundles"} <= indexed
            assert not {"findings", "work_versions"} & indexed  # never selected by place (migration 0005)


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


def test_finding_links_keep_their_references(api_engine: Engine) -> None:
    """A link must name a finding and a work that exist; deleting either deletes its links.

    On SQLite these are foreign keys; on PostgreSQL per-statement triggers (migration 0004).
    """
    from pathlib import Path

    from sqlalchemy.exc import IntegrityError

    from api.models import FindingWork, Role, WorkRow
    from api.services import auth
    from api.services.roads import load_roads
    from api.services.works import store_works
    from geo.intake import read_works
    from geo.roads import read_roads
    from onetrench.settings import Settings

    data = Path(__file__).parent / "data" / "api"
    settings = Settings(database_url="sqlite://")

    def principal(session: Session, code: str, kind: str) -> auth.Principal:
        org = auth.create_organisation(session, code=code, name=code, kind=kind)
        return auth.Principal(org_id=org.id, org_code=code, org_name=code, role=Role(kind))

    with Session(api_engine) as session:
        load_roads(session, principal(session, "bureau", "bureau"), list(read_roads(data / "roads.geojson").roads))
        for code in ("power", "water"):
            works = read_works(data / f"{code}.geojson", settings=settings).works
            store_works(session, principal(session, code, "utility"), works, settings=settings)
        session.commit()
        links = session.execute(select(FindingWork.finding_id, FindingWork.work_pk)).all()
        assert len(links) == 2 and len({f for f, _ in links}) == 1  # one shared-road finding, two works
        finding_id, work_pk = links[0]
        missing = 2_000_000_000
        for bad in ({"finding_id": finding_id, "work_pk": missing}, {"finding_id": missing, "work_pk": work_pk}):
            with pytest.raises(IntegrityError):
                session.execute(insert(FindingWork), [bad])
                session.flush()
            session.rollback()
        with pytest.raises(IntegrityError):
            session.execute(update(FindingWork).where(FindingWork.work_pk == work_pk).values(work_pk=missing))
        session.rollback()
        # deleting a work (its versions first: they restrict) deletes its links
        session.execute(text("DELETE FROM work_versions WHERE work_pk = :w"), {"w": work_pk})
        session.execute(delete(WorkRow).where(WorkRow.id == work_pk))
        assert [w for _, w in session.execute(select(FindingWork.finding_id, FindingWork.work_pk))] == [
            w for _, w in links[1:]
        ]
        # deleting the finding deletes the other link
        session.execute(text("DELETE FROM findings WHERE id = :f"), {"f": finding_id})
        assert session.execute(select(FindingWork.finding_id)).all() == []
        session.rollback()

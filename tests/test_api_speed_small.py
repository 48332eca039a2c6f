"""Small uploads of new works on PostGIS take a few-statement path: it stores what the ORM path stores.

Both paths run the same uploads on the same data (rolled back in between); every stored row
(works, versions, occupancies, findings with geometry, links, the audit event) and the answer
must be equal, identified by keys rather than ids.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import psycopg
import pytest
import shapely
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.models import AuditEvent, Organisation
from api.services import works as works_service
from api.services.roads import load_roads
from api.services.works import store_works
from geo.intake import read_works
from geo.roads import read_roads
from tests.test_api_check import DATA, SETTINGS, _principal, _stored


def _uploads() -> list[list[Any]]:
    g1 = read_works(DATA / "gas.geojson", settings=SETTINGS).works[0]
    batch = [
        dataclasses.replace(
            g1,
            work_id=f"G-{i}",
            geometry=shapely.affinity.translate(g1.geometry, 4.0 * i, 0.7 * (i % 2)),
            start=g1.start + dt.timedelta(days=30 * (i % 2)),
            end=g1.end + dt.timedelta(days=30 * (i % 2)),
            attributes={"laying": "直埋", "note": f"n{i}"},
        )
        for i in range(5)
    ]
    return [[batch[0]], batch[1:]]


def _run(engine: Engine, fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, object], list[object]]:
    monkeypatch.setattr(works_service, "SMALL_FAST_PATH", fast)
    statements: list[str] = []

    class Counting(psycopg.Cursor[Any]):
        """Counts every statement sent, by SQLAlchemy or by psycopg directly (the small path's own)."""

        def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
            statements.append(str(query)[:80])
            return super().execute(query, *args, **kwargs)

    with Session(engine) as session:
        bureau = _principal(session, "bureau", "bureau")
        load_roads(session, bureau, list(read_roads(DATA / "roads.geojson", settings=SETTINGS).roads))
        power = _principal(session, "power")
        gas = _principal(session, "gas")
        store_works(session, power, read_works(DATA / "power.geojson", settings=SETTINGS).works, settings=SETTINGS)
        answers: list[object] = []
        raw = session.connection().connection.driver_connection
        assert raw is not None
        plain = raw.cursor_factory
        raw.cursor_factory = Counting
        try:
            for works in _uploads():
                out = store_works(session, gas, works, settings=SETTINGS, source="gas.geojson")
                answers.append(
                    (
                        out.created,
                        out.updated,
                        [
                            (w.key, w.version, w.withdrawn, w.attributes, shapely.to_wkb(w.geometry.shape))
                            for w in out.works
                        ],
                        [(f.key, f.kind, f.severity, f.work_keys, f.measures, f.data, f.zh) for f in out.findings],
                        [f.id for f in out.findings] == sorted(f.id for f in out.findings),
                    )
                )
        finally:
            raw.cursor_factory = plain
        stored = _stored(session)
        code_of = dict(session.execute(select(Organisation.id, Organisation.code)).all())
        stored["audit"] = sorted(
            (e.action, e.target, code_of[e.org_id], str(sorted(e.detail.items())))
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "works.upload"))
        )
        stored["statements"] = len(statements) if fast else None
        session.rollback()
    return stored, answers


def test_small_upload_path_stores_what_the_orm_path_stores(api_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    if api_engine.dialect.name != "postgresql":
        pytest.skip("the few-statement path is PostgreSQL's")
    fast, fast_answers = _run(api_engine, True, monkeypatch)
    orm, orm_answers = _run(api_engine, False, monkeypatch)
    assert fast["findings"], "the construction must produce findings"
    assert any("same_road_same_period" in str(f) for f in fast["findings"])  # type: ignore[attr-defined]
    assert fast.pop("statements") == 2 * 4  # prelude, lock, nearby works, store: per upload
    orm.pop("statements")
    for name in orm:
        assert fast[name] == orm[name], name
    assert fast_answers == orm_answers


def test_reupload_replaces_findings_as_a_fresh_upload_would(api_engine: Engine) -> None:
    """Re-uploading works forgets their findings and occupancies (one statement on PostGIS):
    what is stored afterwards equals what uploading the changed works directly stores."""
    first, second = _uploads()
    works = first + second
    moved = [
        dataclasses.replace(w, start=w.start + dt.timedelta(days=45), end=w.end + dt.timedelta(days=45)) for w in works
    ]
    results = []
    for sequence in ([works, moved], [moved]):
        with Session(api_engine) as session:
            bureau = _principal(session, "bureau", "bureau")
            load_roads(session, bureau, list(read_roads(DATA / "roads.geojson", settings=SETTINGS).roads))
            power = _principal(session, "power")
            gas = _principal(session, "gas")
            store_works(session, power, read_works(DATA / "power.geojson", settings=SETTINGS).works, settings=SETTINGS)
            for batch in sequence:
                store_works(session, gas, batch, settings=SETTINGS)
            stored = _stored(session)
            session.rollback()
        for name in ("works", "versions"):
            stored.pop(name)  # versions differ by construction (2 vs 1)
        results.append(stored)
    again, fresh = results
    assert fresh["findings"], "the construction must produce findings"
    assert again == fresh


def _jsonable_reference(value: Any) -> Any:
    """The plain rules of ``jsonable`` (before its fast paths for exact types)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable_reference(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable_reference(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def test_jsonable_fast_paths_keep_the_plain_rules() -> None:
    from collections import OrderedDict

    from api.services.convert import jsonable
    from onetrench.domain import FindingKind

    values: list[Any] = [
        {"shared_m": 199.485, "blocking_works": ["a", "b"], "blackouts": [], "n": 3, "ok": True, "x": None},
        {1: "one", (2, 3): [dt.date(2027, 3, 1), dt.datetime(2027, 3, 1, 8, tzinfo=dt.UTC)]},
        OrderedDict(a=(1, 2.5, "z")),
        [FindingKind.MORATORIUM, {"k": FindingKind.BLACKOUT}, 1.0e300, -0.0],
        ("t", [set_ := frozenset({1})]),
        "plain",
    ]
    for value in values:
        got, expected = jsonable(value), _jsonable_reference(value)
        assert got == expected
        assert repr(got) == repr(expected)
    assert str(set_) in str(jsonable(values[4]))

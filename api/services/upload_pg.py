"""Small uploads of new works on PostgreSQL in few round trips (the latency-bound path).

An upload of a few new works (fewer than :data:`api.services.works.BULK_MIN`) is stored and
checked with four statements after authentication, instead of one per row and step:

1. :func:`prelude`: the road-network stamp, which of the works exist already, and new work ids
   drawn from the sequence;
2. :func:`api.services.check.lock_works` (one statement);
3. :func:`near_works`: the road stamp again (read under the lock, a road load may have
   committed meanwhile) and the stored works near the new ones, found with the new geometries
   sent as parameters (the new works are not written yet);
4. :func:`store`: works, their first versions, occupancies, findings, their links and the audit
   event in one statement (data-modifying ``WITH`` clauses, each over one JSON parameter read by
   ``json_populate_recordset``; foreign keys are checked at the end of the statement, when every
   part is written).

The rows stored are those of the ORM path (a test compares them), and the answer is built from
the values written, without reading them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import shapely
from sqlalchemy import Float, Integer, LargeBinary, Text, column, text
from sqlalchemy.orm import Session

from api.models import UTCDateTime, WorkRow
from api.services.check import FINDING_SPEC, NEAR_COLUMNS
from api.services.convert import json_text, works_from_rows
from onetrench.domain import Work

#: ``(column, kind)`` of the rows written by :func:`store`: values as Python objects (``json``
#: columns as lists or dicts, geometries as EWKB bytes, dates and times as objects).
WORK_SPEC: tuple[tuple[str, str], ...] = (
    ("id", "int"),
    ("key", "text"),
    ("org_id", "int"),
    ("work_id", "text"),
    ("utility", "text"),
    ("owner", "text"),
    ("name", "text"),
    ("contact", "text"),
    ("start", "date"),
    ("end", "date"),
    ("earliest_start", "date"),
    ("latest_end", "date"),
    ("diameter_mm", "float8"),
    ("voltage_kv", "float8"),
    ("gas_pressure", "text"),
    ("trench_width_m", "float8"),
    ("depth_m", "float8"),
    ("method", "text"),
    ("emergency", "bool"),
    ("source", "text"),
    ("attributes", "json"),
    ("version", "int"),
    ("withdrawn", "bool"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("geometry", "geometry"),
)
VERSION_SPEC: tuple[tuple[str, str], ...] = (
    ("work_pk", "int"),
    ("version", "int"),
    ("change", "text"),
    ("snapshot", "json"),
    ("geometry", "geometry"),
    ("withdrawn", "bool"),
    ("token_id", "int"),
    ("changed_at", "timestamptz"),
)
OCCUPANCY_SPEC: tuple[tuple[str, str], ...] = (
    ("work_pk", "int"),
    ("road_pk", "int"),
    ("intervals", "json"),
    ("offsets_m", "json"),
    ("crossings", "json"),
    ("length_m", "float8"),
)
AUDIT_SPEC: tuple[tuple[str, str], ...] = (
    ("at", "timestamptz"),
    ("org_id", "int"),
    ("token_id", "int"),
    ("action", "text"),
    ("target", "text"),
    ("outcome", "text"),
    ("detail", "json"),
)


def populate_insert(table: str, spec: Sequence[tuple[str, str]], param: str, *, returning: str = "") -> str:
    """``INSERT INTO table (spec columns) SELECT … FROM json_populate_recordset(…, :param)``.

    The rows come as one JSON array of objects (:func:`rows_json`): PostgreSQL parses it and
    converts each value with its column's input function (hex EWKB for geometries), so the client
    sends one text parameter per table instead of one typed array per column.
    """
    names = ", ".join(f'"{name}"' for name, _ in spec)
    tail = f" RETURNING {returning}" if returning else ""
    return (
        f'INSERT INTO "{table}" ({names}) SELECT {names} '
        f'FROM json_populate_recordset(NULL::"{table}", CAST(:{param} AS json)){tail}'
    )


def _json_ready(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "geometry":
        return bytes(value).hex()
    if kind in {"date", "timestamptz"}:
        return value.isoformat()
    return value


def rows_json(spec: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> str:
    """The JSON text of ``rows`` (values in ``spec`` order; JSON columns as Python lists or dicts)."""
    return json_text(
        [{name: _json_ready(value, kind) for (name, kind), value in zip(spec, row, strict=True)} for row in rows]
    )


_PRELUDE = text(
    "SELECT (SELECT max(id) FROM roads), (SELECT max(loaded_at) FROM roads), (SELECT max(width_m) FROM roads), "
    "ARRAY(SELECT key FROM works WHERE key = ANY(CAST(:keys AS text[]))), "
    "ARRAY(SELECT nextval(pg_get_serial_sequence('works', 'id')) FROM generate_series(1, :n))"
).columns(
    column("max_id", Integer),
    column("max_loaded", UTCDateTime()),
    column("max_width", Float),
    column("existing"),
    column("ids"),
)


def prelude(session: Session, keys: Sequence[str]) -> tuple[tuple[Any, ...], set[str], list[int]]:
    """``(road stamp, keys already stored, one new work id per key)`` in one statement."""
    row = session.execute(_PRELUDE, {"keys": list(keys), "n": len(keys)}).one()
    stamp = (row[0], row[1], float(row[2] or 0.0))
    return stamp, set(row[3] or ()), [int(i) for i in row[4]]


def _near_statement() -> Any:
    table = WorkRow.__table__
    cols = ", ".join(f'w."{name}"' for name in NEAR_COLUMNS)
    return text(
        "WITH s AS (SELECT max(id) AS s_id, max(loaded_at) AS s_loaded, max(width_m) AS s_width FROM roads), "
        "near AS (SELECT DISTINCT t.id FROM works AS t, s, unnest(CAST(:g AS bytea[])) AS n(g) "
        "WHERE ST_DWithin(t.geometry, ST_GeomFromEWKB(n.g), s.s_width)) "
        f"SELECT s.s_id, s.s_loaded, s.s_width, {cols}, CAST(w.attributes AS text) AS attributes, "
        "ST_AsBinary(w.geometry) AS wkb "
        "FROM s LEFT JOIN (works AS w JOIN near ON near.id = w.id AND w.withdrawn = false) ON true"
    ).columns(
        column("s_id", Integer),
        column("s_loaded", UTCDateTime()),
        column("s_width", Float),
        *(table.c[name] for name in NEAR_COLUMNS),
        column("attributes", Text),
        column("wkb", LargeBinary),
    )


_NEAR = _near_statement()


def near_works(session: Session, ewkb: Sequence[bytes]) -> tuple[tuple[Any, ...], list[tuple[int, Work]]]:
    """The road stamp and the live stored works ``(pk, work)`` near the geometries ``ewkb``.

    One statement: the stamp is read under the lock, and a stored work is near when it lies within
    the widest road's red-line width of any of ``ewkb``.
    """
    rows = session.execute(_NEAR, {"g": list(ewkb)}).all()
    first = rows[0]
    stamp = (first[0], first[1], float(first[2] or 0.0))
    found = [r[3:] for r in rows if r[3] is not None]
    geoms = shapely.from_wkb([bytes(r[-1]) for r in found]) if found else []
    return stamp, [(int(r[0]), w) for r, w in zip(found, works_from_rows(found, geoms), strict=True)]


#: The statement of :func:`store` (built once: the same text is prepared once per connection).
_STORE = text(
    "WITH "
    + ", ".join(
        [
            f"w AS ({populate_insert('works', WORK_SPEC, 'w')})",
            f"v AS ({populate_insert('work_versions', VERSION_SPEC, 'v')})",
            f"o AS ({populate_insert('occupancies', OCCUPANCY_SPEC, 'o')})",
            f"a AS ({populate_insert('audit_log', AUDIT_SPEC, 'a', returning='id')})",
            f"f AS ({populate_insert('findings', FINDING_SPEC, 'f', returning='id, key')})",
            "l AS (INSERT INTO finding_works (finding_id, work_pk) SELECT f.id, x.work_pk FROM f "
            "JOIN unnest(CAST(:lkey AS text[]), CAST(:lwork AS int[])) AS x(key, work_pk) ON x.key = f.key)",
        ]
    )
    + " SELECT id, key FROM f UNION ALL SELECT id, NULL FROM a"
)


def store(
    session: Session,
    *,
    works: Sequence[Sequence[Any]],
    versions: Sequence[Sequence[Any]],
    occupancies: Sequence[Sequence[Any]],
    findings: Sequence[Sequence[Any]],
    links: Sequence[tuple[str, int]],
    audit: Sequence[Any],
) -> tuple[dict[str, int], int]:
    """Write everything of a checked small upload in one statement.

    ``links`` are ``(finding key, work pk)``. Returns the id of each finding by key and the id of
    the audit event.
    """
    params: dict[str, Any] = {
        "w": rows_json(WORK_SPEC, works),
        "v": rows_json(VERSION_SPEC, versions),
        "o": rows_json(OCCUPANCY_SPEC, occupancies),
        "a": rows_json(AUDIT_SPEC, [audit]),
        "f": rows_json(FINDING_SPEC, findings),
        "lkey": [k for k, _ in links],
        "lwork": [w for _, w in links],
    }
    ids: dict[str, int] = {}
    audit_id = 0
    for fid, key in session.execute(_STORE, params):
        if key is None:
            audit_id = int(fid)
        else:
            ids[key] = int(fid)
    return ids, audit_id

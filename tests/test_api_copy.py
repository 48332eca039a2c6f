"""The bulk writes' ``COPY`` (``api.services.check.copy_rows``), read back from PostgreSQL itself."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.services.check import copy_rows

#: Text with what COPY must escape (backslash, tab, newline, carriage return), Chinese and NUL-free.
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from("\\\t\n\r\"'N.,道路燃气 "), st.characters(codec="utf-8", exclude_characters="\x00")
    ),
    max_size=12,
)
ROW = st.tuples(
    st.integers(-(2**31), 2**31 - 1),
    st.none() | TEXT,
    st.none() | st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.none() | st.booleans(),
    st.none() | st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)),
)


@pytest.mark.postgis
@settings(max_examples=25, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=30))
@example(
    rows=[
        (1, "a\\b\tc\nd\re", 0.1, True, dt.date(2027, 3, 1)),
        (2, "\\N", None, None, None),
        (3, "", -0.0, False, None),
    ]
)
def test_rows_read_back_as_written(api_postgis_engine: Engine, rows: list[tuple[object, ...]]) -> None:
    """In text format (escaped by psycopg) and in binary format (as the findings are written)."""
    for binary_types in (None, ["int4", "text", "float8", "bool", "date"]):
        with Session(api_postgis_engine) as session:
            session.execute(
                text("CREATE TEMP TABLE copy_probe (i int, t text, f float8, b bool, d date) ON COMMIT DROP")
            )
            copy_rows(session, "copy_probe", ["i", "t", "f", "b", "d"], rows, binary_types=binary_types)
            got = session.execute(text("SELECT i, t, f, b, d FROM copy_probe")).all()
            session.rollback()
        assert [tuple(r) for r in got] == rows, binary_types


@pytest.mark.postgis
def test_binary_rows_give_json_and_geometry_columns_their_text_and_ewkb(api_postgis_engine: Engine) -> None:
    """Findings' JSON goes as text and their geometry as EWKB bytes (``FINDING_COPY_SPEC``)."""
    import shapely

    line = shapely.set_srid(shapely.LineString([(500000.5, 3200000.25), (500010, 3200003)]), 4545)
    ewkb = shapely.to_wkb(line, include_srid=True)
    rows = [(1, '{"道路":[1.5,"a\\tb"]}', ewkb), (2, "[]", None)]
    with Session(api_postgis_engine) as session:
        session.execute(text("CREATE TEMP TABLE copy_probe (i int, j json, g geometry(Geometry, 4545)) ON COMMIT DROP"))
        copy_rows(session, "copy_probe", ["i", "j", "g"], rows, binary_types=["int4", "text", "bytea"])
        got = session.execute(text("SELECT i, j, ST_AsEWKB(g) FROM copy_probe ORDER BY i")).all()
        session.rollback()
    assert got[0][1] == {"道路": [1.5, "a\tb"]}  # the JSON escape read as a tab
    assert shapely.equals_exact(shapely.from_wkb(bytes(got[0][2])), line, tolerance=0)
    assert shapely.get_srid(shapely.from_wkb(bytes(got[0][2]))) == 4545
    assert tuple(got[1]) == (2, [], None)

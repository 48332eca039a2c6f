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
    with Session(api_postgis_engine) as session:
        session.execute(text("CREATE TEMP TABLE copy_probe (i int, t text, f float8, b bool, d date) ON COMMIT DROP"))
        copy_rows(session, "copy_probe", ["i", "t", "f", "b", "d"], rows)
        got = session.execute(text("SELECT i, t, f, b, d FROM copy_probe")).all()
        session.rollback()
    assert [tuple(r) for r in got] == rows

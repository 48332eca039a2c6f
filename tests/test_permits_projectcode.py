"""投资项目统一代码 (GB/T 40058) checks, the schema pattern, and PDF text safety."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onetrench.errors import InputError
from permits.manifest import load_schema
from permits.pdf import find_cjk_font, safe_text
from permits.projectcode import PROJECT_CODE_PATTERN, parse_project_code, project_code_problems


def test_valid_code_parses_into_its_parts() -> None:
    code = parse_project_code(" 2026-500110-48-01-000123 ")
    assert (code.year, code.region, code.department, code.project_type, code.serial) == (
        2026,
        "500110",
        "48",
        "01",
        "000123",
    )
    assert str(code) == "2026-500110-48-01-000123"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "project_code.missing"),
        (None, "project_code.missing"),
        ("2026-500110-48-01", "project_code.format"),
        ("2026500110480100012", "project_code.format"),
        ("2026-500110-48-01-00012", "project_code.format"),
        ("2026-500110-48-01-0001234", "project_code.format"),
        ("２０２６-500110-48-01-000123", "project_code.format"),  # full-width digits
        ("2026—500110—48—01—000123", "project_code.format"),  # em dashes
        ("2026-500110-4A-01-000123", "project_code.format"),
        ("2026-500101-48-01-000123", "project_code.region"),  # 渝中区, not 綦江区
        ("1999-500110-48-01-000123", "project_code.year"),
    ],
)
def test_bad_codes_are_reported(raw: object, code: str) -> None:
    problems = project_code_problems(raw)
    assert [p.code for p in problems] == [code]
    with pytest.raises(InputError) as err:
        parse_project_code(raw)
    # Chinese and English, naming the expected layout or region.
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err.value.zh)
    assert err.value.en.isascii() or "project code" in err.value.en
    if code == "project_code.format":
        assert "YYYY-AAAAAA-DD-TT-NNNNNN" in err.value.zh and "YYYY-AAAAAA-DD-TT-NNNNNN" in err.value.en
    if code == "project_code.region":
        assert "500110" in err.value.zh and "500101" in err.value.en


def test_wrong_year_and_region_are_both_listed() -> None:
    assert [p.code for p in project_code_problems("1990-110101-48-01-000123")] == [
        "project_code.year",
        "project_code.region",
    ]


_code_like = st.from_regex(r"\A[0-9]{4}-(500110|[0-9]{6})-[0-9]{2}-[0-9]{2}-[0-9]{6}\Z") | st.text(
    alphabet="0123456789-５", max_size=26
)


@given(_code_like)
def test_schema_pattern_agrees_with_the_code_check(raw: str) -> None:
    schema_pattern = load_schema()["properties"]["project_code"]["pattern"]
    schema_ok = re.search(schema_pattern, raw) is not None
    codes = {p.code for p in project_code_problems(raw)}
    # The schema checks layout and region (not the year range); the code checks all three.
    assert schema_ok == (not codes - {"project_code.year"})
    assert (re.search(PROJECT_CODE_PATTERN, raw) is not None) == ("project_code.format" not in codes and bool(raw))


@given(st.text(max_size=200))
def test_safe_text_keeps_only_drawable_characters(text: str) -> None:
    out = safe_text(text, limit=50)
    assert len(out) <= 50
    for ch in out:
        assert ch == "\n" or unicodedata.category(ch)[0] != "C"


def test_safe_text_keeps_chinese_and_marks_missing_glyphs() -> None:
    assert safe_text("古南大道\r\n（K0+050）\u200b") == "古南大道\n（K0+050）"
    assert safe_text("𓀀") == "□"  # an Egyptian hieroglyph: not in Noto Sans CJK
    assert safe_text("x" * 50, limit=10) == "x" * 9 + "…"


def test_font_is_the_simplified_chinese_face() -> None:
    font = find_cjk_font()
    assert font.path.is_file()
    from fontTools.ttLib import TTCollection, TTFont

    if font.path.suffix.lower() == ".ttc":
        coll = TTCollection(font.path, lazy=True)
        name = coll.fonts[font.index]["name"].getDebugName(1)
        coll.close()
    else:
        single = TTFont(font.path, lazy=True)
        name = single["name"].getDebugName(1)
        single.close()
    assert name == "Noto Sans CJK SC"

"""The hostile corpus (tests/data/bad/make_corpus.py) through ``geo.intake.read_works``.

Each case must get its answer — one of onetrench's errors naming the problem, or a result whose
errors name it, or (harmless as data) the works with their text kept literally — within bounded
time and memory (``tracemalloc`` peak; the 1M-vertex case is timed only, tracing would quadruple
its time). Large cases (bombs, 1M vertices, oversized uploads) are built into ``tmp_path`` and read
from disk; the small ones are read from the committed files as uploaded bytes.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
import tracemalloc
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import onetrench.errors as errors_module
from geo.intake import IntakeResult, read_works
from onetrench.errors import OnetrenchError
from onetrench.settings import Settings

BAD = Path(__file__).parent / "data" / "bad"


def load_corpus() -> ModuleType:
    """Import tests/data/bad/make_corpus.py (a script, not a package)."""
    if "onetrench_bad_corpus" in sys.modules:
        return sys.modules["onetrench_bad_corpus"]
    spec = importlib.util.spec_from_file_location("onetrench_bad_corpus", BAD / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["onetrench_bad_corpus"] = module
    spec.loader.exec_module(module)
    return module


corpus = load_corpus()
CASES = corpus.CASES
#: Seconds and traced megabytes a case may take (the 1M-vertex case: time only).
TIME_LIMIT_S = 5.0
BIG_TIME_LIMIT_S = 20.0
MEMORY_LIMIT_MB = 48.0


def case_input(case: object, tmp_path: Path) -> tuple[Path, bytes | None]:
    """(path, data) for ``read_works``: large cases written to tmp_path, small ones as bytes."""
    name = case.name  # type: ignore[attr-defined]
    if case.large:  # type: ignore[attr-defined]
        path = tmp_path / "upload" / name
        path.parent.mkdir()
        path.write_bytes(corpus.build(name))
        return path, None
    return BAD / name, (BAD / name).read_bytes()


def test_the_corpus_has_forty_kinds_and_every_small_case_is_committed() -> None:
    assert len({c.kind for c in CASES}) >= 40
    assert len({c.name for c in CASES}) == len(CASES)
    committed = {p.name for p in BAD.iterdir() if p.name != "make_corpus.py"}
    assert committed == {c.name for c in CASES if not c.large}
    formats = {Path(c.name).suffix for c in CASES}
    assert {".geojson", ".zip", ".gpkg", ".kml", ".kmz", ".dxf", ".csv"} <= formats


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_hostile_file_gets_its_answer_in_bounded_time_and_memory(case: object, tmp_path: Path) -> None:
    path, data = case_input(case, tmp_path)
    settings = Settings(**case.settings)  # type: ignore[attr-defined]
    traced = case.name != "million_vertices.geojson"  # type: ignore[attr-defined]
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome: IntakeResult | OnetrenchError = read_works(
            path,
            data=data,
            crs=case.crs,  # type: ignore[attr-defined]
            settings=settings,
        )
    except OnetrenchError as exc:
        outcome = exc
    finally:
        elapsed = time.perf_counter() - started
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6 if traced else 0.0
        if traced:
            tracemalloc.stop()
    assert elapsed < (TIME_LIMIT_S if traced else BIG_TIME_LIMIT_S), f"{elapsed:.1f} s"
    assert peak_mb < MEMORY_LIMIT_MB, f"{peak_mb:.1f} MB"
    check_outcome(case, outcome)
    # nothing is written next to the upload (zip members are never extracted by their own names)
    expected_files = {"upload", case.name} if data is None else set()  # type: ignore[attr-defined]
    assert {p.name for p in tmp_path.rglob("*")} == expected_files


def check_outcome(case: object, outcome: IntakeResult | OnetrenchError) -> None:
    """Assert that the answer is the one the case asks for."""
    expected = case.outcome  # type: ignore[attr-defined]
    if expected == "raise":
        assert isinstance(outcome, OnetrenchError), f"expected {case.error}, got a result"  # type: ignore[attr-defined]
        assert type(outcome) is getattr(errors_module, case.error)  # type: ignore[attr-defined]
        assert outcome.zh and outcome.en
        assert case.mention.lower() in outcome.en.lower(), outcome.en  # type: ignore[attr-defined]
        if case.name != "absolute.zip":  # type: ignore[attr-defined]  # names the archive's own /tmp/… members
            assert_plain_message(outcome)
        return
    assert isinstance(outcome, IntakeResult), f"{type(outcome).__name__}: {outcome}"
    assert all(p.zh and p.en for p in outcome.errors + outcome.warnings)
    outcome.to_json()
    codes = {p.code for p in outcome.errors}
    if expected == "reject":
        assert outcome.works == []
        assert set(case.codes) <= codes, codes  # type: ignore[attr-defined]
        return
    assert outcome.works and not outcome.errors, codes
    assert set(case.codes) <= {p.code for p in outcome.warnings}  # type: ignore[attr-defined]


def test_formula_text_stays_literal_data() -> None:
    result = read_works(BAD / "formula.csv")
    [work] = result.works
    assert work.name == corpus.FORMULAS[0]
    assert work.owner == corpus.FORMULAS[4]


def test_mixed_encodings_decode_line_by_line() -> None:
    result = read_works(BAD / "mixed_encodings.csv")
    assert [(w.work_id, w.name) for w in result.works] == [("BAD-1", "綦江测试给水管"), ("BAD-2", "古南街道燃气管")]
    assert "file.encoding_mixed" in {p.code for p in result.warnings}


@pytest.mark.parametrize("name", ["traversal.zip", "absolute.zip"])
def test_zip_members_outside_the_archive_are_refused_by_name(name: str) -> None:
    with pytest.raises(errors_module.UnreadableFile) as info:
        read_works(BAD / name)
    assert "evil.shp" in info.value.en
    assert "不安全" in info.value.zh


def test_lying_zip_header_inflates_at_most_one_chunk(tmp_path: Path) -> None:
    from geo.intake.readers import ZIP_CHUNK

    data = corpus.build("bomb_lying.zip")
    tracemalloc.start()
    try:
        with pytest.raises(errors_module.UnreadableFile):
            read_works("bomb_lying.zip", data=data, settings=Settings(max_upload_bytes=50 * 1024 * 1024))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * ZIP_CHUNK + len(data)


ROAD_CASES = [c for c in CASES if Path(c.name).suffix in (".geojson", ".zip", ".gpkg")]


#: What a user should never read: the server's folders, GDAL's virtual paths, Python's class names.
INTERNALS = re.compile(r"/tmp/|/vsi[a-z]+/|\b[A-Z][A-Za-z]+(?:Error|Forbidden|Exception)\b")


def assert_plain_message(exc: OnetrenchError) -> None:
    """The message names the problem in the user's terms, not the parser's."""
    for text in (exc.zh, exc.en, *(p.zh for p in exc.details), *(p.en for p in exc.details)):
        assert not INTERNALS.search(text), text


def test_xml_entities_are_refused_in_words_a_user_understands() -> None:
    for name in ("xxe.kml", "laughs.kml", "xxe.kmz"):
        with pytest.raises(errors_module.UnreadableFile) as caught:
            read_works(name, data=(BAD / name).read_bytes())
        assert "DTD" in caught.value.en
        assert "安全" in caught.value.zh
        assert "<!DOCTYPE" in caught.value.en


@pytest.mark.parametrize("case", ROAD_CASES, ids=[c.name for c in ROAD_CASES])
def test_road_reader_on_the_corpus(case: object, tmp_path: Path) -> None:
    """The road reader (GDAL underneath) on the same hostile files: only onetrench's errors, quickly;
    GDAL's warnings reported as road warnings, never emitted (pytest turns warnings into errors)."""
    from geo.roads import read_roads

    name = case.name  # type: ignore[attr-defined]
    path = tmp_path / name
    path.write_bytes(corpus.build(name) if case.large else (BAD / name).read_bytes())  # type: ignore[attr-defined]
    started = time.perf_counter()
    try:
        network = read_roads(path, settings=Settings(**case.settings))  # type: ignore[attr-defined]
    except OnetrenchError as exc:
        assert exc.zh and exc.en
        assert_plain_message(exc)
    else:
        assert not any(INTERNALS.search(p.en) for p in network.warnings)
    assert time.perf_counter() - started < BIG_TIME_LIMIT_S
    assert [p.name for p in tmp_path.rglob("*")] == [name]  # nothing extracted, nothing left behind


ordinates = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**6), 10**6), st.sampled_from(["1.5", " 2 ", "nan"])
)


@settings(max_examples=60, deadline=None)
@given(positions=st.lists(st.lists(ordinates, min_size=2, max_size=4), min_size=1, max_size=20))
def test_fast_geojson_positions_equal_the_slow_path(positions: list[list[object]]) -> None:
    """The numpy path for a list of positions gives what one float() per ordinate gives."""
    from geo.intake.readers import _fast_positions, _positions

    fast = _fast_positions(positions)
    slow = [_positions(p, 0) for p in positions]
    expected = np.array([xy for xy, _ in slow], dtype=float)
    if fast is None:  # ragged: the slow path names the bad position instead
        assert len({len(p) for p in positions}) > 1
        return
    arr, dims = fast
    np.testing.assert_array_equal(arr, expected)
    assert dims == max(d for _, d in slow)


def test_fast_geojson_positions_refuse_bools_and_strings() -> None:
    from geo.intake.readers import _fast_positions

    assert _fast_positions([[True, 1.0], [2.0, 3.0]]) is None
    assert _fast_positions([["a", 1.0], [2.0, 3.0]]) is None
    assert _fast_positions([[1.0], [2.0]]) is None
    assert _fast_positions([]) is None

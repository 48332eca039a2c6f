"""The hostile corpus (tests/data/bad/make_corpus.py) through the service's upload endpoint.

Each bad file must get a 4xx ``application/problem+json`` answer naming the problem, and leave
every table of the database exactly as it was (all rows compared, not only counted). The files
that are harmless as data (formula-like text, mixed encodings) are stored with their text literal.
Runs on SpatiaLite, and on PostGIS when ``ONETRENCH_TEST_POSTGIS_URL`` is set (see tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import Engine, select

from api.models import Base

BAD = Path(__file__).parent / "data" / "bad"


def load_corpus() -> ModuleType:
    """Import tests/data/bad/make_corpus.py (a script, not a package), once per process."""
    if "onetrench_bad_corpus" not in sys.modules:
        spec = importlib.util.spec_from_file_location("onetrench_bad_corpus", BAD / "make_corpus.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["onetrench_bad_corpus"] = module
        spec.loader.exec_module(module)
    return sys.modules["onetrench_bad_corpus"]


corpus = load_corpus()
CASES = corpus.CASES
UPLOAD_TIME_LIMIT_S = 20.0


def snapshot(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table of the service, as sorted text."""
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for name, table in sorted(Base.metadata.tables.items()):
            out[name] = sorted(repr(tuple(_plain(v) for v in row)) for row in conn.execute(select(table)))
    return out


def _plain(value: Any) -> Any:
    """Geometry elements (whose repr holds a memory address) as their hex bytes."""
    data = getattr(value, "data", None)
    if data is not None and not isinstance(value, str | bytes):
        return bytes(data).hex() if isinstance(data, bytes | memoryview) else str(data)
    return value


@pytest.fixture
def world(api_world: Any) -> Any:
    """The API test world with roads and one stored work, so that 'unchanged' means something."""
    api_world.load_roads()
    api_world.upload("power")
    return api_world


def post(world: Any, case: Any) -> Any:
    name = case.name
    data = corpus.build(name) if case.large else (BAD / name).read_bytes()
    if case.settings:
        world.app.state.settings = world.settings.model_copy(update=case.settings)
    form = {"crs": case.crs} if case.crs else {}
    return world.client.post("/works/upload", files={"file": (name, data)}, data=form, headers=world.headers("water"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_hostile_upload_is_answered_and_changes_nothing(world: Any, case: Any) -> None:
    before = snapshot(world.engine)
    started = time.perf_counter()
    r = post(world, case)
    elapsed = time.perf_counter() - started
    assert elapsed < UPLOAD_TIME_LIMIT_S
    assert r.status_code == case.api, r.text
    if case.outcome == "accept":
        return  # stored on purpose: see test_harmless_text_is_stored_literally
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == case.api
    assert problem["detail"] and problem["detail_zh"]
    if case.outcome == "raise":
        assert case.mention.lower() in problem["detail"].lower(), problem["detail"]
    else:
        assert set(case.codes) <= {e["code"] for e in problem["errors"]}, problem["errors"]
        assert all(e["zh"] and e["en"] for e in problem["errors"])
    assert snapshot(world.engine) == before


def test_harmless_text_is_stored_literally(world: Any) -> None:
    r = post(world, corpus.BY_NAME["formula.csv"])
    assert r.status_code == 200, r.text
    [work] = r.json()["works"]
    assert (work["name"], work["owner"]) == (corpus.FORMULAS[0], corpus.FORMULAS[4])
    stored = world.client.get(f"/works/{work['id']}", headers=world.headers("water")).json()
    assert (stored["name"], stored["owner"]) == (corpus.FORMULAS[0], corpus.FORMULAS[4])

    r = post(world, corpus.BY_NAME["mixed_encodings.csv"])
    assert r.status_code == 200, r.text
    assert sorted(w["name"] for w in r.json()["works"]) == sorted(["綦江测试给水管", "古南街道燃气管"])
    assert "file.encoding_mixed" in {p["code"] for p in r.json()["warnings"]}


#: As a body, UTF-16 JSON is decoded by the framework's JSON parser (RFC 8259 detection) and accepted.
GEOJSON_CASES = [
    c for c in CASES if c.name.endswith(".geojson") and c.outcome != "accept" and c.name != "utf16.geojson"
]


@pytest.mark.parametrize("case", GEOJSON_CASES, ids=[c.name for c in GEOJSON_CASES])
def test_each_hostile_geojson_body_is_answered_and_changes_nothing(world: Any, case: Any) -> None:
    """The same GeoJSON cases as a request body (POST /works): a 4xx problem, nothing stored."""
    data = corpus.build(case.name) if case.large else (BAD / case.name).read_bytes()
    if case.settings:
        world.app.state.settings = world.settings.model_copy(update=case.settings)
    before = snapshot(world.engine)
    r = world.client.post(
        "/works", content=data, headers={**world.headers("water"), "Content-Type": "application/json"}
    )
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == r.status_code and problem["detail"]
    if case.outcome == "reject":
        assert set(case.codes) <= {e["code"] for e in problem.get("errors", [])}, problem
    assert snapshot(world.engine) == before


@pytest.mark.parametrize("name", ["truncated.geojson", "deep_nesting.geojson"])
def test_unparsable_json_body_is_a_bilingual_problem(world: Any, name: str) -> None:
    r = world.client.post(
        "/works",
        content=corpus.build(name),
        headers={**world.headers("water"), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json().get("detail_zh") and r.json().get("title_zh")

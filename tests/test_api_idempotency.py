"""Uploads with an ``Idempotency-Key`` header, on SpatiaLite and PostGIS.

A retry with the same key gets the first answer back byte for byte and stores nothing; a key
reused for a different request is refused; a failed request leaves its key free; two requests
with the same key at once are processed once. (The retry after a SIGKILL mid-upload is in
tests/test_hardening_faults.py.)
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from api.models import FindingRow, IdempotencyRecord, WorkRow, WorkVersion

DATA = Path(__file__).parent / "data" / "api"
KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def _counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (WorkRow, WorkVersion, FindingRow, IdempotencyRecord)
        }


def _upload(client: TestClient, world: Any, name: str, key: str | None, *, org: str | None = None) -> Any:
    headers = world.headers(org or name) | ({KEY: key} if key is not None else {})
    data = (DATA / f"{name}.geojson").read_bytes()
    return client.post("/works/upload", files={"file": (f"{name}.geojson", data)}, headers=headers)


def test_retry_with_the_same_key_replays_the_first_answer_and_stores_nothing(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    w.upload("power")
    first = _upload(w.client, w, "water", "retry-1")
    assert first.status_code == 200, first.text
    assert first.headers[REPLAYED] == "false"
    assert first.json()["created"] == 1
    assert len(first.json()["findings"]) >= 1
    after_first = _counts(w.engine)

    again = _upload(w.client, w, "water", "retry-1")
    assert again.status_code == 200
    assert again.headers[REPLAYED] == "true"
    assert again.content == first.content
    assert _counts(w.engine) == after_first

    # Without a key the same file is a re-upload: a new version of the work is kept.
    plain = _upload(w.client, w, "water", None)
    assert plain.status_code == 200
    assert REPLAYED not in plain.headers
    assert _counts(w.engine)["work_versions"] == after_first["work_versions"] + 1


def test_geojson_body_retry_is_replayed_even_with_keys_in_another_order(api_world: Any) -> None:
    import json

    w = api_world
    w.load_roads()
    body = json.loads((DATA / "power.geojson").read_text(encoding="utf-8"))
    first = w.client.post("/works", json=body, headers=w.headers("power") | {KEY: "body-1"})
    assert first.status_code == 200, first.text
    reordered = dict(reversed(list(body.items())))
    again = w.client.post("/works", json=reordered, headers=w.headers("power") | {KEY: "body-1"})
    assert again.status_code == 200
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()


def test_key_reused_for_a_different_request_is_422_and_changes_nothing(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    assert _upload(w.client, w, "power", "k-1").status_code == 200
    before = _counts(w.engine)
    # Another file under the same key, by the same organisation.
    other = _upload(w.client, w, "gas", "k-1", org="power")
    assert other.status_code == 422
    problem = other.json()
    assert "Idempotency-Key" in problem["detail"]
    assert "已用于另一次不同的上传" in problem["detail_zh"]
    assert _counts(w.engine) == before
    # The same key by another organisation is that organisation's own key.
    theirs = _upload(w.client, w, "gas", "k-1")
    assert theirs.status_code == 200
    assert theirs.headers[REPLAYED] == "false"
    assert theirs.json()["works"][0]["work_id"] == "G-1"


@pytest.mark.parametrize("bad_key", ["", "a b", "x" * 256, "tab\there"])
def test_malformed_key_is_422_before_anything_is_stored(api_world: Any, bad_key: str) -> None:
    w = api_world
    w.load_roads()
    before = _counts(w.engine)
    r = _upload(w.client, w, "power", bad_key)
    assert r.status_code == 422, r.text
    assert "Idempotency-Key" in r.json()["detail"]
    assert _counts(w.engine) == before


def test_a_failed_request_leaves_its_key_free(api_world: Any) -> None:
    w = api_world
    bad = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": None}]}
    r = w.client.post("/works", json=bad, headers=w.headers("power") | {KEY: "k-2"})
    assert r.status_code == 422
    assert _counts(w.engine)["idempotency_keys"] == 0
    r = w.client.post("/works", json=bad, headers=w.headers("power") | {KEY: "k-2"})
    assert r.status_code == 422, "a failed answer is not replayed: the request runs again"
    good = _upload(w.client, w, "power", "k-2")
    assert good.status_code == 200
    assert good.headers[REPLAYED] == "false"


def test_key_expires_after_the_configured_hours(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    assert _upload(w.client, w, "power", "k-3").status_code == 200
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=w.settings.idempotency_hours + 1)
    with Session(w.engine) as session:
        session.execute(update(IdempotencyRecord).values(created_at=old))
        session.commit()
    again = _upload(w.client, w, "power", "k-3")
    assert again.status_code == 200
    assert again.headers[REPLAYED] == "false", "an expired key is a new key"
    assert _counts(w.engine)["idempotency_keys"] == 1


def test_two_requests_with_the_same_key_at_once_are_processed_once(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    w.upload("power")
    clients = [TestClient(w.app, raise_server_exceptions=False) for _ in range(3)]
    barrier = threading.Barrier(len(clients))
    answers: list[Any] = [None] * len(clients)

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        answers[i] = _upload(clients[i], w, "water", "same-time")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert [a.status_code for a in answers] == [200] * len(clients), [a.text for a in answers]
    assert sorted(a.headers[REPLAYED] for a in answers) == ["false"] + ["true"] * (len(clients) - 1)
    assert len({a.content for a in answers}) == 1
    counts = _counts(w.engine)
    assert counts["works"] == 2
    assert counts["work_versions"] == 2

"""Concurrency on a file-based SpatiaLite database and on PostGIS.

Uploads that run at the same time must see each other: a finding between two works uploaded at
once is stored exactly once, never lost, never duplicated. Two decisions on the same bundle
version: one wins, the other is refused (409).
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

DATA = Path(__file__).parent / "data" / "api"

#: Hand count from the construction of tests/data/api: P-1/W-1 same period, G-1 with each in August.
EXPECTED = Counter({"same_road_same_period": 1, "same_road_different_period": 2})


def _run_together(calls: list[Any]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = calls[i]()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    return results


def test_concurrent_uploads_neither_lose_nor_duplicate_findings(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    clients = [TestClient(w.app, raise_server_exceptions=False) for _ in range(4)]
    names = ["power", "water", "gas", "telecom"]
    payloads = {n: (DATA / f"{n}.geojson").read_bytes() for n in names}

    def upload(client: TestClient, name: str) -> Any:
        def call() -> Any:
            return client.post(
                "/works/upload", files={"file": (f"{name}.geojson", payloads[name])}, headers=w.headers(name)
            )

        return call

    for round_no in range(3):
        answers = _run_together([upload(c, n) for c, n in zip(clients, names, strict=True)])
        assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
        stored = w.client.get("/findings", headers=w.headers("bureau")).json()["findings"]
        assert Counter(f["kind"] for f in stored) == EXPECTED, round_no
        assert len({(f["kind"], *f["work_keys"]) for f in stored}) == len(stored)
        # whatever an answer reported is stored (ids change when a later upload re-checks a pair)
        stored_keys = {(f["kind"], tuple(f["work_keys"])) for f in stored}
        for answer in answers:
            assert {(f["kind"], tuple(f["work_keys"])) for f in answer.json()["findings"]} <= stored_keys
    versions = w.client.get("/works", headers=w.headers("bureau")).json()["works"]
    assert {x["version"] for x in versions} == {3}


def test_two_approvals_of_the_same_version_one_wins(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    w.upload("power")
    w.upload("water")
    bundle = w.client.post("/plan", json={}, headers=w.headers("bureau")).json()["bundles"][0]
    url = f"/bundles/{bundle['bundle_id']}"
    clients = [TestClient(w.app, raise_server_exceptions=False) for _ in range(2)]
    answers = _run_together(
        [
            lambda: clients[0].post(f"{url}/approve", json={"version": bundle["version"]}, headers=w.headers("bureau")),
            lambda: clients[1].post(
                f"{url}/send-back", json={"version": bundle["version"], "comment": "退回"}, headers=w.headers("bureau")
            ),
        ]
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    final = w.client.get(url, headers=w.headers("bureau")).json()
    winner = answers[0] if answers[0].status_code == 200 else answers[1]
    assert final["status"] == winner.json()["status"]
    assert final["version"] == bundle["version"] + 1
    decisions = w.client.get(f"{url}/approvals", headers=w.headers("bureau")).json()
    assert decisions["count"] == 1


def test_checks_far_apart_do_not_wait_for_each_other_on_postgis(api_postgis_engine: Any) -> None:
    """Grid-cell locks: a check 5 km away proceeds while another holds its area; a check nearby waits."""
    import pytest
    from shapely.geometry import LineString
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    from api.services.check import lock_works

    here = LineString([(500_000, 3_210_000), (500_300, 3_210_000)])
    far = LineString([(505_000, 3_210_000), (505_300, 3_210_000)])
    near = LineString([(500_350, 3_210_030), (500_600, 3_210_030)])
    with Session(api_postgis_engine) as holder:
        lock_works(holder, [here], margin=40.0)
        with Session(api_postgis_engine) as other:
            other.execute(text("SET LOCAL lock_timeout = '300ms'"))
            lock_works(other, [far], margin=40.0)  # does not wait
            other.rollback()
        with Session(api_postgis_engine) as other:
            other.execute(text("SET LOCAL lock_timeout = '300ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                lock_works(other, [near], margin=40.0)
            other.rollback()
        holder.rollback()

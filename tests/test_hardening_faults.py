"""The server killed (SIGKILL) in the middle of an upload and of a plan run, then restarted.

A real ``uvicorn api.app:create_app`` runs in a subprocess on 127.0.0.1 over a SpatiaLite file
(and over PostGIS, in a schema of its own, when ``ONETRENCH_TEST_POSTGIS_URL`` is set). A large
upload (hundreds of routes along the sample roads) or a plan run with the optimiser is sent, the
server is killed with SIGKILL at several moments while it works, and restarted. Then:

- no half-written state: the upload's works are all there or none (one transaction), every work
  has its version row, findings and bundles reference stored works only, every bundle has members;
- repeating the same upload succeeds and stores each work exactly once;
- a plan run after the crash succeeds and leaves the same invariants.

Marked ``slow`` (about a minute per database).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
POSTGIS_URL = os.environ.get("ONETRENCH_TEST_POSTGIS_URL")
SCHEMA = "onetrench_hardening_faults"
N_ROUTES = 400

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """uvicorn in its own process group, startable and killable."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "ONETRENCH_DATABASE_URL": self.url}
        cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1"]
        self.proc = subprocess.Popen(
            [*cmd, "--port", str(self.port), "--log-level", os.environ.get("ONETRENCH_FAULTS_LOG_LEVEL", "critical")],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=open(os.environ["ONETRENCH_FAULTS_LOG"], "ab")  # noqa: SIM115, PTH123
            if os.environ.get("ONETRENCH_FAULTS_LOG")
            else subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/openapi.json", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("the server did not start")

    def kill(self) -> None:
        """SIGKILL, no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(params=["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A migrated database with the bureau and four utilities: (url, engine)."""
    from api.db import make_engine
    from api.migrate import upgrade

    if request.param == "spatialite":
        url = f"sqlite:///{tmp_path / 'faults.sqlite'}"
    else:
        if not POSTGIS_URL:
            pytest.skip("PostGIS 测试已跳过：未设置 ONETRENCH_TEST_POSTGIS_URL")
        base = make_engine(POSTGIS_URL)
        with base.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        base.dispose()
        sep = "&" if "?" in POSTGIS_URL else "?"
        url = f"{POSTGIS_URL}{sep}options=-csearch_path%3D{SCHEMA},public"
    engine = make_engine(url)
    upgrade(engine)
    yield url, engine
    engine.dispose()


def _tokens(engine: Engine) -> dict[str, str]:
    from sqlalchemy.orm import Session

    from api.services.auth import create_organisation, create_token

    tokens = {}
    with Session(engine) as session:
        for code, kind, name in (
            ("bureau", "bureau", "綦江区城市管理局"),
            ("power", "utility", "国网重庆綦江供电公司"),
            ("water", "utility", "渝綦水务"),
        ):
            create_organisation(session, code=code, name=name, kind=kind)
            tokens[code], _ = create_token(session, org_code=code)
        session.commit()
    return tokens


def _routes(prefix: str, kind: str, owner: str, offset_days: int) -> bytes:
    """N_ROUTES routes on pieces of the sample roads (lon/lat), dated so that many share a period."""
    doc = json.loads((ROOT / "data" / "roads.geojson").read_text(encoding="utf-8"))
    pieces: list[list[list[float]]] = []
    for feature in doc["features"]:
        line = feature["geometry"]["coordinates"]
        if feature["geometry"]["type"] != "LineString":
            continue
        pieces.extend(line[i : i + 4] for i in range(0, len(line) - 1, 3) if len(line[i : i + 4]) >= 2)
    features = []
    for i in range(N_ROUTES):
        props = {
            "工程编号": f"{prefix}-{i:04d}",
            "管线类别": kind,
            "建设单位": owner,
            "计划开工": f"2027-04-{1 + (i + offset_days) % 20:02d}",
            "计划完工": "2027-05-15",
            "联系人": "测试 023-48600000",
        }
        piece = pieces[(i * 7) % len(pieces)]
        features.append(
            {"type": "Feature", "properties": props, "geometry": {"type": "LineString", "coordinates": piece}}
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()


#: Queries that must all count 0 rows: each names one kind of half-written state.
ORPHANS = {
    "work without its version row": "SELECT COUNT(*) FROM works w WHERE NOT EXISTS "
    "(SELECT 1 FROM work_versions v WHERE v.work_pk = w.id AND v.version = w.version)",
    "finding member not a stored work": "SELECT COUNT(*) FROM finding_works f WHERE NOT EXISTS "
    "(SELECT 1 FROM works w WHERE w.id = f.work_pk)",
    "finding without works": "SELECT COUNT(*) FROM findings f WHERE NOT EXISTS "
    "(SELECT 1 FROM finding_works fw WHERE fw.finding_id = f.id)",
    "bundle member not a stored work": "SELECT COUNT(*) FROM bundle_works b WHERE NOT EXISTS "
    "(SELECT 1 FROM works w WHERE w.id = b.work_pk)",
    "bundle without works": "SELECT COUNT(*) FROM bundles b WHERE NOT EXISTS "
    "(SELECT 1 FROM bundle_works bw WHERE bw.bundle_pk = b.id)",
    "occupancy of no stored work": "SELECT COUNT(*) FROM occupancies o WHERE NOT EXISTS "
    "(SELECT 1 FROM works w WHERE w.id = o.work_pk)",
    "work key stored twice": "SELECT COUNT(*) FROM (SELECT key FROM works GROUP BY key HAVING COUNT(*) > 1) d",
    "idempotency key without its answer": "SELECT COUNT(*) FROM idempotency_keys WHERE response_gz IS NULL",
}


def _valid(upload: bytes) -> int:
    """How many routes of an upload the intake accepts (some road pieces lie outside the district)."""
    from geo.intake import read_works

    return len(read_works("upload.geojson", data=upload).works)


def _check_consistent(engine: Engine) -> dict[str, int]:
    """No half-written state; return the row counts."""
    with engine.connect() as conn:
        found = {what: int(conn.execute(text(sql)).scalar_one()) for what, sql in ORPHANS.items()}
        counts = {
            t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one())
            for t in ("works", "work_versions", "findings", "bundles")
        }
    assert {k: v for k, v in found.items() if v} == {}
    return counts


def _prefix_count(engine: Engine, prefix: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT COUNT(*) FROM works WHERE work_id LIKE :p"), {"p": f"{prefix}-%"}).scalar_one()
        )


def _post_in_background(url: str, **kwargs: Any) -> threading.Thread:
    def send() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server dies under it: expected
            httpx.post(url, timeout=300, **kwargs)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_sigkill_mid_upload_and_mid_plan_leaves_no_half_written_state(database: tuple[str, Engine]) -> None:
    url, engine = database
    tokens = _tokens(engine)
    auth = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}
    server = Server(url)
    server.start()
    try:
        with (ROOT / "data" / "roads.geojson").open("rb") as fh:
            r = httpx.post(
                f"{server.base}/roads", files={"file": ("roads.geojson", fh)}, headers=auth["bureau"], timeout=300
            )
        assert r.status_code == 200, r.text
        power = _routes("P", "电力", "国网重庆綦江供电公司", 0)
        started = time.monotonic()
        r = httpx.post(
            f"{server.base}/works/upload", files={"file": ("p.geojson", power)}, headers=auth["power"], timeout=300
        )
        assert r.status_code == 200, r.text
        upload_s = time.monotonic() - started
        n_power = _valid(power)
        assert r.json()["created"] == n_power == _prefix_count(engine, "P") > N_ROUTES * 0.9
        water = _routes("W", "给水", "渝綦水务", 3)
        n_water = _valid(water)

        # 1. kill the server at several moments of an upload; after each restart: all or nothing
        interrupted = 0
        retry = auth["water"] | {"Idempotency-Key": "water-upload-1"}
        for fraction in (0.1, 0.3, 0.6, 0.9):
            thread = _post_in_background(
                f"{server.base}/works/upload", files={"file": ("w.geojson", water)}, headers=retry
            )
            time.sleep(max(0.05, fraction * upload_s))
            stored_before = _prefix_count(engine, "W")
            server.kill()
            thread.join(timeout=30)
            server.start()
            stored = _prefix_count(engine, "W")
            assert stored in (0, n_water)
            interrupted += stored == stored_before == 0
            _check_consistent(engine)
        assert interrupted >= 1, "no kill landed while the upload was being processed"

        # 2. the upload repeated after the crashes with the same idempotency key: each work exactly
        # once, and a further retry gets the same answer back without storing anything
        r = httpx.post(f"{server.base}/works/upload", files={"file": ("w.geojson", water)}, headers=retry, timeout=300)
        assert r.status_code == 200, r.text
        assert r.json()["created"] + r.json()["updated"] == n_water == _prefix_count(engine, "W")
        versions = _check_consistent(engine)
        again = httpx.post(
            f"{server.base}/works/upload", files={"file": ("w.geojson", water)}, headers=retry, timeout=300
        )
        assert again.status_code == 200, again.text
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.content == r.content
        assert _check_consistent(engine) == versions
        before_plan = _check_consistent(engine)

        # 3. kill the server in the middle of plan runs (with the optimiser), then run one to the end
        started = time.monotonic()
        r = httpx.post(
            f"{server.base}/plan", json={"optimise": True, "time_limit_s": 3}, headers=auth["bureau"], timeout=300
        )
        assert r.status_code == 200, r.text
        plan_s = time.monotonic() - started
        after_plan = _check_consistent(engine)
        for fraction in (0.3, 0.7):
            thread = _post_in_background(
                f"{server.base}/plan", json={"optimise": True, "time_limit_s": 3}, headers=auth["bureau"]
            )
            time.sleep(max(0.05, fraction * plan_s))
            server.kill()
            thread.join(timeout=30)
            server.start()
            counts = _check_consistent(engine)
            assert counts["works"] == before_plan["works"]
        r = httpx.post(
            f"{server.base}/plan", json={"optimise": True, "time_limit_s": 3}, headers=auth["bureau"], timeout=300
        )
        assert r.status_code == 200, r.text
        final = _check_consistent(engine)
        assert final["works"] == after_plan["works"] == n_power + n_water
        assert r.json()["bundles"], "the plan finds joint excavations among the uploads"
    finally:
        server.stop()


PG_BIN = (
    next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)
    if Path("/usr/lib/postgresql").exists()
    else None
)


def _as_postgres(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, check=True)


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[tuple[str, Path, int]]:
    """A PostgreSQL cluster of this test alone (so that restarting it disturbs nobody): (url, dir, port)."""
    if PG_BIN is None or not (PG_BIN / "initdb").exists() or os.geteuid() != 0:
        pytest.skip("needs PostgreSQL's initdb and root (to run it as the postgres user)")
    if not list(Path("/usr/share/postgresql").glob("*/extension/postgis.control")):
        pytest.skip("PostGIS is not installed")
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="onetrench-pg-"))  # pytest's tmp dirs are closed to other users
    shutil.chown(root, user="postgres", group="postgres")
    data = root / "data"
    _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    port = _free_port()
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"]
    try:
        _as_postgres(*start)
        psql = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q"]
        subprocess.run([*psql, "-d", "postgres", "-c", "CREATE DATABASE faults"], check=True, capture_output=True)
        subprocess.run([*psql, "-d", "faults", "-c", "CREATE EXTENSION postgis"], check=True, capture_output=True)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/faults", data, port
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Outage:
    """What the clients saw around a PostgreSQL crash: (start, kind, status, seconds, note) per request."""

    log: list[tuple[float, str, int, float, str]]
    down_at: float
    up_at: float
    acknowledged: set[str]
    stored: set[str]

    def phase(self, lo: float, hi: float) -> list[tuple[float, str, int, float, str]]:
        return [e for e in self.log if lo <= e[0] < hi]


@pytest.fixture(scope="module")
def outage(private_postgres: tuple[str, Path, int]) -> Outage:
    """PostgreSQL crashes (immediate stop) for 3 s under a mixed load of uploads and reads (4 clients)."""
    from api.db import make_engine
    from api.migrate import upgrade

    url, data, port = private_postgres
    engine = make_engine(url)
    upgrade(engine)
    tokens = _tokens(engine)
    auth = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}
    server = Server(url)
    server.start()
    log: list[tuple[float, str, int, float, str]] = []  # (start, kind, status, seconds, key or body)
    lock = threading.Lock()
    stop = threading.Event()
    origin = time.monotonic()

    def client(index: int) -> None:
        n = 0
        with httpx.Client(base_url=server.base, timeout=60) as http:
            while not stop.is_set():
                n += 1
                t0 = time.monotonic()
                if n % 2:
                    work_id = f"R{index}-{n:04d}"
                    body = _one_route(work_id)
                    kind = "upload"
                    try:
                        r = http.post("/works/upload", files={"file": ("r.geojson", body)}, headers=auth["water"])
                        status, note = r.status_code, (f"water:{work_id}" if r.status_code == 200 else r.text[:300])
                    except httpx.HTTPError as exc:
                        status, note = -1, f"{type(exc).__name__}: {exc}"
                else:
                    kind = "read"
                    try:
                        r = http.get("/works", headers=auth["bureau"])
                        status, note = r.status_code, ("" if r.status_code == 200 else r.text[:300])
                    except httpx.HTTPError as exc:
                        status, note = -1, f"{type(exc).__name__}: {exc}"
                with lock:
                    log.append((t0 - origin, kind, status, time.monotonic() - t0, note))

    assert PG_BIN is not None
    pg_ctl = str(PG_BIN / "pg_ctl")
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(3)
        down_at = time.monotonic() - origin
        _as_postgres(pg_ctl, "-D", str(data), "-m", "immediate", "stop")
        time.sleep(3)
        opts = f"-p {port} -k {data.parent} -c listen_addresses=127.0.0.1 -c fsync=off"
        _as_postgres(pg_ctl, "-D", str(data), "-o", opts, "-l", str(data.parent / "log"), "-w", "start")
        up_at = time.monotonic() - origin
        time.sleep(6)
        stop.set()
        for t in threads:
            t.join(timeout=90)
    finally:
        stop.set()
        server.stop()
    if os.environ.get("ONETRENCH_FAULTS_DEBUG"):
        for e in log:
            print(f"{e[0]:6.2f} {e[1]:6} {e[2]:4} {e[3]:6.2f}s {e[4][:120]}")
        print("down", down_at, "up", up_at)
    acknowledged = {e[4] for e in log if e[1] == "upload" and e[2] == 200}
    with engine.connect() as conn:
        stored = {str(k) for (k,) in conn.execute(text("SELECT key FROM works"))}
    engine.dispose()
    return Outage(log=log, down_at=down_at, up_at=up_at, acknowledged=acknowledged, stored=stored)


def test_postgres_restarted_under_load_fails_and_recovers_losing_nothing(outage: Outage) -> None:
    """No hang, failures while the database is down, all 200 again 2 s after it is back, no acknowledged write lost."""
    # "before": answered before the crash (a request started earlier but slowed by a busy machine
    # may still be running when the database goes down; that one belongs to the outage)
    before = [e for e in outage.phase(0, outage.down_at) if e[0] + e[3] < outage.down_at - 0.1]
    during = outage.phase(outage.down_at, outage.up_at)
    after = outage.phase(outage.up_at + 2, math.inf)
    assert before and during and after
    assert all(e[2] == 200 for e in before), [e for e in before if e[2] != 200][:3]
    assert all(e[3] < 30 for e in outage.log)  # every request answered (or refused) quickly
    failed = [e for e in during if e[2] != 200]
    assert failed, "the outage was not noticed"
    assert all(e[2] == -1 or e[2] >= 500 for e in failed)  # nothing succeeds wrongly or blames the client
    assert all(e[2] == 200 for e in after), [e for e in after if e[2] != 200][:3]
    assert outage.acknowledged and outage.acknowledged <= outage.stored
    resets = sum(e[2] == -1 for e in failed)
    print(
        f"\nPostgreSQL down {outage.up_at - outage.down_at:.1f} s under load: {len(outage.log)} requests; "
        f"during the outage {len(failed)} failed ({resets} connection resets, the rest "
        f"{sorted({e[2] for e in failed if e[2] > 0})}); {len(after)} requests afterwards, all 200; "
        f"{len(outage.acknowledged)} uploads acknowledged, all stored"
    )


def test_database_outage_is_a_clean_503(outage: Outage) -> None:
    failed = [e for e in outage.phase(outage.down_at, outage.up_at) if e[2] != 200]
    assert failed
    assert all(e[2] == 503 and '"status":503' in e[4] for e in failed), failed[:3]


def _one_route(work_id: str) -> bytes:
    props = {
        "工程编号": work_id,
        "管线类别": "给水",
        "建设单位": "渝綦水务",
        "计划开工": "2027-04-01",
        "计划完工": "2027-04-20",
        "联系人": "测试 023-48600000",
    }
    geometry = {"type": "LineString", "coordinates": [[106.65, 29.03], [106.653, 29.031], [106.656, 29.0305]]}
    feature = {"type": "Feature", "properties": props, "geometry": geometry}
    return json.dumps({"type": "FeatureCollection", "features": [feature]}, ensure_ascii=False).encode()

"""Bounded load test of the service on loopback: mixed uploads and reads against PostGIS.

What it does:

1. takes a PostGIS database (``--database-url``; default: creates ``onetrench_load`` with
   ``ONETRENCH_TEST_DB=onetrench_load bash scripts/setup-postgis.sh``), migrates it, creates the
   bureau and four utilities with tokens, and starts ``uvicorn api.app:create_app`` in a
   subprocess on 127.0.0.1 (``--workers`` processes);
2. loads the sample road network (data/roads.geojson, 208 roads) as the bureau;
3. for ``--duration`` seconds, ``--concurrency`` threads (one ``httpx.Client`` each) send a mix
   of requests: ``--upload-share`` of them uploads (POST /works/upload, one new GeoJSON route on a
   random piece of a random road, a unique 工程编号 per upload), the rest reads (GET /works,
   /works/{id}, /findings, /roads, /kpis, /bundles) as a random organisation;
4. prints requests/s, p50/p95/p99 latency (overall and per kind), errors (any answer other
   than the expected 2xx, and transport failures) and lost writes: acknowledged uploads whose work
   is not in the database afterwards (counted in SQL, and listed by GET /works as the bureau).

Run: ``.venv/bin/python bench/load.py [--duration 30] [--concurrency 8] [--workers 2]``
(``--json`` prints the figures as JSON). Bounded: it stops after ``--duration`` seconds and
kills the server it started.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UTILITIES = (
    ("power", "国网重庆綦江供电公司", "电力"),
    ("water", "渝綦水务", "给水"),
    ("gas", "重庆港华燃气", "燃气"),
    ("telecom", "中国电信綦江分公司", "通信"),
)
READS = ("/works", "/works/{id}", "/findings", "/roads", "/kpis", "/bundles")


@dataclass
class Tally:
    """Latencies and outcomes, per kind of request (thread-safe)."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    acknowledged: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, error: str | None = None, key: str | None = None) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            if error is not None:
                self.errors[kind] += 1
                if len(self.samples[kind]) < 3:
                    self.samples[kind].append(error)
            if key is not None:
                self.acknowledged.append(key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url(given: str | None) -> str:
    if given:
        return given
    env = {**os.environ, "ONETRENCH_TEST_DB": "onetrench_load"}
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup-postgis.sh")], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def prepare(url: str) -> dict[str, str]:
    """Migrate, create the organisations and return their tokens."""
    from sqlalchemy.orm import Session

    from api.db import make_engine
    from api.migrate import upgrade
    from api.services.auth import create_organisation, create_token

    engine = make_engine(url)
    upgrade(engine)
    tokens: dict[str, str] = {}
    with Session(engine) as session:
        for code, kind, name in (
            ("bureau", "bureau", "綦江区城市管理局"),
            *((c, "utility", n) for c, n, _ in UTILITIES),
        ):
            create_organisation(session, code=code, name=name, kind=kind)
            tokens[code], _ = create_token(session, org_code=code)
        session.commit()
    engine.dispose()
    return tokens


def start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ONETRENCH_DATABASE_URL": url}
    cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    stop_server(proc)
    raise SystemExit("the server did not start within 60 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def road_pieces() -> list[list[list[float]]]:
    """Pieces of 2–4 consecutive vertices of every road (lon/lat), where uploads are drawn."""
    doc = json.loads((ROOT / "data" / "roads.geojson").read_text(encoding="utf-8"))
    pieces = []
    for feature in doc["features"]:
        geom = feature["geometry"]
        lines = [geom["coordinates"]] if geom["type"] == "LineString" else geom["coordinates"]
        for line in lines:
            for i in range(0, max(1, len(line) - 1), 3):
                piece = line[i : i + 4]
                if len(piece) >= 2:
                    pieces.append(piece)
    return _valid(pieces)


def _valid(pieces: list[list[list[float]]]) -> list[list[list[float]]]:
    """Only the pieces that pass the intake (inside the district, not degenerate), so errors mean errors."""
    from geo.intake import read_works

    rng = random.Random(0)
    doc = {
        "type": "FeatureCollection",
        "features": [
            json.loads(upload_body(f"V{i}", "渝綦水务", "给水", piece, rng))["features"][0]
            for i, piece in enumerate(pieces)
        ],
    }
    result = read_works("pieces.geojson", data=json.dumps(doc, ensure_ascii=False).encode())
    bad = {p.index for p in result.errors}
    return [piece for i, piece in enumerate(pieces) if i not in bad]


def upload_body(work_id: str, name: str, kind: str, piece: list[list[float]], rng: random.Random) -> bytes:
    start = dt.date(2027, 3, 1) + dt.timedelta(days=rng.randrange(0, 240))
    end = start + dt.timedelta(days=rng.randrange(5, 40))
    props = {
        "工程编号": work_id,
        "工程名称": f"压测工程 {work_id}",
        "建设单位": name,
        "管线类别": kind,
        "计划开工": start.isoformat(),
        "计划完工": end.isoformat(),
        "联系人": "压测 023-48600000",
    }
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": props, "geometry": {"type": "LineString", "coordinates": piece}}
        ],
    }
    return json.dumps(doc, ensure_ascii=False).encode()


def worker(  # noqa: PLR0917 - one thread of the load
    index: int,
    base: str,
    tokens: dict[str, str],
    pieces: list[list[list[float]]],
    share: float,
    stop_at: float,
    tally: Tally,
) -> None:
    rng = random.Random(1000 + index)
    seen_ids: list[int] = []
    n = 0
    with httpx.Client(base_url=base, timeout=60) as client:
        while time.monotonic() < stop_at:
            code, name, kind = rng.choice(UTILITIES)
            started = time.perf_counter()
            if rng.random() < share:
                n += 1
                work_id = f"L{index:02d}-{n:05d}"
                body = upload_body(work_id, name, kind, rng.choice(pieces), rng)
                try:
                    r = client.post(
                        "/works/upload",
                        files={"file": (f"{work_id}.geojson", body)},
                        headers={"Authorization": f"Bearer {tokens[code]}"},
                    )
                except httpx.HTTPError as exc:
                    tally.add("upload", time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
                    continue
                elapsed = time.perf_counter() - started
                if r.status_code == 200 and r.json().get("created") == 1:
                    work = r.json()["works"][0]
                    seen_ids.append(int(work["id"]))
                    tally.add("upload", elapsed, key=str(work["key"]))
                else:
                    tally.add("upload", elapsed, f"{r.status_code} {r.text[:200]}")
                continue
            path = rng.choice(READS)
            who = rng.choice(["bureau", code])
            if path == "/kpis":
                who = "bureau"  # the KPIs are the bureau's (403 for a utility, by design)
            if path == "/works/{id}":
                if not seen_ids:
                    continue
                path, who = f"/works/{rng.choice(seen_ids)}", "bureau"
            try:
                r = client.get(path, headers={"Authorization": f"Bearer {tokens[who]}"})
            except httpx.HTTPError as exc:
                tally.add(path.split("/")[1], time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
                continue
            kind_name = "GET /works/{id}" if path.count("/") == 2 else f"GET {path}"
            tally.add(kind_name, time.perf_counter() - started, None if r.status_code == 200 else f"{r.status_code}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def lost_writes(url: str, base: str, token: str, acknowledged: list[str]) -> dict[str, int]:
    from sqlalchemy import text

    from api.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        stored = {str(k) for (k,) in conn.execute(text("SELECT key FROM works WHERE work_id LIKE :p"), {"p": "L%"})}
    engine.dispose()
    listed = httpx.get(f"{base}/works", headers={"Authorization": f"Bearer {token}"}, timeout=120).json()["works"]
    listed_keys = {w["key"] for w in listed}
    ack = set(acknowledged)
    return {
        "acknowledged": len(ack),
        "stored": len(stored),
        "lost_in_database": len(ack - stored),
        "lost_in_listing": len(ack - listed_keys),
        "stored_not_acknowledged": len(stored - ack),
    }


def main() -> None:
    """Run the load test and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("ONETRENCH_LOAD_DATABASE_URL"))
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--upload-share", type=float, default=0.2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    url = database_url(args.database_url)
    tokens = prepare(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(url, port, args.workers)
    try:
        with (ROOT / "data" / "roads.geojson").open("rb") as fh:
            r = httpx.post(
                f"{base}/roads",
                files={"file": ("roads.geojson", fh)},
                headers={"Authorization": f"Bearer {tokens['bureau']}"},
                timeout=300,
            )
        r.raise_for_status()
        pieces = road_pieces()
        tally = Tally()
        started = time.monotonic()
        stop_at = started + args.duration
        with ThreadPoolExecutor(args.concurrency) as pool:
            jobs = [
                pool.submit(worker, i, base, tokens, pieces, args.upload_share, stop_at, tally)
                for i in range(args.concurrency)
            ]
            for job in jobs:
                job.result()
        wall = time.monotonic() - started
        writes = lost_writes(url, base, tokens["bureau"], tally.acknowledged)
    finally:
        stop_server(server)

    every = [s for values in tally.latencies.values() for s in values]
    figures: dict[str, Any] = {
        "duration_s": round(wall, 1),
        "concurrency": args.concurrency,
        "server_workers": args.workers,
        "requests": len(every),
        "requests_per_s": round(len(every) / wall, 1),
        "p50_ms": round(pct(every, 0.50), 1),
        "p95_ms": round(pct(every, 0.95), 1),
        "p99_ms": round(pct(every, 0.99), 1),
        "errors": sum(tally.errors.values()),
        "error_samples": tally.samples,
        "writes": writes,
        "per_kind": {
            kind: {
                "n": len(values),
                "p50_ms": round(pct(values, 0.50), 1),
                "p95_ms": round(pct(values, 0.95), 1),
                "p99_ms": round(pct(values, 0.99), 1),
                "mean_ms": round(statistics.fmean(values) * 1000, 1),
                "errors": tally.errors.get(kind, 0),
            }
            for kind, values in sorted(tally.latencies.items())
        },
    }
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=1))
        return
    print(
        f"{figures['requests']} requests in {figures['duration_s']} s "
        f"({args.concurrency} clients, {args.workers} server workers): {figures['requests_per_s']} req/s, "
        f"p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, p99 {figures['p99_ms']} ms, "
        f"errors {figures['errors']}"
    )
    print(
        f"writes: {writes['acknowledged']} acknowledged, {writes['stored']} stored, "
        f"lost {writes['lost_in_database']} (database) / {writes['lost_in_listing']} (GET /works), "
        f"stored but not acknowledged {writes['stored_not_acknowledged']}"
    )
    for kind, row in figures["per_kind"].items():
        print(
            f"  {kind:18} n={row['n']:5}  p50 {row['p50_ms']:7.1f}  p95 {row['p95_ms']:7.1f}  "
            f"p99 {row['p99_ms']:7.1f} ms  errors {row['errors']}"
        )
    for kind, samples in figures["error_samples"].items():
        for sample in samples:
            print(f"  error {kind}: {sample}")


if __name__ == "__main__":
    main()

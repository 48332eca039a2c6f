"""Benchmark of the service on PostGIS: incremental upload latency and a large upload.

Targets (issue 8): with 100k works stored, uploading a 50-vertex route returns its findings in
under 100 ms at p95 with 8 concurrent clients; a 10k-feature upload completes in under 10 s.

A synthetic city (street grid, 250 m blocks, every 8th line an arterial of 40 m, others 16 m;
streets of 1 km) is stored with N works (100–500 m along a street, lateral offsets inside the
corridor, dates over 2026–2027) in a schema of its own (default ``onetrench_bench``) of the
PostGIS database named by ``--url`` (default: ``$ONETRENCH_TEST_POSTGIS_URL``). The service
runs in a uvicorn subprocess (``--workers``); clients post GeoJSON bodies over HTTP.

    .venv/bin/python bench/api.py --works 100000 --clients 8 --requests 200 --big 10000
    .venv/bin/python bench/api.py --reuse      # keep the seeded works of a previous run

Measured 2026-11-27 on the shared 2-core build machine (PostgreSQL 15 + PostGIS on the same host,
uvicorn --workers 2, other test runs competing for the CPU), 100k works, 7,564 streets:
one 50-vertex route, 8 clients: p50 140–145 ms, p95 430–590 ms, 28–43 req/s, about 10 findings
per upload (targets NOT met: the service is CPU-bound, about 60 ms of CPU per upload of which
the rule ~11 ms and ~20 SQL statements; with one client p50 is ~100 ms). 10k-feature upload
(about 105k findings): 66 s (target NOT met: intake ~6 s, rule ~25 s, storing the findings ~35 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from pyproj import Transformer
from shapely.geometry import LineString
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.db import make_engine  # noqa: E402
from api.migrate import upgrade  # noqa: E402
from api.models import ChangeKind, RoadRow, WorkRow, WorkVersion, utcnow  # noqa: E402
from api.services import auth  # noqa: E402
from api.services.geometry import to_db  # noqa: E402
from onetrench.domain import PavementKind, RoadClass, UtilityKind  # noqa: E402

BLOCK = 250.0
STREET_BLOCKS = 4
UTILITIES = [UtilityKind.POWER, UtilityKind.WATER, UtilityKind.GAS, UtilityKind.TELECOM, UtilityKind.DRAINAGE]
TO_LONLAT = Transformer.from_crs("EPSG:4545", "EPSG:4490", always_xy=True)
X0, Y0 = Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True).transform(106.60, 28.85)


def grid_lines(n_works: int) -> int:
    """Lines per direction so that about 4 works cover each metre of street."""
    return max(8, int((n_works * 0.3 / 4 / 2 / (BLOCK / 1000)) ** 0.5))


def width_of(line: int) -> float:
    return 40.0 if line % 8 == 0 else 16.0


def streets(n_lines: int) -> list[dict[str, Any]]:
    out = []
    span = n_lines * BLOCK
    for direction in ("h", "v"):
        for i in range(n_lines):
            for k in range(0, n_lines, STREET_BLOCKS):
                a, b = k * BLOCK, min((k + STREET_BLOCKS) * BLOCK, span)
                c = i * BLOCK
                pts = [(X0 + a, Y0 + c), (X0 + b, Y0 + c)] if direction == "h" else [(X0 + c, Y0 + a), (X0 + c, Y0 + b)]
                width = width_of(i)
                out.append(
                    {
                        "road_id": f"{direction}{i}-{k}",
                        "name": f"路{direction}{i}-{k}",
                        "road_class": RoadClass.ARTERIAL if width == 40.0 else RoadClass.BRANCH,
                        "width_m": width,
                        "pavement": PavementKind.ASPHALT,
                        "geometry": to_db(LineString(pts)),
                        "loaded_at": utcnow(),
                    }
                )
    return out


def route(rng: random.Random, n_lines: int, *, vertices: int = 2) -> tuple[LineString, int]:
    """A route along a random street with a lateral offset inside its corridor."""
    direction = rng.choice("hv")
    line = rng.randrange(n_lines)
    half = width_of(line) / 2 - 1.0
    offset = rng.uniform(-half, half)
    length = rng.uniform(100, 500)
    start = rng.uniform(0, n_lines * BLOCK - length - 1)
    along = [start + length * j / (vertices - 1) for j in range(vertices)]
    c = line * BLOCK + offset
    pts = [(X0 + s, Y0 + c) for s in along] if direction == "h" else [(X0 + c, Y0 + s) for s in along]
    return LineString(pts), line


def dates(rng: random.Random) -> tuple[dt.date, dt.date]:
    start = dt.date(2026, 3, 1) + dt.timedelta(days=rng.randrange(600))
    return start, start + dt.timedelta(days=rng.randrange(7, 40))


def seed(engine: Engine, n_works: int, n_lines: int) -> dict[str, str]:
    """Store roads, organisations, tokens and ``n_works`` works; return a token per organisation."""
    rng = random.Random(8)
    tokens: dict[str, str] = {}
    with Session(engine) as session:
        for code, kind in [("bureau", "bureau")] + [(u.value, "utility") for u in UTILITIES]:
            auth.create_organisation(session, code=code, name=code, kind=kind)
            tokens[code], _ = auth.create_token(session, org_code=code)
        session.execute(insert(RoadRow), streets(n_lines))
        org_ids = dict(session.execute(text("SELECT code, id FROM organisations")).all())
        now = utcnow()
        t = time.perf_counter()
        for chunk in range(0, n_works, 5000):
            rows = []
            for i in range(chunk, min(chunk + 5000, n_works)):
                geom, _ = route(rng, n_lines)
                kind = UTILITIES[i % len(UTILITIES)]
                start, end = dates(rng)
                rows.append(
                    {
                        "key": f"{kind.value}:S-{i}",
                        "org_id": org_ids[kind.value],
                        "work_id": f"S-{i}",
                        "utility": kind,
                        "owner": kind.value,
                        "name": "",
                        "contact": "",
                        "start": start,
                        "end": end,
                        "method": "open_cut",
                        "emergency": False,
                        "source": "bench",
                        "attributes": {},
                        "trench_width_m": 0.8,
                        "geometry": to_db(geom),
                        "version": 1,
                        "withdrawn": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            session.execute(insert(WorkRow), rows)
            print(f"  seeded {min(chunk + 5000, n_works)} works ({time.perf_counter() - t:.0f} s)", flush=True)
        session.execute(
            insert(WorkVersion).from_select(
                ["work_pk", "version", "change", "snapshot", "geometry", "withdrawn", "changed_at"],
                select(
                    WorkRow.id,
                    WorkRow.version,
                    text(f"'{ChangeKind.CREATED.value}'"),
                    text("'{}'::json"),
                    WorkRow.geometry,
                    WorkRow.withdrawn,
                    WorkRow.created_at,
                ),
            )
        )
        session.commit()
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return tokens


def feature(wid: str, kind: UtilityKind, geom: LineString, start: dt.date, end: dt.date) -> dict[str, Any]:
    lonlat = [list(TO_LONLAT.transform(x, y)) for x, y in geom.coords]
    return {
        "type": "Feature",
        "properties": {
            "工程编号": wid,
            "管线类别": kind.zh,
            "计划开工": start.isoformat(),
            "计划完工": end.isoformat(),
        },
        "geometry": {"type": "LineString", "coordinates": lonlat},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, ONETRENCH_DATABASE_URL=url)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the service did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default=os.environ.get("ONETRENCH_TEST_POSTGIS_URL"))
    p.add_argument("--schema", default="onetrench_bench")
    p.add_argument("--works", type=int, default=100_000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=200, help="uploads of one 50-vertex route, in all")
    p.add_argument("--big", type=int, default=10_000, help="features of the large upload (0: skip)")
    p.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    p.add_argument("--reuse", action="store_true", help="keep the works seeded by a previous run")
    args = p.parse_args()
    if not args.url:
        raise SystemExit("give --url or set ONETRENCH_TEST_POSTGIS_URL (bash scripts/setup-postgis.sh)")
    sep = "&" if "?" in args.url else "?"
    url = f"{args.url}{sep}options=-csearch_path%3D{args.schema},public"
    n_lines = grid_lines(args.works)
    base_engine = make_engine(args.url)
    tokens_file = ROOT / "out" / f"bench-api-{args.schema}.json"
    if not args.reuse or not tokens_file.exists():
        with base_engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {args.schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {args.schema}"))
        engine = make_engine(url)
        upgrade(engine)
        print(f"seeding {args.works} works on a {n_lines}x{n_lines} street grid …", flush=True)
        tokens = seed(engine, args.works, n_lines)
        tokens_file.parent.mkdir(exist_ok=True)
        tokens_file.write_text(json.dumps(tokens))
    else:
        engine = make_engine(url)
        tokens = json.loads(tokens_file.read_text())
    with Session(engine) as session:
        stored = session.scalar(select(func.count()).select_from(WorkRow))
    print(f"works stored: {stored}; roads: {2 * n_lines * ((n_lines + STREET_BLOCKS - 1) // STREET_BLOCKS)}")

    proc, base = serve(url, args.workers)
    try:
        rng = random.Random(2026)
        jobs: list[tuple[str, dict[str, Any]]] = []
        for i in range(args.requests):
            kind = UTILITIES[i % len(UTILITIES)]
            geom, _ = route(rng, n_lines, vertices=50)
            start, end = dates(rng)
            body = {
                "type": "FeatureCollection",
                "features": [feature(f"N-{i}-{rng.random():.6f}", kind, geom, start, end)],
            }
            jobs.append((kind.value, body))
        latencies: list[float] = []
        findings: list[int] = []
        failures: list[str] = []
        lock = threading.Lock()

        def client(part: list[tuple[str, dict[str, Any]]]) -> None:
            with httpx.Client(base_url=base, timeout=60) as http:
                for org, body in part:
                    t = time.perf_counter()
                    r = http.post("/works", json=body, headers={"Authorization": f"Bearer {tokens[org]}"})
                    elapsed = time.perf_counter() - t
                    with lock:
                        if r.status_code != 200:
                            failures.append(f"{r.status_code} {r.text[:200]}")
                        else:
                            latencies.append(elapsed)
                            findings.append(len(r.json()["findings"]))

        # warm-up (imports, caches) outside the measurement
        client(jobs[: args.clients])
        latencies.clear()
        findings.clear()
        parts = [jobs[args.clients :][i :: args.clients] for i in range(args.clients)]
        t0 = time.perf_counter()
        threads = [threading.Thread(target=client, args=(part,)) for part in parts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        if failures:
            print(f"FAILED requests: {len(failures)}; first: {failures[0]}")
        ms = [x * 1000 for x in latencies]
        p95 = pct(ms, 0.95)
        print(
            f"upload of one 50-vertex route, {args.clients} clients, {len(ms)} requests: "
            f"p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, max {max(ms):.0f} ms, "
            f"{len(ms) / wall:.1f} req/s; findings per upload: mean {statistics.mean(findings):.1f} "
            f"— target p95 < 100 ms: {'met' if p95 < 100 else 'NOT met'}"
        )
        if args.big:
            features = []
            for i in range(args.big):
                geom, _ = route(rng, n_lines, vertices=5)
                start, end = dates(rng)
                features.append(feature(f"BIG-{i}", UtilityKind.GAS, geom, start, end))
            body = {"type": "FeatureCollection", "features": features}
            t = time.perf_counter()
            r = httpx.post(
                f"{base}/works", json=body, headers={"Authorization": f"Bearer {tokens['gas']}"}, timeout=600
            )
            elapsed = time.perf_counter() - t
            ok = r.status_code == 200
            detail = f"{len(r.json()['works'])} works, {len(r.json()['findings'])} findings" if ok else r.text[:300]
            print(
                f"upload of {args.big} features: {elapsed:.1f} s ({detail}) "
                f"— target < 10 s: {'met' if ok and elapsed < 10 else 'NOT met'}"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()

"""Benchmark the review map: 10k works → file size and Chromium render time.

Targets (issue 7): under 15 MB and under 3 s in headless Chromium. Run:

    .venv/bin/python bench/maps.py [--works 10000] [--out /tmp/review-10k.html]

Render time = from navigation start until the onetrench runtime has registered every layer and
the canvas has painted (two animation frames later), measured in the page with
``performance.now()``; the load from the local server is included.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import sys
import threading
import time
from pathlib import Path

# This file is named maps.py: keep its directory off sys.path so ``import maps`` finds the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--works", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/onetrench-bench-review.html"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--screenshot", type=Path, default=None, help="save a screenshot of the first run")
    args = parser.parse_args()

    from maps.review import review_map
    from maps.sample import synthetic_plan
    from onetrench.settings import Settings

    t0 = time.perf_counter()
    plan = synthetic_plan(args.works)
    t1 = time.perf_counter()
    html = review_map(
        works=plan.works, roads=plan.roads, findings=plan.findings, bundles=plan.bundles, settings=Settings()
    )
    t2 = time.perf_counter()
    args.out.write_text(html, encoding="utf-8")
    size = args.out.stat().st_size
    print(f"works={len(plan.works)} roads={len(plan.roads)} findings={len(plan.findings)} bundles={len(plan.bundles)}")
    print(f"plan generation {t1 - t0:.2f} s; review_map() {t2 - t1:.2f} s")
    print(f"file size {size / 1e6:.2f} MB (target < 15 MB): {'OK' if size < 15e6 else 'OVER'}")

    if not Path(CHROMIUM).exists():
        print("no /usr/bin/chromium: render time not measured")
        return
    from playwright.sync_api import sync_playwright

    directory = str(args.out.parent)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *a: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=directory))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{args.out.name}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            times = []
            for _ in range(args.runs):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(url, wait_until="load", timeout=120_000)
                page.wait_for_function("window.onetrench && window.onetrench.ready", timeout=120_000)
                ms = page.evaluate(
                    "() => new Promise(r => requestAnimationFrame("
                    "() => requestAnimationFrame(() => r(performance.now()))))"
                )
                times.append(ms / 1000)
                counts = page.evaluate("onetrench.counts()")
                if args.screenshot is not None and len(times) == 1:
                    page.screenshot(path=str(args.screenshot))
                t = time.perf_counter()
                page.evaluate("onetrench.setDay('2026-06-15')")
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                filter_s = time.perf_counter() - t
                page.close()
            browser.close()
    finally:
        server.shutdown()
    shown = sum(v["shown"] for k, v in counts.items() if k.startswith("utility:"))
    print(f"works drawn: {shown}")
    print(
        f"render time (navigation → painted), runs: {', '.join(f'{t:.2f}' for t in times)} s; "
        f"best {min(times):.2f} s (target < 3 s): {'OK' if min(times) < 3 else 'OVER'}"
    )
    print(f"date filter (setDay + repaint): {filter_s:.2f} s")


if __name__ == "__main__":
    main()

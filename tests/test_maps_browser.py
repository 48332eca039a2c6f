"""The review map in a real browser: headless Debian Chromium driven by Playwright (python).

The page is served from a local HTTP server on 127.0.0.1; every other request is blocked and
recorded. Checks: no external request attempted, no console error, the expected number of
features per layer read back from the Leaflet objects, the date filter, popups that show hostile
text as text, and a screenshot in which the road dug twice stands out.

Set ``ONETRENCH_MAPS_SCREENSHOT_DIR`` to keep the screenshots (they are looked at by hand).
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image as mpimg

from maps._common import UTILITY_COLOURS
from maps.bundle import bundle_map
from maps.review import review_map
from maps.sample import small_world
from onetrench.domain import FindingKind, UtilityKind
from onetrench.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's headless Chromium at /usr/bin/chromium"),
]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    plan = small_world()
    root = tmp_path_factory.mktemp("site")
    settings = Settings()
    (root / "review.html").write_text(
        review_map(works=plan.works, roads=plan.roads, findings=plan.findings, bundles=plan.bundles, settings=settings),
        encoding="utf-8",
    )
    (root / "bundle.html").write_text(
        bundle_map(plan.bundles[0], plan.works, plan.roads, findings=plan.findings, settings=settings),
        encoding="utf-8",
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", plan
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


class Visit:
    """One page load with every non-local request blocked and recorded."""

    def __init__(self, browser: Any, origin: str, path: str) -> None:
        self.blocked: list[str] = []
        self.requests: list[str] = []
        self.console: list[tuple[str, str]] = []
        self.dialogs: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 860}, service_workers="block")

        def route(r: Any) -> None:
            if r.request.url.startswith(origin + "/"):
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("request", lambda req: self.requests.append(req.url))
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        self.page.on("dialog", self._dialog)
        self.page.goto(f"{origin}/{path}", wait_until="load")
        self.page.wait_for_function("window.onetrench && window.onetrench.ready === true")
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def _dialog(self, dialog: Any) -> None:
        """Record (and dismiss) any alert/confirm: an injected script would open one."""
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def counts(self) -> dict[str, int]:
        """Features shown per layer, read from the Leaflet layer objects."""
        return dict(
            self.page.evaluate(
                """() => {
                  const out = {};
                  for (const [key, e] of Object.entries(window.onetrench.layers)) {
                    if (!window.onetrench.map.hasLayer(e.group)) continue;
                    out[key] = e.main.getLayers().length;
                  }
                  return out;
                }"""
            )
        )

    def close(self) -> None:
        self.context.close()


def _expected_counts(plan: Any, day: dt.date | None = None) -> dict[str, int]:
    def on(start: dt.date, end: dt.date) -> bool:
        return day is None or start <= day <= end

    out = {}
    for kind in UtilityKind:
        n = sum(1 for w in plan.works if w.utility is kind)
        if n:
            out[f"utility:{kind.value}"] = sum(1 for w in plan.works if w.utility is kind and on(w.start, w.end))
    by_id = {w.work_id: w for w in plan.works}
    for f in plan.findings:
        ws = [by_id[i] for i in f.work_ids]
        key = f"finding:{f.kind.value}"
        out[key] = out.get(key, 0) + on(min(w.start for w in ws), max(w.end for w in ws))
    out["bundles"] = sum(1 for b in plan.bundles if on(b.window_start, b.window_end))
    out["roads"] = len(plan.roads)
    out["moratorium"] = 1 if day is None or day <= dt.date(2029, 4, 30) else 0  # 滨河路, new 2024-05-01
    return out


def _shots_dir(tmp_path: Path) -> Path:
    return Path(os.environ.get("ONETRENCH_MAPS_SCREENSHOT_DIR", tmp_path))


def test_review_map_offline_clean_and_complete(site: tuple[str, Any], browser: Any, tmp_path: Path) -> None:
    origin, plan = site
    visit = Visit(browser, origin, "review.html")
    try:
        assert visit.blocked == []
        assert all(u.startswith(origin + "/") for u in visit.requests), visit.requests
        assert [c for c in visit.console if c[0] in ("error", "pageerror", "warning")] == []
        assert visit.counts() == _expected_counts(plan)
        assert visit.page.evaluate("window.onetrench.map.getRenderer(L.polyline([])) instanceof L.Canvas")
        assert visit.page.evaluate("!window.onetrench.map._animatingZoom")  # settled, not mid-animation
        shot = visit.page.screenshot()
        (_shots_dir(tmp_path) / "review_small.png").write_bytes(shot)
    finally:
        visit.close()
    img = (mpimg.imread(io.BytesIO(shot), format="png")[..., :3] * 255).round()
    yellow = (np.abs(img - np.array([0xFF, 0xD4, 0x00])).max(axis=-1) <= 8).sum()
    assert yellow > 300  # the 重复开挖 stretch and its label are big and bright


@pytest.mark.parametrize("day", [dt.date(2026, 4, 10), dt.date(2026, 8, 20), dt.date(2026, 11, 1)])
def test_date_filter_shows_what_is_open(site: tuple[str, Any], browser: Any, day: dt.date) -> None:
    origin, plan = site
    visit = Visit(browser, origin, "review.html")
    try:
        visit.page.fill("#ot-day", day.isoformat())
        visit.page.dispatch_event("#ot-day", "change")
        assert visit.counts() == _expected_counts(plan, day)
        open_works = sum(1 for w in plan.works if w.start <= day <= w.end)
        assert f"在施工程 {open_works} 项" in visit.page.inner_text("#ot-status")
        visit.page.check("#ot-all")
        assert visit.counts() == _expected_counts(plan)
        assert visit.blocked == [] and [c for c in visit.console if c[0] in ("error", "pageerror")] == []
    finally:
        visit.close()


def test_blackout_day_is_announced(site: tuple[str, Any], browser: Any) -> None:
    origin, _ = site
    visit = Visit(browser, origin, "review.html")
    try:
        visit.page.fill("#ot-day", "2026-06-08")
        visit.page.dispatch_event("#ot-day", "change")
        assert "2026年高考" in visit.page.inner_text("#ot-status")
    finally:
        visit.close()


def test_popup_shows_hostile_name_as_text(site: tuple[str, Any], browser: Any) -> None:
    origin, plan = site
    heat = next(w for w in plan.works if w.utility is UtilityKind.HEAT)
    visit = Visit(browser, origin, "review.html")
    try:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        box = visit.page.locator(".folium-map").bounding_box()
        popup = None
        for _ in range(3):  # the initial fitBounds may still be settling on a busy machine
            pt = visit.page.evaluate(
                """() => new Promise(resolve => {
                  const map = window.onetrench.map;
                  const ll = window.onetrench.layers["utility:heat"].main.getLayers()[0].getLatLngs();
                  const mid = L.latLng((ll[0].lat + ll[1].lat) / 2, (ll[0].lng + ll[1].lng) / 2);
                  map.stop();
                  map.setView(mid, 18, {animate: false});
                  requestAnimationFrame(() => requestAnimationFrame(() => {
                    const p = map.latLngToContainerPoint(mid);
                    resolve([p.x, p.y]);
                  }));
                })"""
            )
            visit.page.mouse.click(box["x"] + pt[0], box["y"] + pt[1])
            try:
                popup = visit.page.wait_for_selector(".leaflet-popup-content", timeout=2000)
                break
            except PlaywrightTimeout:  # retry the click
                continue
        assert popup is not None
        text = popup.inner_text()
        assert heat.name in text and heat.owner in text
        assert visit.page.evaluate("document.querySelectorAll('.leaflet-popup-content script').length") == 0
        assert visit.dialogs == []
    finally:
        visit.close()


def test_layer_control_per_utility_and_finding(site: tuple[str, Any], browser: Any) -> None:
    origin, plan = site
    visit = Visit(browser, origin, "review.html")
    try:
        labels = visit.page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        labels = [t.strip() for t in labels]
        for kind in {w.utility for w in plan.works}:
            assert f"{kind.zh} {kind.en}" in labels
        for fkind in {f.kind for f in plan.findings}:
            assert f"{fkind.zh} {fkind.en}" in labels
        visit.page.locator(".leaflet-control-layers-overlays label", has_text="燃气 gas").locator("input").uncheck()
        counts = visit.counts()
        assert "utility:gas" not in counts and counts["utility:water"] == 1
        assert FindingKind.SAME_ROAD_DIFFERENT_PERIOD.value in " ".join(counts)
    finally:
        visit.close()


def test_bundle_map_offline(site: tuple[str, Any], browser: Any, tmp_path: Path) -> None:
    origin, _ = site
    visit = Visit(browser, origin, "bundle.html")
    try:
        assert visit.blocked == []
        assert [c for c in visit.console if c[0] in ("error", "pageerror")] == []
        assert visit.counts() == {
            "roads": 2,
            "moratorium": 0,
            "bundles": 1,
            "stretches": 1,
            "finding:same_road_same_period": 1,
            "utility:power": 1,
            "utility:telecom": 1,
        }
        (_shots_dir(tmp_path) / "bundle_small.png").write_bytes(visit.page.screenshot())
    finally:
        visit.close()


def test_road_popup_draws_its_timeline(site: tuple[str, Any], browser: Any) -> None:
    origin, _ = site
    visit = Visit(browser, origin, "review.html")
    try:
        # open the popup of 通惠大道 through Leaflet's own click handling, then read the chart back
        html = visit.page.evaluate(
            """() => {
              const road = window.onetrench.layers.roads.main.getLayers()
                .find(l => l.feature.properties.t.startsWith("通惠大道"));
              road.fire("click", {latlng: road.getCenter()}, true);  // propagate to the layer handler
              return document.querySelector(".leaflet-popup-content").innerHTML;
            }"""
        )
        assert "施工时序 Timeline" in html
        fills = visit.page.eval_on_selector_all(
            ".leaflet-popup-content svg.ot-gantt rect", "els => els.map(e => e.getAttribute('fill'))"
        )
        texts = visit.page.eval_on_selector_all(
            ".leaflet-popup-content svg.ot-gantt text", "els => els.map(e => e.textContent)"
        )
        assert any(t.startswith("W3 电力") for t in texts) and any(t.startswith("W6 热力") for t in texts)
        assert "K0+950–K1+150" in texts
        # W3 (power) and W4 (telecom) are moved by bundle B1: a faded planned bar and an "after" bar each;
        # W6 (heat) keeps its dates: one bar
        colours = {k: UTILITY_COLOURS[k] for k in (UtilityKind.POWER, UtilityKind.TELECOM, UtilityKind.HEAT)}
        assert [fills.count(c) for c in colours.values()] == [2, 2, 1]
        assert visit.dialogs == [] and [c for c in visit.console if c[0] in ("error", "pageerror")] == []
    finally:
        visit.close()

"""Hostile text from an upload reaches every export as text, never as code or formula.

Two works on the same road and period (tests/data/api: P-1 and W-1 share R1 from 200 to 400 m)
are uploaded with script, attribute-breaking and formula payloads in their name, owner and
contact, and run through the whole pipeline. The intake keeps the text as data; then:

- the review and bundle maps (HTML) contain no payload unescaped, and no string closes a script
  element early;
- the permit PDF shows the text literally (read back with pdftotext);
- schedule.csv neutralises cells that a spreadsheet would run as a formula (``'`` prefix, OWASP)
  while numbers and dates stay numbers and dates.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from onetrench.pipeline import PipelineRun, run_pipeline
from onetrench.settings import Settings

API = Path(__file__).parent / "data" / "api"
SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://x")'
COMMAND = "=cmd|' /C calc'!A0"
#: The texts each work is given (a phone number keeps the contact usable for the permit).
HOSTILE = {
    "P-1": {"工程名称": SCRIPT, "建设单位": ATTRIBUTE, "联系人": f"{FORMULA} 023-48612345"},
    "W-1": {"工程名称": FORMULA, "建设单位": COMMAND, "联系人": f"{SCRIPT} 13800000000"},
}
SETTINGS = Settings()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    folder = tmp_path_factory.mktemp("hostile")
    paths = []
    for name in ("power", "water"):
        doc = json.loads((API / f"{name}.geojson").read_text(encoding="utf-8"))
        for feature in doc["features"]:
            feature["properties"].update(HOSTILE[feature["properties"]["工程编号"]])
        path = folder / f"{name}.geojson"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        paths.append(path)
    return run_pipeline(paths, roads=API / "roads.geojson", settings=SETTINGS)


def test_the_intake_keeps_hostile_text_as_data(run: PipelineRun) -> None:
    got = {w.work_id: {"工程名称": w.name, "建设单位": w.owner, "联系人": w.contact} for w in run.works}
    assert got == HOSTILE
    assert [b.work_ids for b in run.plan.bundles] == [("P-1", "W-1")]


def _unescaped(page: str) -> list[str]:
    return [text for text in (SCRIPT, ATTRIBUTE, "<img src=x", "onerror=alert(1)>") if text in page]


def test_review_map_contains_no_executable_payload(run: PipelineRun) -> None:
    from maps.review import review_map

    page = review_map(
        works=run.works, roads=run.roads, findings=run.plan.findings, bundles=run.plan.bundles, settings=SETTINGS
    )
    assert _unescaped(page) == []
    assert page.count("</script>") == page.count("<script")
    assert not re.search(r"<img\b", page, re.IGNORECASE)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or "\\u003cscript\\u003ealert(1)" in page


def test_bundle_map_contains_no_executable_payload(run: PipelineRun) -> None:
    from maps.bundle import bundle_map

    page = bundle_map(run.plan.bundles[0], run.works, run.roads, findings=run.plan.findings, settings=SETTINGS)
    assert _unescaped(page) == []
    assert page.count("</script>") == page.count("<script")
    assert not re.search(r"<img\b", page, re.IGNORECASE)


@pytest.fixture(scope="module")
def package(run: PipelineRun) -> dict[str, bytes]:
    from permits.manifest import applicants_from_works
    from permits.package import build_package

    bundle = run.plan.bundles[0]
    members = [w for w in run.works if w.work_id in bundle.work_ids]
    data = build_package(
        bundle,
        works=run.works,
        roads=run.roads,
        project_code="2026-500110-48-01-000001",
        applicants=applicants_from_works(members),
        findings=run.plan.findings,
        settings=SETTINGS,
        prepared_on=bundle.window_start,
    )
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_permit_pdf_shows_hostile_text_literally(package: dict[str, bytes], tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) not installed")
    path = tmp_path / "application.pdf"
    path.write_bytes(package["application.pdf"])
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = re.sub(r"\s+", "", text)
    for owner in (ATTRIBUTE, COMMAND):  # the applicants' units
        assert re.sub(r"\s+", "", owner) in flat, owner
    manifest = json.loads(package["manifest.json"])
    assert {a["unit"] for a in manifest["applicants"]} == {ATTRIBUTE, COMMAND}


def test_schedule_csv_neutralises_formulas(run: PipelineRun, tmp_path: Path) -> None:
    from scheduling.plan import write_plan_outputs

    paths = write_plan_outputs(run.plan, tmp_path)
    table = list(csv.reader(io.StringIO(paths["schedule.csv"].read_text(encoding="utf-8-sig"), newline="")))
    header, rows = table[0], table[1:]
    owner = header.index("建设单位 owner")
    assert {r[0]: r[owner] for r in rows} == {"P-1": ATTRIBUTE, "W-1": "'" + COMMAND}
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            if cell.startswith("-"):
                float(cell)  # a negative number (shift days), not a formula
    shift = header.index("调整天数 shift_days")
    assert all(re.fullmatch(r"-?\d+", r[shift]) for r in rows)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("渝綦水务", "渝綦水务"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_csv_text_cell(value: str, expected: str) -> None:
    from scheduling.plan import csv_text

    assert csv_text(value) == expected


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's headless Chromium at /usr/bin/chromium")
def test_review_map_popups_show_payloads_as_text_in_a_browser(run: PipelineRun) -> None:
    """Every popup, assembled by the page's own runtime, shows the payloads as text; nothing runs."""
    from maps.review import review_map

    sync_api = pytest.importorskip("playwright.sync_api")
    page_html = review_map(
        works=run.works, roads=run.roads, findings=run.plan.findings, bundles=run.plan.bundles, settings=SETTINGS
    )
    dialogs: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()

            def dialog(d: Any) -> None:
                dialogs.append(d.message)
                d.dismiss()

            page.on("dialog", dialog)
            page.route("**/*", lambda r: r.abort())  # nothing leaves the page
            page.set_content(page_html, wait_until="load")
            page.wait_for_function("window.onetrench && window.onetrench.ready === true")
            out = page.evaluate(
                """() => {
                  const OT = window.onetrench, map = OT.map, texts = [];
                  for (const e of Object.values(OT.layers)) {
                    if (!map.hasLayer(e.group)) map.addLayer(e.group);
                    e.main.eachLayer(l => {
                      const props = l.feature && l.feature.properties;
                      const html = props ? OT.popupHtml(props) : "";
                      if (!html) return;
                      L.popup().setLatLng(map.getCenter()).setContent(html).openOn(map);
                      const all = document.querySelectorAll(".leaflet-popup-content");
                      texts.push(all[all.length - 1].innerText);
                    });
                  }
                  return {
                    text: texts.join("\\n"),
                    popups: texts.length,
                    injected: document.querySelectorAll(
                      "[onerror], .leaflet-popup-content img, .leaflet-popup-content script, .leaflet-tooltip img"
                    ).length,
                  };
                }"""
            )
        finally:
            browser.close()
    assert out["popups"] >= 4
    assert out["injected"] == 0
    assert dialogs == []
    for payload in (SCRIPT, ATTRIBUTE):
        assert payload in out["text"], payload

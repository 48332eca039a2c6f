"""Large uploads: the answer counts the findings and links to them; the pages hold exactly them.

The findings of the same upload are also read from an answer that lists them inline (a second,
fresh database with the default threshold): the summary's counts and the paged findings must
equal that list (same keys, kinds, severities, works and messages).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.conftest import ApiWorld

#: Works of one upload along R1 (tests/data/api/roads.geojson), all in March 2026: every pair of
#: them shares about 150 m of R1 in the same period, and each meets the stored power work P-1.
N_WORKS = 8


def _body() -> dict[str, Any]:
    features = []
    for i in range(N_WORKS):
        lon0 = 106.6512 + 0.0001 * i
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "工程编号": f"G-{i}",
                    "管线类别": "燃气",
                    "计划开工": "2026-03-05",
                    "计划完工": "2026-03-25",
                },
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[lon0, 29.02803 + 0.00001 * (i % 3)], [lon0 + 0.0025, 29.02806]],
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _world_with(world: ApiWorld, inline_max: int) -> ApiWorld:
    world.app.state.settings = world.settings.model_copy(update={"upload_findings_inline_max": inline_max})
    world.load_roads()
    world.upload("power")
    return world


def _identity(f: dict[str, Any]) -> tuple[Any, ...]:
    return (f["kind"], f["severity"], tuple(f["work_keys"]), f["road_id"], f["zh"], f["en"], json.dumps(f["data"]))


def _pages(world: ApiWorld, href: str, org: str = "gas") -> tuple[list[dict[str, Any]], int]:
    found: list[dict[str, Any]] = []
    pages = 0
    url: str | None = href
    while url is not None:
        r = world.client.get(url, headers=world.headers(org))
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["count"] == len(page["findings"])
        found.extend(page["findings"])
        pages += 1
        url = page["next"]
        assert pages < 100
    return found, pages


def test_small_upload_answer_has_no_summary_key(api_world: ApiWorld) -> None:
    """Below the threshold the answer is as before: every finding inline, no summary key at all."""
    w = _world_with(api_world, 10_000)
    r = w.client.post("/works", json=_body(), headers=w.headers("gas"))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert "findings_summary" not in answer
    assert len(answer["findings"]) > 5


def test_large_upload_answer_counts_and_pages_hold_the_same_findings(api_world: ApiWorld) -> None:
    w = _world_with(api_world, 10_000)
    inline = w.client.post("/works", json=_body(), headers=w.headers("gas")).json()["findings"]
    expected = sorted(_identity(f) for f in inline)
    assert len(expected) > 5
    # the same upload again (a new version of each work): findings recomputed, now above the threshold
    w.app.state.settings = w.settings.model_copy(update={"upload_findings_inline_max": 5, "findings_page_max": 4})
    r = w.client.post("/works", json=_body(), headers=w.headers("gas"))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["findings"] == []
    assert [x["work_id"] for x in answer["works"]] == [f"G-{i}" for i in range(N_WORKS)]
    summary = answer["findings_summary"]
    assert summary["total"] == len(expected)
    assert summary["by_kind"] == dict(sorted(Counter(k for k, *_ in expected).items()))
    assert summary["by_severity"] == dict(sorted(Counter(s for _, s, *_ in expected).items()))
    assert summary["page_size"] == 4
    assert summary["href"] == f"/findings?upload={summary['upload']}&limit=4"
    paged, pages = _pages(w, summary["href"])
    assert pages == -(-len(expected) // 4) + (1 if len(expected) % 4 == 0 else 0)
    assert [f["id"] for f in paged] == sorted(f["id"] for f in paged)
    assert sorted(_identity(f) for f in paged) == expected
    # a limit above the page maximum is cut to it
    r = w.client.get(f"/findings?upload={summary['upload']}&limit=1000", headers=w.headers("gas"))
    assert r.json()["count"] == 4
    # the bureau reads the same pages; another utility, even one sharing the road, may not
    assert sorted(_identity(f) for f in _pages(w, summary["href"], "bureau")[0]) == expected
    for org in ("power", "water"):
        r = w.client.get(summary["href"], headers=w.headers(org))
        assert r.status_code == 404, r.text
        assert "upload" in r.json()["detail"] or r.json()["title"]


@pytest.mark.parametrize("upload", [0, -1, 2**31, "x"])
def test_findings_upload_parameter_is_validated(api_world: ApiWorld, upload: object) -> None:
    r = api_world.client.get(f"/findings?upload={upload}", headers=api_world.headers("gas"))
    assert r.status_code == 422, r.text


def test_findings_of_an_unknown_or_small_upload_are_404(api_world: ApiWorld) -> None:
    """Only uploads answered with a summary have an id to page by."""
    w = _world_with(api_world, 10_000)
    w.client.post("/works", json=_body(), headers=w.headers("gas"))
    for upload in (1, 2, 3, 999):
        r = w.client.get(f"/findings?upload={upload}", headers=w.headers("gas"))
        assert r.status_code == 404, r.text

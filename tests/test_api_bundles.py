"""Plan, bundles (accept dates, approve with version check, send back), permit package, maps, KPIs.

power (P-1, R1 0-400 m) and water (W-1, R1 200-600 m) dig R1 in the same period: one bundle of
two works, so one excavation is avoided (hand count); the shared 200 m are not reopened.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any


def _plan(w: Any, **body: Any) -> dict[str, Any]:
    r = w.client.post("/plan", json=body, headers=w.headers("bureau"))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _world(w: Any) -> dict[str, Any]:
    w.load_roads()
    w.upload("power")
    w.upload("water")
    w.upload("telecom")
    plan = _plan(w)
    assert len(plan["bundles"]) == 1
    bundle: dict[str, Any] = plan["bundles"][0]
    return bundle


def test_plan_builds_one_bundle_with_hand_counted_savings(api_world: Any) -> None:
    w = api_world
    b = _world(w)
    assert b["work_keys"] == ["power:P-1", "water:W-1"]
    assert b["status"] == "proposed"
    assert b["version"] == 1
    assert b["draft"] is False
    assert b["window_start"] == "2026-03-02"
    assert b["savings"]["excavations_avoided"] == 1
    kpis = w.client.get("/kpis", headers=w.headers("bureau")).json()
    assert kpis["works"] == 3
    assert kpis["excavations_avoided"] == 1
    assert kpis["bundles_by_status"] == {"proposed": 1}
    assert kpis["findings_by_kind"] == {"same_road_same_period": 1}


def test_replanning_keeps_an_unchanged_bundle_and_its_version(api_world: Any) -> None:
    w = api_world
    b = _world(w)
    again = _plan(w)["bundles"][0]
    assert again["bundle_id"] == b["bundle_id"]
    assert again["version"] == b["version"]


def test_approve_with_current_version_then_stale_version_is_409(api_world: Any) -> None:
    w = api_world
    b = _world(w)
    url = f"/bundles/{b['bundle_id']}"
    stale = w.client.post(f"{url}/approve", json={"version": b["version"] + 7}, headers=w.headers("bureau"))
    assert stale.status_code == 409
    assert stale.json()["type"].endswith("conflict")
    ok = w.client.post(f"{url}/approve", json={"version": b["version"], "comment": "同意"}, headers=w.headers("bureau"))
    assert ok.status_code == 200, ok.text
    approved = ok.json()
    assert approved["status"] == "approved"
    assert approved["version"] == b["version"] + 1
    # a second approval of the version read earlier is refused, not applied over the change
    twice = w.client.post(f"{url}/approve", json={"version": b["version"]}, headers=w.headers("bureau"))
    assert twice.status_code == 409
    decisions = w.client.get(f"{url}/approvals", headers=w.headers("power")).json()["approvals"]
    assert [(d["decision"], d["bundle_version"], d["organisation"]) for d in decisions] == [
        ("approve", b["version"], "bureau")
    ]


def test_send_back_needs_a_comment_and_changes_the_version(api_world: Any) -> None:
    w = api_world
    b = _world(w)
    url = f"/bundles/{b['bundle_id']}"
    empty = w.client.post(
        f"{url}/send-back", json={"version": b["version"], "comment": ""}, headers=w.headers("bureau")
    )
    assert empty.status_code == 422
    r = w.client.post(
        f"{url}/send-back", json={"version": b["version"], "comment": "请补充交通组织方案"}, headers=w.headers("bureau")
    )
    assert r.status_code == 200
    assert r.json()["status"] == "sent_back"
    assert r.json()["comment"] == "请补充交通组织方案"
    late = w.client.post(f"{url}/approve", json={"version": b["version"]}, headers=w.headers("bureau"))
    assert late.status_code == 409
    seen_by_power = w.client.get(url, headers=w.headers("power")).json()
    assert seen_by_power["comment"] == "请补充交通组织方案"


def test_accept_dates_by_each_utility(api_world: Any) -> None:
    w = api_world
    b = _world(w)
    url = f"/bundles/{b['bundle_id']}"
    first = w.client.post(f"{url}/accept-dates", json={"version": b["version"]}, headers=w.headers("power"))
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "proposed"
    stale = w.client.post(f"{url}/accept-dates", json={"version": b["version"]}, headers=w.headers("water"))
    assert stale.status_code == 409
    v2 = first.json()["version"]
    second = w.client.post(f"{url}/accept-dates", json={"version": v2}, headers=w.headers("water"))
    assert second.status_code == 200
    assert second.json()["status"] == "dates_accepted"
    ok = w.client.post(f"{url}/approve", json={"version": second.json()["version"]}, headers=w.headers("bureau"))
    assert ok.status_code == 200


def _set_contact(w: Any, org: str, contact: str) -> None:
    """Give the organisation's works a contact with a phone (the permit package needs one)."""
    for work in w.client.get("/works", headers=w.headers(org)).json()["works"]:
        if work["organisation"] == org:
            r = w.client.patch(f"/works/{work['id']}", json={"contact": contact}, headers=w.headers(org))
            assert r.status_code == 200, r.text


def test_package_of_an_approved_bundle(api_world: Any) -> None:
    w = api_world
    b = _world(w)
    url = f"/bundles/{b['bundle_id']}"
    code = "2026-500110-48-01-000123"
    early = w.client.get(f"{url}/package", params={"project_code": code}, headers=w.headers("bureau"))
    assert early.status_code == 409
    assert w.client.post(f"{url}/approve", json={"version": 1}, headers=w.headers("bureau")).status_code == 200
    _set_contact(w, "power", "王工 023-48612345")
    _set_contact(w, "water", "李工 13800000000")
    r = w.client.get(f"{url}/package", params={"project_code": code}, headers=w.headers("bureau"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["x-content-sha256"] == hashlib.sha256(r.content).hexdigest()
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "manifest.json" in names
    bad = w.client.get(f"{url}/package", params={"project_code": "2026-12"}, headers=w.headers("bureau"))
    assert bad.status_code == 422


def test_withdrawing_a_work_supersedes_its_bundle(api_world: Any) -> None:
    w = api_world
    b = _world(w)
    wid = next(
        x["id"] for x in w.client.get("/works", headers=w.headers("water")).json()["works"] if x["key"] == "water:W-1"
    )
    assert w.client.post(f"/works/{wid}/withdraw", headers=w.headers("water")).status_code == 200
    got = w.client.get(f"/bundles/{b['bundle_id']}", headers=w.headers("bureau")).json()
    assert got["status"] == "superseded"
    assert w.client.get("/bundles", headers=w.headers("bureau")).json()["count"] == 0
    assert _plan(w)["bundles"] == []


def test_maps_are_offline_html(api_world: Any) -> None:
    w = api_world
    b = _world(w)
    for path in ("/maps/review", f"/maps/bundles/{b['bundle_id']}", "/maps/roads/R1/timeline"):
        r = w.client.get(path, headers=w.headers("bureau"))
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        assert "<html" in r.text.lower()
        assert "cdn." not in r.text.lower()
    assert w.client.get("/maps/roads/NOPE/timeline", headers=w.headers("bureau")).status_code == 404
    assert w.client.get("/maps/bundles/B-nope", headers=w.headers("bureau")).status_code == 404


def test_optimised_plan_runs(api_world: Any) -> None:
    w = api_world
    _world(w)
    out = _plan(w, optimise=True, time_limit_s=5)
    assert out["optimised"] is True
    assert len(out["bundles"]) == 1
    bad = w.client.post("/plan", json={"time_limit_s": -1}, headers=w.headers("bureau"))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"].endswith("time_limit_s")


def test_admin_creates_organisations(api_world: Any) -> None:
    w = api_world
    h = w.headers("admin")
    r = w.client.post(
        "/admin/organisations", json={"code": "cmcc", "name": "中国移动綦江分公司", "kind": "utility"}, headers=h
    )
    assert r.status_code == 201
    dup = w.client.post("/admin/organisations", json={"code": "cmcc", "name": "x", "kind": "utility"}, headers=h)
    assert dup.status_code == 409
    bad = w.client.post("/admin/organisations", json={"code": "cm cc", "name": "x", "kind": "utility"}, headers=h)
    assert bad.status_code == 422
    codes = [o["code"] for o in w.client.get("/admin/organisations", headers=h).json()["organisations"]]
    assert "cmcc" in codes
    token = w.client.post("/admin/tokens", json={"org": "cmcc"}, headers=h).json()
    me = w.client.get("/me", headers={"Authorization": f"Bearer {token['secret']}"}).json()
    assert me == {"organisation": "cmcc", "organisation_name": "中国移动綦江分公司", "role": "utility"}


def test_openapi_documents_every_endpoint_with_problem_responses(api_world: Any) -> None:
    schema = api_world.client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/works/upload", "/works", "/plan", "/bundles/{bundle_id}/approve", "/kpis"} <= set(paths)
    assert "ProblemPublic" in schema["components"]["schemas"]
    assert "bearer" in str(schema["components"]["securitySchemes"]).lower()
    assert api_world.client.get("/health").json()["status"] == "ok"


def test_package_reports_every_applicant_without_a_phone(api_world: Any) -> None:
    w = api_world
    w.load_roads()
    w.upload("telecom")
    w.upload("water")
    # T-1 (no phone) and W-1 do not share a road; move W-1 onto R2 next to T-1, same period
    wid = next(x["id"] for x in w.client.get("/works", headers=w.headers("water")).json()["works"])
    telecom = w.client.get("/works", headers=w.headers("telecom")).json()["works"][0]["geometry"]
    r = w.client.patch(
        f"/works/{wid}", json={"geometry": telecom, "contact": "李工 13800000000"}, headers=w.headers("water")
    )
    assert r.status_code == 200, r.text
    b = _plan(w)["bundles"][0]
    url = f"/bundles/{b['bundle_id']}"
    assert (
        w.client.post(f"{url}/approve", json={"version": b["version"]}, headers=w.headers("bureau")).status_code == 200
    )
    bad = w.client.get(
        f"{url}/package", params={"project_code": "2026-500110-48-01-000123"}, headers=w.headers("bureau")
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["phone"]
    assert "中国电信綦江分公司" in bad.json()["errors"][0]["zh"]


def test_changing_a_work_supersedes_its_bundle_so_a_stale_approval_is_refused(api_world: Any) -> None:
    w = api_world
    b = _world(w)
    wid = next(
        x["id"] for x in w.client.get("/works", headers=w.headers("power")).json()["works"] if x["key"] == "power:P-1"
    )
    r = w.client.patch(f"/works/{wid}", json={"end": "2026-03-25"}, headers=w.headers("power"))
    assert r.status_code == 200
    url = f"/bundles/{b['bundle_id']}"
    stale = w.client.post(f"{url}/approve", json={"version": b["version"]}, headers=w.headers("bureau"))
    assert stale.status_code == 409
    got = w.client.get(url, headers=w.headers("bureau")).json()
    assert got["status"] == "superseded"
    assert got["version"] == b["version"] + 1
    # the next plan brings it back, changed (new window end), as a proposal to review again
    again = _plan(w)["bundles"][0]
    assert again["bundle_id"] == b["bundle_id"]
    assert again["status"] == "proposed"
    assert again["version"] == b["version"] + 2

"""End to end: the sample data of data/ through intake, detector, rule, outputs and CLI.

Expected results come from data/cases.json, the ground truth written by data/generate.py from
its own design tables (measures along whole roads, works' legs, deliberate cases), not from the
code under test.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from onetrench.cli import app
from onetrench.domain import FindingKind, Severity
from onetrench.pipeline import PipelineRun, load_uploads, run_pipeline, run_to_json, write_outputs
from onetrench.settings import PROJECT_ROOT
from permits.package import inspect_package

DATA = PROJECT_ROOT / "data"
CASES: dict[str, Any] = json.loads((DATA / "cases.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def run() -> PipelineRun:
    return run_pipeline(load_uploads(DATA / "uploads.json"), roads=DATA / "roads.geojson", optimise=True)


def _findings(run: PipelineRun, kind: FindingKind) -> dict[tuple[str, ...], list[Any]]:
    out: dict[tuple[str, ...], list[Any]] = defaultdict(list)
    for finding in run.plan.findings:
        if finding.kind is kind:
            out[tuple(sorted(finding.work_ids))].append(finding)
    return out


def test_every_sample_work_is_read(run: PipelineRun) -> None:
    assert run.intake.errors == []
    assert sorted(w.work_id for w in run.works) == sorted(CASES["works"])


def test_shared_lengths_match_the_ground_truth(run: PipelineRun) -> None:
    name_of = {r.road_id: r.name for r in run.roads}
    found: dict[tuple[str, str, str], float] = defaultdict(float)
    for stretch in run.detection.shared:
        found[(name_of[stretch.road_id], *stretch.work_ids)] += stretch.shared_m
    expected = {(p["road"], *sorted(p["work_ids"])): p["shared_m"] for p in CASES["pairs"]}
    assert set(found) == set(expected)
    for key, metres in expected.items():
        assert found[key] == pytest.approx(metres, abs=3.0), key


@pytest.mark.parametrize("case", sorted(CASES["cases"]["same_road_same_period"]))
def test_same_period_groups_are_one_bundle_with_planned_dates(run: PipelineRun, case: str) -> None:
    members = set(CASES["cases"]["same_road_same_period"][case]["work_ids"])
    assert any(members <= set(b.work_ids) for b in run.plan.bundles_before), case


@pytest.mark.parametrize("case", sorted(CASES["cases"]["same_road_different_period"]))
def test_different_period_pairs_are_found_with_or_without_a_window(run: PipelineRun, case: str) -> None:
    spec = CASES["cases"]["same_road_different_period"][case]
    pair = tuple(sorted(spec["work_ids"]))
    findings = _findings(run, FindingKind.SAME_ROAD_DIFFERENT_PERIOD)[pair]
    assert findings, case
    assert {f.road_name for f in findings} == {spec["road"]}
    truth = next(p for p in CASES["pairs"] if tuple(sorted(p["work_ids"])) == pair)
    has_window = truth["common_window"] is not None
    assert all(("proposal" in f.data) == has_window for f in findings), case
    assert all((f.severity is Severity.BLOCKING) == (not has_window) for f in findings), case
    bundled_after = any(set(pair) <= set(b.work_ids) for b in run.plan.bundles)
    assert bundled_after == has_window, "the optimiser joins exactly the pairs that have a common window"


def test_moratorium_breaches_and_the_emergency_exemption(run: PipelineRun) -> None:
    moratoria = _findings(run, FindingKind.MORATORIUM)
    for case in ("MB1", "MB2"):
        (work_id,) = CASES["cases"]["moratorium"][case]["work_ids"]
        assert {f.severity for f in moratoria[(work_id,)]} == {Severity.BLOCKING}, case
    (emergency,) = CASES["cases"]["moratorium"]["EM1"]["work_ids"]
    assert moratoria[(emergency,)]
    assert all(f.severity is not Severity.BLOCKING and "24" in f.fix_zh for f in moratoria[(emergency,)])
    for case in CASES["cases"]["not_moratorium"].values():
        assert tuple(case["work_ids"]) not in moratoria, "expired protection is no breach"
    expected = {tuple(c["work_ids"]) for c in CASES["cases"]["moratorium"].values()}
    assert set(moratoria) == expected


def test_clearance_blackout_and_off_road_cases(run: PipelineRun) -> None:
    clearance = _findings(run, FindingKind.CLEARANCE)
    assert set(clearance) == {tuple(sorted(c["work_ids"])) for c in CASES["cases"]["clearance"].values()}
    blackout = _findings(run, FindingKind.BLACKOUT)
    assert set(blackout) == {tuple(c["work_ids"]) for c in CASES["cases"]["blackout"].values()}
    off_road = {wid for (wid,) in _findings(run, FindingKind.OFF_ROAD)}
    off_road_truth = {wid for wid, w in CASES["works"].items() if w["off_road_m"] > 0}
    assert off_road_truth <= off_road
    (or1,) = CASES["cases"]["off_road"]["OR1"]["work_ids"]
    part = next(p for p in run.detection.off_road if p.work_id == or1)
    assert part.length_m == pytest.approx(CASES["works"][or1]["off_road_m"], abs=5.0)


def test_a_crossing_shares_no_stretch(run: PipelineRun) -> None:
    (crossing,) = CASES["cases"]["crossing"]["XW1"]["work_ids"]
    assert any(o.crossings for o in run.detection.occupancy if o.work_id == crossing)
    assert not any(crossing in s.work_ids for s in run.detection.shared)


def test_optimised_plan_saves_at_least_as_much(run: PipelineRun) -> None:
    before, after = run.plan.savings_before, run.plan.savings_after
    assert after is not None
    assert after.excavations_avoided >= before.excavations_avoided
    assert after.area_not_reopened_m2 >= before.area_not_reopened_m2 - 1e-6


def test_outputs_and_every_package_validate(run: PipelineRun, tmp_path: Path) -> None:
    written = {p.relative_to(tmp_path).as_posix() for p in write_outputs(run, tmp_path, with_packages=True)}
    for name in ("findings.geojson", "bundles.geojson", "schedule.csv", "savings.json", "review.html"):
        assert name in written
    packages = sorted(tmp_path.glob("packages/*.zip"))
    assert [p.stem for p in packages] == sorted(b.bundle_id for b in run.plan.bundles)
    for package in packages:
        summary = inspect_package(package)
        assert summary.bundle_id == package.stem
        assert summary.project_code.split("-")[1] == "500110"
    geojson = json.loads((tmp_path / "findings.geojson").read_text(encoding="utf-8"))
    assert len(geojson["features"]) == len(run.plan.findings)


def test_json_answer_has_the_documented_keys(run: PipelineRun) -> None:
    answer = run_to_json(run)
    for key in ("shared", "occupancy", "off_road", "findings", "bundles", "schedule", "savings"):
        assert key in answer
    first = answer["shared"][0]
    assert set(first) >= {"road_id", "work_ids", "shared_m", "intervals"}


def test_cli_plan_package_build_and_inspect(tmp_path: Path) -> None:
    runner = CliRunner()
    uploads = str(DATA / "uploads.json")
    roads = str(DATA / "roads.geojson")
    result = runner.invoke(app, ["plan", "--uploads", uploads, "--roads", roads, "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    bundle_id = answer["bundles"][0]["bundle_id"]
    out = tmp_path / "pk"
    build = ["package", "build", "--uploads", uploads, "--roads", roads, "--bundle", bundle_id]
    result = runner.invoke(app, [*build, "--project-code", "2027-500110-48-01-000777", "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["package", "inspect", str(out / f"{bundle_id}.zip")])
    assert result.exit_code == 0, result.output
    assert "2027-500110-48-01-000777" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["plan", "/nonexistent/route.geojson"], "route.geojson"),
        (["package", "build", "--uploads", "/nonexistent.json"], "nonexistent.json"),
        (["package", "inspect", "/nonexistent.zip"], "nonexistent.zip"),
    ],
)
def test_cli_bad_input_is_a_bilingual_error_not_a_traceback(args: list[str], needle: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "错误 / error" in result.output and needle in result.output


def test_demo_loads_the_sample_into_the_database_and_writes_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from api.db import make_engine
    from api.models import BundleRow, WorkRow
    from onetrench.settings import get_settings

    database = tmp_path / "demo.sqlite"
    monkeypatch.setenv("ONETRENCH_DATABASE_URL", f"sqlite:///{database}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "out")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "review.html").is_file()
    engine = make_engine(f"sqlite:///{database}")
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(WorkRow)) == len(CASES["works"])
        assert session.scalar(select(func.count()).select_from(BundleRow)) == len(
            list((tmp_path / "out" / "packages").glob("*.zip"))
        )
    engine.dispose()

"""``onetrench check``: table or JSON output, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from onetrench.cli import app

DATA = Path(__file__).parent / "data" / "intake"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("ONETRENCH_DISTRICT_BOUNDARY", str(tmp_path / "missing.geojson"))
    from onetrench.settings import get_settings

    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_all_valid_exits_0_with_table(runner: CliRunner) -> None:
    result = runner.invoke(app, ["check", str(DATA / "routes.geojson"), str(DATA / "utf8_cpg.zip")])
    assert result.exit_code == 0, result.output
    assert "全部有效 / all features valid" in result.output
    assert "GS-001" in result.output and "要素 features: 4" in result.output


def test_invalid_features_exit_1(runner: CliRunner) -> None:
    result = runner.invoke(app, ["check", str(DATA / "bad.geojson")])
    assert result.exit_code == 1
    assert "错误 errors" in result.output and "B-01" in result.output


def test_json_output(runner: CliRunner) -> None:
    result = runner.invoke(app, ["check", "--json", "--crs", "gcj02", str(DATA / "amap_gcj02.csv")])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) == {"works", "errors", "warnings"}
    assert [w["work_id"] for w in out["works"]] == ["GS-001", "DL-001"]


def test_unreadable_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.kml"
    broken.write_bytes(b"<kml><Placemark>")
    result = runner.invoke(app, ["check", str(broken), str(DATA / "routes.kml")])
    assert result.exit_code == 2
    assert "broken.kml" in result.output


def test_crs_error_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["check", str(DATA / "cad.dxf")])
    assert result.exit_code == 2
    assert "EPSG:4545" in result.output


def test_layer_and_set_options(runner: CliRunner) -> None:
    args = [
        "check",
        str(DATA / "cad.dxf"),
        "--crs",
        "EPSG:4545",
        "--set",
        "计划开工=2027-03-01",
        "--set",
        "计划完工=2027-03-09",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["check", str(DATA / "two_layers.gpkg"), "--layer", "water"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["check", str(DATA / "cad.dxf"), "--set", "oops"])
    assert result.exit_code == 2


def test_crs_applies_to_files_without_one(runner: CliRunner) -> None:
    """--crs EPSG:4545 reads the DXF; the GeoJSON keeps WGS84 (no --force-crs)."""
    args = ["check", str(DATA / "cad.dxf"), str(DATA / "utf8_cpg.zip"), "--crs", "EPSG:4545", "--json"]
    args += ["--set", "计划开工=2027-03-01", "--set", "计划完工=2027-03-09"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert "TX-001" in [w["work_id"] for w in out["works"]]
    assert "crs.declared_ignored" in [w["code"] for w in out["warnings"]]
    forced = runner.invoke(app, [*args, "--force-crs"])
    assert forced.exit_code == 1

"""Foundation: settings, domain enums, exceptions, databases and the CLI entry point."""

from __future__ import annotations

import subprocess
import sys

import pytest
from geoalchemy2 import Geometry
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, func, select
from typer.testing import CliRunner

from api.db import make_engine
from onetrench.cli import app
from onetrench.domain import (
    ExcavationMethod,
    FindingKind,
    GasPressureClass,
    LabelledEnum,
    PavementKind,
    RoadClass,
    Severity,
    UtilityKind,
    WorksKind,
)
from onetrench.errors import ConfigError, InputError
from onetrench.settings import Settings

ALL_ENUMS: list[type[LabelledEnum]] = [
    UtilityKind,
    GasPressureClass,
    ExcavationMethod,
    RoadClass,
    WorksKind,
    PavementKind,
    FindingKind,
    Severity,
]


@pytest.mark.parametrize("enum", ALL_ENUMS)
def test_every_member_has_both_labels_and_parses_from_each(enum: type[LabelledEnum]) -> None:
    for member in enum:
        assert member.zh and member.en
        assert enum.parse(member.value) is member
        assert enum.parse(member.zh) is member
        assert enum.parse(f"  {member.en.upper()} ") is member


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("供水", UtilityKind.WATER),
        ("DL", UtilityKind.POWER),
        ("联通", UtilityKind.TELECOM),
        ("污水", UtilityKind.DRAINAGE),
    ],
)
def test_utility_aliases_found_in_real_files(raw: str, expected: UtilityKind) -> None:
    assert UtilityKind.parse(raw) is expected


def test_unknown_value_is_rejected_with_the_allowed_list() -> None:
    with pytest.raises(InputError) as info:
        UtilityKind.parse("石油", field_name="管线类别")
    assert "石油" in info.value.zh
    assert "燃气" in info.value.zh and "gas" in info.value.en


@pytest.mark.parametrize(
    ("mpa", "expected"),
    [
        (0.005, GasPressureClass.LOW),
        (0.01, GasPressureClass.MEDIUM_B),
        (0.2, GasPressureClass.MEDIUM_A),
        (0.39, GasPressureClass.MEDIUM_A),
        (0.4, GasPressureClass.SUBHIGH_B),
        (1.6, GasPressureClass.SUBHIGH_A),
    ],
)
def test_gas_pressure_class_boundaries_follow_gb50028(mpa: float, expected: GasPressureClass) -> None:
    assert GasPressureClass.from_mpa(mpa) is expected


@pytest.mark.parametrize("mpa", [-0.1, 2.5])
def test_gas_pressure_out_of_range_is_an_input_error(mpa: float) -> None:
    with pytest.raises(InputError):
        GasPressureClass.from_mpa(mpa)


def test_settings_defaults_match_design() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.working_crs == "EPSG:4545"
    assert s.min_shared_m == 10.0
    assert s.period_gap_days == 0
    assert (s.moratorium_years_new, s.moratorium_years_overhaul) == (5, 3)
    assert s.database_url.startswith("sqlite:///")


def test_settings_read_from_environment_and_per_class_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONETRENCH_MIN_SHARED_M", "25")
    monkeypatch.setenv("ONETRENCH_CLASS_OVERRIDES", '{"arterial": {"min_shared_m": 40}}')
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.rule_for(RoadClass.BRANCH).min_shared_m == 25
    assert s.rule_for(RoadClass.ARTERIAL).min_shared_m == 40
    assert s.rule_for(RoadClass.ARTERIAL).period_gap_days == 0


def test_invalid_setting_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONETRENCH_MIN_SHARED_M", "-3")
    with pytest.raises(ValueError, match="min_shared_m"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_spatial_round_trip(db_connection: Connection) -> None:
    """A geometry stored and queried back with a spatial predicate, on both databases."""
    metadata = MetaData()
    table = Table(
        "foundation_probe",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(50)),
        Column("geom", Geometry("LINESTRING", srid=4545)),
    )
    metadata.create_all(db_connection)
    db_connection.execute(
        table.insert(),
        [
            {"id": 1, "name": "沿河路", "geom": "SRID=4545;LINESTRING(500000 3210000, 500100 3210000)"},
            {"id": 2, "name": "文化街", "geom": "SRID=4545;LINESTRING(600000 3210000, 600100 3210000)"},
        ],
    )
    probe = func.ST_GeomFromText("POINT(500050 3210003)", 4545)
    near = db_connection.execute(
        select(table.c.name, func.ST_Length(table.c.geom)).where(func.ST_Distance(table.c.geom, probe) < 5)
    ).all()
    assert [(name, round(length, 6)) for name, length in near] == [("沿河路", 100.0)]


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("not a url", "ONETRENCH_DATABASE_URL"),
        ("mysql://root@localhost/x", "SpatiaLite"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "无法连接数据库"),
    ],
)
def test_bad_database_url_is_one_clear_sentence(url: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_engine(url)
    assert needle in info.value.message


def test_missing_spatialite_extension_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPATIALITE_LIBRARY_PATH", "/nonexistent/mod_spatialite_missing")
    with pytest.raises(ConfigError) as info:
        make_engine("sqlite://")
    assert "libsqlite3-mod-spatialite" in info.value.message


def test_cli_reports_a_bad_database_url_without_traceback() -> None:
    result = CliRunner().invoke(app, ["db", "check"], env={"ONETRENCH_DATABASE_URL": "mysql://x/y"})
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "不支持的数据库类型" in result.output


def test_console_script_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "onetrench", "version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.startswith("onetrench ")

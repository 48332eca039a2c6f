"""The service's CLI commands: db upgrade, org, token, serve; the schema is upgraded on start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from api.db import make_engine
from api.migrate import head_revision
from onetrench.cli import app
from onetrench.settings import get_settings


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """The CLI reads the environment once (cached settings): start and leave with a clean cache."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_db_upgrade_org_and_token_commands(tmp_path: Path) -> None:
    env = {"ONETRENCH_DATABASE_URL": f"sqlite:///{tmp_path}/cli.sqlite"}
    runner = CliRunner()
    up = runner.invoke(app, ["db", "upgrade"], env=env)
    assert up.exit_code == 0, up.output
    assert head_revision() in up.output
    org = runner.invoke(app, ["org", "create", "--code", "sgcc", "--kind", "utility", "--name", "国网綦江"], env=env)
    assert org.exit_code == 0, org.output
    token = runner.invoke(app, ["token", "create", "--org", "sgcc", "--role", "utility"], env=env)
    assert token.exit_code == 0, token.output
    secret = token.stdout.strip().splitlines()[-1]
    assert secret.startswith("ot_")
    wrong = runner.invoke(app, ["token", "create", "--org", "sgcc", "--role", "bureau"], env=env)
    assert wrong.exit_code == 2
    assert "Traceback" not in wrong.output
    missing = runner.invoke(app, ["token", "create", "--org", "nobody"], env=env)
    assert missing.exit_code == 2
    assert runner.invoke(app, ["token", "revoke", "1"], env=env).exit_code == 0
    assert "sgcc" in runner.invoke(app, ["org", "list"], env=env).stdout
    assert "--port" in runner.invoke(app, ["serve", "--help"], env=env).stdout


def test_the_app_upgrades_an_empty_database_on_start(tmp_path: Path) -> None:
    from api.app import create_app
    from onetrench.settings import Settings

    url = f"sqlite:///{tmp_path}/fresh.sqlite"
    create_app(Settings(database_url=url))
    engine = make_engine(url)
    assert {"works", "work_versions", "bundles", "audit_log"} <= set(inspect(engine).get_table_names())
    engine.dispose()

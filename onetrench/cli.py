"""The ``onetrench`` command line: the service's capabilities from the shell.

Each command is a thin adapter over the layers (geo/, scheduling/, permits/, maps/, api/);
errors of the project are printed in Chinese and English, never as a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer

from onetrench import __version__
from onetrench.errors import OnetrenchError

app = typer.Typer(
    help="onetrench — 同一路段、同一时段：道路联合开挖协调 / joint road excavation coordination (綦江区)",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="数据库 / database", no_args_is_help=True)
app.add_typer(db_app, name="db")

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Print project errors as one bilingual sentence and exit with code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OnetrenchError as exc:
            typer.echo(f"错误 / error: {exc.message}", err=True)
            for problem in exc.details[:50]:
                typer.echo(f"  - {problem.zh} / {problem.en}", err=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


@app.command()
def version() -> None:
    """Print the version / 显示版本."""
    typer.echo(f"onetrench {__version__} (Python {sys.version.split()[0]})")


@db_app.command("check")
@friendly_errors
def db_check() -> None:
    """Connect to the configured database and check its spatial extension / 检查数据库."""
    from api.db import describe_database, make_engine
    from onetrench.settings import get_settings

    engine = make_engine(get_settings().database_url)
    typer.echo(describe_database(engine))


def _register_service_commands() -> None:
    """Add ``db upgrade``, ``org``, ``token`` and ``serve`` (defined in :mod:`api.cli`)."""
    from api.cli import register

    register(app, db_app, friendly_errors)


_register_service_commands()


def main() -> None:  # pragma: no cover - console entry point
    """Run the CLI."""
    app()

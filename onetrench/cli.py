"""The ``onetrench`` command line: the service's capabilities from the shell.

Each command is a thin adapter over the layers (geo/, scheduling/, permits/, maps/, api/);
errors of the project are printed in Chinese and English, never as a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

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
        from onetrench.settings import get_settings

        get_settings.cache_clear()  # each command reads the environment it runs in
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


@app.command()
def check(
    files: Annotated[
        list[Path], typer.Argument(help="路由文件 / route files (GeoJSON, zip, gpkg, kml, kmz, dxf, csv)")
    ],
    *,
    crs: Annotated[
        str | None,
        typer.Option("--crs", help="无坐标系文件的坐标系 / CRS of files without one: EPSG:xxxx | gcj02 | bd09"),
    ] = None,
    force_crs: Annotated[
        bool, typer.Option("--force-crs", help="--crs 覆盖文件自带坐标系 / --crs overrides the file's")
    ] = False,
    layer: Annotated[str | None, typer.Option("--layer", help="图层 / layer (GeoPackage, zip)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
    set_values: Annotated[
        list[str] | None, typer.Option("--set", help="缺省属性 / default attribute KEY=VALUE, e.g. 计划开工=2026-03-01")
    ] = None,
) -> None:
    """Read and validate route files / 读取并检查管线路由文件.

    Exit code 0 when every feature is valid, 1 when any is not, 2 when a file cannot be read.
    """
    import json
    from typing import Literal

    from geo.intake import read_many
    from geo.intake.report import format_table

    bad = [item for item in set_values or [] if "=" not in item]
    if bad:
        raise typer.BadParameter(f"--set 应为 KEY=VALUE / --set takes KEY=VALUE: {bad[0]}")
    defaults = dict(item.split("=", 1) for item in set_values or [])
    mode: Literal["fallback", "override"] = "override" if force_crs else "fallback"
    result = read_many(files, crs=crs, crs_mode=mode, layer=layer, defaults=defaults, on_unreadable="report")
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        typer.echo(format_table(result))
    raise typer.Exit(code=2 if result.unreadable else 1 if result.errors else 0)


@db_app.command("check")
@friendly_errors
def db_check() -> None:
    """Connect to the configured database and check its spatial extension / 检查数据库."""
    from api.db import describe_database, make_engine
    from onetrench.settings import get_settings

    engine = make_engine(get_settings().database_url)
    try:
        typer.echo(describe_database(engine))
    finally:
        engine.dispose()


def _register_plan_commands() -> None:
    """Add ``plan``, ``package build|inspect`` and ``demo`` (defined in :mod:`onetrench.commands`)."""
    from onetrench.commands import register

    register(app, friendly_errors)


_register_plan_commands()


def _register_service_commands() -> None:
    """Add ``db upgrade``, ``org``, ``token`` and ``serve`` (defined in :mod:`api.cli`)."""
    from api.cli import register

    register(app, db_app, friendly_errors)


_register_service_commands()


def main() -> None:  # pragma: no cover - console entry point
    """Run the CLI."""
    app()

"""The service's commands for the ``onetrench`` CLI: ``db upgrade``, ``org``, ``token``, ``serve``.

:func:`register` adds them to the typer app of :mod:`onetrench.cli`; every command is a thin
adapter over :mod:`api.migrate` and :mod:`api.services.auth`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session


def register(app: typer.Typer, db_app: typer.Typer, friendly_errors: Callable[[Any], Any]) -> None:
    """Add the service's commands to the CLI."""
    org_app = typer.Typer(help="机构 / organisations", no_args_is_help=True)
    token_app = typer.Typer(help="访问令牌 / API tokens", no_args_is_help=True)
    app.add_typer(org_app, name="org")
    app.add_typer(token_app, name="token")

    @db_app.command("upgrade")
    @friendly_errors
    def db_upgrade(revision: Annotated[str, typer.Argument(help="目标版本 / target revision")] = "head") -> None:
        """Create or upgrade the database schema (Alembic) / 创建或升级数据库结构."""
        from api.db import describe_database, make_engine
        from api.migrate import upgrade
        from onetrench.settings import get_settings

        engine = make_engine(get_settings().database_url)
        try:
            reached = upgrade(engine, revision)
            typer.echo(f"数据库已升级到 {reached} / database at revision {reached}: {describe_database(engine)}")
        finally:
            engine.dispose()

    @org_app.command("create")
    @friendly_errors
    def org_create(
        code: Annotated[str, typer.Option("--code", help="机构代码，如 sgcc-qijiang / short unique code")],
        kind: Annotated[str, typer.Option("--kind", help="utility | bureau | admin")],
        name: Annotated[str, typer.Option("--name", help="机构名称 / full name")] = "",
    ) -> None:
        """Create an organisation / 新建机构."""
        from api.services.auth import create_organisation

        with _session() as session:
            org = create_organisation(session, code=code, name=name or code, kind=kind)
            session.commit()
            typer.echo(f"机构已创建 / organisation created: {org.code} ({org.kind.value}) {org.name}")

    @org_app.command("list")
    @friendly_errors
    def org_list() -> None:
        """List organisations / 列出机构."""
        from sqlalchemy import select

        from api.models import Organisation

        with _session() as session:
            for org in session.scalars(select(Organisation).order_by(Organisation.code)):
                typer.echo(f"{org.code}\t{org.kind.value}\t{org.name}")

    @token_app.command("create")
    @friendly_errors
    def token_create(
        org: Annotated[str, typer.Option("--org", help="机构代码 / organisation code")],
        role: Annotated[str | None, typer.Option("--role", help="utility | bureau | admin")] = None,
        label: Annotated[str, typer.Option("--label", help="用途说明 / label")] = "",
        days: Annotated[float, typer.Option("--days", help="有效天数 / lifetime in days")] = 365.0,
    ) -> None:
        """Create a token and print it once (only its hash is stored) / 新建访问令牌."""
        from api.services.auth import create_token

        with _session() as session:
            secret, row = create_token(session, org_code=org, role=role, label=label, expires_in_days=days)
            session.commit()
            expires = row.expires_at.isoformat() if row.expires_at else "never"
            typer.echo(
                f"令牌 id={row.id} role={row.role.value} expires={expires}（只显示这一次 / shown once）:", err=True
            )
            typer.echo(secret)

    @token_app.command("revoke")
    @friendly_errors
    def token_revoke(token_id: Annotated[int, typer.Argument(help="令牌编号 / token id")]) -> None:
        """Revoke a token / 吊销访问令牌."""
        from api.services.auth import revoke_token

        with _session() as session:
            revoke_token(session, token_id)
            session.commit()
            typer.echo(f"令牌 {token_id} 已吊销 / token {token_id} revoked")

    @app.command("serve")
    @friendly_errors
    def serve(
        host: Annotated[str, typer.Option(help="监听地址 / bind address")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="端口 / port")] = 8000,
        workers: Annotated[int, typer.Option(help="进程数 / worker processes")] = 1,
    ) -> None:
        """Start the web service (upgrades the database first) / 启动服务."""
        import uvicorn

        typer.echo(f"onetrench 服务 / service: http://{host}:{port}/docs")
        uvicorn.run("api.app:create_app", host=host, port=port, workers=workers, factory=True)


@contextmanager
def _session() -> Iterator[Session]:
    """A session on the configured database (migrated first); its engine is closed afterwards."""
    from api.db import make_engine
    from api.migrate import upgrade
    from onetrench.settings import get_settings

    engine = make_engine(get_settings().database_url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()

"""Alembic environment of onetrench.

Runs the migrations on the connection given by :mod:`api.migrate`, or on the database named by
``ONETRENCH_DATABASE_URL`` (through :func:`api.db.make_engine`, so SpatiaLite is loaded).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from api.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations against a live database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from api.db import make_engine
    from onetrench.settings import get_settings

    engine = make_engine(get_settings().database_url)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
    engine.dispose()


if context.is_offline_mode():  # pragma: no cover - offline SQL generation is not supported
    raise SystemExit("offline migrations are not supported: the spatial columns need a live database")
run_migrations_online()

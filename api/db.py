"""Database engines: SpatiaLite embedded by default, PostGIS in production.

:func:`make_engine` turns ``ONETRENCH_DATABASE_URL`` into a SQLAlchemy engine whose every
connection has its spatial extension ready, and turns each way this can fail (bad URL, server
down, extension missing) into one :class:`~onetrench.errors.ConfigError` sentence that says
what is wrong and how to fix it.

Some Python builds (pyenv's among them) compile the standard ``sqlite3`` module without
extension loading; there the ``pysqlite3`` module (package ``pysqlite3-binary``) is used.
"""

from __future__ import annotations

import os
import sqlite3
from types import ModuleType
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import StaticPool

from onetrench.errors import ConfigError

SPATIALITE_HINT_ZH = "请安装 SpatiaLite：sudo apt-get install libsqlite3-mod-spatialite（或运行 make setup）"
SPATIALITE_HINT_EN = "install SpatiaLite: sudo apt-get install libsqlite3-mod-spatialite (or run make setup)"


def sqlite_dbapi() -> ModuleType:
    """Return a DB-API module for SQLite that can load extensions.

    Raises
    ------
    ConfigError
        When neither the standard module nor ``pysqlite3`` can load extensions.
    """
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    try:
        from pysqlite3 import dbapi2
    except ImportError as exc:
        raise ConfigError(
            "此 Python 的 sqlite3 模块不能加载扩展，且未安装 pysqlite3-binary：请运行 pip install pysqlite3-binary",
            "this Python's sqlite3 module cannot load extensions and pysqlite3-binary is not installed: "
            "pip install pysqlite3-binary",
        ) from exc
    return dbapi2


def _load_spatialite(dbapi_connection: Any, _record: Any) -> None:
    path = os.environ.get("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
    try:
        dbapi_connection.enable_load_extension(True)
        dbapi_connection.load_extension(path)
        dbapi_connection.enable_load_extension(False)
    except Exception as exc:  # sqlite3.OperationalError from either DB-API module
        raise ConfigError(
            f"无法加载 SpatiaLite 扩展 {path}（{exc}）。{SPATIALITE_HINT_ZH}",
            f"cannot load the SpatiaLite extension {path} ({exc}); {SPATIALITE_HINT_EN}",
        ) from exc
    dbapi_connection.execute("PRAGMA foreign_keys = ON")
    if dbapi_connection.execute("SELECT CheckSpatialMetaData()").fetchone()[0] < 1:
        dbapi_connection.execute("SELECT InitSpatialMetaData(1)")


def bind_native_libraries() -> None:
    """Import the libraries that bundle their own GEOS / PROJ / GDAL before SpatiaLite is loaded.

    SQLite loads extensions with ``RTLD_GLOBAL``: once ``mod_spatialite`` is in, its (system)
    GEOS and PROJ symbols would shadow those bundled in the shapely, pyproj and pyogrio wheels
    for any of them imported later, which then call the wrong library and fail ("WKB output
    dimension must be 2 or 3") or crash (a segfault writing a GeoPackage). Imported first, they
    bind to their own copies.
    """
    import importlib

    for name in ("shapely", "pyproj", "pyogrio"):
        try:
            importlib.import_module(name)
        except ImportError:  # pragma: no cover - optional here
            continue


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    bind_native_libraries()
    parsed = make_url(url)
    in_memory = parsed.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"module": sqlite_dbapi(), "echo": echo}
    if in_memory:
        kwargs["poolclass"] = StaticPool
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _load_spatialite)
    return engine


def make_engine(url: str, *, echo: bool = False, check: bool = True) -> Engine:
    """Create an engine for ``url`` with its spatial extension ready.

    Parameters
    ----------
    url
        ``sqlite:///file.sqlite`` (SpatiaLite) or ``postgresql+psycopg://user@host/db`` (PostGIS).
    echo
        Log SQL statements.
    check
        Connect once now and verify the spatial extension, so a wrong URL fails here with a
        clear sentence rather than later with a traceback.

    Raises
    ------
    ConfigError
        Unknown URL scheme, unreachable server, or missing spatial extension.

    Examples
    --------
    >>> engine = make_engine("sqlite://")
    >>> describe_database(engine).startswith("SpatiaLite")
    True
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"ONETRENCH_DATABASE_URL 格式不正确：{url!r}。示例：sqlite:///onetrench.sqlite 或 "
            "postgresql+psycopg://user@localhost/onetrench",
            f"ONETRENCH_DATABASE_URL is not a database URL: {url!r}; examples: sqlite:///onetrench.sqlite "
            "or postgresql+psycopg://user@localhost/onetrench",
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = _sqlite_engine(url, echo=echo)
    elif backend == "postgresql":
        try:
            engine = create_engine(url, echo=echo, pool_pre_ping=True)
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            raise ConfigError(
                f"不支持的 PostgreSQL 驱动：{parsed.drivername}，请使用 postgresql+psycopg://",
                f"unsupported PostgreSQL driver {parsed.drivername!r}; use postgresql+psycopg://",
            ) from exc
    else:
        raise ConfigError(
            f"不支持的数据库类型「{backend}」：onetrench 支持 SpatiaLite（sqlite:///…）和 PostGIS（postgresql+psycopg://…）",
            f"unsupported database {backend!r}: onetrench runs on SpatiaLite (sqlite:///…) or PostGIS "
            "(postgresql+psycopg://…)",
        )
    if check:
        check_database(engine)
    return engine


def check_database(engine: Engine) -> None:
    """Connect and verify the spatial extension; on PostGIS create it when it is available.

    Raises
    ------
    ConfigError
        The server cannot be reached or the extension is missing.
    """
    safe_url = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.execute(text("SELECT spatialite_version()"))
                return
            available = conn.execute(
                text("SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'")
            ).scalar_one()
            if not available:
                raise ConfigError(
                    f"数据库 {safe_url} 所在服务器未安装 PostGIS：请安装 postgresql-15-postgis-3（或对应版本）",
                    f"PostGIS is not installed on the server of {safe_url}: install postgresql-15-postgis-3 "
                    "(or the package for your PostgreSQL version)",
                )
            installed = conn.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")).scalar_one()
            if not installed:
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
                conn.commit()
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ConfigError(
            f"无法连接数据库 {safe_url}（{reason}）：请检查 ONETRENCH_DATABASE_URL 以及数据库服务是否运行",
            f"cannot connect to {safe_url} ({reason}): check ONETRENCH_DATABASE_URL and that the server is running",
        ) from exc
    except ConfigError:
        raise
    except Exception as exc:
        if "permission denied" in str(exc).lower():
            raise ConfigError(
                f"数据库 {safe_url} 未启用 PostGIS，且当前用户无权创建扩展：请由管理员执行 CREATE EXTENSION postgis",
                f"PostGIS is not enabled in {safe_url} and this user may not create it: "
                "ask an administrator to run CREATE EXTENSION postgis",
            ) from exc
        raise


def describe_database(engine: Engine) -> str:
    """Return a one-line description such as ``"SpatiaLite 5.0.1 (SQLite 3.51.1) — sqlite://"``."""
    safe_url = engine.url.render_as_string(hide_password=True)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            spatialite, sqlite_version = conn.execute(text("SELECT spatialite_version(), sqlite_version()")).one()
            return f"SpatiaLite {spatialite} (SQLite {sqlite_version}) — {safe_url}"
        postgis = conn.execute(text("SELECT PostGIS_Lib_Version()")).scalar_one()
        server = conn.execute(text("SHOW server_version")).scalar_one()
        return f"PostGIS {postgis} (PostgreSQL {server}) — {safe_url}"

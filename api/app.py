"""The FastAPI application: ``create_app(settings)``; ``onetrench serve`` runs it with uvicorn.

On start the database named by ``settings.database_url`` is opened (SpatiaLite or PostGIS,
:func:`api.db.make_engine`) and upgraded to the newest migration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from api.db import make_engine
from api.migrate import upgrade
from api.problems import HANDLERS
from onetrench import __version__
from onetrench.settings import Settings, get_settings

DESCRIPTION = """
onetrench — 同一路段、同一时段：綦江区道路联合开挖协调服务 / joint road excavation coordination.

* Utilities upload proposed routes and at once see validation problems per feature and the
  findings against every stored work; they see their own works in full and of other
  organisations' works only the stretches shared with theirs.
* The planning bureau sees everything, runs the plan, approves or sends back bundles, exports
  the permit package (ZIP) for 渝快办, reads maps and KPIs.
* Admins manage organisations and tokens.

Authenticate with `Authorization: Bearer <token>` (`onetrench token create --org … --role …`).
Errors are RFC 9457 problem details (`application/problem+json`) in English and Chinese.
Geometries are GeoJSON in EPSG:4490 (longitude first).
"""


def warm_up(engine: Engine, settings: Settings | None = None) -> None:
    """Import the rule's modules and read the road network once, before the first request.

    Otherwise the first upload of each worker process pays for them (about 2 s: geopandas,
    the compiled detector loops, the roads as domain objects). Best effort: a database that
    is not reachable now only leaves the first upload slower.
    """
    import importlib
    import json
    import logging

    from sqlalchemy.orm import Session

    from api.services.check import cached_roads

    for module in ("geo.intake", "geo.overlap", "scheduling.findings"):
        importlib.import_module(module)
    # the example body of POST /works, read once: the coordinate transformations an upload needs
    # are made (~60 ms each; three for the first uploads of a worker) and the compiled loops loaded
    from api.schemas import FEATURE_COLLECTION_EXAMPLE
    from geo.intake import read_works

    try:
        read_works("warm-up.geojson", data=json.dumps(FEATURE_COLLECTION_EXAMPLE).encode(), settings=settings)
    except Exception as exc:  # e.g. a working CRS the example does not fit: only the first upload is slower
        logging.getLogger(__name__).warning("intake not warmed: %s", exc)
    try:
        with Session(engine) as session:
            cached_roads(session)
    except Exception as exc:  # a warm-up must not stop the service from starting
        logging.getLogger(__name__).warning("road cache not warmed: %s", exc)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Create the application.

    Parameters
    ----------
    settings
        The settings (default: from the environment).
    engine
        An engine to use instead of one made from ``settings.database_url`` (tests).

    Examples
    --------
    >>> app = create_app(Settings(database_url="sqlite://"))
    >>> "/works/upload" in app.openapi()["paths"]
    True
    """
    from api.routes import admin, review, roads, works

    settings = settings or get_settings()
    owns_engine = engine is None
    engine = engine or make_engine(settings.database_url)
    upgrade(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warm_up(app.state.engine, app.state.settings)
        yield
        if app.state.owns_engine:
            app.state.engine.dispose()

    app = FastAPI(
        title="onetrench",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "works 工程", "description": "上传与管理工程 / upload and manage works"},
            {"name": "roads 道路", "description": "道路网 / road network"},
            {"name": "findings 检查结果", "description": "同一路段、同一时段等检查结果 / findings of the rule"},
            {"name": "plan 统筹", "description": "统筹与联合开挖 / plan and bundles"},
            {"name": "bundles 联合开挖包", "description": "审批与许可申请包 / review and permit packages"},
            {"name": "maps 地图", "description": "离线 HTML 地图 / offline maps"},
            {"name": "kpis 指标", "description": "统计指标 / key figures"},
            {"name": "admin 管理", "description": "机构与令牌 / organisations and tokens"},
        ],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.owns_engine = owns_engine
    app.state.sessionmaker = sessionmaker(engine, expire_on_commit=False)
    for exc_class, handler in HANDLERS.items():
        app.add_exception_handler(exc_class, handler)
    for module in (works, roads, review, admin):
        app.include_router(module.router)

    @app.get("/health", tags=["admin 管理"])
    def health() -> dict[str, str]:
        """Liveness (no token needed)."""
        return {"status": "ok", "version": __version__}

    return app

"""Roads: load a network (bureau, admin), list, read, findings per road."""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePath
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from api import present
from api.deps import CurrentPrincipal, SessionDep, SettingsDep
from api.models import Role
from api.routes.works import ERRORS, _too_large
from api.schemas import FindingsPublic, RoadLoadPublic, RoadPublic, RoadsPublic
from api.services import findings as finding_service
from api.services import roads as road_service

router = APIRouter(prefix="/roads", tags=["roads 道路"])


@router.post("", response_model=RoadLoadPublic, responses=ERRORS, summary="导入道路网 / load a road network")
def load_roads(
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="road centrelines: GeoJSON, GeoPackage or zipped Shapefile")],
    layer: Annotated[str | None, Form(description="图层 / layer")] = None,
) -> RoadLoadPublic:
    """Load (insert or replace by road_id) a validated road network."""
    from geo.roads import read_roads

    principal.require(Role.BUREAU, Role.ADMIN, action_zh="导入道路", action_en="loading roads")
    data = file.file.read(settings.max_upload_bytes + 1)
    _too_large(len(data), settings)
    name = PurePath(file.filename or "roads.geojson").name
    with tempfile.TemporaryDirectory(prefix="onetrench-roads-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        network = read_roads(path, settings=settings, layer=layer or None)
    outcome = road_service.load_roads(session, principal, list(network.roads), warnings=list(network.warnings))
    return RoadLoadPublic(created=outcome.created, updated=outcome.updated, warnings=present.problems(outcome.warnings))


@router.get("", response_model=RoadsPublic, responses=ERRORS, summary="道路列表 / list roads")
def list_roads(
    session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, geometry: bool = True
) -> RoadsPublic:
    """All roads (public data; every role may read them)."""
    rows = road_service.list_roads(session, principal)
    return RoadsPublic(count=len(rows), roads=[present.road(r, settings, with_geometry=geometry) for r in rows])


@router.get("/{road_id}", response_model=RoadPublic, responses=ERRORS, summary="道路详情 / one road")
def get_road(session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, road_id: str) -> RoadPublic:
    """One road."""
    return present.road(road_service.get_road(session, principal, road_id), settings)


@router.get("/{road_id}/findings", response_model=FindingsPublic, responses=ERRORS, summary="道路的检查结果")
def road_findings(
    session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, road_id: str
) -> FindingsPublic:
    """Findings on one road (a utility: those concerning its own works)."""
    rows = finding_service.list_findings(session, principal, road_id=road_id)
    return FindingsPublic(count=len(rows), findings=[present.finding(f, settings) for f in rows])

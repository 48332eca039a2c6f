"""Roads: load a network (validated by :mod:`geo.roads`), list it."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import RoadRow, Role, utcnow
from api.services import audit
from api.services.auth import Principal
from api.services.check import lock_works
from api.services.convert import apply_road
from onetrench.domain import Road
from onetrench.errors import NotFound, Problem


@dataclass
class RoadLoad:
    """The outcome of loading a road network."""

    created: int = 0
    updated: int = 0
    warnings: list[Problem] = field(default_factory=list)


def load_roads(
    session: Session, principal: Principal, roads: list[Road], *, warnings: list[Problem] | None = None
) -> RoadLoad:
    """Insert or replace roads by ``road_id`` (bureau or admin).

    Stored findings stay until the next plan or upload re-checks the works concerned.
    """
    principal.require(Role.BUREAU, Role.ADMIN, action_zh="导入道路", action_en="loading roads")
    lock_works(session)
    out = RoadLoad(warnings=list(warnings or []))
    existing = {r.road_id: r for r in session.scalars(select(RoadRow))}
    now = utcnow()
    for road in roads:
        row = existing.get(road.road_id)
        if row is None:
            row = RoadRow(loaded_at=now)
            session.add(row)
            out.created += 1
        else:
            out.updated += 1
        apply_road(row, road)
        row.loaded_at = now
        existing[road.road_id] = row
    session.flush()
    audit.record(session, principal, "roads.load", detail={"created": out.created, "updated": out.updated})
    return out


def list_roads(session: Session, principal: Principal) -> list[RoadRow]:
    """All roads (roads are public: every role may list them)."""
    return list(session.scalars(select(RoadRow).order_by(RoadRow.road_id)))


def get_road(session: Session, principal: Principal, road_id: str) -> RoadRow:
    """One road by its 道路编号.

    Raises
    ------
    NotFound
        No such road.
    """
    row = session.scalar(select(RoadRow).where(RoadRow.road_id == road_id))
    if row is None:
        raise NotFound(f"道路 {road_id} 不存在", f"road {road_id!r} does not exist")
    return row

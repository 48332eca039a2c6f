"""Maps as HTML (adapters over :mod:`maps`), drawn from what the caller may see.

A utility's map shows its own works in full and other organisations' works only as the
stretches they share with its own; the bureau's shows everything.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import RoadRow, Role
from api.services.auth import Principal
from api.services.bundles import BundleView, get_bundle, list_bundles
from api.services.convert import bundle_from_row, finding_from_row, road_from_row, stretch_from_json, work_from_row
from api.services.findings import list_findings
from api.services.roads import get_road
from api.services.works import WorkView, list_works
from onetrench.domain import Bundle, Finding, Road, Work
from onetrench.settings import Settings


def _works(views: list[WorkView]) -> list[Work]:
    out = []
    for v in views:
        work = work_from_row(v.row)
        if v.redacted:
            if v.geometry is None or v.geometry.is_empty:
                continue
            work = dataclasses.replace(work, geometry=v.geometry, contact="", name="", attributes={})
        out.append(work)
    return out


def _seen(view: BundleView) -> Bundle:
    """A bundle as the caller may see it: footprint and stretches of the view (clipped for a utility)."""
    stretches = tuple(stretch_from_json(x) for x in cast("list[dict[str, Any]]", view.stretches))
    return dataclasses.replace(bundle_from_row(view.row), footprint=view.footprint, stretches=stretches)


def _visible(session: Session, principal: Principal) -> tuple[list[Work], list[Road], list[Finding], list[Bundle]]:
    works = _works(list_works(session, principal))
    roads = [road_from_row(r) for r in session.scalars(select(RoadRow).order_by(RoadRow.road_id))]
    findings = [finding_from_row(f) for f in list_findings(session, principal)]
    bundles = [
        _seen(v) for v in list_bundles(session, principal) if v.footprint is not None and not v.footprint.is_empty
    ]
    return works, roads, findings, bundles


def review_html(session: Session, principal: Principal, *, settings: Settings) -> str:
    """The review map (all works, findings and bundles the caller may see)."""
    from maps.review import review_map

    principal.require(Role.UTILITY, Role.BUREAU, action_zh="查看地图", action_en="reading maps")
    works, roads, findings, bundles = _visible(session, principal)
    return review_map(works=works, roads=roads, findings=findings, bundles=bundles, settings=settings)


def bundle_html(session: Session, principal: Principal, bundle_id: str, *, settings: Settings) -> str:
    """The map of one bundle: its works, roads and findings."""
    view = get_bundle(session, principal, bundle_id)
    works, roads, findings, _ = _visible(session, principal)
    keys = set(view.row.work_keys)
    road_ids = {s["road_id"] for s in view.stretches}
    bundle = _seen(view)
    if view.redacted:  # a utility's map draws the works it may see (of others: their shared stretches)
        shown = {w.work_id for w in works}
        keys &= shown
        bundle = dataclasses.replace(bundle, work_ids=tuple(k for k in bundle.work_ids if k in shown))
    try:
        from maps.bundle import bundle_map  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - until maps/bundle.py lands
        from maps.review import review_map

        return review_map(
            works=[w for w in works if w.work_id in keys],
            roads=[r for r in roads if r.road_id in road_ids],
            findings=[f for f in findings if keys & set(f.work_ids)],
            bundles=[bundle],
            settings=settings,
            title=f"联合开挖包 {bundle_id} / bundle {bundle_id}",
        )
    html: str = bundle_map(
        bundle,
        works=[w for w in works if w.work_id in keys],
        roads=[r for r in roads if r.road_id in road_ids],
        findings=[f for f in findings if keys & set(f.work_ids)],
        settings=settings,
    )
    return html


def timeline_html(session: Session, principal: Principal, road_id: str, *, settings: Settings) -> str:
    """The per-road timeline: which visible works open the road, when, and where along it."""
    principal.require(Role.UTILITY, Role.BUREAU, action_zh="查看地图", action_en="reading maps")
    road = road_from_row(get_road(session, principal, road_id))
    works = _works(list_works(session, principal))
    findings = [finding_from_row(f) for f in list_findings(session, principal, road_id=road_id)]
    try:
        from maps.timeline import road_timeline  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - until maps/timeline.py lands
        from maps.review import review_map

        corridor = road.geometry.buffer(road.width_m / 2.0)
        return review_map(
            works=[w for w in works if w.geometry.intersects(corridor)],
            roads=[road],
            findings=findings,
            settings=settings,
            title=f"{road.name} 施工时间线 / timeline of {road.road_id}",
        )
    html: str = road_timeline(road, works=works, findings=findings, settings=settings)
    return html

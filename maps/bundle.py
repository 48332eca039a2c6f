"""The bundle map: one joint excavation (联合开挖), its stretches and footprint, for the permit package.

:func:`bundle_map` gives an offline HTML map (the review map focused on one bundle, with an
extra layer of the bundle's road stretches); :func:`bundle_png` the same layers as a PNG.
"""

from __future__ import annotations

from collections.abc import Sequence

import shapely
from shapely.geometry.base import BaseGeometry

from maps._common import BUNDLE_COLOUR, stretch_geometry
from maps._leaflet import Feature, LayerSpec, LeafletPage
from maps.review import build_review_page
from maps.static import render_png
from onetrench.domain import Bundle, Finding, Road, Work
from onetrench.errors import InputError
from onetrench.settings import Settings

#: Roads within this distance (m) of the footprint are drawn for context.
CONTEXT_M = 150.0


def _focus(bundle: Bundle, roads_by_id: dict[str, Road]) -> BaseGeometry:
    if bundle.footprint is not None and not bundle.footprint.is_empty:
        return bundle.footprint
    parts = [
        g
        for st in bundle.stretches
        if st.road_id in roads_by_id and (g := stretch_geometry(roads_by_id[st.road_id], [st.interval])) is not None
    ]
    if not parts:
        raise InputError(
            f"联合开挖 {bundle.bundle_id} 既无开挖范围也无可定位的路段",
            f"bundle {bundle.bundle_id} has neither a footprint nor stretches on known roads",
        )
    return shapely.union_all(parts)


def bundle_subset(
    bundle: Bundle, works: Sequence[Work], roads: Sequence[Road], findings: Sequence[Finding] = ()
) -> tuple[list[Work], list[Road], list[Finding], BaseGeometry]:
    """The bundle's works, the roads near it, the findings on its works, and the geometry to frame.

    Raises
    ------
    InputError
        When a work of the bundle is missing from ``works`` (all missing ids are listed).
    """
    by_id = {w.work_id: w for w in works}
    missing = [wid for wid in bundle.work_ids if wid not in by_id]
    if missing:
        raise InputError(
            f"联合开挖 {bundle.bundle_id} 的工程不存在：{'、'.join(missing)}",
            f"bundle {bundle.bundle_id} names unknown works: {', '.join(missing)}",
        )
    roads_by_id = {r.road_id: r for r in roads}
    focus = _focus(bundle, roads_by_id)
    near = focus.buffer(CONTEXT_M)
    stretch_roads = {st.road_id for st in bundle.stretches}
    sub_roads = [r for r in roads if r.road_id in stretch_roads or r.geometry.intersects(near)]
    members = set(bundle.work_ids)
    sub_findings = [f for f in findings if members.intersection(f.work_ids)]
    return [by_id[w] for w in bundle.work_ids], sub_roads, sub_findings, focus


def bundle_map(
    bundle: Bundle,
    works: Sequence[Work],
    roads: Sequence[Road],
    *,
    findings: Sequence[Finding] = (),
    settings: Settings,
    title: str | None = None,
) -> str:
    """One bundle as an offline HTML map: its works, stretches (开挖路段), footprint and findings.

    Parameters
    ----------
    bundle
        The bundle to draw.
    works, roads
        All works and roads (the bundle's works and the roads near it are picked out).
    findings
        Findings; those concerning the bundle's works are drawn.
    settings
        Working CRS and map settings.
    title
        Page title; default ``"联合开挖 <id> Joint excavation"``.
    """
    sub_works, sub_roads, sub_findings, focus = bundle_subset(bundle, works, roads, findings)
    roads_by_id = {r.road_id: r for r in roads}
    stretches = LayerSpec(
        key="stretches",
        name="开挖路段 Stretches",
        kind="bundle",
        style={"color": BUNDLE_COLOUR, "weight": 16, "opacity": 0.25, "lineCap": "butt"},
    )
    for st in bundle.stretches:
        road = roads_by_id.get(st.road_id)
        geom = stretch_geometry(road, [st.interval]) if road is not None else None
        if geom is None:
            continue
        stretches.features.append(
            Feature(
                geom,
                title=f"{st.road_name} {st.interval.from_m:.0f}–{st.interval.to_m:.0f} m",
                rows=[
                    ("长度 Length", f"{st.interval.length_m:.1f} m"),
                    ("开挖宽度 Width", f"{st.width_m:g} m"),
                    ("面积 Area", f"{st.area_m2:,.1f} m²"),
                    ("路面 Pavement", f"{st.pavement.zh} {st.pavement.en}"),
                ],
            )
        )
    page: LeafletPage = build_review_page(
        works=sub_works,
        roads=sub_roads,
        findings=sub_findings,
        bundles=[bundle],
        settings=settings,
        title=title or f"联合开挖 {bundle.bundle_id} Joint excavation",
        extra_layers=[stretches],
    )
    page.focus_bounds = LeafletPage.bounds_of([focus], settings.working_crs)
    return page.render()


def bundle_png(
    bundle: Bundle,
    works: Sequence[Work],
    roads: Sequence[Road],
    *,
    findings: Sequence[Finding] = (),
    settings: Settings,
    title: str | None = None,
    dpi: float = 150.0,
) -> bytes:
    """The bundle map as PNG bytes (byte-stable), framed on the bundle's footprint."""
    sub_works, sub_roads, sub_findings, focus = bundle_subset(bundle, works, roads, findings)
    return render_png(
        works=sub_works,
        roads=sub_roads,
        findings=sub_findings,
        bundles=[bundle],
        settings=settings,
        title=title or f"联合开挖 {bundle.bundle_id} Joint excavation",
        dpi=dpi,
        focus=focus,
    )

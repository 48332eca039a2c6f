"""The review map for the planning bureau: one offline HTML file (folium + vendored Leaflet).

Layers, bottom to top: the road network (base, no tile server), roads under moratorium, bundle
outlines, finding highlights (重复开挖 in black-edged yellow, same-period stretches in violet) and
the works coloured by utility (CJJ 61). A legend, a title panel with counts, a layer control per
utility and per finding kind, and a date filter that shows what is open on a given day.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from maps._common import (
    BUNDLE_COLOUR,
    FINDING_CASING,
    FINDING_COLOURS,
    MORATORIUM_COLOUR,
    ROAD_COLOUR,
    SHARED_KINDS,
    UTILITY_COLOURS,
    esc,
    finding_geometry,
    finding_html,
    finding_period,
    label,
    moratorium_until,
    work_rows,
)
from maps._leaflet import Feature, LayerSpec, LeafletPage
from maps.timeline import stretches_on_road
from onetrench.domain import Bundle, Finding, FindingKind, Occupancy, Road, RoadClass, UtilityKind, Work
from onetrench.settings import Settings

#: Above this many 重复开挖 findings, their stretches are not labelled permanently (DOM cost).
MAX_PERMANENT_LABELS = 300

DEFAULT_TITLE = "綦江区道路联合开挖审查图 Joint road excavation review map"

ROAD_WEIGHTS: dict[RoadClass, float] = {
    RoadClass.EXPRESSWAY: 7.0,
    RoadClass.ARTERIAL: 6.0,
    RoadClass.SECONDARY: 4.5,
    RoadClass.BRANCH: 3.0,
}

#: Drawing order of finding layers: the rule's two kinds first (under), then the others.
FINDING_ORDER: tuple[FindingKind, ...] = (
    FindingKind.SAME_ROAD_SAME_PERIOD,
    FindingKind.SAME_ROAD_DIFFERENT_PERIOD,
    FindingKind.MORATORIUM,
    FindingKind.CLEARANCE,
    FindingKind.BLACKOUT,
    FindingKind.OFF_ROAD,
    FindingKind.OUTSIDE_DISTRICT,
)


def layer_key_utility(kind: UtilityKind) -> str:
    """Registry key of a utility's layer, e.g. ``"utility:gas"``."""
    return f"utility:{kind.value}"


def layer_key_finding(kind: FindingKind) -> str:
    """Registry key of a finding kind's layer, e.g. ``"finding:same_road_different_period"``."""
    return f"finding:{kind.value}"


def finding_style(kind: FindingKind) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Leaflet path style (and casing style) of a finding highlight."""
    colour = FINDING_COLOURS[kind]
    if kind is FindingKind.SAME_ROAD_DIFFERENT_PERIOD:
        main = {
            "color": colour,
            "weight": 17,
            "opacity": 1.0,
            "lineCap": "butt",
            "fillColor": colour,
            "fillOpacity": 0.6,
        }
        casing_colour = FINDING_CASING[kind] or "#000"
        casing = {"color": casing_colour, "weight": 23, "opacity": 1.0, "lineCap": "butt", "fillOpacity": 0}
        return main, casing
    if kind is FindingKind.SAME_ROAD_SAME_PERIOD:
        return {"color": colour, "weight": 18, "opacity": 0.55, "lineCap": "butt", "fillOpacity": 0.3}, None
    return {"color": colour, "weight": 9, "opacity": 0.6, "dashArray": "4 6", "fillOpacity": 0.25}, None


def work_style(kind: UtilityKind) -> dict[str, Any]:
    """Leaflet path style of a work of utility ``kind``."""
    colour = UTILITY_COLOURS[kind]
    return {"color": colour, "weight": 3.5, "opacity": 0.95, "fillColor": colour, "fillOpacity": 0.35}


def _swatch(style: dict[str, Any], casing: dict[str, Any] | None = None) -> str:
    height = max(2, min(10, int(style.get("weight", 3))))
    dash = "dashed" if style.get("dashArray") else "solid"
    border = f"border-top: {height}px {dash} {style['color']};"
    if casing:
        border += f" outline: 2px solid {casing['color']};"
    return f'<span class="sw" style="{border}"></span>'


def legend_html(utilities: Iterable[UtilityKind], finding_kinds: Iterable[FindingKind]) -> str:
    """The legend (Chinese first, English beside); static labels only, all escaped."""
    rows = ["<h4>管线类别 Utilities (CJJ 61)</h4>"]
    rows += [f"{_swatch(work_style(k))}{esc(k.zh)} {esc(k.en)}<br>" for k in utilities]
    kinds = list(finding_kinds)
    if kinds:
        rows.append("<h4>问题 Findings</h4>")
        for kind in kinds:
            main, casing = finding_style(kind)
            rows.append(f"{_swatch(main, casing)}{esc(kind.zh)} {esc(kind.en)}<br>")
    rows.append("<h4>其他 Other</h4>")
    rows.append(
        _swatch({"color": BUNDLE_COLOUR, "weight": 3, "dashArray": "6 4"}) + "联合开挖范围 bundle footprint<br>"
    )
    rows.append(
        _swatch({"color": MORATORIUM_COLOUR, "weight": 4, "dashArray": "2 5"}) + "道路保护期 road under moratorium<br>"
    )
    rows.append(_swatch({"color": ROAD_COLOUR, "weight": 4}) + "道路中心线 road centreline")
    return "".join(rows)


DATE_FILTER_HTML = (
    "<b>施工日期 Date</b> "
    '<input type="date" id="ot-day"> '
    '<label><input type="checkbox" id="ot-all" checked> 全部 all</label><br>'
    '<input type="range" id="ot-slider" aria-label="日期滑块 date slider">'
    '<div id="ot-status">全部日期 all dates</div>'
)


def _road_rows(road: Road, until: dt.date | None) -> list[tuple[str, str]]:
    rows = [
        ("道路编号 ID", road.road_id),
        ("道路等级 Class", label(road.road_class)),
        ("红线宽度 Width", f"{road.width_m:g} m"),
        ("路面 Pavement", label(road.pavement)),
    ]
    if road.last_works_date is not None:
        kind = label(road.last_works_kind) if road.last_works_kind is not None else ""
        rows.append(("上次施工 Last works", f"{road.last_works_date.isoformat()} {kind}"))
    if until is not None:
        rows.append(("保护期至 Moratorium until", until.isoformat()))
    return rows


def _work_title(work: Work) -> str:
    colour = UTILITY_COLOURS[work.utility]
    return f'<span style="color:{colour}">■</span> {esc(work.name or work.work_id)}'


def _bundle_lines(bundles: Sequence[Bundle]) -> str:
    return "".join(
        f"<div><b>联合开挖 Bundle {esc(b.bundle_id)}</b>：{esc(b.window_start.isoformat())} — "
        f"{esc(b.window_end.isoformat())}，牵头 lead {esc(b.lead_owner)}</div>"
        for b in bundles
    )


def _finding_rows(finding: Finding, works: dict[str, Work]) -> list[tuple[str, str]]:
    rows = []
    measures = "，".join(f"{iv.from_m:.0f}–{iv.to_m:.0f} m" for iv in finding.measures)
    if measures:
        rows.append(("路段 Stretch", f"{finding.road_name or finding.road_id or ''} {measures}"))
    for wid in finding.work_ids:
        w = works.get(wid)
        text = "—" if w is None else f"{w.utility.zh} {w.owner} {w.start.isoformat()} — {w.end.isoformat()}"
        rows.append((f"工程 Work {wid}", text))
    return rows


def twice_labels(findings: Sequence[Finding]) -> dict[int, str]:
    """One permanent label per road dug twice (index of the finding that carries it → text).

    Several 重复开挖 findings on one road (same name; a network may split a road into segments)
    share a label (``×n``; the span of their measures when they are on one segment), so labels
    do not pile up on the same spot.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(findings):
        if f.kind is FindingKind.SAME_ROAD_DIFFERENT_PERIOD:
            groups[f.road_name or f.road_id or f"#{i}"].append(i)
    out = {}
    for idxs in groups.values():
        group = [findings[i] for i in idxs]
        ivs = [iv for f in group for iv in f.measures]
        one_segment = len({f.road_id for f in group}) == 1
        span = f" {min(iv.from_m for iv in ivs):.0f}–{max(iv.to_m for iv in ivs):.0f} m" if ivs and one_segment else ""
        road = group[0].road_name or group[0].road_id or ""
        times = f" ×{len(group)}" if len(group) > 1 else ""
        out[idxs[0]] = f"⚠ 重复开挖 dug twice{times}：{esc(road)}{esc(span)}"
    return out


def _bundle_rows(bundle: Bundle) -> list[tuple[str, str]]:
    s = bundle.savings
    return [
        ("联合开挖 Bundle", bundle.bundle_id + ("（草案 draft）" if bundle.draft else "")),
        ("牵头单位 Lead", f"{bundle.lead_owner}（{bundle.lead_work_id}）"),
        ("联合窗口 Joint window", f"{bundle.window_start.isoformat()} — {bundle.window_end.isoformat()}"),
        ("工程 Works", "、".join(bundle.work_ids)),
        (
            "路段 Stretches",
            "；".join(f"{st.road_name} {st.interval.from_m:.0f}–{st.interval.to_m:.0f} m" for st in bundle.stretches),
        ),
        ("减少开挖 Excavations avoided", str(s.excavations_avoided)),
        ("少开挖路面 Pavement not reopened", f"{s.area_not_reopened_m2:,.0f} m²"),
        ("节约恢复费用 Restoration saved", f"{s.cost_saved_yuan:,.0f} 元"),
    ]


def gantt_rows(
    *,
    roads: Sequence[Road],
    works: Sequence[Work],
    occupancies: Sequence[Occupancy] = (),
    bundles: Sequence[Bundle] = (),
) -> dict[str, list[list[Any]]]:
    """Per road, the rows of its timeline chart (drawn by the page when the road is clicked).

    A row is ``[work_id (escaped), utility, start, end, from_m, to_m, after_start, after_end]``;
    the "after" dates are the joint window of the work's bundle when it differs from its plan
    (else ``None``). Works are placed on roads by ``occupancies`` when given, else by clipping
    them to each road's corridor.
    """
    by_id = {w.work_id: w for w in works}
    window = {wid: (b.window_start, b.window_end) for b in bundles for wid in b.work_ids}
    placed: dict[str, list[tuple[Work, float, float]]] = defaultdict(list)
    if occupancies:
        for occ in occupancies:
            w = by_id.get(occ.work_id)
            if w is not None and occ.intervals:
                placed[occ.road_id].append((w, occ.intervals[0].from_m, occ.intervals[-1].to_m))
    elif works:
        tree = shapely.STRtree([w.geometry for w in works])
        for road in roads:
            corridor = road.geometry.buffer(road.width_m / 2, cap_style="flat")
            for i in sorted(tree.query(corridor, predicate="intersects")):
                ivs = stretches_on_road(works[i], road)
                if ivs:
                    placed[road.road_id].append((works[i], ivs[0].from_m, ivs[-1].to_m))
    out: dict[str, list[list[Any]]] = {}
    for road_id, items in placed.items():
        rows = []
        for w, a, b in sorted(items, key=lambda t: (t[0].start, t[0].work_id)):
            after = window.get(w.work_id)
            if after == (w.start, w.end):
                after = None
            rows.append([
                esc(w.work_id), w.utility.value, w.start.isoformat(), w.end.isoformat(), round(a), round(b),
                after[0].isoformat() if after else None, after[1].isoformat() if after else None,
            ])  # fmt: skip
        out[road_id] = rows
    return out


def build_review_page(
    *,
    works: Sequence[Work],
    roads: Sequence[Road],
    findings: Sequence[Finding],
    bundles: Sequence[Bundle],
    settings: Settings,
    title: str,
    as_of: dt.date | None = None,
    extra_layers: Sequence[LayerSpec] = (),
    occupancies: Sequence[Occupancy] = (),
) -> LeafletPage:
    """Build (but do not render) the review page; :func:`maps.bundle.bundle_map` reuses it."""
    page = LeafletPage(settings=settings, title=title)
    works_by_id = {w.work_id: w for w in works}
    roads_by_id = {r.road_id: r for r in roads}
    # Each finding's HTML block is stored once in the page; features cite it by index.
    findings_by_work: dict[str, list[int]] = defaultdict(list)
    findings_by_road: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(findings):
        page.blocks.append(finding_html(f))
        for wid in f.work_ids:
            findings_by_work[wid].append(i)
        if f.road_id:
            findings_by_road[f.road_id].append(i)
    bundles_by_work: dict[str, list[Bundle]] = defaultdict(list)
    for b in bundles:
        for wid in b.work_ids:
            bundles_by_work[wid].append(b)

    if as_of is None:
        as_of = min((w.start for w in works), default=None)

    # 1. Road network (the base layer: no tile server needed).
    road_layer = LayerSpec(
        key="roads",
        name="道路 Roads",
        kind="base",
        style={"color": ROAD_COLOUR, "weight": 3, "opacity": 0.9, "lineCap": "round"},
    )
    moratorium_layer = LayerSpec(
        key="moratorium",
        name="道路保护期 Roads under moratorium",
        style={"color": MORATORIUM_COLOUR, "weight": 4, "opacity": 0.9, "dashArray": "2 7", "lineCap": "butt"},
    )
    charts = gantt_rows(roads=roads, works=works, occupancies=occupancies, bundles=bundles)
    for road in roads:
        until = moratorium_until(road, settings)
        road_title = f"{esc(road.name)} <i>{esc(road.road_id)}</i>"
        rows = _road_rows(road, until)
        refs = findings_by_road.get(road.road_id, [])
        road_layer.features.append(
            Feature(
                road.geometry,
                title=road_title,
                rows=rows,
                refs=refs,
                gantt=charts.get(road.road_id, ()),
                weight=ROAD_WEIGHTS.get(road.road_class, 3.0),
            )
        )
        if until is not None and road.last_works_date is not None and (as_of is None or until >= as_of):
            moratorium_layer.features.append(
                Feature(road.geometry, title=road_title, rows=rows, refs=refs, start=road.last_works_date, end=until)
            )
    page.add_layer(road_layer)
    page.add_layer(moratorium_layer)

    # 2. Bundles, outlined.
    bundle_layer = LayerSpec(
        key="bundles",
        name="联合开挖 Bundles",
        kind="bundle",
        style={"color": BUNDLE_COLOUR, "weight": 2.5, "opacity": 0.95, "dashArray": "6 4", "fillOpacity": 0.06},
    )
    for b in bundles:
        geom: BaseGeometry | None = b.footprint if b.footprint is not None and not b.footprint.is_empty else None
        if geom is None:
            continue
        bundle_layer.features.append(
            Feature(geom, rows=_bundle_rows(b), refs=(), start=b.window_start, end=b.window_end)
        )
    page.add_layer(bundle_layer)
    for extra in extra_layers:
        page.add_layer(extra)

    # 3. Findings, highlighted under the works; 重复开挖 stretches also get a permanent label.
    n_twice = sum(1 for f in findings if f.kind is FindingKind.SAME_ROAD_DIFFERENT_PERIOD)
    labels = twice_labels(findings)
    by_kind: dict[FindingKind, LayerSpec] = {}
    for i, f in enumerate(findings):
        fgeom = finding_geometry(f, roads_by_id)
        if fgeom is None or fgeom.is_empty:
            continue
        if f.kind not in by_kind:
            main, casing = finding_style(f.kind)
            by_kind[f.kind] = LayerSpec(
                key=layer_key_finding(f.kind),
                name=f"{f.kind.zh} {f.kind.en}",
                kind="finding",
                style=main,
                casing=casing,
                point_radius=9.0,
                permanent_labels=f.kind is FindingKind.SAME_ROAD_DIFFERENT_PERIOD
                and len(labels) <= MAX_PERMANENT_LABELS,
            )
        period = finding_period(f, works_by_id)
        by_kind[f.kind].features.append(
            Feature(
                fgeom,
                extra=page.blocks[i],
                rows=_finding_rows(f, works_by_id),
                start=period.start if period else None,
                end=period.end if period else None,
                label=labels.get(i, ""),
            )
        )
    finding_kinds = [k for k in FINDING_ORDER if k in by_kind]
    for fkind in finding_kinds:
        page.add_layer(by_kind[fkind])

    # 4. Works by utility, on top.
    utilities = [k for k in UtilityKind if any(w.utility is k for w in works)]
    for kind in utilities:
        spec = LayerSpec(key=layer_key_utility(kind), name=f"{kind.zh} {kind.en}", kind="work", style=work_style(kind))
        for w in works:
            if w.utility is kind:
                spec.features.append(
                    Feature(
                        w.geometry,
                        title=_work_title(w),
                        rows=work_rows(w),
                        extra=_bundle_lines(bundles_by_work.get(w.work_id, [])),
                        refs=findings_by_work.get(w.work_id, []),
                        start=w.start,
                        end=w.end,
                    )
                )
        page.add_layer(spec)

    # 5. Panels: title with counts, legend, date filter.
    n_joint = sum(1 for f in findings if f.kind is FindingKind.SAME_ROAD_SAME_PERIOD)
    warn = (
        f'<span class="ot-warn">重复开挖 {n_twice} 处 dug twice: {n_twice}</span>'
        if n_twice
        else "无重复开挖 no road dug twice"
    )
    summary = (
        f"工程 {len(works)} 项 works · 道路 {len(roads)} 条 roads · {warn} · "
        f"同期可联合 {n_joint} 处 same-period: {n_joint} · 联合开挖 {len(bundles)} 个 bundles"
    )
    page.add_panel("topleft", "ot-title", f'<h1>{esc(title)}</h1><div class="ot-summary">{summary}</div>')
    page.add_panel(
        "bottomleft",
        "ot-legend",
        legend_html(UtilityKind, [k for k in FINDING_ORDER if k in SHARED_KINDS or k in by_kind]),
    )
    page.config = {
        "colours": {k.value: UTILITY_COLOURS[k] for k in UtilityKind},
        "utilities": {k.value: k.zh for k in UtilityKind},
    }
    if works:
        page.config |= {
            "min": min(w.start for w in works).isoformat(),
            "max": max(w.end for w in works).isoformat(),
            "blackouts": [
                {"s": b.start.isoformat(), "e": b.end.isoformat(), "zh": b.name_zh, "en": b.name_en}
                for b in settings.blackouts
                if not b.road_ids
            ],
        }
        page.date_filter_html = DATE_FILTER_HTML
    return page


def review_map(
    *,
    works: Sequence[Work],
    roads: Sequence[Road],
    findings: Sequence[Finding] = (),
    bundles: Sequence[Bundle] = (),
    settings: Settings,
    title: str = DEFAULT_TITLE,
    as_of: dt.date | None = None,
    occupancies: Sequence[Occupancy] = (),
) -> str:
    """Draw the review map as one self-contained, offline HTML document.

    Parameters
    ----------
    works, roads
        Domain objects in the working CRS (``settings.working_crs``).
    findings, bundles
        Scheduling output; same-road findings are drawn as highlighted stretches (their own
        geometry, else the road cut at their measures).
    settings
        Working CRS, moratorium years, blackouts and the optional tile layer.
    title
        Page title (escaped).
    as_of
        Roads whose protection period ends before this date are not marked; default the
        earliest planned start.
    occupancies
        Detector output; places works on roads for the per-road timeline shown in each road's
        popup (default: works clipped to each road's corridor).

    Returns
    -------
    str
        The HTML document. It loads nothing from the network unless ``settings.map_tile_url`` is set.

    Examples
    --------
    >>> from onetrench.settings import Settings
    >>> html = review_map(works=[], roads=[], settings=Settings())
    >>> html.startswith("<!DOCTYPE html>") and "cdn." not in html
    True
    """
    page = build_review_page(
        works=works,
        roads=roads,
        findings=findings,
        bundles=bundles,
        settings=settings,
        title=title,
        as_of=as_of,
        occupancies=occupancies,
    )
    return page.render()

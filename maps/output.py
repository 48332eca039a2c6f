"""Write every map of a plan into a directory (for ``onetrench plan … --out DIR``).

Layout::

    DIR/review.html              offline review map
    DIR/review.png               the same layers, static
    DIR/bundles/<id>.html|.png   one map per bundle
    DIR/timelines/<road>.html|.png  per-road timeline, for roads with a same-road finding
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import shapely

from maps.bundle import bundle_map, bundle_png
from maps.review import review_map
from maps.static import render_png
from maps.timeline import road_timeline, road_timeline_png
from onetrench.domain import Bundle, Finding, Occupancy, Road, Work
from onetrench.settings import Settings

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(text: str) -> str:
    """A file-name-safe version of an id (anything unusual becomes ``_``).

    Examples
    --------
    >>> safe_name("R1/东 2")
    'R1_2'
    """
    return _SAFE.sub("_", text).strip("_") or "_"


def write_maps(
    out_dir: Path,
    *,
    works: Sequence[Work],
    roads: Sequence[Road],
    findings: Sequence[Finding] = (),
    bundles: Sequence[Bundle] = (),
    occupancies: Sequence[Occupancy] = (),
    settings: Settings,
    bundle_maps: bool = True,
    timelines: bool = True,
    max_items: int = 200,
) -> list[Path]:
    """Write the review map, its PNG, bundle maps and per-road timelines; return the paths written.

    Parameters
    ----------
    out_dir
        Target directory (created).
    works, roads, findings, bundles, occupancies
        The plan, working CRS. ``occupancies`` (detector output), when given, place works on
        roads in the timelines; otherwise works are clipped to each road's corridor.
    settings
        Working CRS, moratoria, blackouts.
    bundle_maps, timelines
        Whether to write the per-bundle maps and the per-road timelines.
    max_items
        At most this many bundles and this many roads get their own files (the first by id).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(path: Path, data: str | bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        written.append(path)

    put(
        out_dir / "review.html",
        review_map(works=works, roads=roads, findings=findings, bundles=bundles, settings=settings),
    )
    if works or roads:
        put(
            out_dir / "review.png",
            render_png(works=works, roads=roads, findings=findings, bundles=bundles, settings=settings),
        )
    if bundle_maps:
        for b in sorted(bundles, key=lambda b: b.bundle_id)[:max_items]:
            name = safe_name(b.bundle_id)
            put(out_dir / "bundles" / f"{name}.html", bundle_map(b, works, roads, findings=findings, settings=settings))
            put(out_dir / "bundles" / f"{name}.png", bundle_png(b, works, roads, findings=findings, settings=settings))
    if timelines:
        shared_roads = sorted({f.road_id for f in findings if f.road_id and f.work_ids and len(f.work_ids) > 1})
        roads_by_id = {r.road_id: r for r in roads}
        tree = shapely.STRtree([w.geometry for w in works]) if works else None
        for road_id in shared_roads[:max_items]:
            road = roads_by_id.get(road_id)
            if road is None or tree is None:
                continue
            corridor = road.geometry.buffer(road.width_m / 2, cap_style="flat")
            near = [works[i] for i in sorted(tree.query(corridor, predicate="intersects"))]
            road_occ = [o for o in occupancies if o.road_id == road_id]
            on_road = [f for f in findings if f.road_id == road_id]
            name = safe_name(road_id)
            html = road_timeline(road, near, settings=settings, occupancies=road_occ, findings=on_road, bundles=bundles)
            png = road_timeline_png(
                road, near, settings=settings, occupancies=road_occ, findings=on_road, bundles=bundles
            )
            put(out_dir / "timelines" / f"{name}.html", html)
            put(out_dir / "timelines" / f"{name}.png", png)
    return sorted(written)

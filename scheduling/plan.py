"""The whole scheduling step: findings, optional optimisation, bundles, schedule and savings.

:func:`run_plan` is what ``onetrench plan`` calls; :func:`plan_to_json` and
:func:`write_plan_outputs` render its result (geometries reprojected to the exchange CRS,
EPSG:4490 by default, lon/lat order).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from onetrench.domain import Bundle, Finding, Occupancy, Road, Savings, Work
from onetrench.settings import Settings
from scheduling.bundles import build_bundles
from scheduling.findings import evaluate
from scheduling.optimise import OptimiseResult, optimise_plan
from scheduling.savings import COUNTERFACTUAL_EN, COUNTERFACTUAL_ZH, plan_savings, savings_to_dict

__all__ = ["PlanResult", "ScheduleRow", "plan_to_json", "run_plan", "write_plan_outputs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleRow:
    """One work's planned and proposed dates (proposed = planned unless optimised)."""

    work_id: str
    utility: str
    owner: str
    planned_start: dt.date
    planned_end: dt.date
    proposed_start: dt.date
    proposed_end: dt.date
    shift_days: int
    bundle_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanResult:
    """Everything the scheduling step produces for one plan.

    ``bundles`` hold under the proposed schedule (the optimised one when ``optimise`` was
    asked, otherwise the planned dates); ``bundles_before`` under the planned dates.
    """

    findings: list[Finding]
    bundles: list[Bundle]
    bundles_before: list[Bundle]
    schedule: list[ScheduleRow]
    savings_before: Savings
    savings_after: Savings | None
    optimiser: OptimiseResult | None
    working_crs: str
    exchange_crs: str


def run_plan(
    works: Sequence[Work],
    roads: Sequence[Road],
    detection_like: Any,
    *,
    settings: Settings,
    optimise: bool = False,
    time_limit_s: float = 10.0,
    today: dt.date | None = None,
    max_open_arterial: int | None = None,
    no_adjacent_arterial: bool = False,
) -> PlanResult:
    """Run the rule over a plan.

    Parameters
    ----------
    works, roads
        The plan and the road network, working CRS.
    detection_like
        Any object with attributes ``occupancy``, ``shared`` and ``off_road`` (and optionally
        ``outside_district``), such as the result of ``geo.overlap.detect``.
    settings
        All thresholds.
    optimise
        Also choose dates with CP-SAT (:func:`scheduling.optimise.optimise_plan`).
    time_limit_s
        The optimiser's time limit.
    today
        Date of the check (moratorium findings record it).
    max_open_arterial, no_adjacent_arterial
        Optional limits of the optimiser (see :func:`scheduling.optimise.optimise_plan`).
    """
    occupancy: list[Occupancy] = list(detection_like.occupancy)
    shared = list(detection_like.shared)
    findings = evaluate(
        works,
        roads,
        occupancy,
        shared,
        settings=settings,
        today=today,
        off_road=getattr(detection_like, "off_road", ()) or (),
        outside_district=getattr(detection_like, "outside_district", ()) or (),
    )
    occ_of: dict[str, list[Occupancy]] = defaultdict(list)
    for o in occupancy:
        occ_of[o.work_id].append(o)
    before = build_bundles(works, roads, occupancy, shared, settings=settings, findings=findings)
    savings_before = plan_savings(works, occ_of, before)
    opt: OptimiseResult | None = None
    bundles = before
    savings_after: Savings | None = None
    proposed = {w.work_id: w.start for w in works}
    if optimise:
        opt = optimise_plan(
            works,
            roads,
            occupancy,
            shared,
            settings=settings,
            time_limit_s=time_limit_s,
            max_open_arterial=max_open_arterial,
            no_adjacent_arterial=no_adjacent_arterial,
        )
        proposed.update(opt.starts)
        schedule_map = {
            w.work_id: (proposed[w.work_id], proposed[w.work_id] + dt.timedelta(days=w.duration_days - 1))
            for w in works
        }
        bundles = build_bundles(
            works, roads, occupancy, shared, settings=settings, schedule=schedule_map, findings=findings
        )
        savings_after = plan_savings(works, occ_of, bundles)
    bundle_of = {wid: b.bundle_id for b in bundles for wid in b.work_ids}
    rows = []
    for w in sorted(works, key=lambda w: w.work_id):
        ps = proposed[w.work_id]
        rows.append(
            ScheduleRow(
                work_id=w.work_id,
                utility=w.utility.value,
                owner=w.owner,
                planned_start=w.start,
                planned_end=w.end,
                proposed_start=ps,
                proposed_end=ps + dt.timedelta(days=w.duration_days - 1),
                shift_days=(ps - w.start).days,
                bundle_id=bundle_of.get(w.work_id),
            )
        )
    return PlanResult(
        findings=findings,
        bundles=bundles,
        bundles_before=before,
        schedule=rows,
        savings_before=savings_before,
        savings_after=savings_after,
        optimiser=opt,
        working_crs=settings.working_crs,
        exchange_crs=settings.exchange_crs,
    )


# --------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------


class _Reproject:
    def __init__(self, src: str, dst: str) -> None:
        self.tr = Transformer.from_crs(src, dst, always_xy=True)

    def __call__(self, geom: BaseGeometry | None) -> dict[str, Any] | None:
        if geom is None or geom.is_empty:
            return None

        def fn(xy: np.ndarray) -> np.ndarray:
            x, y = self.tr.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        return dict(mapping(shapely.transform(geom, fn)))


def _finding_props(f: Finding) -> dict[str, Any]:
    return {
        "kind": f.kind.value,
        "kind_zh": f.kind.zh,
        "severity": f.severity.value,
        "severity_zh": f.severity.zh,
        "work_ids": list(f.work_ids),
        "road_id": f.road_id,
        "road_name": f.road_name,
        "measures": [[round(iv.from_m, 2), round(iv.to_m, 2)] for iv in f.measures],
        "zh": f.zh,
        "en": f.en,
        "fix_zh": f.fix_zh,
        "fix_en": f.fix_en,
        "data": f.data,
    }


def _bundle_props(b: Bundle) -> dict[str, Any]:
    return {
        "bundle_id": b.bundle_id,
        "work_ids": list(b.work_ids),
        "lead_work_id": b.lead_work_id,
        "lead_owner": b.lead_owner,
        "window_start": b.window_start.isoformat(),
        "window_end": b.window_end.isoformat(),
        "draft": b.draft,
        "stretches": [
            {
                "road_id": s.road_id,
                "road_name": s.road_name,
                "from_m": round(s.interval.from_m, 2),
                "to_m": round(s.interval.to_m, 2),
                "length_m": round(s.interval.length_m, 2),
                "width_m": round(s.width_m, 3),
                "area_m2": round(s.area_m2, 2),
                "pavement": s.pavement.value,
            }
            for s in b.stretches
        ],
        "savings": savings_to_dict(b.savings),
        "open_findings": [
            {"kind": f.kind.value, "severity": f.severity.value, "work_ids": list(f.work_ids)} for f in b.open_findings
        ],
    }


def _schedule_dict(r: ScheduleRow) -> dict[str, Any]:
    return {
        "work_id": r.work_id,
        "utility": r.utility,
        "owner": r.owner,
        "planned_start": r.planned_start.isoformat(),
        "planned_end": r.planned_end.isoformat(),
        "proposed_start": r.proposed_start.isoformat(),
        "proposed_end": r.proposed_end.isoformat(),
        "shift_days": r.shift_days,
        "bundle_id": r.bundle_id,
    }


def _savings_block(result: PlanResult) -> dict[str, Any]:
    opt = result.optimiser
    return {
        "counterfactual_zh": COUNTERFACTUAL_ZH,
        "counterfactual_en": COUNTERFACTUAL_EN,
        "currency": "CNY",
        "before": savings_to_dict(result.savings_before),
        "after": savings_to_dict(result.savings_after) if result.savings_after is not None else None,
        "optimiser": None
        if opt is None
        else {
            "status": opt.status,
            "excavations_before": opt.excavations_before,
            "excavations_after": opt.excavations_after,
            "excavations_lower_bound": opt.excavations_bound,
            "total_shift_days": opt.total_shift_days,
            "gap": round(opt.gap, 6),
            "wall_time_s": round(opt.wall_time_s, 3),
            "components": opt.components,
            "models": opt.models,
        },
    }


def plan_to_json(result: PlanResult) -> dict[str, Any]:
    """JSON-ready dict with keys ``findings``, ``bundles``, ``schedule`` and ``savings``.

    Geometries (``geometry`` of findings, ``footprint`` of bundles) are GeoJSON in the
    exchange CRS (lon/lat).
    """
    rp = _Reproject(result.working_crs, result.exchange_crs)
    return {
        "findings": [_finding_props(f) | {"geometry": rp(f.geometry)} for f in result.findings],
        "bundles": [_bundle_props(b) | {"footprint": rp(b.footprint)} for b in result.bundles],
        "schedule": [_schedule_dict(r) for r in result.schedule],
        "savings": _savings_block(result),
    }


_CSV_HEADER = [
    "工程编号 work_id",
    "管线类别 utility",
    "建设单位 owner",
    "计划开工 planned_start",
    "计划完工 planned_end",
    "建议开工 proposed_start",
    "建议完工 proposed_end",
    "调整天数 shift_days",
    "联合开挖包 bundle_id",
]


#: Columns holding user text (the others are dates and integers, written as they are).
_CSV_TEXT = frozenset({"work_id", "utility", "owner", "bundle_id"})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: object) -> str:
    """Text for a CSV cell that a spreadsheet will show, never run: a leading ``= + - @`` gets ``'``.

    Examples
    --------
    >>> csv_text("=1+1"), csv_text("-2"), csv_text("渝綦水务")
    ("'=1+1", "'-2", '渝綦水务')
    """
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_plan_outputs(result: PlanResult, out_dir: str | Path) -> dict[str, Path]:
    """Write findings.geojson, bundles.geojson (exchange CRS), schedule.csv (UTF-8 with BOM) and savings.json.

    Text cells of schedule.csv that start like a formula are prefixed with ``'`` (:func:`csv_text`).

    Returns
    -------
    dict
        File name → path written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rp = _Reproject(result.working_crs, result.exchange_crs)
    paths = {name: out / name for name in ("findings.geojson", "bundles.geojson", "schedule.csv", "savings.json")}
    findings_fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": _finding_props(f), "geometry": rp(f.geometry)} for f in result.findings
        ],
    }
    bundles_fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": b.bundle_id, "properties": _bundle_props(b), "geometry": rp(b.footprint)}
            for b in result.bundles
        ],
    }
    for name, doc in (("findings.geojson", findings_fc), ("bundles.geojson", bundles_fc)):
        paths[name].write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    with paths["schedule.csv"].open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(_CSV_HEADER)
        for r in result.schedule:
            d = _schedule_dict(r)
            cells = []
            for column in _CSV_HEADER:
                key = column.split(" ")[1]
                value = d[key]
                cells.append("" if value is None else csv_text(value) if key in _CSV_TEXT else value)
            writer.writerow(cells)
    paths["savings.json"].write_text(json.dumps(_savings_block(result), ensure_ascii=False, indent=1), encoding="utf-8")
    return paths

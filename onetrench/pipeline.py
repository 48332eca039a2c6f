"""The whole data flow in one call: route files → works → roads → detector → plan → outputs.

This is what ``onetrench plan`` and ``onetrench demo`` run; the service (api/) runs the same
steps incrementally against its database. Nothing here knows about HTTP or SQL.

Examples
--------
>>> from onetrench.settings import PROJECT_ROOT
>>> run = run_pipeline(sorted((PROJECT_ROOT / "data" / "routes").glob("*.geojson")),
...                    roads=PROJECT_ROOT / "data" / "roads.geojson")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.intake import IntakeResult, read_many
from geo.overlap import DetectionResult, detect, detect_without_roads, detection_to_json
from geo.roads import RoadNetwork, read_roads
from geo.validate import outside_district
from onetrench.domain import Bundle, Road, Work
from onetrench.errors import InputError
from onetrench.settings import Settings, get_settings
from scheduling.plan import PlanResult, plan_to_json, run_plan, write_plan_outputs


@dataclass(frozen=True, slots=True)
class RouteFile:
    """One route file with what the reader needs beyond the file itself.

    Parameters
    ----------
    path
        The file.
    crs
        CRS for a file that declares none (``EPSG:xxxx``, ``gcj02``, ``bd09``).
    attributes
        Attribute table (CSV) of a CAD drawing, joined on 工程编号 or 句柄.
    """

    path: Path
    crs: str | None = None
    attributes: Path | None = None


def load_uploads(path: str | Path) -> list[RouteFile]:
    """Read an uploads list: a JSON array of ``{"file", "crs"?, "attributes"?}``, paths relative to it.

    Raises
    ------
    InputError
        When the list is not valid JSON or an entry lacks ``file``.

    Examples
    --------
    >>> from onetrench.settings import PROJECT_ROOT
    >>> [r.path.name for r in load_uploads(PROJECT_ROOT / "data" / "uploads.json")][:2]
    ['power_guowang.geojson', 'gas_ganghua.zip']
    """
    source = Path(path)
    try:
        entries = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"上传清单 {source.name} 无法读取：{exc}", f"cannot read the uploads list {source.name}: {exc}"
        ) from exc
    if not isinstance(entries, list):
        raise InputError(
            f"上传清单 {source.name} 应为 JSON 数组", f"the uploads list {source.name} must be a JSON array"
        )
    routes: list[RouteFile] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            raise InputError(
                f"上传清单 {source.name} 第 {index + 1} 项缺少 file",
                f"entry {index + 1} of the uploads list {source.name} has no file",
            )
        attributes = entry.get("attributes")
        routes.append(
            RouteFile(
                path=source.parent / entry["file"],
                crs=entry.get("crs"),
                attributes=source.parent / attributes if isinstance(attributes, str) else None,
            )
        )
    return routes


@dataclass(frozen=True, slots=True)
class _DetectionWithDistrict:
    """The detector's result plus the parts outside the district, as scheduling reads it."""

    occupancy: Sequence[Any]
    shared: Sequence[Any]
    off_road: Sequence[Any]
    outside_district: Sequence[Any]


@dataclass(frozen=True, slots=True)
class PipelineRun:
    """Everything one run produced, step by step."""

    intake: IntakeResult
    network: RoadNetwork | None
    detection: DetectionResult
    plan: PlanResult
    settings: Settings

    @property
    def works(self) -> list[Work]:
        """The valid works that went into the plan."""
        return list(self.intake.works)

    @property
    def roads(self) -> list[Road]:
        """The road network (empty without one)."""
        return list(self.network.roads) if self.network is not None else []


def run_pipeline(
    route_files: Iterable[RouteFile | str | Path],
    *,
    roads: str | Path | None,
    crs: str | None = None,
    settings: Settings | None = None,
    optimise: bool = False,
    time_limit_s: float = 10.0,
    today: dt.date | None = None,
) -> PipelineRun:
    """Read routes and roads, detect shared stretches and run the rule.

    Parameters
    ----------
    route_files
        Route files of any supported format, as paths or :class:`RouteFile` with per-file options.
    roads
        Road network file; ``None`` compares the works' trench footprints directly.
    crs
        CRS for route files that carry none and have no CRS of their own in ``route_files``.
    optimise
        Run the plan-wide date optimiser (CP-SAT) within ``time_limit_s``.
    today
        Date of the check (moratoria are judged on the works' dates; this is recorded).

    Raises
    ------
    InputError
        When no valid work remains, or the road network is invalid.
    """
    settings = settings or get_settings()
    routes = [r if isinstance(r, RouteFile) else RouteFile(path=Path(r)) for r in route_files]
    intake = read_many(
        [r.path for r in routes],
        crs={str(r.path): file_crs for r in routes if (file_crs := r.crs or crs) is not None},
        attributes={str(r.path): r.attributes for r in routes if r.attributes is not None},
        settings=settings,
    )
    if not intake.works:
        raise InputError(
            "没有可用的工程：所有要素均未通过校验",
            "no valid work: every feature failed validation",
            details=intake.errors,
        )
    network = read_roads(roads, settings=settings) if roads is not None else None
    if network is not None:
        detection = detect(intake.works, network, settings=settings)
    else:
        detection = detect_without_roads(intake.works, settings=settings)
    checked = _DetectionWithDistrict(
        occupancy=detection.occupancy,
        shared=detection.shared,
        off_road=detection.off_road,
        outside_district=outside_district(intake.works, settings=settings),
    )
    plan = run_plan(
        intake.works,
        network.roads if network is not None else [],
        checked,
        settings=settings,
        optimise=optimise,
        time_limit_s=time_limit_s,
        today=today,
    )
    return PipelineRun(intake=intake, network=network, detection=detection, plan=plan, settings=settings)


def run_to_json(run: PipelineRun) -> dict[str, Any]:
    """The JSON answer of ``onetrench plan --json``: detection, findings, bundles, schedule, savings."""
    out: dict[str, Any] = detection_to_json(run.detection)
    out.update(plan_to_json(run.plan))
    intake = run.intake.to_json()
    out["errors"] = intake["errors"]
    out["warnings"] = intake["warnings"]
    return out


def write_outputs(
    run: PipelineRun, out_dir: Path, *, with_maps: bool = True, with_packages: bool = False
) -> list[Path]:
    """Write the plan files, the review map and (optionally) one permit package per bundle.

    Returns the paths written, sorted.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    write_plan_outputs(run.plan, out_dir)
    (out_dir / "detection.json").write_text(
        json.dumps(detection_to_json(run.detection), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    if with_maps:
        _write_maps(run, out_dir)
    if with_packages:
        _write_packages(run, out_dir / "packages", run.plan.bundles)
    return sorted(p for p in out_dir.rglob("*") if p.is_file())


def _write_maps(run: PipelineRun, out_dir: Path) -> None:
    from maps.output import write_maps

    write_maps(
        out_dir,
        works=run.works,
        roads=run.roads,
        findings=run.plan.findings,
        bundles=run.plan.bundles,
        occupancies=run.detection.occupancy,
        settings=run.settings,
    )


def bundle_attachments(run: PipelineRun, bundle: Bundle) -> dict[str, bytes]:
    """The bundle's offline map (``map.html``) and its picture (``map.png``) for the permit package."""
    from maps.bundle import bundle_map, bundle_png

    args = (bundle, run.works, run.roads)
    return {
        "map.html": bundle_map(*args, findings=run.plan.findings, settings=run.settings).encode("utf-8"),
        "map.png": bundle_png(*args, findings=run.plan.findings, settings=run.settings),
    }


def sample_project_code(bundle: Bundle, serial: int) -> str:
    """A sample 投资项目统一代码 for a bundle (real codes are issued by the investment platform).

    Format GB/T 40058 ``YYYY-500110-48-01-NNNNNN``: year of the joint window, 綦江区, industry 48
    (civil engineering construction), type 01, serial.
    """
    return f"{bundle.window_start.year}-500110-48-01-{serial:06d}"


def _write_packages(run: PipelineRun, out_dir: Path, bundles: Sequence[Bundle]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    from permits.manifest import applicants_from_works
    from permits.package import build_package

    by_id = {w.work_id: w for w in run.works}
    for serial, bundle in enumerate(bundles, start=1):
        members = [by_id[work_id] for work_id in bundle.work_ids]
        data = build_package(
            bundle,
            works=run.works,
            roads=run.roads,
            project_code=sample_project_code(bundle, serial),
            applicants=applicants_from_works(members),
            findings=run.plan.findings,
            settings=run.settings,
            attachments=bundle_attachments(run, bundle),
            prepared_on=bundle.window_start,
        )
        (out_dir / f"{bundle.bundle_id}.zip").write_bytes(data)

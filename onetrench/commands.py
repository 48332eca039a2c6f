"""Commands ``plan``, ``package build|inspect`` and ``demo`` of the ``onetrench`` CLI.

They run :mod:`onetrench.pipeline` and print in Chinese first, English beside. Registered on
the main app by :func:`register`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from onetrench.errors import InputError
from onetrench.pipeline import (
    PipelineRun,
    RouteFile,
    bundle_attachments,
    load_uploads,
    run_pipeline,
    run_to_json,
    sample_project_code,
    write_outputs,
)
from onetrench.settings import PROJECT_ROOT, get_settings

package_app = typer.Typer(help="渝快办联合审批材料包 / permit packages for 渝快办", no_args_is_help=True)

FilesArg = Annotated[
    list[Path] | None, typer.Argument(help="路由文件 / route files (GeoJSON, zip, gpkg, kml, kmz, dxf, csv)")
]
RoadsOpt = Annotated[Path | None, typer.Option("--roads", help="道路中心线 / road network (GeoJSON, gpkg, zip)")]
CrsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--crs",
        help="坐标系 / CRS for files that declare none: CRS for all, or FILE=CRS per file "
        "(EPSG:xxxx | gcj02 | bd09), repeatable",
    ),
]
AttrsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--attributes", help="属性表 / attribute table for a DXF: DXF=CSV (joined on 工程编号 or 句柄), repeatable"
    ),
]
UploadsOpt = Annotated[
    Path | None, typer.Option("--uploads", help="上传清单 / uploads list (JSON: file, crs, attributes per file)")
]


def _route_files(
    files: list[Path] | None, crs: list[str] | None, attributes: list[str] | None, uploads: Path | None
) -> list[RouteFile]:
    routes = load_uploads(uploads) if uploads is not None else []
    default_crs: str | None = None
    per_file: dict[str, str] = {}
    for item in crs or []:
        name, sep, value = item.rpartition("=")
        if sep and name and not name.upper().startswith("EPSG"):
            per_file[name] = value
        else:
            default_crs = item
    joins: dict[str, Path] = {}
    for item in attributes or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--attributes 应为 DXF=CSV / --attributes takes DXF=CSV: {item}")
        joins[Path(name).name] = Path(value)
    for path in files or []:
        routes.append(
            RouteFile(
                path=path,
                crs=per_file.get(path.name, per_file.get(str(path), default_crs)),
                attributes=joins.get(path.name),
            )
        )
    if not routes:
        raise typer.BadParameter("请给出路由文件或 --uploads / give route files or --uploads")
    return routes


def _summary(run: PipelineRun) -> str:
    plan = run.plan
    kinds: dict[str, int] = {}
    for finding in plan.findings:
        key = f"{finding.kind.zh} {finding.kind.value}"
        kinds[key] = kinds.get(key, 0) + 1
    before, after = plan.savings_before, plan.savings_after or plan.savings_before
    lines = [
        f"工程 works: {len(run.works)}（未通过校验 invalid features: {len(run.intake.errors)}）",
        f"道路 roads: {len(run.roads)}；共用路段 shared stretches: {len(run.detection.shared)}",
        "发现 findings: " + ("；".join(f"{k} ×{v}" for k, v in sorted(kinds.items())) or "无 none"),
        f"联合开挖 bundles: {len(plan.bundles)}",
        f"减少开挖 excavations avoided: {after.excavations_avoided}（按计划日期 with planned dates: "
        f"{before.excavations_avoided}）",
        f"少开挖路面 pavement not reopened: {after.area_not_reopened_m2:,.0f} m²；"
        f"节约恢复费用 restoration cost saved: {after.cost_saved_yuan:,.0f} 元",
    ]
    return "\n".join(lines)


def plan(  # noqa: PLR0917 - typer maps parameters to options
    files: FilesArg = None,
    roads: RoadsOpt = None,
    crs: CrsOpt = None,
    attributes: AttrsOpt = None,
    uploads: UploadsOpt = None,
    optimise: Annotated[bool, typer.Option("--optimise", help="优化施工日期 / optimise dates (CP-SAT)")] = False,
    time_limit: Annotated[float, typer.Option("--time-limit", help="优化时限 (s) / optimiser time limit")] = 10.0,
    out: Annotated[Path | None, typer.Option("--out", help="输出目录 / output folder")] = None,
    packages: Annotated[
        bool, typer.Option("--packages", help="同时生成审批材料包 / also build permit packages")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
) -> None:
    """Run 同一路段、同一时段 over route files / 对路由文件运行“同一路段、同一时段”规则.

    Prints findings, bundles, schedule and savings; ``--out`` writes findings.geojson,
    bundles.geojson, schedule.csv, savings.json, review.html and the PNGs.
    """
    routes = _route_files(files, crs, attributes, uploads)
    run = run_pipeline(routes, roads=roads, optimise=optimise, time_limit_s=time_limit)
    if out is not None:
        write_outputs(run, out, with_packages=packages)
    if as_json:
        typer.echo(json.dumps(run_to_json(run), ensure_ascii=False, indent=1))
    else:
        typer.echo(_summary(run))
        if out is not None:
            typer.echo(f"输出 output: {out.resolve()}")


@package_app.command("build")
def package_build(  # noqa: PLR0917 - typer maps parameters to options
    files: FilesArg = None,
    roads: RoadsOpt = None,
    crs: CrsOpt = None,
    attributes: AttrsOpt = None,
    uploads: UploadsOpt = None,
    bundle: Annotated[str | None, typer.Option("--bundle", help="联合开挖编号 / bundle id (default: all)")] = None,
    project_code: Annotated[
        str | None, typer.Option("--project-code", help="投资项目统一代码 / project code YYYY-500110-DD-TT-NNNNNN")
    ] = None,
    applicants: Annotated[
        Path | None, typer.Option("--applicants", help="申请单位 JSON / applicants JSON (单位, 联系人, 联系电话)")
    ] = None,
    draft: Annotated[bool, typer.Option("--draft", help="按草稿导出 / export as a draft")] = False,
    out: Annotated[Path, typer.Option("--out", help="输出目录 / output folder")] = Path("packages"),
) -> None:
    """Build the permit package of a plan's bundle(s) / 生成联合开挖审批材料包."""
    from permits.manifest import applicants_from_works, parse_applicants
    from permits.package import build_package

    run = run_pipeline(_route_files(files, crs, attributes, uploads), roads=roads)
    chosen = [b for b in run.plan.bundles if bundle is None or b.bundle_id == bundle]
    if not chosen:
        known = ", ".join(b.bundle_id for b in run.plan.bundles) or "无 none"
        raise InputError(f"没有联合开挖 {bundle}；现有：{known}", f"no bundle {bundle}; bundles: {known}")
    if project_code is not None and len(chosen) > 1:
        raise InputError(
            "一个投资项目统一代码只能用于一个联合开挖：请用 --bundle 选择",
            "one project code names one bundle: choose it with --bundle",
        )
    records: Any = json.loads(applicants.read_text(encoding="utf-8")) if applicants is not None else None
    out.mkdir(parents=True, exist_ok=True)
    by_id = {w.work_id: w for w in run.works}
    for serial, item in enumerate(chosen, start=1):
        members = [by_id[i] for i in item.work_ids]
        data = build_package(
            item,
            works=run.works,
            roads=run.roads,
            project_code=project_code or sample_project_code(item, serial),
            applicants=parse_applicants(records) if records is not None else applicants_from_works(members),
            findings=run.plan.findings,
            settings=run.settings,
            draft=True if draft else None,
            attachments=bundle_attachments(run, item),
            prepared_on=item.window_start,
        )
        target = out / f"{item.bundle_id}.zip"
        target.write_bytes(data)
        typer.echo(f"{target}  {len(data):,} bytes")


@package_app.command("inspect")
def package_inspect(file: Annotated[Path, typer.Argument(help="审批材料包 / permit package ZIP")]) -> None:
    """Validate a permit package (schema, checksums, geometry) and print its summary / 检查审批材料包."""
    from permits.package import inspect_package, summary_text

    typer.echo(summary_text(inspect_package(file)))


def demo(
    out: Annotated[Path, typer.Option("--out", help="输出目录 / output folder")] = Path("out"),
    host: Annotated[str, typer.Option(help="服务地址 / address the service would listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口 / port")] = 8000,
) -> None:
    """Load the sample data of 綦江区, run the plan, write maps and packages / 演示.

    Loads data/ into the embedded database, runs 同一路段、同一时段, writes the review map, the
    plan files and one 渝快办 permit package per bundle to ``out``, and prints a summary.
    """
    started = time.perf_counter()
    settings = get_settings()
    uploads = PROJECT_ROOT / "data" / "uploads.json"
    roads = PROJECT_ROOT / "data" / "roads.geojson"
    run = run_pipeline(load_uploads(uploads), roads=roads, settings=settings, optimise=True, time_limit_s=10.0)
    written = write_outputs(run, out, with_packages=True)
    stored = _store_in_database(run)
    typer.echo("== onetrench 演示 / demo — 綦江区 古南街道、文龙街道 ==")
    typer.echo(_summary(run))
    typer.echo(stored)
    typer.echo(f"写出 {len(written)} 个文件 / wrote {len(written)} files to {out.resolve()}")
    typer.echo(f"审查地图 review map: {(out / 'review.html').resolve().as_uri()}")
    typer.echo(f"启动服务 start the service: onetrench serve  →  http://{host}:{port}/docs")
    typer.echo(f"用时 took {time.perf_counter() - started:.1f} s")


def _store_in_database(run: PipelineRun) -> str:
    """Load the demo's roads and works into the configured database and run the plan there.

    One organisation per 建设单位 (code ``u-<hash>``) and the bureau ``bureau``; reused when they
    exist, so the demo can run again (works already stored become new versions).
    """
    import hashlib

    from sqlalchemy.orm import Session

    from api.db import make_engine
    from api.migrate import upgrade
    from api.services.auth import authenticate, create_organisation, create_token, get_organisation
    from api.services.plan import run_full_plan
    from api.services.roads import load_roads
    from api.services.works import store_works
    from onetrench.errors import NotFound

    engine = make_engine(run.settings.database_url)
    upgrade(engine)
    with Session(engine) as session:

        def principal(code: str, name: str, kind: str) -> Any:
            try:
                get_organisation(session, code)
            except NotFound:
                create_organisation(session, code=code, name=name, kind=kind)
            secret, _ = create_token(session, org_code=code, label="demo", expires_in_days=30)
            return authenticate(session, secret), secret

        bureau, bureau_secret = principal("bureau", "綦江区城市管理局", "bureau")
        load_roads(session, bureau, run.roads)
        owners = sorted({w.owner for w in run.works})
        for owner in owners:
            code = "u-" + hashlib.sha256(owner.encode("utf-8")).hexdigest()[:8]
            utility, _ = principal(code, owner, "utility")
            store_works(session, utility, [w for w in run.works if w.owner == owner], settings=run.settings)
        outcome = run_full_plan(session, bureau, settings=run.settings, optimise=True)
        session.commit()
    return (
        f"数据库 database {engine.url.render_as_string(hide_password=True)}: 道路 {len(run.roads)} roads, "
        f"{len(owners)} 家单位 utilities, 联合开挖 {len(outcome.bundles)} bundles; "
        f"审查令牌 bureau token (30 天 days): {bureau_secret}"
    )


def register(app: typer.Typer, friendly_errors: Callable[[Any], Any]) -> None:
    """Add these commands to ``app``."""
    app.command("plan")(friendly_errors(plan))
    app.command("demo")(friendly_errors(demo))
    for command in package_app.registered_commands:
        command.callback = friendly_errors(command.callback)
    app.add_typer(package_app, name="package")

"""Permit package for 渝快办 (permits/): schema, round trip, tampering, determinism, drafts, PDF text."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pyogrio
import pytest
import shapely
import shapely.affinity
from hypothesis import assume, given
from hypothesis import strategies as st
from pypdf import PdfReader
from pyproj import Transformer
from shapely.geometry import LineString, Point, shape
from shapely.ops import unary_union

from onetrench.domain import (
    Bundle,
    ExcavationMethod,
    Finding,
    FindingKind,
    GasPressureClass,
    Interval,
    PavementKind,
    Road,
    RoadClass,
    RoadStretch,
    Savings,
    Severity,
    UtilityKind,
    Work,
    WorksKind,
)
from onetrench.errors import InputError, PayloadTooLarge, UnreadableFile
from onetrench.settings import Settings
from permits.geometry import build_geojson, read_geojson
from permits.manifest import load_schema
from permits.package import (
    Applicant,
    applicants_from_works,
    build_package,
    inspect_package,
    parse_applicants,
    read_package,
    summary_text,
)

DATA = Path(__file__).parent / "data" / "permits"
SETTINGS = Settings(working_crs="EPSG:4545")
CODE = "2026-500110-48-01-000123"

# Origin near 古南街道, Qijiang (106.651E, 29.028N) in EPSG:4545, computed independently here.
X0, Y0 = Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True).transform(106.651, 29.028)

APPLICANTS = [
    Applicant(unit="国网重庆綦江供电公司", contact="张工", phone="023-48612345", email="zhang@example.com"),
    Applicant(unit="重庆港华燃气綦江分公司", contact="李工", phone="13800000000"),
    Applicant(unit="中国电信股份有限公司綦江分公司", contact="王工", phone="023-48670000"),
]


def _roads() -> dict[str, Road]:
    return {
        "R1": Road(
            road_id="R1",
            name="古南大道",
            road_class=RoadClass.ARTERIAL,
            width_m=30.0,
            geometry=LineString([(X0, Y0), (X0 + 400, Y0)]),
            last_works_date=dt.date(2019, 5, 1),
            last_works_kind=WorksKind.NEW,
            pavement=PavementKind.ASPHALT,
        ),
        "R2": Road(
            road_id="R2",
            name="文龙街",
            road_class=RoadClass.BRANCH,
            width_m=16.0,
            geometry=LineString([(X0 + 400, Y0), (X0 + 400, Y0 + 200)]),
            last_works_date=dt.date(2024, 3, 1),
            last_works_kind=WorksKind.OVERHAUL,
            pavement=PavementKind.CONCRETE,
        ),
    }


def _works() -> dict[str, Work]:
    works = [
        Work(
            work_id="PW-001",
            utility=UtilityKind.POWER,
            owner="国网重庆綦江供电公司",
            geometry=LineString([(X0, Y0 + 3), (X0 + 300, Y0 + 3)]),
            start=dt.date(2026, 4, 1),
            end=dt.date(2026, 4, 30),
            diameter_mm=800,
            voltage_kv=10,
            trench_width_m=1.2,
            depth_m=1.0,
            name="10kV 古南线电缆排管",
        ),
        Work(
            work_id="GS-007",
            utility=UtilityKind.GAS,
            owner="重庆港华燃气綦江分公司",
            geometry=LineString([(X0 + 50, Y0 - 2), (X0 + 350, Y0 - 2)]),
            start=dt.date(2026, 4, 5),
            end=dt.date(2026, 4, 25),
            diameter_mm=200,
            gas_pressure=GasPressureClass.MEDIUM_A,
            trench_width_m=0.8,
            depth_m=1.2,
            name="中压燃气管道迁改",
        ),
        Work(
            work_id="TX-042",
            utility=UtilityKind.TELECOM,
            owner="中国电信股份有限公司綦江分公司",
            geometry=LineString([(X0 + 100, Y0 + 5), (X0 + 395, Y0 + 5), (X0 + 395, Y0 + 120)]),
            start=dt.date(2026, 4, 2),
            end=dt.date(2026, 4, 20),
            diameter_mm=400,
            method=ExcavationMethod.OPEN_CUT,
            trench_width_m=0.6,
            depth_m=0.8,
        ),
    ]
    return {w.work_id: w for w in works}


def _stretches() -> tuple[RoadStretch, ...]:
    return (
        RoadStretch(
            road_id="R1",
            road_name="古南大道",
            interval=Interval(50.0, 300.0),
            width_m=2.6,
            pavement=PavementKind.ASPHALT,
        ),
        RoadStretch(
            road_id="R2", road_name="文龙街", interval=Interval(0.0, 120.0), width_m=1.2, pavement=PavementKind.CONCRETE
        ),
    )


def _bundle(**changes: Any) -> Bundle:
    works = _works()
    footprint = unary_union(
        [w.geometry.buffer((w.trench_width_m or 1.0) / 2, cap_style="flat") for w in works.values()]
    )
    values: dict[str, Any] = {
        "bundle_id": "B-2026-004",
        "work_ids": tuple(sorted(works)),
        "lead_work_id": "PW-001",
        "lead_owner": "国网重庆綦江供电公司",
        "window_start": dt.date(2026, 4, 1),
        "window_end": dt.date(2026, 4, 30),
        "stretches": _stretches(),
        "footprint": footprint,
        "savings": Savings(
            excavations_separate=4,
            excavations_joint=2,
            area_separate_m2=900.0,
            area_joint_m2=794.0,
            cost_saved_yuan=44520.0,
        ),
    }
    values.update(changes)
    return Bundle(**values)


def _build(**kwargs: Any) -> bytes:
    args: dict[str, Any] = {
        "works": _works(),
        "roads": _roads(),
        "project_code": CODE,
        "applicants": APPLICANTS,
        "settings": SETTINGS,
        "prepared_on": dt.date(2026, 3, 1),
    }
    args.update(kwargs)
    bundle = args.pop("bundle", None) or _bundle()
    return build_package(bundle, **args)


def _blocking_finding() -> Finding:
    return Finding(
        kind=FindingKind.MORATORIUM,
        severity=Severity.BLOCKING,
        work_ids=("GS-007",),
        zh="文龙街于 2024-03-01 大修，保护期至 2027-03-01",
        en="文龙街 was overhauled on 2024-03-01; moratorium until 2027-03-01",
        fix_zh="改期至 2027-03-01 之后，或申请特许",
        fix_en="move the work after 2027-03-01 or apply for an exemption",
        road_id="R2",
        road_name="文龙街",
        measures=(Interval(0.0, 120.0),),
    )


@pytest.fixture(scope="module")
def package() -> bytes:
    return _build()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _rezip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# --------------------------------------------------------------------------------------
# Contents and schema
# --------------------------------------------------------------------------------------


def test_package_has_every_file_and_checksums(package: bytes) -> None:
    members = _members(package)
    assert set(members) == {
        "manifest.json",
        "excavation.geojson",
        "excavation.gpkg",
        "map.png",
        "application.pdf",
        "SHA256SUMS",
    }
    # SHA256SUMS in `sha256sum -c` format, checked with hashlib independently of the code.
    lines = members["SHA256SUMS"].decode().splitlines()
    listed = {line.split("  ")[1]: line.split("  ")[0] for line in lines}
    assert set(listed) == set(members) - {"SHA256SUMS"}
    for name, digest in listed.items():
        assert hashlib.sha256(members[name]).hexdigest() == digest


def test_sha256sum_tool_accepts_the_sums(package: bytes, tmp_path: Path) -> None:
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum not installed")
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        zf.extractall(tmp_path)
    out = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_manifest_validates_against_the_schema(package: bytes) -> None:
    manifest = json.loads(_members(package)["manifest.json"])
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(manifest)
    assert manifest["draft"] is False
    assert manifest["project_code"] == CODE
    assert manifest["region"]["code"] == "500110"
    assert manifest["lead_unit"]["unit"] == "国网重庆綦江供电公司"
    assert manifest["lead_unit"]["contact"] == {"name": "张工", "phone": "023-48612345", "email": "zhang@example.com"}
    assert manifest["missing_files"][0]["path"] == "map.html"


def test_manifest_values_match_hand_computation(package: bytes) -> None:
    manifest = json.loads(_members(package)["manifest.json"])
    r1 = next(s for s in manifest["road_stretches"] if s["road_id"] == "R1")
    assert r1["length_m"] == 250.0
    assert r1["area_m2"] == pytest.approx(250.0 * 2.6)
    assert r1["from_to_zh"] == "古南大道 桩号 K0+050.0 至 K0+300.0"
    assert r1["road_width_m"] == 30.0
    # R1 new in 2019-05-01 -> protected until 2024-05-01; window 2026-04 is clear.
    assert r1["moratorium"]["status"] == "clear"
    # R2 overhauled 2024-03-01 -> 3 years -> protected until 2027-03-01.
    r2 = next(s for s in manifest["road_stretches"] if s["road_id"] == "R2")
    assert r2["moratorium"]["status"] == "protected"
    assert r2["moratorium"]["protected_until"] == "2027-03-01"
    # Stretch end points: R1 starts at the origin + 50 m east, i.e. back in lon/lat.
    lon, lat = Transformer.from_crs("EPSG:4545", "EPSG:4490", always_xy=True).transform(X0 + 50, Y0)
    assert r1["from_point"] == pytest.approx([lon, lat], abs=1e-8)
    assert manifest["totals"]["area_m2"] == pytest.approx(250 * 2.6 + 120 * 1.2)
    assert manifest["joint_window"]["days"] == 30
    tx = next(w for w in manifest["works"] if w["work_id"] == "TX-042")
    assert tx["length_m"] == pytest.approx(295 + 115)
    gas = next(w for w in manifest["works"] if w["work_id"] == "GS-007")
    assert gas["size"]["gas_pressure"]["code"] == "medium_a"
    assert gas["size"]["text_zh"] == "DN200，中压A"
    assert manifest["traffic_organisation"]["is_default"] is True
    assert "古南大道" in manifest["traffic_organisation"]["text_zh"]
    assert [u["code"] for u in manifest["totals"]["utilities"]] == ["gas", "power", "telecom"]


def test_schema_enums_follow_the_domain_enums() -> None:
    defs = load_schema()["$defs"]
    for name, enum in (
        ("utility", UtilityKind),
        ("road_class", RoadClass),
        ("pavement", PavementKind),
        ("works_kind", WorksKind),
        ("method", ExcavationMethod),
        ("gas_pressure", GasPressureClass),
        ("finding_kind", FindingKind),
        ("severity", Severity),
    ):
        assert defs[name]["properties"]["code"]["enum"] == [m.value for m in enum], name


def _walk_properties(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, sub in node.get("properties", {}).items():
            out.append((f"{path}/{key}", sub))
        for key, sub in node.items():
            if isinstance(sub, dict | list):
                out += _walk_properties(sub, f"{path}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            out += _walk_properties(sub, f"{path}/{i}")
    return out


def test_every_schema_field_is_described_in_chinese_and_english() -> None:
    schema = load_schema()
    fields = _walk_properties(schema)
    assert len(fields) > 100
    for where, sub in fields:
        desc = sub.get("description")
        if desc is None and "$ref" in sub:
            desc = schema["$defs"][sub["$ref"].rsplit("/", 1)[1]].get("description")
        assert desc, f"{where} has no description"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in desc), f"{where}: no Chinese"
        assert " / " in desc and any(ch.isascii() and ch.isalpha() for ch in desc.split(" / ", 1)[1]), (
            f"{where}: no English"
        )


# --------------------------------------------------------------------------------------
# Round trip, inspection, tampering
# --------------------------------------------------------------------------------------


def test_round_trip_geometries_within_a_millimetre(package: bytes) -> None:
    pkg = read_package(package, settings=SETTINGS)
    works = _works()
    assert set(pkg.works) == set(works) == set(pkg.works_from_geojson)
    for wid, work in works.items():
        assert pkg.works[wid].hausdorff_distance(work.geometry) < 0.001, wid
        assert pkg.works_from_geojson[wid].hausdorff_distance(work.geometry) < 0.001, wid
    assert pkg.footprint is not None
    assert pkg.footprint.symmetric_difference(_bundle().footprint).area < 1e-6
    r1 = next(f for f in pkg.stretches if f.properties["road_id"] == "R1")
    assert r1.geometry is not None
    assert r1.geometry.hausdorff_distance(LineString([(X0 + 50, Y0), (X0 + 300, Y0)])) < 0.001
    assert pkg.manifest == json.loads(_members(package)["manifest.json"])
    assert pkg.summary.window_start == dt.date(2026, 4, 1)
    assert sorted(w[0] for w in pkg.summary.works) == sorted(works)


def test_gpkg_has_one_layer_per_utility_in_the_working_crs(package: bytes, tmp_path: Path) -> None:
    path = tmp_path / "x.gpkg"
    path.write_bytes(_members(package)["excavation.gpkg"])
    layers = {str(name) for name, _ in pyogrio.list_layers(path)}
    assert layers == {"power", "gas", "telecom", "road_stretches", "footprint"}
    info = pyogrio.read_info(path, layer="power")
    assert "4545" in info["crs"]
    df = pyogrio.read_dataframe(path, layer="gas")
    assert list(df["work_id"]) == ["GS-007"]
    assert df.geometry.iloc[0].equals_exact(_works()["GS-007"].geometry, 1e-9)


def test_geojson_is_epsg4490_lon_lat(package: bytes) -> None:
    doc = json.loads(_members(package)["excavation.geojson"])
    pw = next(f for f in doc["features"] if f["properties"].get("work_id") == "PW-001")
    lon, lat = shape(pw["geometry"]).coords[0]
    assert lon == pytest.approx(106.651, abs=1e-3)
    assert lat == pytest.approx(29.028, abs=1e-3)


def test_inspect_returns_the_summary(package: bytes, tmp_path: Path) -> None:
    path = tmp_path / "pkg.zip"
    path.write_bytes(package)
    summary = inspect_package(path, settings=SETTINGS)
    assert summary.project_code == CODE
    assert summary.draft is False
    assert summary.blocking_findings == 0
    text = summary_text(summary)
    assert "古南大道" in text and CODE in text and "正式 final" in text


def test_a_changed_byte_inside_a_file_fails_the_checksum(package: bytes) -> None:
    members = _members(package)
    pdf = bytearray(members["application.pdf"])
    pdf[200] ^= 0x01
    members["application.pdf"] = bytes(pdf)
    with pytest.raises(InputError) as err:
        inspect_package(_rezip(members), settings=SETTINGS)
    codes = {p.code for p in err.value.details}
    assert "sums.mismatch" in codes and "files.mismatch" in codes
    assert "application.pdf" in err.value.zh


@pytest.mark.parametrize("offset_from", ["geojson", "manifest"])
def test_a_changed_byte_in_the_zip_is_detected(package: bytes, offset_from: str) -> None:
    data = bytearray(package)
    name = "excavation.geojson" if offset_from == "geojson" else "manifest.json"
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        info = zf.getinfo(name)
    # Flip a byte in the middle of that entry's compressed data (after its local header).
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    with pytest.raises(InputError):
        inspect_package(bytes(data), settings=SETTINGS)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda m: m["works"][0].update(length_m=m["works"][0]["length_m"] + 5.0), {"geometry.work_differs"}),
        (lambda m: m.update(project_code="2026-500101-48-01-000123"), {"manifest.schema", "project_code.region"}),
        (lambda m: m["works"].pop(), {"geometry.work_mismatch", "gpkg.work_unlisted"}),
    ],
    ids=["longer-route", "other-district", "work-removed"],
)
def test_edited_manifest_with_recomputed_sums_is_still_caught(
    package: bytes, edit: Callable[[dict[str, Any]], object], expected: set[str]
) -> None:
    members = _members(package)
    manifest = json.loads(members["manifest.json"])
    edit(manifest)
    members["manifest.json"] = json.dumps(manifest, ensure_ascii=False).encode()
    members["SHA256SUMS"] = "".join(
        f"{hashlib.sha256(members[n]).hexdigest()}  {n}\n" for n in sorted(members) if n != "SHA256SUMS"
    ).encode()
    with pytest.raises(InputError) as err:
        inspect_package(_rezip(members), settings=SETTINGS)
    codes = {p.code for p in err.value.details}
    assert expected <= codes, codes


def test_not_a_zip_is_unreadable() -> None:
    with pytest.raises(UnreadableFile):
        inspect_package(b"PK\x03\x04 not really", settings=SETTINGS)


def test_missing_file_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        inspect_package(tmp_path / "nope.zip", settings=SETTINGS)


# --------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------


def test_same_bundle_gives_the_same_bytes(package: bytes) -> None:
    again = _build()
    assert hashlib.sha256(again).hexdigest() == hashlib.sha256(package).hexdigest()
    with zipfile.ZipFile(io.BytesIO(again)) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {(i.external_attr >> 16) & 0o777 for i in infos} == {0o644}


def test_works_given_in_another_order_give_the_same_bytes(package: bytes) -> None:
    reordered = dict(reversed(list(_works().items())))
    bundle = _bundle(work_ids=("TX-042", "PW-001", "GS-007"), stretches=tuple(reversed(_stretches())))
    assert _build(bundle=bundle, works=reordered, applicants=list(reversed(APPLICANTS))) == package


# --------------------------------------------------------------------------------------
# Drafts and bad input
# --------------------------------------------------------------------------------------


def test_blocking_finding_makes_a_draft_by_default() -> None:
    data = _build(findings=[_blocking_finding()])
    manifest = json.loads(_members(data)["manifest.json"])
    assert manifest["draft"] is True
    assert manifest["draft_reasons"][0]["code"] == "finding.moratorium"
    assert manifest["open_findings"][0]["blocking"] is True
    summary = inspect_package(data, settings=SETTINGS)
    assert summary.draft and summary.blocking_findings == 1
    pdf = _members(data)["application.pdf"]
    text = _pdf_text(pdf)
    assert "草稿" in text and "不得作为正式申请提交" in text
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert all("草稿" in (page.extract_text() or "").replace("\x00", "") for page in pages)  # watermark on every page
    assert PdfReader(io.BytesIO(pdf)).metadata.title.startswith("【草稿】")
    assert "草稿 draft" in summary_text(summary) and "文龙街" in summary_text(summary)


def test_final_with_blocking_findings_is_refused() -> None:
    with pytest.raises(InputError) as err:
        _build(findings=[_blocking_finding()], draft=False)
    assert "草稿" in err.value.zh and "draft" in err.value.en
    assert err.value.details[0].code == "finding.moratorium"


def test_bundle_marked_draft_cannot_be_final() -> None:
    with pytest.raises(InputError):
        _build(bundle=_bundle(draft=True), draft=False)


def test_findings_of_other_works_and_good_findings_are_not_open() -> None:
    other = Finding(
        kind=FindingKind.MORATORIUM,
        severity=Severity.BLOCKING,
        work_ids=("XX-999",),
        zh="别处",
        en="elsewhere",
        fix_zh="",
        fix_en="",
    )
    good = Finding(
        kind=FindingKind.SAME_ROAD_SAME_PERIOD,
        severity=Severity.INFO,
        work_ids=("GS-007", "PW-001"),
        zh="同一路段、同一时段",
        en="same road same period",
        fix_zh="",
        fix_en="",
    )
    manifest = json.loads(_members(_build(findings=[other, good], draft=False))["manifest.json"])
    assert manifest["open_findings"] == [] and manifest["draft"] is False


def test_requested_draft_is_marked() -> None:
    manifest = json.loads(_members(_build(draft=True))["manifest.json"])
    assert manifest["draft"] is True
    assert manifest["draft_reasons"][0]["code"] == "requested"


def test_bad_inputs_are_all_listed() -> None:
    works = _works()
    del works["TX-042"]
    with pytest.raises(InputError) as err:
        _build(
            works=works,
            roads={"R1": _roads()["R1"]},
            project_code="2026-500110-48-01",
            applicants=[Applicant(unit="国网重庆綦江供电公司", contact="", phone="abc")],
            attachments={"../evil.html": b"x"},
        )
    codes = [p.code for p in err.value.details]
    for code in (
        "project_code.format",
        "work.missing",
        "stretch.road_missing",
        "applicant.contact",
        "applicant.phone",
        "applicant.missing",
        "attachment.name",
    ):
        assert code in codes, code


def test_attachments_are_packed_and_listed() -> None:
    png = _members(_build())["map.png"]  # any valid PNG will do
    data = _build(
        attachments={"map.html": b"<html><body>map</body></html>", "map.png": png, "site-photo.jpg": b"\xff\xd8jpeg"}
    )
    members = _members(data)
    assert {"map.html", "attachments/site-photo.jpg"} <= set(members)
    manifest = json.loads(members["manifest.json"])
    assert manifest["missing_files"] == []
    roles = {f["path"]: (f["role"], f["source"]) for f in manifest["files"]}
    assert roles["map.html"] == ("map_html", "supplied")
    assert roles["attachments/site-photo.jpg"] == ("attachment", "supplied")
    inspect_package(data, settings=SETTINGS)


# --------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------


def _pdf_text(pdf: bytes) -> str:
    # pypdf reads fpdf2's CID-keyed CFF subset as two-byte codes with a NUL between characters:
    # drop the NULs (pdftotext, tested below, reads it cleanly).
    return "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages).replace("\x00", "")


def test_pdf_has_the_expected_chinese_text(package: bytes) -> None:
    pdf = _members(package)["application.pdf"]
    text = _pdf_text(pdf).replace("\n", "").replace(" ", "")
    for expected in (
        "綦江区城市道路联合占掘路施工组织方案",
        CODE,
        "国网重庆綦江供电公司",
        "古南大道",
        "文龙街",
        "交通组织方案",
        "路面恢复方案",
        "2026-04-01至2026-04-30",
        "PW-001",
    ):
        assert expected in text, expected
    assert "草稿" not in text
    reader = PdfReader(io.BytesIO(pdf))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    descriptor = next(iter(fonts.values())).get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"]
    assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), "font not embedded"


def test_pdftotext_reads_the_chinese_too(package: bytes, tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils not installed")
    path = tmp_path / "a.pdf"
    path.write_bytes(_members(package)["application.pdf"])
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "占掘路施工组织方案" in text.replace("\n", "")


def test_hostile_and_long_text_is_safe() -> None:
    long_name = "綦江区古南街道" * 30 + "X" * 200
    works = _works()
    works["PW-001"] = Work(
        **{**{f: getattr(works["PW-001"], f) for f in Work.__dataclass_fields__}, "owner": long_name}
    )
    applicants = [*APPLICANTS[1:], Applicant(unit=long_name, contact="张工\x00)>>endobj", phone="023-48612345")]
    data = _build(
        works=works,
        bundle=_bundle(lead_owner=long_name),
        applicants=applicants,
        traffic_plan="(\\) BT /F1 12 Tf (injected) Tj ET 😀\x07\n第二行",
    )
    pdf = _members(data)["application.pdf"]
    text = _pdf_text(pdf).replace("\n", "")
    assert "injected" in text  # shown as text, not executed as an operator
    assert "第二行" in text
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    inspect_package(data, settings=SETTINGS)


@pytest.mark.parametrize("name", ["application-page1.png", "application-draft-page1.png"])
def test_reference_rendering_exists(name: str) -> None:
    # Page 1 of the final and of the draft PDF of this module's bundle, rendered once with
    # `pdftoppm -r 40 -png -f 1 -l 1 -singlefile` and checked by eye (title, tables, CJK glyphs,
    # the red 草稿 DRAFT banner and diagonal watermark on the draft). Not pixel-compared.
    ref = DATA / name
    assert ref.is_file() and ref.read_bytes().startswith(b"\x89PNG")


def test_point_geometry_work_zone_is_accepted() -> None:
    works = _works()
    works["TX-042"] = replace(works["TX-042"], geometry=Point(X0 + 200, Y0 + 4).buffer(3))
    data = _build(works=works)
    pkg = read_package(data, settings=SETTINGS)
    assert pkg.works["TX-042"].geom_type == "Polygon"
    assert pkg.works["TX-042"].symmetric_difference(works["TX-042"].geometry).area < 1e-4


def test_other_working_crs_gives_the_same_place(package: bytes) -> None:
    """With EPSG:4544 (CM 105E) as working CRS the package says so and the GeoJSON lands on the same spot."""
    tr = Transformer.from_crs("EPSG:4545", "EPSG:4544", always_xy=True)

    def move(geom: Any) -> Any:
        return shapely.transform(geom, tr.transform, interleaved=False)

    works = {k: replace(w, geometry=move(w.geometry)) for k, w in _works().items()}
    roads = {k: replace(r, geometry=move(r.geometry)) for k, r in _roads().items()}
    bundle = _bundle(footprint=move(_bundle().footprint))
    settings = Settings(working_crs="EPSG:4544")
    data = _build(bundle=bundle, works=works, roads=roads, settings=settings)
    pkg = read_package(data, settings=settings)
    assert pkg.manifest["crs"]["working"] == "EPSG:4544"
    assert pkg.manifest["geometry"]["gpkg"]["crs"] == "EPSG:4544"
    for wid, work in works.items():
        assert pkg.works[wid].hausdorff_distance(work.geometry) < 0.001
    ours = json.loads(_members(data)["excavation.geojson"])
    theirs = json.loads(_members(package)["excavation.geojson"])
    for a, b in zip(ours["features"], theirs["features"], strict=True):
        if a["properties"]["feature_kind"] == "work":
            assert shape(a["geometry"]).hausdorff_distance(shape(b["geometry"])) < 1e-8  # degrees, ≈ 1 mm


# --------------------------------------------------------------------------------------
# Applicants for the CLI, hostile ZIPs
# --------------------------------------------------------------------------------------


def test_applicants_from_records_and_from_works() -> None:
    got = parse_applicants(
        [
            {"单位": "国网重庆綦江供电公司", "联系人": "张工", "联系电话": "023-48612345", "邮箱": "zhang@example.com"},
            {"unit": "重庆港华燃气綦江分公司", "contact": "李工", "phone": "13800000000"},
        ]
    )
    assert got[0] == APPLICANTS[0]
    assert got[1] == APPLICANTS[1]
    with pytest.raises(InputError) as err:
        parse_applicants([{"单位": "A"}, "x"])
    assert [p.code for p in err.value.details] == ["applicant.contact", "applicant.phone", "applicant.record"]

    works = _works()
    works["PW-001"] = replace(works["PW-001"], contact="张工 / 023-48612345")
    works["GS-007"] = replace(works["GS-007"], contact="李工，手机 13800000000")
    with pytest.raises(InputError) as err:
        applicants_from_works(works.values())
    assert "中国电信股份有限公司綦江分公司" in err.value.zh
    works["TX-042"] = replace(works["TX-042"], contact="+86 13900000000 王工")
    derived = {a.unit: a for a in applicants_from_works(works.values())}
    assert derived["重庆港华燃气綦江分公司"].contact == "李工，手机"
    assert derived["中国电信股份有限公司綦江分公司"].phone == "+86 13900000000"
    assert derived["中国电信股份有限公司綦江分公司"].contact == "王工"
    # Derived applicants are good enough to build a final package.
    _build(works=works, applicants=list(derived.values()))


def test_unsafe_and_duplicate_zip_entries_are_reported(package: bytes) -> None:
    members = _members(package)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        for name, data in members.items():
            zf.writestr(name, data)
        zf.writestr("../escape.txt", b"x")
        zf.writestr("manifest.json", b"{}")
    with pytest.raises(InputError) as err:
        inspect_package(buf.getvalue(), settings=SETTINGS)
    codes = {p.code for p in err.value.details}
    assert {"zip.name", "zip.duplicate"} <= codes


def test_oversized_package_is_refused(package: bytes, tmp_path: Path) -> None:
    small = Settings(working_crs="EPSG:4545", max_upload_bytes=10_000)
    with pytest.raises(PayloadTooLarge):
        inspect_package(package, settings=small)
    path = tmp_path / "p.zip"
    path.write_bytes(package)
    with pytest.raises(PayloadTooLarge):
        inspect_package(path, settings=small)


def test_a_supplied_map_png_must_be_a_png() -> None:
    with pytest.raises(InputError) as err:
        _build(attachments={"map.png": b"GIF89a"})
    assert err.value.details[0].code == "attachment.map_png"


def test_road_findings_without_works_count_only_on_the_bundles_roads() -> None:
    def blackout(road_id: str) -> Finding:
        return Finding(
            kind=FindingKind.BLACKOUT,
            severity=Severity.WARNING,
            work_ids=(),
            zh=f"{road_id} 高考期间禁止施工",
            en=f"{road_id}: no works during the gaokao",
            fix_zh="避开 6 月 7 日至 10 日",
            fix_en="avoid 7-10 June",
            road_id=road_id,
        )

    manifest = json.loads(_members(_build(findings=[blackout("R2"), blackout("R9")]))["manifest.json"])
    assert [f["road_id"] for f in manifest["open_findings"]] == ["R2"]
    assert manifest["draft"] is False  # a warning does not block


coords = st.lists(
    st.tuples(st.floats(-2000, 2000, allow_nan=False), st.floats(-2000, 2000, allow_nan=False)),
    min_size=2,
    max_size=8,
    unique=True,
)


@given(st.lists(coords, min_size=1, max_size=4))
def test_geojson_round_trip_is_within_a_millimetre(lines: list[list[tuple[float, float]]]) -> None:
    works = [
        replace(
            _works()["PW-001"],
            work_id=f"W{i}",
            geometry=shapely.affinity.translate(LineString(pts), X0, Y0),
        )
        for i, pts in enumerate(lines)
    ]
    # The package stores coordinates to 1e-9° (0.1 mm): a route shorter than 1 cm is no route.
    works = [w for w in works if w.geometry.length > 0.01]
    assume(works)
    bundle = _bundle(work_ids=tuple(w.work_id for w in works), lead_work_id=works[0].work_id)
    data = build_geojson(bundle, works, _roads(), working_crs="EPSG:4545")
    problems: list[Any] = []
    back = {
        f.key: f.geometry for f in read_geojson(data, working_crs="EPSG:4545", problems=problems) if f.kind == "work"
    }
    assert problems == []
    for w in works:
        assert back[w.work_id].hausdorff_distance(w.geometry) < 0.001


@pytest.mark.slow
def test_same_bytes_in_another_process_timezone_and_hash_seed(package: bytes) -> None:
    script = (
        "import hashlib, importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('t', {str(Path(__file__))!r})\n"
        "t = importlib.util.module_from_spec(spec); spec.loader.exec_module(t)\n"
        "sys.stdout.write(hashlib.sha256(t._build()).hexdigest())\n"
    )
    env = {**os.environ, "TZ": "Asia/Shanghai", "PYTHONHASHSEED": "4545", "LC_ALL": "C"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True, timeout=300
    )
    assert out.stdout == hashlib.sha256(package).hexdigest()

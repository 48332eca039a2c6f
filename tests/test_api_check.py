"""The incremental check loads only the stored works near a new one (database spatial index)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import shapely
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import Session

from api.models import FindingRow, Role, WorkRow
from api.services import auth
from api.services.check import check_works, near_road_ids, near_work_ids
from api.services.convert import finding_key, finding_values
from api.services.geometry import from_db
from api.services.roads import load_roads
from api.services.works import store_works
from geo.intake import read_works
from geo.roads import read_roads
from onetrench.domain import Finding, FindingKind, Interval, Severity
from onetrench.settings import Settings

DATA = Path(__file__).parent / "data" / "api"
SETTINGS = Settings(database_url="sqlite://")


def _principal(session: Session, code: str, kind: str = "utility") -> auth.Principal:
    org = auth.create_organisation(session, code=code, name=code, kind=kind)
    return auth.Principal(org_id=org.id, org_code=code, org_name=code, role=Role(kind))


def test_only_nearby_works_are_loaded_and_compared(api_engine: Engine) -> None:
    with Session(api_engine) as session:
        bureau = _principal(session, "bureau", "bureau")
        load_roads(session, bureau, list(read_roads(DATA / "roads.geojson", settings=SETTINGS).roads))
        power = _principal(session, "power")
        water = _principal(session, "water")
        telecom = _principal(session, "telecom")
        store_works(session, power, read_works(DATA / "power.geojson", settings=SETTINGS).works, settings=SETTINGS)
        # 40 works of telecom 3 km north of everything: never near P-1 or W-1
        t1 = read_works(DATA / "telecom.geojson", settings=SETTINGS).works[0]
        far = [
            dataclasses.replace(t1, work_id=f"FAR-{i}", geometry=shapely.affinity.translate(t1.geometry, 10 * i, 3000))
            for i in range(40)
        ]
        store_works(session, telecom, far, settings=SETTINGS)
        out = store_works(
            session, water, read_works(DATA / "water.geojson", settings=SETTINGS).works, settings=SETTINGS
        )
        row = out.works[0]
        ids = near_work_ids(session, [row.id], 40.0)
        assert ids == {row.id, *[w.id for w in session.scalars(_works_of(power.org_id))]}
        assert len(near_road_ids(session, [row.id], 20.0)) == 1  # R1 only; R2 is 400 m away
        result = check_works(session, [row], SETTINGS)
        assert result.compared_with == 1
        assert result.roads_considered == 1
        assert [f.kind.value for f in result.findings] == ["same_road_same_period"]
        session.rollback()


def _works_of(org_id: int) -> Select[tuple[WorkRow]]:
    return select(WorkRow).where(WorkRow.org_id == org_id)


def _stored(session: Session) -> dict[str, object]:
    """Everything an upload writes, identified by keys (not ids), geometry as WKB hex."""
    from sqlalchemy import func

    from api.models import FindingRow, FindingWork, OccupancyRow, RoadRow, WorkVersion

    key_of = dict(session.execute(select(WorkRow.id, WorkRow.key)).all())
    road_of = dict(session.execute(select(RoadRow.id, RoadRow.road_id)).all())
    as_hex = func.ST_AsBinary if session.get_bind().dialect.name == "postgresql" else func.AsBinary
    works = sorted(
        (r.key, r.utility, r.owner, r.start, r.end, r.method, r.version, r.withdrawn, str(r.attributes))
        for r in session.scalars(select(WorkRow))
    )
    geoms = sorted((k, bytes(g).hex()) for k, g in session.execute(select(WorkRow.key, as_hex(WorkRow.geometry))))
    versions = sorted(
        (key_of[v.work_pk], v.version, v.change, str(sorted(v.snapshot.items())), v.withdrawn, v.token_id is None)
        for v in session.scalars(select(WorkVersion))
    )
    occupancies = sorted(
        (key_of[o.work_pk], road_of[o.road_pk], str(o.intervals), str(o.offsets_m), str(o.crossings), o.length_m)
        for o in session.scalars(select(OccupancyRow))
    )
    findings = sorted(
        (f.key, f.kind, f.severity, str(f.work_keys), f.road_id, f.zh, f.en, f.fix_zh, str(f.measures), str(f.data))
        for f in session.scalars(select(FindingRow))
    )
    finding_geoms = sorted(
        (k, None if g is None else bytes(g).hex())
        for k, g in session.execute(select(FindingRow.key, as_hex(FindingRow.geometry)))
    )
    links = sorted(
        (k, key_of[w])
        for k, w in session.execute(
            select(FindingRow.key, FindingWork.work_pk).join(FindingWork, FindingWork.finding_id == FindingRow.id)
        )
    )
    return {
        "works": works,
        "geoms": geoms,
        "versions": versions,
        "occupancies": occupancies,
        "findings": findings,
        "finding_geoms": finding_geoms,
        "links": links,
    }


def test_bulk_upload_stores_what_the_row_by_row_path_stores(api_engine: Engine, monkeypatch: object) -> None:
    """60 works in one upload go by COPY on PostGIS; the same upload row by row stores the same rows.

    The second run also writes its findings by the one-statement path of small checks.
    """
    import datetime as dt

    import pytest

    from api.services import works as works_service

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    g1 = read_works(DATA / "gas.geojson", settings=SETTINGS).works[0]
    many = [
        dataclasses.replace(
            g1,
            work_id=f"G-{i}",
            geometry=shapely.affinity.translate(g1.geometry, 3.0 * (i % 7), 0.5 * (i % 3)),
            start=g1.start + dt.timedelta(days=40 * (i % 3)),
            end=g1.end + dt.timedelta(days=40 * (i % 3)),
        )
        for i in range(60)
    ]
    assert len(many) >= works_service.BULK_MIN
    results = []
    from api.services import check as check_service

    for bulk_min, small_max in ((works_service.BULK_MIN, 0), (10**9, 10**9)):
        monkeypatch.setattr(works_service, "BULK_MIN", bulk_min)
        monkeypatch.setattr(check_service, "SMALL_INSERT_MAX", small_max)
        with Session(api_engine) as session:
            bureau = _principal(session, "bureau", "bureau")
            load_roads(session, bureau, list(read_roads(DATA / "roads.geojson", settings=SETTINGS).roads))
            power = _principal(session, "power")
            gas = _principal(session, "gas")
            store_works(session, power, read_works(DATA / "power.geojson", settings=SETTINGS).works, settings=SETTINGS)
            out = store_works(session, gas, many, settings=SETTINGS)
            assert out.created == 60
            assert [w.key for w in out.works] == sorted((w.key for w in out.works), key=lambda k: int(k[6:]))
            answered = sorted((f.key, f.kind, str(f.work_keys)) for f in out.findings)
            stored = _stored(session)
            # the answer lists exactly the stored findings concerning the uploaded works
            assert answered == sorted(
                (k, kind, wk)
                for k, kind, _s, wk, *_ in stored["findings"]
                if "gas:" in wk  # type: ignore[attr-defined]
            )
            # and their data as read back (the COPY path makes them JSON-compatible only to answer)
            data = {f.key: f.data for f in out.findings}
            with_data = session.execute(select(FindingRow.key, FindingRow.data)).all()
            assert data == {key: value for key, value in with_data if key in data}
            results.append(stored)
            session.rollback()
    bulk, by_row = results
    assert bulk["findings"], "the construction must produce findings"
    # G-i and G-j (i ≡ j mod 3) share ~100 m of R1 in the same period: 20 works per date class
    same_period = [f for f in bulk["findings"] if f[1] == "same_road_same_period" and "power" not in f[3]]  # type: ignore[union-attr,index]
    assert len(same_period) == 3 * (20 * 19 // 2)
    for name in bulk:
        assert bulk[name] == by_row[name], name


def test_overlapped_check_stores_what_the_single_pass_stores(api_engine: Engine, monkeypatch: object) -> None:
    """Large checks on PostGIS evaluate west-to-east strips while a thread stores the previous one.

    With strips of 7 works, 60 new works in 9 strips (most pairs cross a strip's edge and come from
    two strips) store exactly the rows of one pass, and the answer lists the same findings,
    geometries included.
    """
    import datetime as dt

    import pytest

    from api.services import check as check_service

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    if api_engine.dialect.name != "postgresql":
        pytest.skip("the overlapped check is PostgreSQL's (SQLite serialises writers anyway)")
    g1 = read_works(DATA / "gas.geojson", settings=SETTINGS).works[0]
    many = [
        dataclasses.replace(
            g1,
            work_id=f"G-{i}",
            geometry=shapely.affinity.translate(g1.geometry, 3.0 * (i % 7) + 0.01 * i, 0.5 * (i % 3)),
            start=g1.start + dt.timedelta(days=40 * (i % 3)),
            end=g1.end + dt.timedelta(days=40 * (i % 3)),
        )
        for i in range(60)
    ]
    # answered in full (geometries shaped after the overlapped store) and summarised
    for settings in (Settings(database_url="sqlite://", upload_findings_inline_max=100_000), SETTINGS):
        results = []
        for overlap_min in (1, 10**9):
            monkeypatch.setattr(check_service, "OVERLAP_MIN", overlap_min)
            monkeypatch.setattr(check_service, "OVERLAP_CHUNK", 7)
            with Session(api_engine) as session:
                bureau = _principal(session, "bureau", "bureau")
                load_roads(session, bureau, list(read_roads(DATA / "roads.geojson", settings=settings).roads))
                power = _principal(session, "power")
                gas = _principal(session, "gas")
                power_works = read_works(DATA / "power.geojson", settings=settings).works
                store_works(session, power, power_works, settings=settings)
                out = store_works(session, gas, many, settings=settings)
                answered = sorted(
                    (
                        f.key,
                        f.kind,
                        str(f.work_keys),
                        # a summarised answer (upload_id) lists no finding: their geometries are not shaped
                        None if f.geometry is None or out.upload_id else shapely.to_wkb(from_db(f.geometry)),
                    )
                    for f in out.findings
                )
                results.append((_stored(session), answered, out.upload_id is None))
                session.rollback()
        (overlapped, answered_overlapped, inline), (single, answered_single, _) = results
        assert len(single["findings"]) > SETTINGS.upload_findings_inline_max, "the construction must be large"
        if inline:  # blackout findings have no geometry, the others have
            assert sum(g is not None for *_, g in answered_single) > 1000
        assert answered_overlapped == answered_single
        for name in single:
            assert overlapped[name] == single[name], name


def _finding_for_key(kind: FindingKind, work_ids: tuple[str, ...], measures: tuple[Interval, ...]) -> Finding:
    return Finding(
        kind=kind,
        severity=Severity.WARNING,
        work_ids=work_ids,
        zh="z",
        en="e",
        fix_zh="",
        fix_en="",
        road_id="R1",
        measures=measures,
        data={"a": (1, 2)},
    )


def _digest_key(kind: str, works: str, measures: list[list[float]]) -> str:
    """The key as older versions wrote it: the digest of the text json.dumps gives for the measures."""
    text = f"{kind}|R1|{works}|" + json.dumps(measures)
    return f"{kind}:R1:" + hashlib.sha256(text.encode()).hexdigest()[:24]


def test_finding_key_is_the_digest_of_kind_road_works_and_measures() -> None:
    """Keys written by older versions stay valid: the digest of the text json.dumps gave for the measures."""
    finding = _finding_for_key(
        FindingKind.CLEARANCE, ("water:W-2", "gas:G-1"), (Interval(10.00049, 20.5), Interval(0.1 + 0.2, 1e-7))
    )
    expected = _digest_key("clearance", "gas:G-1,water:W-2", [[10.0, 20.5], [round(0.1 + 0.2, 3), 0.0]])
    assert finding_key(finding) == expected
    assert finding_values(finding)["key"] == expected
    assert finding_values(finding)["data"] == {"a": [1, 2]}


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=1e7, allow_nan=False),
            st.floats(min_value=0, max_value=1e7, allow_nan=False),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_finding_key_digests_the_measures_as_json_dumps_writes_them(pairs: list[tuple[float, float]]) -> None:
    """The key's text of the measures (orjson's, with spaces after commas) is json.dumps's, whatever the floats."""
    finding = _finding_for_key(FindingKind.SAME_ROAD_SAME_PERIOD, ("b", "a"), tuple(Interval(a, b) for a, b in pairs))
    expected = _digest_key("same_road_same_period", "a,b", [[round(a, 3), round(b, 3)] for a, b in pairs])
    assert finding_key(finding) == expected


def test_geojson_many_equals_geojson_one_by_one() -> None:
    """The answer's geometries in one call (plane lines by one coordinate array) equal one-by-one conversion."""
    import json

    from shapely.geometry import LineString, MultiLineString, Polygon

    from api.services.geometry import geojson, geojson_many

    x0, y0 = 36_460_000.0, 3_210_000.0
    geoms = [
        LineString([(x0, y0), (x0 + 10, y0 + 5), (x0 + 30, y0)]),
        None,
        MultiLineString([[(x0, y0), (x0 + 1, y0)], [(x0 + 2, y0), (x0 + 3, y0 + 1)]]),
        LineString(),
        LineString([(x0 + 5, y0 + 5, 2.0), (x0 + 9, y0 + 9, 3.0)]),
        Polygon([(x0, y0), (x0 + 4, y0), (x0 + 4, y0 + 4)]),
        LineString([(x0 - 100, y0 - 100), (x0 - 50, y0 - 70)]),
    ]
    many = geojson_many(geoms, SETTINGS)
    assert [json.dumps(g) for g in many] == [json.dumps(geojson(g, SETTINGS)) for g in geoms]
    assert many[1] is None and many[3] is None and many[0] is not None


def test_works_from_rows_equal_the_works_stored(api_engine: Engine) -> None:
    """Nearby works are built a column at a time from their rows: each equals the work that was stored
    (name, contact and source apart, which the rule does not read and are left empty)."""
    import datetime as dt
    import json

    from api.services import check as check_service
    from api.services.check import NEAR_COLUMNS
    from api.services.convert import works_from_rows
    from onetrench.domain import ExcavationMethod, UtilityKind

    power = read_works(DATA / "power.geojson", settings=SETTINGS).works[0]
    works = [
        dataclasses.replace(
            power, work_id=f"P-{i}", attributes={"备注": f"第{i}条", "n": i}, start=power.start + dt.timedelta(days=i)
        )
        for i in range(3)
    ]
    with Session(api_engine) as session:
        store_works(session, _principal(session, "power"), works, settings=SETTINGS)
        rows = session.scalars(select(WorkRow).order_by(WorkRow.id)).all()
        table = [(*(getattr(r, c) for c in NEAR_COLUMNS), json.dumps(r.attributes)) for r in rows]
        built = works_from_rows(table, [from_db(r.geometry) for r in rows])
        # as the check reads them (psycopg's own rows on PostGIS, enumerations decoded there):
        # the neighbours of the first work, itself left out
        ids = [r.id for r in rows]
        near = check_service._near_work_rows(session, ids[:1], [from_db(rows[0].geometry)], 40.0)
        session.rollback()
    assert len(built) == len(works) >= 2
    for got, want in zip(built, works, strict=True):
        assert got == dataclasses.replace(want, work_id=got.work_id, name="", contact="", source="")
        assert got.work_id.endswith(want.work_id)
    assert sorted(near, key=lambda x: x[0]) == list(zip(ids[1:], built[1:], strict=True))
    # enumeration members, not their text (which compares equal)
    assert {(type(w.utility), type(w.method)) for _, w in near} == {(UtilityKind, ExcavationMethod)}


def test_nearby_works_are_those_within_the_distance(api_engine: Engine, monkeypatch: object) -> None:
    """Nearby works are the works within the distance, as shapely measures them, on both databases.

    On PostGIS both ways give them: a small upload's query (``ST_DWithin``) and a large upload's
    (read by 1 km cells, then tested here); SpatiaLite's index compares bounding boxes, and its
    candidates are tested here too. Some stored works lie in the same cells as the new ones but
    farther than the distance, one near work is withdrawn, and some lie in other cells: none of
    these is returned.
    """
    import pytest

    from api.services import check as check_service

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    g1 = read_works(DATA / "gas.geojson", settings=SETTINGS).works[0]
    shifts = [(0.0, 7.0), (25.0, -30.0), (0.0, 45.0), (60.0, 0.0), (300.0, 0.0), (900.0, 200.0), (2500.0, 0.0)]
    others = [
        dataclasses.replace(g1, work_id=f"O-{i}", geometry=shapely.affinity.translate(g1.geometry, dx, dy))
        for i, (dx, dy) in enumerate(shifts)
    ]
    # a diagonal off the west end of the routes: its bounding box comes within the distance, it does not
    x0, y0 = g1.geometry.coords[0]
    diagonal = shapely.LineString([(x0 - 60.0, y0 + 20.0), (x0 - 20.0, y0 + 60.0)])
    others.append(dataclasses.replace(g1, work_id="O-diagonal", geometry=diagonal))
    new = [
        dataclasses.replace(g1, work_id=f"N-{k}", geometry=shapely.affinity.translate(g1.geometry, 3.0 * k, -5.0 * k))
        for k in range(3)
    ]
    margin = 40.0
    with Session(api_engine) as session:
        store_works(session, _principal(session, "power"), others, settings=SETTINGS)
        store_works(session, _principal(session, "gas"), new, settings=SETTINGS)
        rows = session.scalars(select(WorkRow).order_by(WorkRow.id)).all()
        stored = {r.id: from_db(r.geometry) for r in rows}
        new_rows = [r for r in rows if r.work_id.startswith("N-")]
        withdrawn_row = next(r for r in rows if r.work_id == "O-0")
        withdrawn_row.withdrawn = True
        withdrawn = withdrawn_row.id
        session.flush()
        new_ids = [r.id for r in new_rows]
        new_geoms = [stored[i] for i in new_ids]
        got = {}
        for cells_min in (1, 10**9):  # SpatiaLite has one way only
            monkeypatch.setattr(check_service, "NEAR_BY_CELLS_MIN", cells_min)
            got[cells_min] = sorted(check_service._near_work_rows(session, new_ids, new_geoms, margin))
        candidates = {r.id for r in rows if r.work_id.startswith("O-")}
        session.rollback()
    # independent: shapely's distance to the nearest new work
    expected = sorted(pk for pk in candidates - {withdrawn} if min(stored[pk].distance(g) for g in new_geoms) <= margin)
    assert 0 < len(expected) < len(candidates) - 1, "the construction needs near and far works"
    assert shapely.distance(shapely.envelope(diagonal), shapely.envelope(g1.geometry)) < margin
    assert shapely.distance(diagonal, g1.geometry) > margin
    assert [pk for pk, _ in got[1]] == expected
    assert got[1] == got[10**9]

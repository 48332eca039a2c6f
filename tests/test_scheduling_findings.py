"""Each finding kind on small hand-made cases, with the exact expected result."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from onetrench.domain import (
    ExcavationMethod,
    FindingKind,
    GasPressureClass,
    Interval,
    Occupancy,
    Road,
    RoadClass,
    Severity,
    SharedStretch,
    UtilityKind,
    Work,
    WorksKind,
)
from onetrench.errors import InputError
from onetrench.settings import BlackoutPeriod, Settings
from scheduling.findings import evaluate

X0, Y0 = 370_000.0, 3_200_000.0
d = dt.date


def road(rid: str, name: str, *, y: float = 0.0, **kw: Any) -> Road:
    return Road(
        road_id=rid,
        name=name,
        road_class=kw.pop("road_class", RoadClass.ARTERIAL),
        width_m=30.0,
        geometry=LineString([(X0, Y0 + y), (X0 + 1000, Y0 + y)]),
        **kw,
    )


def work(wid: str, kind: UtilityKind, start: dt.date, end: dt.date, **kw: Any) -> Work:
    return Work(
        work_id=wid,
        utility=kind,
        owner=f"{wid}公司",
        geometry=kw.pop("geometry", LineString([(X0 + 100, Y0 + 1), (X0 + 300, Y0 + 1)])),
        start=start,
        end=end,
        **kw,
    )


def occ(wid: str, rid: str, a: float, b: float, off: float = 1.0) -> Occupancy:
    return Occupancy(work_id=wid, road_id=rid, intervals=(Interval(a, b),), offsets_m=(off,))


def pair(rid: str, w1: str, w2: str, a: float, b: float) -> SharedStretch:
    return SharedStretch(road_id=rid, work_ids=(w1, w2), intervals=(Interval(a, b),))


NO_BLACKOUTS = Settings(blackouts=[])
R1 = road("R1", "通惠大道")


def run(works: list[Work], occupancy: list[Occupancy], shared: list[SharedStretch], **kw: Any) -> list:
    settings = kw.pop("settings", NO_BLACKOUTS)
    roads = kw.pop("roads", [R1])
    return evaluate(works, roads, occupancy, shared, settings=settings, today=d(2026, 11, 27), **kw)


def test_same_road_same_period() -> None:
    a = work("A", UtilityKind.GAS, d(2027, 3, 1), d(2027, 3, 10))
    b = work("B", UtilityKind.TELECOM, d(2027, 3, 5), d(2027, 3, 20))
    out = run([a, b], [occ("A", "R1", 100, 300, 5), occ("B", "R1", 150, 400, -5)], [pair("R1", "A", "B", 150, 300)])
    assert len(out) == 1
    f = out[0]
    assert f.kind == FindingKind.SAME_ROAD_SAME_PERIOD and f.severity == Severity.INFO
    assert f.work_ids == ("A", "B") and (f.road_id, f.road_name) == ("R1", "通惠大道")
    assert f.measures == (Interval(150, 300),)
    assert f.geometry is not None
    assert f.geometry.equals(LineString([(X0 + 150, Y0), (X0 + 300, Y0)]))
    assert f.zh.startswith("通惠大道（R1） K0+150–K0+300 段：")
    assert "同一路段、同一时段" in f.zh and "联合审批" in f.zh and "共用 150 m" in f.zh
    assert "占掘路施工组织方案" in f.fix_zh
    assert f.data == {"shared_m": 150.0}


def test_period_gap_per_road_class() -> None:
    a = work("A", UtilityKind.GAS, d(2027, 3, 1), d(2027, 3, 10))
    b = work("B", UtilityKind.TELECOM, d(2027, 3, 13), d(2027, 3, 20))
    args = ([a, b], [occ("A", "R1", 100, 300, 5), occ("B", "R1", 100, 300, -5)], [pair("R1", "A", "B", 100, 300)])
    assert run(*args)[0].kind == FindingKind.SAME_ROAD_DIFFERENT_PERIOD
    lenient = Settings(blackouts=[], class_overrides={RoadClass.ARTERIAL: {"period_gap_days": 3}})
    assert run(*args, settings=lenient)[0].kind == FindingKind.SAME_ROAD_SAME_PERIOD
    # a shared stretch shorter than min_shared_m of the class is ignored
    strict = Settings(blackouts=[], class_overrides={RoadClass.ARTERIAL: {"min_shared_m": 250}})
    assert run(*args, settings=strict) == []


def test_different_period_with_proposal() -> None:
    a = work("A", UtilityKind.GAS, d(2027, 3, 1), d(2027, 3, 10))
    b = work("B", UtilityKind.TELECOM, d(2027, 4, 1), d(2027, 4, 10), earliest_start=d(2027, 3, 1))
    out = run([a, b], [occ("A", "R1", 100, 300, 5), occ("B", "R1", 100, 300, -5)], [pair("R1", "A", "B", 100, 300)])
    (f,) = out
    assert f.kind == FindingKind.SAME_ROAD_DIFFERENT_PERIOD and f.severity == Severity.WARNING
    assert "重复开挖 200 m" in f.zh
    assert f.data["proposal"] == {"A": ["2027-03-01", "2027-03-10"], "B": ["2027-03-10", "2027-03-19"]}
    assert f.data["total_shift_days"] == 22
    assert "B 2027-03-10–2027-03-19（提前 22 天）" in f.fix_zh and "A 2027-03-01–2027-03-10（日期不变）" in f.fix_zh
    assert "22 days earlier" in f.fix_en


def test_different_period_without_window() -> None:
    a = work("A", UtilityKind.GAS, d(2027, 3, 1), d(2027, 3, 10))
    b = work("B", UtilityKind.TELECOM, d(2027, 4, 1), d(2027, 4, 10), earliest_start=d(2027, 3, 20))
    (f,) = run([a, b], [occ("A", "R1", 100, 300, 5), occ("B", "R1", 100, 300, -5)], [pair("R1", "A", "B", 100, 300)])
    assert f.severity == Severity.BLOCKING
    assert f.data["blocking"] == "bounds" and f.data["blocking_works"] == ["A", "B"]
    assert "弹性时限内没有共同施工窗口" in f.fix_zh
    assert "B 最早开工 2027-03-20 晚于 A 最晚完工 2027-03-10" in f.fix_zh
    assert "A 未提供弹性时限" in f.fix_zh


def test_different_period_blocked_by_calendar() -> None:
    games = BlackoutPeriod(
        name_zh="区运会", name_en="District games", start=d(2027, 3, 8), end=d(2027, 3, 25), road_ids=["R1"]
    )
    a = work("A", UtilityKind.GAS, d(2027, 3, 1), d(2027, 3, 5), latest_end=d(2027, 3, 7))
    b = work("B", UtilityKind.TELECOM, d(2027, 3, 26), d(2027, 3, 30), earliest_start=d(2027, 3, 26))
    out = run(
        [a, b],
        [occ("A", "R1", 100, 300, 5), occ("B", "R1", 100, 300, -5)],
        [pair("R1", "A", "B", 100, 300)],
        settings=Settings(blackouts=[games]),
    )
    (f,) = out
    assert f.data["blocking"] == "bounds"  # bounds already block: A must end by 03-07, B starts 03-26
    a2 = work("A", UtilityKind.GAS, d(2027, 3, 1), d(2027, 3, 5), latest_end=d(2027, 3, 31))
    b2 = work("B", UtilityKind.TELECOM, d(2027, 3, 26), d(2027, 3, 30))
    out = run(
        [a2, b2],
        [occ("A", "R1", 100, 300, 5), occ("B", "R1", 100, 300, -5)],
        [pair("R1", "A", "B", 100, 300)],
        settings=Settings(blackouts=[games]),
    )
    (f,) = out
    # A (5 days) could reach B only through the games (03-08..03-25): A may start 03-26 at the earliest
    assert f.severity == Severity.WARNING
    assert f.data["proposal"] == {"A": ["2027-03-26", "2027-03-30"], "B": ["2027-03-26", "2027-03-30"]}
    # with B fixed inside a blackout, the calendar blocks
    b3 = work("B", UtilityKind.TELECOM, d(2027, 3, 20), d(2027, 3, 24))
    out = run(
        [a2, b3],
        [occ("A", "R1", 100, 300, 5), occ("B", "R1", 100, 300, -5)],
        [pair("R1", "A", "B", 100, 300)],
        settings=Settings(blackouts=[games]),
    )
    assert [f.kind for f in out] == [FindingKind.SAME_ROAD_DIFFERENT_PERIOD, FindingKind.BLACKOUT]
    dif = out[0]
    assert dif.kind == FindingKind.SAME_ROAD_DIFFERENT_PERIOD
    assert dif.data["blocking"] == "calendar" and dif.data["blackouts"] == ["区运会"]


def test_moratorium_kinds() -> None:
    new_road = road("R2", "新城大道", y=100, last_works_date=d(2024, 6, 1), last_works_kind=WorksKind.NEW)
    overhauled = road("R3", "老街", y=200, last_works_date=d(2023, 5, 1), last_works_kind=WorksKind.OVERHAUL)
    rebuilt = road("R4", "滨河路", y=300, last_works_date=d(2023, 5, 1), last_works_kind=WorksKind.REBUILD)
    works = [
        work("C", UtilityKind.WATER, d(2027, 3, 1), d(2027, 3, 10), latest_end=d(2029, 12, 31)),
        work("D", UtilityKind.WATER, d(2027, 3, 1), d(2027, 3, 3), emergency=True),
        work("E", UtilityKind.POWER, d(2027, 3, 1), d(2027, 3, 10), method=ExcavationMethod.TRENCHLESS),
        work("F", UtilityKind.GAS, d(2027, 3, 1), d(2027, 3, 10)),  # on the overhauled road: 3 years are over
        work("G", UtilityKind.GAS, d(2027, 3, 1), d(2027, 3, 10)),  # on the rebuilt road: 5 years are not
    ]
    occupancy = [
        occ("C", "R2", 0, 100),
        occ("D", "R2", 0, 100),
        occ("E", "R2", 0, 100),
        occ("F", "R3", 0, 100),
        occ("G", "R4", 0, 100),
    ]
    out = run(works, occupancy, [], roads=[new_road, overhauled, rebuilt])
    got = {f.work_ids[0]: f for f in out}
    assert set(got) == {"C", "D", "E", "G"}
    assert all(f.kind == FindingKind.MORATORIUM for f in out)
    c = got["C"]
    assert c.severity == Severity.BLOCKING
    assert c.data["protected_until"] == "2029-06-01" and c.data["proposal"] == ["2029-06-01", "2029-06-10"]
    assert "保护期 5 年至 2029-06-01" in c.zh and "第三十三条" in c.zh
    assert got["D"].severity == Severity.WARNING and got["D"].data["notice_hours"] == 24
    assert "24 小时内补办批准手续" in got["D"].fix_zh and "第三十四条" in got["D"].fix_zh
    assert got["E"].severity == Severity.INFO
    g = got["G"]
    assert g.severity == Severity.BLOCKING and g.data["protected_until"] == "2028-05-01" and "proposal" not in g.data
    assert "县级以上人民政府批准" in g.fix_zh


@pytest.mark.parametrize(
    ("off_b", "expected"),
    [
        (0.2, None),  # 0.8 apart axis to axis - 0.1 - 0.15 = 0.55 >= 0.5
        (0.4, 0.35),  # 0.6 - 0.25
        (-0.5, None),  # other side: 1.5 - 0.25 = 1.25
    ],
)
def test_clearance(off_b: float, expected: float | None) -> None:
    a = work(
        "A", UtilityKind.GAS, d(2027, 3, 1), d(2027, 3, 10), diameter_mm=200, gas_pressure=GasPressureClass.MEDIUM_B
    )
    b = work("B", UtilityKind.WATER, d(2027, 3, 1), d(2027, 3, 10), diameter_mm=300)
    out = run(
        [a, b], [occ("A", "R1", 100, 300, 1.0), occ("B", "R1", 200, 500, off_b)], [pair("R1", "A", "B", 200, 300)]
    )
    cl = [f for f in out if f.kind == FindingKind.CLEARANCE]
    if expected is None:
        assert cl == []
        return
    (f,) = cl
    assert f.severity == Severity.BLOCKING  # medium confidence
    assert f.measures == (Interval(200, 300),)
    assert f.data["clear_distance_m"] == pytest.approx(expected)
    assert f.data["required_m"] == 0.5 and f.data["source"] == "GB 50028-2006 表6.3.3-1"
    assert "外壁水平净距 0.35 m，小于 GB 50028-2006 表6.3.3-1 规定的 0.5 m" in f.zh
    assert "横向外移至少 0.15 m" in f.fix_zh


def test_clearance_low_confidence_is_a_warning() -> None:
    a = work("A", UtilityKind.POWER, d(2027, 3, 1), d(2027, 3, 10))
    b = work("B", UtilityKind.TELECOM, d(2027, 5, 1), d(2027, 5, 10))  # other period: still checked
    out = run([a, b], [occ("A", "R1", 100, 300, 1.0), occ("B", "R1", 100, 300, 1.3)], [pair("R1", "A", "B", 100, 300)])
    (f,) = [f for f in out if f.kind == FindingKind.CLEARANCE]
    assert f.severity == Severity.WARNING and f.data["clear_distance_m"] == pytest.approx(0.3)
    assert "管径未知" in f.zh


def test_blackouts() -> None:
    r2 = road("R2", "文化路", y=100)
    gaokao = BlackoutPeriod(name_zh="高考", name_en="Gaokao", start=d(2027, 6, 7), end=d(2027, 6, 10))
    games = BlackoutPeriod(name_zh="区运会", name_en="games", start=d(2027, 5, 1), end=d(2027, 5, 5), road_ids=["R2"])
    works = [
        work("F", UtilityKind.WATER, d(2027, 6, 1), d(2027, 6, 8), latest_end=d(2027, 6, 30)),
        work("G", UtilityKind.WATER, d(2027, 5, 1), d(2027, 5, 3)),  # R1 only: games do not apply
        work("H", UtilityKind.GAS, d(2027, 5, 2), d(2027, 5, 4)),  # R2: games apply, fixed dates
        work("J", UtilityKind.GAS, d(2027, 6, 8), d(2027, 6, 9), emergency=True),
        work("K", UtilityKind.GAS, d(2027, 6, 8), d(2027, 6, 9)),  # no occupancy: opens no road
    ]
    occupancy = [occ("F", "R1", 0, 50), occ("G", "R1", 0, 50), occ("H", "R2", 0, 50), occ("J", "R1", 0, 50)]
    out = run(works, occupancy, [], roads=[R1, r2], settings=Settings(blackouts=[gaokao, games]))
    got = {f.work_ids[0]: f for f in out}
    assert set(got) == {"F", "H", "J"}
    f = got["F"]
    assert f.kind == FindingKind.BLACKOUT and f.severity == Severity.BLOCKING and f.road_id is None
    assert f.data["proposal"] == ["2027-06-11", "2027-06-18"]
    assert "建议改为 2027-06-11–2027-06-18 施工（推迟 10 天）" in f.fix_zh
    h = got["H"]
    assert h.road_id == "R2" and "proposal" not in h.data and "无法避开「区运会」" in h.fix_zh
    assert h.geometry is not None and h.geometry.equals(LineString([(X0, Y0 + 100), (X0 + 50, Y0 + 100)]))
    assert got["J"].severity == Severity.INFO


@dataclass
class Part:
    work_id: str
    geometry: BaseGeometry


def test_off_road_and_outside_district() -> None:
    a = work("A", UtilityKind.GAS, d(2027, 3, 1), d(2027, 3, 10))
    out = run(
        [a],
        [],
        [],
        off_road=[("A", LineString([(0, 0), (30, 0)])), ("A", LineString([(100, 0), (120, 0)]))],
        outside_district=[Part("A", LineString([(0, 0), (0, 75)]))],
    )
    assert [(f.kind, f.severity) for f in out] == [
        (FindingKind.OUTSIDE_DISTRICT, Severity.WARNING),
        (FindingKind.OFF_ROAD, Severity.INFO),
    ]
    off = out[1]
    assert off.data["size"] == 50.0 and "50 m 位于道路红线外" in off.zh and "无需占掘路许可" in off.zh
    assert "75 m 位于綦江区行政区域外" in out[0].zh and "GCJ-02" in out[0].fix_zh


def test_dangling_references_are_all_reported() -> None:
    a = work("A", UtilityKind.GAS, d(2027, 3, 1), d(2027, 3, 10))
    with pytest.raises(InputError) as err:
        run([a, a], [occ("A", "R9", 0, 10), occ("Z", "R1", 0, 10)], [pair("R1", "A", "Q", 0, 10)])
    codes = sorted(p.code for p in err.value.details)
    assert codes == ["occupancy.unknown_road", "occupancy.unknown_work", "shared.unknown_work", "work.duplicate_id"]


def test_findings_do_not_depend_on_input_order() -> None:
    import random

    works = [
        work("A", UtilityKind.GAS, d(2027, 3, 1), d(2027, 3, 10)),
        work("B", UtilityKind.WATER, d(2027, 4, 1), d(2027, 4, 10), earliest_start=d(2027, 3, 1)),
        work("C", UtilityKind.POWER, d(2027, 3, 5), d(2027, 3, 8)),
    ]
    occupancy = [occ("A", "R1", 0, 300, 1), occ("B", "R1", 100, 400, 1.2), occ("C", "R1", 200, 500, -1)]
    shared = [pair("R1", "A", "B", 100, 300), pair("R1", "A", "C", 200, 300), pair("R1", "B", "C", 200, 400)]
    expected = run(works, occupancy, shared)
    rng = random.Random(3)
    for _ in range(5):
        rng.shuffle(works)
        rng.shuffle(occupancy)
        rng.shuffle(shared)
        assert run(works, occupancy, shared) == expected


def test_geometry_on_a_road_digitised_in_pieces() -> None:
    from shapely.geometry import MultiLineString

    from scheduling._geom import road_substring

    r = Road(
        road_id="R5",
        name="分段路",
        road_class=RoadClass.BRANCH,
        width_m=12,
        geometry=MultiLineString([[(0, 0), (100, 0)], [(200, 0), (300, 0)]]),
    )
    got = road_substring(r, [Interval(50, 150)])
    assert got is not None
    assert got.equals(MultiLineString([[(50, 0), (100, 0)], [(200, 0), (250, 0)]]))
    assert road_substring(r, [Interval(400, 500)]) is None

"""GB 50289 / GB 50028 clearance table: the values of design.md, and the lookup's assumptions."""

from __future__ import annotations

import datetime as dt

import pytest
from shapely.geometry import LineString

from onetrench.domain import GasPressureClass, UtilityKind, Work
from scheduling.clearance_table import Confidence, clearance_rows, required_clearance_m

G = GasPressureClass


def _w(wid: str, kind: UtilityKind, **kw: object) -> Work:
    return Work(
        work_id=wid,
        utility=kind,
        owner="o",
        geometry=LineString([(0, 0), (10, 0)]),
        start=dt.date(2027, 3, 1),
        end=dt.date(2027, 3, 5),
        **kw,  # type: ignore[arg-type]
    )


# Expected values copied from the table in design.md (independent of the CSV).
CASES = [
    (("water", {"diameter_mm": 150}), ("drainage", {}), 1.0),
    (("water", {"diameter_mm": 200}), ("drainage", {}), 1.0),
    (("water", {"diameter_mm": 300}), ("drainage", {}), 1.5),
    (("drainage", {}), ("gas", {"gas_pressure": G.LOW}), 1.0),
    (("drainage", {}), ("gas", {"gas_pressure": G.MEDIUM_B}), 1.2),
    (("drainage", {}), ("gas", {"gas_pressure": G.MEDIUM_A}), 1.2),
    (("drainage", {}), ("gas", {"gas_pressure": G.SUBHIGH_B}), 1.5),
    (("drainage", {}), ("gas", {"gas_pressure": G.SUBHIGH_A}), 2.0),
    (("drainage", {}), ("power", {}), 0.5),
    (("drainage", {}), ("telecom", {}), 1.0),
    (("gas", {"gas_pressure": G.LOW}), ("water", {}), 0.5),
    (("gas", {"gas_pressure": G.MEDIUM_A}), ("water", {}), 0.5),
    (("gas", {"gas_pressure": G.MEDIUM_B}), ("power", {"attributes": {"laying": "直埋"}}), 0.5),
    (("gas", {"gas_pressure": G.MEDIUM_B}), ("power", {"attributes": {"laying": "排管"}}), 1.0),
    (("gas", {"gas_pressure": G.LOW}), ("telecom", {"attributes": {"laying": "buried"}}), 0.5),
    (("gas", {"gas_pressure": G.LOW}), ("telecom", {"attributes": {"laying": "duct"}}), 1.0),
    (("gas", {"diameter_mm": 200}), ("gas", {"diameter_mm": 300}), 0.4),
    (("gas", {"diameter_mm": 200}), ("gas", {"diameter_mm": 315}), 0.5),
    (("water", {}), ("power", {"attributes": {"laying": "直埋"}}), 0.5),
    (("water", {}), ("power", {"attributes": {"laying": "保护管"}}), 1.0),
    (("water", {}), ("telecom", {}), 1.0),
    (("power", {}), ("telecom", {}), 0.5),
]


@pytest.mark.parametrize(("a", "b", "expected"), CASES)
@pytest.mark.parametrize("swap", [False, True])
def test_table_values(a: tuple[str, dict], b: tuple[str, dict], expected: float, swap: bool) -> None:
    wa, wb = _w("a", UtilityKind(a[0]), **a[1]), _w("b", UtilityKind(b[0]), **b[1])
    if swap:
        wa, wb = wb, wa
    rule = required_clearance_m(wa, wb)
    assert rule is not None
    assert rule.clearance_m == expected


def test_unknown_pairs_have_no_rule() -> None:
    assert required_clearance_m(_w("h", UtilityKind.HEAT), _w("w", UtilityKind.WATER)) is None
    assert required_clearance_m(_w("w1", UtilityKind.WATER), _w("w2", UtilityKind.WATER)) is None
    # sub-high gas against water: GB 50028 values not in the table yet
    assert required_clearance_m(_w("g", UtilityKind.GAS, gas_pressure=G.SUBHIGH_A), _w("w", UtilityKind.WATER)) is None


def test_assumptions_are_recorded() -> None:
    rule = required_clearance_m(_w("w", UtilityKind.WATER), _w("d", UtilityKind.DRAINAGE))
    assert rule is not None and rule.clearance_m == 1.5
    assert rule.assumptions_zh == ("w 给水管径未知，按 d>200 计",)
    rule = required_clearance_m(_w("d", UtilityKind.DRAINAGE), _w("g", UtilityKind.GAS))
    assert rule is not None and rule.clearance_m == 1.2
    assert "g: gas pressure unknown, taken as medium" in rule.assumptions_en
    rule = required_clearance_m(_w("p", UtilityKind.POWER), _w("w", UtilityKind.WATER))
    assert rule is not None and rule.clearance_m == 1.0 and rule.confidence == Confidence.LOW
    # known attributes: no assumptions
    rule = required_clearance_m(_w("w", UtilityKind.WATER, diameter_mm=100), _w("d", UtilityKind.DRAINAGE))
    assert rule is not None and rule.assumptions_en == ()


def test_every_row_has_source_and_confidence() -> None:
    rows = clearance_rows()
    assert len(rows) == 20
    for row in rows:
        assert row.source.startswith(("GB 50289-2016", "GB 50028-2006"))
        assert row.confidence in set(Confidence)
        assert row.clearance_m > 0

"""``scheduling.findings.evaluate(..., focus=...)``: equal to the whole plan's findings filtered afterwards."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import random
from typing import Any

import pytest
from shapely.geometry import Point

from geo.overlap import detect
from onetrench.domain import ExcavationMethod, Finding, Road, UtilityKind, Work, WorksKind
from onetrench.settings import BlackoutPeriod, Settings
from scheduling.findings import FindingsMemo, evaluate
from tests.test_detector import make_city

d = dt.date
TODAY = d(2026, 11, 27)


def _plan(seed: int) -> tuple[list[Work], list[Road], Settings]:
    """The detector's test city with random dates, bounds, utilities, road works and blackouts."""
    rng = random.Random(seed)
    roads, works = make_city(seed, split=seed % 2 == 0)
    kinds = [UtilityKind.WATER, UtilityKind.GAS, UtilityKind.POWER, UtilityKind.TELECOM, UtilityKind.DRAINAGE]
    dated = []
    for w in works:
        start = d(2026, 12, 1) + dt.timedelta(days=rng.randrange(400))
        end = start + dt.timedelta(days=rng.randrange(5, 60))
        dated.append(
            dataclasses.replace(
                w,
                utility=rng.choice(kinds),
                owner=rng.choice(["", "某公司"]),
                start=start,
                end=end,
                earliest_start=start - dt.timedelta(days=rng.randrange(90)) if rng.random() < 0.4 else None,
                latest_end=end + dt.timedelta(days=rng.randrange(90)) if rng.random() < 0.4 else None,
                diameter_mm=rng.choice([None, 110.0, 300.0, 600.0]),
                emergency=rng.random() < 0.15,
                method=ExcavationMethod.OPEN_CUT if rng.random() < 0.85 else ExcavationMethod.TRENCHLESS,
            )
        )
    recent = [
        dataclasses.replace(
            r,
            last_works_date=d(2022, 1, 1) + dt.timedelta(days=rng.randrange(1500)),
            last_works_kind=rng.choice(list(WorksKind)),
        )
        if rng.random() < 0.4
        else r
        for r in roads
    ]
    named = rng.sample([r.road_id for r in roads], 3)
    blackouts = [
        BlackoutPeriod(name_zh="春节", name_en="Spring Festival", start=d(2027, 2, 5), end=d(2027, 2, 13)),
        BlackoutPeriod(name_zh="高考", name_en="Gaokao", start=d(2027, 6, 7), end=d(2027, 6, 10)),
        BlackoutPeriod(name_zh="马拉松", name_en="Marathon", start=d(2027, 4, 1), end=d(2027, 4, 30), road_ids=named),
    ]
    return dated, recent, Settings(blackouts=blackouts, working_days_only=seed % 3 == 0)


def _evaluator(works: list[Work], roads: list[Road], detection: Any, settings: Settings) -> Any:
    """``evaluate`` of the plan and its detection, given the other arguments."""
    return functools.partial(
        evaluate,
        works,
        roads,
        detection.occupancy,
        detection.shared,
        settings=settings,
        today=TODAY,
        off_road=detection.off_road,
    )


def _touching(findings: list[Finding], focus: set[str]) -> list[Finding]:
    return [f for f in findings if not focus.isdisjoint(f.work_ids)]


@pytest.mark.parametrize("seed", range(6))
def test_focus_equals_all_findings_filtered(seed: int) -> None:
    """focus=None, all works, none, one, a random tenth and a random half: the filtered whole plan."""
    works, roads, settings = _plan(seed)
    detection = detect(works, roads, settings=settings)
    rng = random.Random(seed)
    ids = [w.work_id for w in works]
    outside = [(wid, Point(-1000.0 - k, -1000.0).buffer(2.0)) for k, wid in enumerate(rng.sample(ids, 3))]

    def run(focus: set[str] | None) -> list[Finding]:
        return _evaluator(works, roads, detection, settings)(outside_district=outside, focus=focus)

    everything = run(None)
    kinds = {f.kind for f in everything}
    assert len(kinds) >= 6, kinds  # every kind is exercised (same period is rarer)
    tenth, half = set(rng.sample(ids, len(ids) // 10)), set(rng.sample(ids, len(ids) // 2))
    for focus in [set(ids), set(), {ids[0]}, {rng.choice(ids)}, tenth, half]:
        got = run(focus)
        assert got == _touching(everything, focus)
        assert [f.geometry.wkb if f.geometry is not None else None for f in got] == [
            f.geometry.wkb if f.geometry is not None else None for f in _touching(everything, focus)
        ]
    assert run(set(ids)) == everything


@pytest.mark.parametrize("seed", range(3))
def test_a_memo_shared_by_calls_changes_no_finding(seed: int) -> None:
    """One FindingsMemo over several focus sets (as a large check's strips): the findings of fresh calls.

    The memo keeps the texts naming works and roads made by the first calls; a work named again
    by a later call must read exactly as it would have without the memo.
    """
    works, roads, settings = _plan(seed)
    detection = detect(works, roads, settings=settings)
    rng = random.Random(seed)
    ids = [w.work_id for w in works]
    memo = FindingsMemo(settings)
    run = _evaluator(works, roads, detection, settings)

    strips = [set(rng.sample(ids, len(ids) // 4)) for _ in range(4)]
    for focus in strips:
        assert run(focus=focus, memo=memo) == run(focus=focus)
    assert memo.works, "the memo must have been used"
    with pytest.raises(ValueError, match="settings"):
        run(focus=strips[0], memo=FindingsMemo(settings.model_copy()))

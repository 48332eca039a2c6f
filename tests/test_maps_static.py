"""Static PNG maps, bundle PNGs and per-road timelines: byte-stable, Chinese, the right content."""

from __future__ import annotations

import datetime as dt
import io
import struct
import zlib
from typing import Any

import numpy as np
import pytest
from matplotlib import image as mpimg
from shapely.geometry import LineString

from maps import _mpl
from maps.bundle import bundle_png
from maps.sample import small_world
from maps.static import render_png
from maps.timeline import road_timeline, road_timeline_png, stretches_on_road, timeline_rows
from onetrench.domain import FindingKind, Interval, Occupancy, Road, RoadClass
from onetrench.errors import InputError
from onetrench.settings import Settings

SETTINGS = Settings()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every PNG chunk, read by hand from the file format."""
    assert png.startswith(PNG_SIGNATURE)
    out, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        assert zlib.crc32(kind + data) == struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])[0]
        out.append((kind, data))
        pos += 12 + length
    return out


def pixels(png: bytes) -> np.ndarray:
    return (mpimg.imread(io.BytesIO(png), format="png")[..., :3] * 255).round().astype(int)


def has_colour(img: np.ndarray, rgb: tuple[int, int, int], tol: int = 6) -> bool:
    return bool((np.abs(img - np.array(rgb)).max(axis=-1) <= tol).any())


@pytest.fixture(scope="module")
def plan() -> Any:
    return small_world()


@pytest.fixture(scope="module")
def png(plan: Any) -> bytes:
    return render_png(works=plan.works, roads=plan.roads, findings=plan.findings, bundles=plan.bundles,
                      settings=SETTINGS)  # fmt: skip


def test_png_is_valid_sized_and_stamp_free(png: bytes) -> None:
    parts = chunks(png)
    width, height = struct.unpack(">II", parts[0][1][:8])
    assert (width, height) == (1500, 1125)  # 10 × 7.5 in at 150 dpi
    text = b"".join(data for kind, data in parts if kind in (b"tEXt", b"iTXt", b"zTXt"))
    assert b"matplotlib" not in text and b"Software" not in text and b"Date" not in text


def test_png_is_byte_stable(plan: Any, png: bytes) -> None:
    again = render_png(works=plan.works, roads=plan.roads, findings=plan.findings, bundles=plan.bundles,
                       settings=SETTINGS)  # fmt: skip
    assert again == png


def test_dug_twice_stands_out_only_when_present(plan: Any, png: bytes) -> None:
    yellow = (0xFF, 0xD4, 0x00)
    assert has_colour(pixels(png), yellow)
    calm = [f for f in plan.findings if f.kind is not FindingKind.SAME_ROAD_DIFFERENT_PERIOD]
    other = render_png(works=plan.works, roads=plan.roads, findings=calm, bundles=plan.bundles, settings=SETTINGS)
    assert not has_colour(pixels(other), yellow)


def test_utility_colours_are_drawn(png: bytes) -> None:
    img = pixels(png)
    for rgb in [(0x00, 0xA0, 0xE9), (0xE4, 0x00, 0x7F), (0x00, 0x99, 0x44)]:  # water, gas, telecom
        assert has_colour(img, rgb, tol=10)


def test_nothing_to_draw_is_an_input_error() -> None:
    with pytest.raises(InputError):
        render_png(works=[], roads=[], settings=SETTINGS)


def test_a_cjk_font_is_found() -> None:
    family = _mpl.cjk_family()
    assert family in _mpl.CJK_FAMILIES  # fonts-noto-cjk on Debian


def test_without_cjk_font_labels_fall_back_to_english(monkeypatch: pytest.MonkeyPatch, plan: Any) -> None:
    monkeypatch.setattr(_mpl, "cjk_family", lambda: None)
    assert _mpl.displayable("綦江区审查图 Review map") == "Review map"
    assert _mpl.bilingual("道路", "road") == "road"
    # filterwarnings=error: a missing glyph would fail here
    png = render_png(works=plan.works, roads=plan.roads, findings=plan.findings, settings=SETTINGS)
    assert png.startswith(PNG_SIGNATURE)


def test_bundle_png_frames_the_bundle(plan: Any) -> None:
    a = bundle_png(plan.bundles[0], plan.works, plan.roads, findings=plan.findings, settings=SETTINGS)
    b = bundle_png(plan.bundles[0], plan.works, plan.roads, findings=plan.findings, settings=SETTINGS)
    assert a == b
    img = pixels(a)
    assert has_colour(img, (0xE6, 0x00, 0x12), tol=10)  # power, in the bundle
    assert not has_colour(img, (0x00, 0xA0, 0xE9), tol=10)  # water is not in the bundle


# ---------------------------------------------------------------------------------- timeline


def road(plan: Any, road_id: str) -> Road:
    return next(r for r in plan.roads if r.road_id == road_id)


def test_stretches_from_geometry() -> None:
    r = Road(road_id="R", name="r", road_class=RoadClass.BRANCH, width_m=16, geometry=LineString([(0, 0), (1000, 0)]))
    plan = small_world()
    w = plan.works[0]
    moved = type(w)(**{**{f: getattr(w, f) for f in w.__slots__}, "geometry": LineString([(-50, 5), (300, 5)])})
    assert stretches_on_road(moved, r) == (Interval(0.0, 300.0),)
    far = type(w)(**{**{f: getattr(w, f) for f in w.__slots__}, "geometry": LineString([(0, 50), (300, 50)])})
    assert stretches_on_road(far, r) == ()


def test_timeline_rows_on_a_road(plan: Any) -> None:
    rows = timeline_rows(road(plan, "R1"), plan.works)
    assert [r.work.work_id for r in rows] == ["W1", "W2"]
    (w1,), (w2,) = rows[0].intervals, rows[1].intervals
    assert (w1.from_m, w1.to_m) == pytest.approx((100, 700), abs=0.2)
    assert (w2.from_m, w2.to_m) == pytest.approx((400, 900), abs=0.2)
    assert rows[0].proposed is None


def test_bundle_window_is_the_after_date(plan: Any) -> None:
    rows = {r.work.work_id: r for r in timeline_rows(road(plan, "R2"), plan.works, bundles=plan.bundles)}
    assert rows["W3"].proposed == (dt.date(2026, 3, 10), dt.date(2026, 5, 30))  # was 03-10..05-20
    assert rows["W4"].proposed == (dt.date(2026, 3, 10), dt.date(2026, 5, 30))  # was 04-01..05-30
    assert rows["W6"].proposed is None


def test_occupancies_decide_when_given(plan: Any) -> None:
    occ = [Occupancy(work_id="W2", road_id="R1", intervals=(Interval(10, 20),), offsets_m=(0.0,))]
    rows = timeline_rows(road(plan, "R1"), plan.works, occupancies=occ)
    assert [(r.work.work_id, r.intervals) for r in rows] == [("W2", (Interval(10, 20),))]


def test_timeline_html_is_inline_svg_and_escaped(plan: Any) -> None:
    page = road_timeline(road(plan, "R2"), plan.works, settings=SETTINGS, findings=plan.findings, bundles=plan.bundles)
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<script" not in page
    assert "&lt;b&gt;某热力&lt;/b&gt;" in page and "<b>某热力</b>" not in page
    assert "K0+200–K0+800" in page  # W4: 200–800 m
    assert page == road_timeline(road(plan, "R2"), plan.works, settings=SETTINGS, findings=plan.findings,
                                 bundles=plan.bundles)  # fmt: skip


def test_timeline_png_is_byte_stable(plan: Any) -> None:
    a = road_timeline_png(road(plan, "R1"), plan.works, settings=SETTINGS, findings=plan.findings)
    b = road_timeline_png(road(plan, "R1"), plan.works, settings=SETTINGS, findings=plan.findings)
    assert a == b and a.startswith(PNG_SIGNATURE)
    img = pixels(a)
    assert has_colour(img, (0x00, 0xA0, 0xE9), tol=10) and has_colour(img, (0xE4, 0x00, 0x7F), tol=10)


def test_dollar_signs_are_not_mathtext(plan: Any) -> None:
    w = plan.works[0]
    odd = type(w)(**{**{f: getattr(w, f) for f in w.__slots__}, "owner": "A$^{x$ 公司 $"})
    png = road_timeline_png(road(plan, "R1"), [odd], settings=SETTINGS)
    assert png.startswith(PNG_SIGNATURE)


def test_write_maps_lays_out_a_directory(tmp_path: Any, plan: Any) -> None:
    from maps.output import write_maps

    paths = write_maps(tmp_path, works=plan.works, roads=plan.roads, findings=plan.findings, bundles=plan.bundles,
                       settings=SETTINGS)  # fmt: skip
    names = sorted(str(p.relative_to(tmp_path)) for p in paths)
    # roads with a finding between two works: R1 (dug twice) and R2 (same period); R3's is one work
    assert names == [
        "bundles/B1.html", "bundles/B1.png", "review.html", "review.png",
        "timelines/R1.html", "timelines/R1.png", "timelines/R2.html", "timelines/R2.png",
    ]  # fmt: skip
    assert (tmp_path / "review.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "W2" in (tmp_path / "timelines" / "R1.html").read_text(encoding="utf-8")

"""Readers on corrupted bytes never raise anything but onetrench's own errors.

Each valid fixture is truncated or has random bytes flipped; ``read_works`` must either return
a result (bad features reported as problems) or raise an :class:`OnetrenchError` subclass.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.intake import IntakeResult, read_works
from onetrench.errors import OnetrenchError
from onetrench.settings import Settings

DATA = Path(__file__).parent / "data" / "intake"
FILES = {
    "routes.geojson": None,
    "bad.geojson": None,
    "gbk_nocpg.zip": None,
    "two_layers.gpkg": "water",
    "routes.kml": None,
    "routes.kmz": None,
    "cad.dxf": "EPSG:4545",
    "amap_gcj02.csv": "gcj02",
    "baidu_bd09.csv": "bd09",
}
SETTINGS = Settings(district_boundary=DATA / "no-boundary.geojson")


def _read(name: str, data: bytes) -> None:
    option = FILES[name]
    layer = option if name.endswith(".gpkg") else None
    crs = option if not name.endswith(".gpkg") else None
    try:
        result = read_works(name, data=data, crs=crs, layer=layer, settings=SETTINGS)
    except OnetrenchError as exc:
        assert exc.zh and exc.en
        return
    assert isinstance(result, IntakeResult)
    assert all(p.zh and p.en for p in result.errors + result.warnings)
    result.to_json()


FUZZ = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@pytest.mark.parametrize("name", sorted(FILES))
@FUZZ
@given(cut=st.floats(min_value=0.0, max_value=1.0))
def test_truncated(name: str, cut: float) -> None:
    data = (DATA / name).read_bytes()
    _read(name, data[: int(len(data) * cut)])


@pytest.mark.parametrize("name", sorted(FILES))
@FUZZ
@given(flips=st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8))
def test_byte_flips(name: str, flips: list[tuple[float, int]]) -> None:
    data = bytearray((DATA / name).read_bytes())
    for where, value in flips:
        data[int(where * len(data))] = value
    _read(name, bytes(data))


@FUZZ
@given(
    blob=st.binary(max_size=512), ext=st.sampled_from([".geojson", ".zip", ".gpkg", ".kml", ".kmz", ".dxf", ".csv", ""])
)
def test_random_bytes(blob: bytes, ext: str) -> None:
    with contextlib.suppress(OnetrenchError):
        read_works(f"upload{ext}", data=blob, settings=SETTINGS)

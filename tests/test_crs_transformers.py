"""``geo.crs.transformer``: the operation PROJ chooses, as a pipeline where that gives the same coordinates.

A transformer made from a pipeline costs each new thread 0.2 ms instead of 60-90 ms (pyproj
keeps one PROJ object per thread), and must transform exactly as ``Transformer.from_crs`` does.
"""

from __future__ import annotations

import threading

import numpy as np
import pyproj
import pytest

from geo.crs import QIJIANG_BBOX, transformer
from onetrench.errors import CRSError

#: The service's pairs (lon/lat of uploads and answers, the working CRS) and older Chinese systems.
PAIRS = [
    ("EPSG:4326", "EPSG:4545"),
    ("EPSG:4490", "EPSG:4545"),
    ("EPSG:4545", "EPSG:4326"),
    ("EPSG:4545", "EPSG:4490"),
    ("EPSG:4214", "EPSG:4545"),  # Beijing 1954
    ("EPSG:2435", "EPSG:4545"),  # Beijing 1954 3-degree Gauss-Kruger CM 114E
]


def _points_in(crs: str, n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Random points over Qijiang (and 0.3 degree around it), in ``crs``."""
    rng = np.random.default_rng(abs(hash(crs)) % 2**32)
    lon0, lat0, lon1, lat1 = QIJIANG_BBOX
    lon, lat = rng.uniform(lon0 - 0.3, lon1 + 0.3, n), rng.uniform(lat0 - 0.3, lat1 + 0.3, n)
    x, y = pyproj.Transformer.from_crs("EPSG:4490", crs, always_xy=True).transform(lon, lat)
    return np.asarray(x), np.asarray(y)


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_the_same_coordinates_as_from_crs_bit_for_bit(source: str, target: str) -> None:
    """Over Qijiang, in this thread and in a new one; the pipeline is taken for these pairs."""
    x, y = _points_in(source)
    expected = np.array(pyproj.Transformer.from_crs(source, target, always_xy=True).transform(x, y))
    made = transformer(source, target)
    assert made.source_crs is None, "made from a pipeline (a transformer from two CRS knows them)"
    assert np.array_equal(np.array(made.transform(x, y)), expected)
    in_new_thread: list[np.ndarray] = []
    worker = threading.Thread(target=lambda: in_new_thread.append(np.array(made.transform(x, y))))
    worker.start()
    worker.join()
    assert np.array_equal(in_new_thread[0], expected)
    assert transformer(source, target) is made


def test_a_choice_proj_defers_keeps_the_transformer_from_the_two_crs() -> None:
    """NAD27 to WGS 84: PROJ chooses per point ("unavailable until proj_trans is called")."""
    made = transformer("EPSG:4267", "EPSG:4326")
    assert made.source_crs is not None
    lon, lat = np.array([-100.0, -80.0]), np.array([40.0, 35.0])
    expected = pyproj.Transformer.from_crs("EPSG:4267", "EPSG:4326", always_xy=True).transform(lon, lat)
    assert np.array_equal(np.array(made.transform(lon, lat)), np.array(expected))


def test_an_unknown_crs_is_a_crs_error_in_both_languages() -> None:
    with pytest.raises(CRSError) as info:
        transformer("EPSG:999999", "EPSG:4545")
    assert "无法识别坐标系" in info.value.zh and "EPSG:999999" in info.value.en

"""GCJ-02 (AMap, Tencent) and BD-09 (Baidu) coordinates, which PROJ does not know.

GCJ-02 is WGS84 shifted by a published, deliberately irregular function on the Krasovsky
ellipsoid (``a = 6378245.0``, ``ee = 0.00669342162296594323``); BD-09 adds Baidu's rotation
and offset on top of GCJ-02, using ``x_pi = π·3000/180`` (not plain π — a common error in
copies found online, as is using ``a = 6378137``).

The forward transforms are closed formulas. The inverses have no closed form: they are solved
by fixed-point iteration ``w ← w − (f(w) − target)``, which converges to below 1 cm in two
steps because ``f`` is close to a translation. All functions are vectorised over numpy arrays
and treat WGS84 and CGCS2000 (EPSG:4490) as equal, which holds to a few centimetres here.

Examples
--------
>>> lon, lat = wgs84_to_gcj02(106.65, 29.03)
>>> back_lon, back_lat = gcj02_to_wgs84(lon, lat)
>>> abs(float(back_lon) - 106.65) < 1e-9 and abs(float(back_lat) - 29.03) < 1e-9
True
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323
X_PI = np.pi * 3000.0 / 180.0

#: Convergence threshold of the inverse transforms, degrees (≈ 0.01 mm).
_INVERSE_TOLERANCE_DEG = 1e-10
_INVERSE_MAX_STEPS = 30

FloatArray = NDArray[np.float64]


class ChinaDatum(StrEnum):
    """Non-standard geographic systems of Chinese web maps, plus WGS84 itself."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    return np.broadcast_arrays(lon_a, lat_a)  # type: ignore[return-value]


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Return where GCJ-02 applies no shift (outside the rough box of mainland China)."""
    lon_a, lat_a = _as_arrays(lon, lat)
    result: NDArray[np.bool_] = (lon_a < 72.004) | (lon_a > 137.8347) | (lat_a < 0.8293) | (lat_a > 55.8271)
    return result


def _shift_lat(x: FloatArray, y: FloatArray) -> FloatArray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _shift_lon(x: FloatArray, y: FloatArray) -> FloatArray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Shift WGS84 / CGCS2000 longitude and latitude to GCJ-02 (degrees, vectorised)."""
    lon_a, lat_a = _as_arrays(lon, lat)
    dlat = _shift_lat(lon_a - 105.0, lat_a - 35.0)
    dlon = _shift_lon(lon_a - 105.0, lat_a - 35.0)
    radlat = lat_a / 180.0 * np.pi
    magic = 1.0 - KRASOVSKY_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (KRASOVSKY_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = out_of_china(lon_a, lat_a)
    return np.where(outside, lon_a, lon_a + dlon), np.where(outside, lat_a, lat_a + dlat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 to Baidu BD-09 (degrees, vectorised)."""
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _invert(
    forward: Any, lon: ArrayLike, lat: ArrayLike, first_guess: tuple[FloatArray, FloatArray]
) -> tuple[FloatArray, FloatArray]:
    target_lon, target_lat = _as_arrays(lon, lat)
    guess_lon, guess_lat = (np.array(a, dtype=np.float64, copy=True) for a in first_guess)
    for _ in range(_INVERSE_MAX_STEPS):
        fwd_lon, fwd_lat = forward(guess_lon, guess_lat)
        err_lon = fwd_lon - target_lon
        err_lat = fwd_lat - target_lat
        guess_lon = guess_lon - err_lon
        guess_lat = guess_lat - err_lat
        worst = max(float(np.nanmax(np.abs(err_lon), initial=0.0)), float(np.nanmax(np.abs(err_lat), initial=0.0)))
        if worst < _INVERSE_TOLERANCE_DEG:
            break
    return guess_lon, guess_lat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 back to WGS84 by fixed-point iteration (error far below 1 cm)."""
    return _invert(wgs84_to_gcj02, lon, lat, _as_arrays(lon, lat))


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 back to GCJ-02 (Baidu's closed-form approximation, then refined)."""
    bx, by = _as_arrays(lon, lat)
    x = bx - 0.0065
    y = by - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * X_PI)
    return _invert(gcj02_to_bd09, lon, lat, (z * np.cos(theta), z * np.sin(theta)))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 to BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 back to WGS84 (through GCJ-02, both steps iterated)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, datum: ChinaDatum) -> tuple[FloatArray, FloatArray]:
    """Convert coordinates in ``datum`` to WGS84 / CGCS2000 geographic."""
    if datum is ChinaDatum.GCJ02:
        return gcj02_to_wgs84(lon, lat)
    if datum is ChinaDatum.BD09:
        return bd09_to_wgs84(lon, lat)
    return _as_arrays(lon, lat)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, datum: ChinaDatum) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 / CGCS2000 geographic coordinates to ``datum``."""
    if datum is ChinaDatum.GCJ02:
        return wgs84_to_gcj02(lon, lat)
    if datum is ChinaDatum.BD09:
        return wgs84_to_bd09(lon, lat)
    return _as_arrays(lon, lat)

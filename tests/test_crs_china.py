"""GCJ-02 / BD-09 transforms (geo.chinacrs) and CRS resolution / transformation (geo.crs).

Distances are measured in metres in the working CRS (EPSG:4545) with pyproj directly; the
independent reference for the forward transforms is the public-domain ``prcoords`` package.
"""

from __future__ import annotations

import numpy as np
import prcoords
import pyproj
import pytest
from shapely.geometry import LineString, Polygon

from geo.chinacrs import (
    ChinaDatum,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo.crs import (
    CRSSpec,
    Plausibility,
    check_plausible,
    from_working,
    guess_crs,
    resolve_crs,
    to_working,
    transform_xy,
)
from onetrench.errors import CRSError
from onetrench.settings import Settings

TO_4545 = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True)
CM = 0.01

# A grid over the district's extent (106.38–107.06 E, 28.45–29.19 N), about 2 km spacing.
_LON, _LAT = np.meshgrid(np.linspace(106.38, 107.06, 37), np.linspace(28.45, 29.19, 41))
GRID_LON = _LON.ravel()
GRID_LAT = _LAT.ravel()


def metres_apart(lon_a: np.ndarray, lat_a: np.ndarray, lon_b: np.ndarray, lat_b: np.ndarray) -> np.ndarray:
    """Distance in metres between lon/lat points, measured in EPSG:4545."""
    xa, ya = TO_4545.transform(lon_a, lat_a)
    xb, yb = TO_4545.transform(lon_b, lat_b)
    return np.hypot(np.asarray(xa) - np.asarray(xb), np.asarray(ya) - np.asarray(yb))


# --------------------------------------------------------------------------------------
# geo.chinacrs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [(wgs84_to_gcj02, gcj02_to_wgs84), (gcj02_to_bd09, bd09_to_gcj02), (wgs84_to_bd09, bd09_to_wgs84)],
    ids=["gcj02", "bd09-from-gcj02", "bd09"],
)
def test_round_trip_within_1cm_over_the_district(forward, inverse) -> None:
    lon, lat = inverse(*forward(GRID_LON, GRID_LAT))
    assert metres_apart(GRID_LON, GRID_LAT, lon, lat).max() < CM
    # and the other way: shifted coordinates → back → forward again
    lon2, lat2 = forward(*inverse(GRID_LON, GRID_LAT))
    assert metres_apart(GRID_LON, GRID_LAT, lon2, lat2).max() < CM


def test_shift_is_hundreds_of_metres_in_qijiang() -> None:
    """The datums really differ here (else the round trip would prove nothing)."""
    gcj = metres_apart(GRID_LON, GRID_LAT, *wgs84_to_gcj02(GRID_LON, GRID_LAT))
    bd = metres_apart(GRID_LON, GRID_LAT, *wgs84_to_bd09(GRID_LON, GRID_LAT))
    assert gcj.min() > 200 and gcj.max() < 800
    assert bd.min() > 800 and bd.max() < 2000


def _prcoords(func, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = [func(prcoords.Coords(float(b), float(a))) for a, b in zip(lon, lat, strict=True)]
    return np.array([c.lon for c in out]), np.array([c.lat for c in out])


@pytest.mark.parametrize(
    ("ours", "reference"),
    [(wgs84_to_gcj02, prcoords.wgs_gcj), (wgs84_to_bd09, prcoords.wgs_bd), (gcj02_to_bd09, prcoords.gcj_bd)],
    ids=["wgs-gcj", "wgs-bd", "gcj-bd"],
)
def test_forward_matches_prcoords(ours, reference) -> None:
    lon, lat = ours(GRID_LON, GRID_LAT)
    ref_lon, ref_lat = _prcoords(reference, GRID_LON, GRID_LAT)
    assert metres_apart(lon, lat, ref_lon, ref_lat).max() < 0.001


@pytest.mark.parametrize(
    ("inverse", "reference_forward"),
    [(gcj02_to_wgs84, prcoords.wgs_gcj), (bd09_to_wgs84, prcoords.wgs_bd)],
    ids=["gcj02", "bd09"],
)
def test_inverse_is_undone_by_the_independent_forward(inverse, reference_forward) -> None:
    """Our inverse, then prcoords' forward, returns the input within 1 cm."""
    lon, lat = inverse(GRID_LON, GRID_LAT)
    again_lon, again_lat = _prcoords(reference_forward, lon, lat)
    assert metres_apart(GRID_LON, GRID_LAT, again_lon, again_lat).max() < CM


def test_prcoords_rough_inverse_is_worse_than_ours() -> None:
    """prcoords' one-step inverse is metre-level; ours must be better (sanity of the test above)."""
    gcj_lon, gcj_lat = wgs84_to_gcj02(GRID_LON, GRID_LAT)
    rough_lon, rough_lat = _prcoords(prcoords.gcj_wgs, gcj_lon, gcj_lat)
    ours = metres_apart(GRID_LON, GRID_LAT, *gcj02_to_wgs84(gcj_lon, gcj_lat))
    rough = metres_apart(GRID_LON, GRID_LAT, rough_lon, rough_lat)
    assert ours.max() < CM < rough.max()


def test_datum_dispatch_and_outside_china() -> None:
    for datum in ChinaDatum:
        lon, lat = to_wgs84(*from_wgs84(106.65, 29.03, datum), datum)
        assert metres_apart(np.array([106.65]), np.array([29.03]), lon, lat)[0] < CM
    lon, lat = wgs84_to_gcj02(2.35, 48.85)  # Paris: no shift outside China
    assert (float(lon), float(lat)) == (2.35, 48.85)


# --------------------------------------------------------------------------------------
# geo.crs: resolve_crs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("EPSG:4545", "EPSG:4545"),
        ("epsg:4490", "EPSG:4490"),
        (4544, "EPSG:4544"),
        ("4326", "EPSG:4326"),
        ("gcj02", "GCJ-02"),
        ("GCJ-02", "GCJ-02"),
        ("高德", "GCJ-02"),
        ("火星坐标", "GCJ-02"),
        ("腾讯", "GCJ-02"),
        ("bd09", "BD-09"),
        ("BD-09", "BD-09"),
        ("百度", "BD-09"),
        ("wgs84", "EPSG:4326"),
        ("CGCS2000", "EPSG:4490"),
        (pyproj.CRS.from_epsg(4545).to_wkt(), "EPSG:4545"),
        (pyproj.CRS.from_epsg(4545).to_wkt(version="WKT1_ESRI"), "EPSG:4545"),
    ],
)
def test_resolve_crs(spec: object, name: str) -> None:
    assert resolve_crs(spec).name == name  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", [None, "", "EPSG:999999", "not a crs", "bd09mc", "百度墨卡托", True, "EPSG:4978"])
def test_resolve_crs_rejects(spec: object) -> None:
    with pytest.raises(CRSError) as info:
        resolve_crs(spec)  # type: ignore[arg-type]
    assert info.value.zh and info.value.en


def test_resolve_crs_passes_specs_through() -> None:
    spec = resolve_crs("gcj02")
    assert resolve_crs(spec) is spec
    assert resolve_crs(pyproj.CRS.from_epsg(4545)).name == "EPSG:4545"


# --------------------------------------------------------------------------------------
# geo.crs: every CRS path to the working CRS, within 1 cm
# --------------------------------------------------------------------------------------

TRUTH_LON = np.array([106.40, 106.65, 106.66, 107.05])
TRUTH_LAT = np.array([28.46, 29.03, 29.04, 29.18])


def _truth_4545() -> np.ndarray:
    x, y = TO_4545.transform(TRUTH_LON, TRUTH_LAT)
    return np.column_stack([x, y])


def _encode(spec: str) -> np.ndarray:
    """The truth points expressed in ``spec``, computed with pyproj / prcoords (independent)."""
    if spec == "gcj02":
        return np.column_stack(_prcoords(prcoords.wgs_gcj, TRUTH_LON, TRUTH_LAT))
    if spec == "bd09":
        return np.column_stack(_prcoords(prcoords.wgs_bd, TRUTH_LON, TRUTH_LAT))
    to = pyproj.Transformer.from_crs("EPSG:4490", spec, always_xy=True)
    return np.column_stack(to.transform(TRUTH_LON, TRUTH_LAT))


CRS_PATHS = [
    "EPSG:4490",
    "EPSG:4326",
    "EPSG:4545",
    "EPSG:4544",
    "EPSG:4524",
    "EPSG:4523",
    "EPSG:32648",
    "gcj02",
    "bd09",
]


@pytest.mark.parametrize("spec", CRS_PATHS)
def test_every_crs_path_to_working_within_1cm(spec: str) -> None:
    src = resolve_crs(spec)
    xy = to_working(_encode(spec), src, settings=Settings())
    assert np.hypot(*(xy - _truth_4545()).T).max() < CM


@pytest.mark.parametrize("spec", CRS_PATHS)
def test_every_crs_path_round_trip_within_1cm(spec: str) -> None:
    settings = Settings()
    src = resolve_crs(spec)
    line = LineString(_encode(spec))
    working = to_working(line, src, settings=settings)
    back = from_working(working, src, settings=settings)
    again = to_working(back, src, settings=settings)
    assert np.hypot(*(np.asarray(again.coords) - np.asarray(working.coords)).T).max() < CM


def test_working_crs_is_configurable() -> None:
    xy = to_working(_encode("EPSG:4490"), resolve_crs(4490), settings=Settings(working_crs="EPSG:4544"))
    expected = np.column_stack(pyproj.Transformer.from_crs(4490, 4544, always_xy=True).transform(TRUTH_LON, TRUTH_LAT))
    assert np.hypot(*(xy - expected).T).max() < CM


def test_to_working_sequences_and_z() -> None:
    src = resolve_crs("EPSG:4490")
    geoms = [
        LineString([(106.65, 29.03, 300.0), (106.66, 29.04, 310.0)]),
        Polygon([(106.65, 29.03), (106.66, 29.03), (106.66, 29.04)]),
    ]
    out = to_working(geoms, src, settings=Settings())
    assert isinstance(out, list) and len(out) == 2
    assert not out[0].has_z
    assert out[1].geom_type == "Polygon"


def test_transform_xy_between_china_datums() -> None:
    gcj = _encode("gcj02")
    bd = transform_xy(gcj, resolve_crs("gcj02"), resolve_crs("bd09"))
    assert metres_apart(bd[:, 0], bd[:, 1], *_encode("bd09").T).max() < CM


# --------------------------------------------------------------------------------------
# Plausibility, swapped axes, guessing
# --------------------------------------------------------------------------------------


def test_check_plausible() -> None:
    wgs = resolve_crs("EPSG:4490")
    assert check_plausible([[106.65, 29.03]], wgs) is Plausibility.INSIDE
    assert check_plausible([[29.03, 106.65]], wgs) is Plausibility.SWAPPED
    assert check_plausible([[116.4, 39.9]], wgs) is Plausibility.OUTSIDE  # Beijing
    assert check_plausible([[np.nan, 29.0]], wgs) is Plausibility.NOT_FINITE
    gk = resolve_crs("EPSG:4545")
    x, y = TO_4545.transform(106.65, 29.03)
    assert check_plausible([[x, y]], gk) is Plausibility.INSIDE
    assert check_plausible([[y, x]], gk) is Plausibility.SWAPPED  # northing first


def test_guess_crs_assumes_only_degrees() -> None:
    guess = guess_crs(np.column_stack([TRUTH_LON, TRUTH_LAT]))
    assert guess.spec.name == "EPSG:4490" and not guess.swapped
    assert guess_crs(np.column_stack([TRUTH_LAT, TRUTH_LON])).swapped


@pytest.mark.parametrize("spec", ["EPSG:4545", "EPSG:4544", "EPSG:4524"])
def test_guess_crs_refuses_projected_but_names_the_candidate(spec: str) -> None:
    with pytest.raises(CRSError) as info:
        guess_crs(_encode(spec))
    assert spec in info.value.en and spec in info.value.zh


def test_guess_crs_local_grid_fits_nothing() -> None:
    with pytest.raises(CRSError) as info:
        guess_crs([[1000.0, 2000.0], [1500.0, 2500.0]])
    assert "fit no plausible system" in info.value.en
    with pytest.raises(CRSError):
        guess_crs(np.empty((0, 2)))


def test_crsspec_properties() -> None:
    spec = CRSSpec(pyproj.CRS.from_user_input("EPSG:4490"), ChinaDatum.BD09, "百度")
    assert spec.name == "BD-09" and spec.label == "百度"
    assert resolve_crs("gcj02").is_geographic
    assert not resolve_crs(4545).is_geographic

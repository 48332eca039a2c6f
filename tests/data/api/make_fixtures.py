"""Regenerate the small API fixture files (run: .venv/bin/python tests/data/api/make_fixtures.py).

Geometry is built in the working CRS (EPSG:4545) around a point in 古南街道, 綦江, so that the
expected shared lengths are known by construction, then written in EPSG:4490 (lon/lat).

- R1 东部新城大道: arterial, 40 m wide, 600 m east-west from the origin.
- R2 沱湾路: branch, 16 m wide, 400 m north-south, 1 km east of R1 (no overlap with R1).
- P-1 power, on R1 from 0 to 400 m, 5 m north of the centreline, 2026-03-02..2026-03-20.
- W-1 water, on R1 from 200 to 600 m, 5 m south, 2026-03-10..2026-03-30: shares 200 m with P-1.
- G-1 gas, on R1 from 100 to 300 m, 8 m north, 2026-08-03..2026-08-14: different period.
- T-1 telecom, on R2 from 50 to 350 m, 2026-03-05..2026-03-25: shares nothing with the others.
"""

from __future__ import annotations

import json
from pathlib import Path

from pyproj import Transformer

HERE = Path(__file__).resolve().parent
TO_WORK = Transformer.from_crs("EPSG:4490", "EPSG:4545", always_xy=True)
TO_LONLAT = Transformer.from_crs("EPSG:4545", "EPSG:4490", always_xy=True)
X0, Y0 = TO_WORK.transform(106.651, 29.028)


def line(points: list[tuple[float, float]]) -> dict[str, object]:
    coords = [list(TO_LONLAT.transform(X0 + x, Y0 + y)) for x, y in points]
    return {"type": "LineString", "coordinates": [[round(c[0], 9), round(c[1], 9)] for c in coords]}


def fc(features: list[dict[str, object]]) -> dict[str, object]:
    return {"type": "FeatureCollection", "features": features}


def feature(props: dict[str, object], geom: dict[str, object]) -> dict[str, object]:
    return {"type": "Feature", "properties": props, "geometry": geom}


roads = fc(
    [
        feature(
            {"road_id": "R1", "name": "东部新城大道", "class": "主干路", "width_m": 40, "pavement": "沥青"},
            line([(0, 0), (600, 0)]),
        ),
        feature(
            {"road_id": "R2", "name": "沱湾路", "class": "支路", "width_m": 16, "pavement": "沥青"},
            line([(1000, 0), (1000, 400)]),
        ),
    ]
)


def work(wid: str, kind: str, owner: str, start: str, end: str, pts: list[tuple[float, float]]) -> dict[str, object]:  # noqa: PLR0917
    props = {"工程编号": wid, "管线类别": kind, "建设单位": owner, "计划开工": start, "计划完工": end}
    return feature(props | {"联系人": CONTACTS[wid]}, line(pts))


#: 联系人 with a phone (the permit package needs one per applicant); T-1 has no phone on purpose.
CONTACTS = {"P-1": "王工 023-48612345", "W-1": "李工 13800000000", "G-1": "赵工 023-48670000", "T-1": "陈工"}

power = fc([work("P-1", "电力", "国网重庆綦江供电公司", "2026-03-02", "2026-03-20", [(0, 5), (400, 5)])])
water = fc([work("W-1", "给水", "渝綦水务", "2026-03-10", "2026-03-30", [(200, -5), (600, -5)])])
gas = fc([work("G-1", "燃气", "重庆港华燃气", "2026-08-03", "2026-08-14", [(100, 8), (300, 8)])])
telecom = fc([work("T-1", "通信", "中国电信綦江分公司", "2026-03-05", "2026-03-25", [(1000, 50), (1000, 350)])])


def main() -> None:
    for name, doc in {"roads": roads, "power": power, "water": water, "gas": gas, "telecom": telecom}.items():
        (HERE / f"{name}.geojson").write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

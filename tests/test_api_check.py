"""The incremental check loads only the stored works near a new one (database spatial index)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import shapely
from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import Session

from api.models import Role, WorkRow
from api.services import auth
from api.services.check import check_works, near_road_ids, near_work_ids
from api.services.roads import load_roads
from api.services.works import store_works
from geo.intake import read_works
from geo.roads import read_roads
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

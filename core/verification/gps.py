"""Is a GPS point plausible for a household? In Indonesia, and near the village's other households.

The village's position is estimated as the median of the recorded points of its other active
households (at least three), or else the household's own recorded point; a point more than
``PLAUSIBLE_KM`` from it is refused as a likely wrong fix or a visit recorded somewhere else.
Field visits check the visit's point here; registering a household and changing its point or
village through the API check the household's own point here too (``core.households.service``),
against the other households only, so that a wrong point can always be corrected.
"""

from __future__ import annotations

import math
import statistics

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import RecordStatus
from core.foundation.refusals import FieldError
from core.households.rules import LATITUDE_RANGE, LONGITUDE_RANGE
from core.storage.records import HOUSEHOLDS

PLAUSIBLE_KM = 25.0
NEIGHBOURS = 200  # recorded points of the village used for its median
EARTH_RADIUS_KM = 6371.0


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def in_indonesia_errors(latitude: float, longitude: float) -> list[FieldError]:
    errors = []
    if not (math.isfinite(latitude) and LATITUDE_RANGE[0] <= latitude <= LATITUDE_RANGE[1]):
        errors.append(
            FieldError(
                "latitude", f"latitude {latitude} is outside Indonesia ({LATITUDE_RANGE[0]} to {LATITUDE_RANGE[1]})"
            )
        )
    if not (math.isfinite(longitude) and LONGITUDE_RANGE[0] <= longitude <= LONGITUDE_RANGE[1]):
        errors.append(
            FieldError(
                "longitude",
                f"longitude {longitude} is outside Indonesia ({LONGITUDE_RANGE[0]} to {LONGITUDE_RANGE[1]})",
            )
        )
    return errors


async def reference_point(
    conn: AsyncConnection, village_code: str, household_id: int | None, *, own_point: bool = True
) -> tuple[float, float] | None:
    """Where the household should be: the median of its village's other recorded points, or else (when
    ``own_point``) its own recorded point; None when neither is known."""
    rows = await conn.execute(
        select(HOUSEHOLDS.c.id, HOUSEHOLDS.c.latitude, HOUSEHOLDS.c.longitude)
        .where(
            HOUSEHOLDS.c.village_code == village_code,
            HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value,
            HOUSEHOLDS.c.latitude.is_not(None),
            HOUSEHOLDS.c.longitude.is_not(None),
        )
        .limit(NEIGHBOURS)
    )
    points = {row.id: (row.latitude, row.longitude) for row in rows}
    own = points.pop(household_id, None)
    if len(points) >= 3:
        return statistics.median(p[0] for p in points.values()), statistics.median(p[1] for p in points.values())
    return own if own_point else None


async def gps_errors(
    conn: AsyncConnection,
    village_code: str,
    household_id: int | None,
    latitude: float,
    longitude: float,
    *,
    own_point: bool = True,
) -> list[FieldError]:
    """Why the point is not a plausible place for this household in ``village_code`` (empty when it is).

    ``household_id`` is None for a household not registered yet; ``own_point=False`` judges the point
    against the village's other households only (a new point for the household itself).
    """
    errors = in_indonesia_errors(latitude, longitude)
    if errors:
        return errors
    reference = await reference_point(conn, village_code, household_id, own_point=own_point)
    if reference is not None:
        away = distance_km(latitude, longitude, *reference)
        if away > PLAUSIBLE_KM:
            errors.append(
                FieldError(
                    "latitude",
                    f"the point is {away:,.0f} km from village {village_code}'s households "
                    f"(at most {PLAUSIBLE_KM:g} km); check the GPS fix",
                )
            )
    return errors

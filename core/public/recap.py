"""The public recap of a region: aggregates only, in two grouped statements.

- households: active households in the region and below it;
- verified: of those, the households verified in the field (a visit that found them) or determined
  in a DTKS edition (``core.verification``);
- recipients: per program, the households enrolled by approved cycles in that program's latest
  period with any such enrollment in the region.

Recaps are kept for ``RECAP_SECONDS`` per process (``RecapCache``), so a public dashboard read by
many costs a pair of statements a region a minute, not a pair a reader.

The public never sees these exact counts, only ``published`` ones: as statistics offices do, a
count below N households (N = ``SIKS_PUBLIC_RECAP_MIN_COUNT``, 5 by default) is withheld and
every other count is rounded down to a multiple of N, totals too. A withheld household count is
null (flagged ``suppressed``); a program with a withheld count is left out of the recipients, as
one with none is. Zero is withheld like 1 to N-1: were it shown, a withheld cell would be known to
be at least 1, and a withheld district over four withheld villages of 1 would give all four away.

A region's count is the total of its children's, so a withheld cell would otherwise come back by
subtraction (a district of 7 minus a village of 6 is the other village's 1); with every count
rounded, the difference is a range, not a number. Rounding down rather than to the nearest
multiple matters: to the nearest, two villages of 4 make a district of 8 published as 10, which
means at least 8, which means both villages have 4. As published here, one total and its parts
pin a withheld part only when N or more parts all sit at the top of their ranges (five villages
of exactly 4 under a district of 20); tests/test_public_recap.py checks every smaller case.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import RecordStatus, VisitOutcome
from core.models import Visit
from core.public.lookup import ENROLLMENTS, received
from core.regions.codes import within
from core.storage.records import HOUSEHOLDS

VISITS = Visit.__table__
RECAP_SECONDS = 60.0
RECAP_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class ProgramRecipients:
    program: str
    period: str
    period_start: date
    period_end: date
    households: int


@dataclass(frozen=True, slots=True)
class RegionRecap:
    households: int
    verified: int
    recipients: list[ProgramRecipients]

    @property
    def verified_share(self) -> float:
        return self.verified / self.households if self.households else 0.0


async def region_recap(conn: AsyncConnection, region_code: str) -> RegionRecap:
    """Counts for the region ``region_code`` and everything below it."""
    found = exists().where(VISITS.c.household_id == HOUSEHOLDS.c.id, VISITS.c.outcome == VisitOutcome.FOUND.value)
    verified_household = or_(HOUSEHOLDS.c.determined_edition_id.is_not(None), found)
    households, verified = (
        await conn.execute(
            select(func.count(), func.count(case((verified_household, 1)))).where(
                within(HOUSEHOLDS.c.village_code, region_code), HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value
            )
        )
    ).one()
    in_region = (within(ENROLLMENTS.c.village_code, region_code), received())
    latest = (
        select(ENROLLMENTS.c.program, func.max(ENROLLMENTS.c.period_start).label("period_start"))
        .where(*in_region)
        .group_by(ENROLLMENTS.c.program)
        .subquery("latest")
    )
    rows = await conn.execute(
        select(
            ENROLLMENTS.c.program,
            ENROLLMENTS.c.period,
            ENROLLMENTS.c.period_start,
            ENROLLMENTS.c.period_end,
            func.count(),
        )
        .select_from(
            ENROLLMENTS.join(
                latest,
                (latest.c.program == ENROLLMENTS.c.program) & (latest.c.period_start == ENROLLMENTS.c.period_start),
            )
        )
        .where(*in_region)
        .group_by(ENROLLMENTS.c.program, ENROLLMENTS.c.period, ENROLLMENTS.c.period_start, ENROLLMENTS.c.period_end)
        .order_by(ENROLLMENTS.c.program, ENROLLMENTS.c.period)
    )
    return RegionRecap(households, verified, [ProgramRecipients(*row) for row in rows])


def published(count: int, min_count: int) -> int | None:
    """A count as the public sees it: below ``min_count`` withheld (None), else rounded down to a multiple of
    ``min_count`` (``min_count`` 1: exact)."""
    if min_count <= 1:
        return count
    if count < min_count:
        return None
    return count - count % min_count


@dataclass(frozen=True, slots=True)
class PublishedRecap:
    """A recap as the public sees it (``publish``): small counts withheld, the others rounded."""

    households: int | None
    verified: int | None
    recipients: list[ProgramRecipients]  # only programs whose count is not withheld, that count rounded
    rounded_to: int

    @property
    def suppressed(self) -> bool:
        return self.households is None or self.verified is None

    @property
    def verified_share(self) -> float | None:
        """From the published counts (exact ones would give a withheld count back); None when one is withheld."""
        if self.households is None or self.verified is None:
            return None
        return self.verified / self.households if self.households else 0.0


def publish(recap: RegionRecap, min_count: int) -> PublishedRecap:
    """The public view of ``recap`` (see the module docstring)."""
    return PublishedRecap(
        households=published(recap.households, min_count),
        verified=published(recap.verified, min_count),
        recipients=[
            ProgramRecipients(r.program, r.period, r.period_start, r.period_end, shown)
            for r in recap.recipients
            if (shown := published(r.households, min_count)) is not None
        ],
        rounded_to=min_count,
    )


class RecapCache:
    """Recaps by region code for ``seconds``; at most ``size`` regions, the least recently stored dropped first."""

    def __init__(
        self, seconds: float = RECAP_SECONDS, size: int = RECAP_CACHE_SIZE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.size = size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, RegionRecap]] = OrderedDict()

    def get(self, region_code: str) -> RegionRecap | None:
        entry = self._entries.get(region_code)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def put(self, region_code: str, recap: RegionRecap) -> None:
        self._entries[region_code] = (self._clock() + self.seconds, recap)
        self._entries.move_to_end(region_code)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

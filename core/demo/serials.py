"""Serial numbers (the last four digits) of demo NIK and KK numbers.

Both numbers are a 12-digit prefix (district code and a date) and a serial from 0001. The demo
writes villages in code order, so a regency's numbers are all handed out before the next
regency's: only the open regency's counters are kept, and memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sqlalchemy import Column, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.demo.draws import Ints, calendar

MAX_SERIAL = 9999
_REGENCY_DIVISOR = 10**8  # a 12-digit prefix divided by this is its 4-digit regency number


def prefixes(district: Ints, days: Ints, day_offset: Ints | int = 0) -> Ints:
    """12-digit prefixes: the district code's digits, then the date as DDMMYY with ``day_offset``
    added to the day (40 for a woman's NIK)."""
    year, month, day = calendar(days)
    return district * 10**6 + (day + day_offset) * 10**4 + month * 100 + year % 100


class SerialsExhausted(RuntimeError):
    """Every serial 0001-9999 of a prefix is taken."""


class SerialBook:
    """The last serial used per prefix (district digits and date digits, as one number)."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._last: dict[int, int] = {}

    def note_taken(self, taken: Iterable[tuple[int, int]]) -> None:
        """Record (prefix, highest serial) pairs already in the database."""
        for prefix, serial in taken:
            if serial > self._last.get(prefix, 0):
                self._last[prefix] = serial

    def assign(self, prefixes: Ints) -> Ints:
        """The next free serials for ``prefixes``, in order of appearance within each prefix."""
        if len(prefixes) == 0:
            return np.zeros(0, dtype=np.int64)
        unique, inverse, counts = np.unique(prefixes, return_inverse=True, return_counts=True)
        base = np.fromiter((self._last.get(p, 0) for p in unique.tolist()), dtype=np.int64, count=len(unique))
        order = np.argsort(inverse, kind="stable")
        rank = np.empty(len(prefixes), dtype=np.int64)
        rank[order] = np.arange(len(prefixes)) - np.repeat(np.cumsum(counts) - counts, counts)
        serials = base[inverse] + rank + 1
        if int(serials.max()) > MAX_SERIAL:
            full = int(prefixes[int(np.argmax(serials))])
            raise SerialsExhausted(
                f"all {self._label} serials 0001-{MAX_SERIAL} of prefix {full:012d} are taken; "
                "append with fewer households or another seed"
            )
        self._last.update(zip(unique.tolist(), (base + counts).tolist(), strict=True))
        return serials

    def close_regencies_before(self, regency: int) -> None:
        """Forget the counters of regencies the generator has finished."""
        self._last = {p: s for p, s in self._last.items() if p // _REGENCY_DIVISOR >= regency}


async def taken_serials(
    conn: AsyncConnection, column: Column[str], first_regency: int, last_regency: int
) -> list[tuple[int, int]]:
    """Highest serial per 12-digit prefix among numbers of the regencies in the range, any status.

    One grouped range query on the number's index; numbers are compared as text, which orders
    16-digit strings like numbers.
    """
    low, high = f"{first_regency:04d}", f"{last_regency + 1:04d}"
    prefix = func.substr(column, 1, 12)
    query = select(prefix, func.max(func.substr(column, 13, 4))).where(column >= low, column < high).group_by(prefix)
    rows = await conn.execute(query)
    return [(int(p), int(s)) for p, s in rows if p.isdigit() and s.isdigit()]

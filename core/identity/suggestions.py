"""Finding by record linkage the people a NIK join missed (``core.identity.linkage``).

- A member whose NIK the civil registry lacks is linked against the Adminduk persons whose NIK no
  active member holds (a mistyped NIK's true one is among them; a NIK someone else holds is never
  suggested). The best candidate at or above the threshold becomes ``nik_suggested``.
- A child whom Dapodik lacks under their NIK is linked on name and birth date against the pupils
  whose NIK is empty or held by no active member.

The reference rows are read in one statement each and handed to ``link`` as frames; only what an
operator needs leaves this module (the suggested NIK and the probability, the pupil's school level).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import IdentityStatus, RecordStatus
from core.identity.rules import Outcome, pupil_outcome
from core.models import AdmindukPerson, DapodikPupil
from core.storage.records import MEMBERS

ADMINDUK = AdmindukPerson.__table__
DAPODIK = DapodikPupil.__table__


class Unmatched(NamedTuple):
    """A member the NIK join did not find: what linkage compares, and where the outcome goes."""

    member_id: int
    household_id: int
    village_code: str
    name: str
    birth_date: date
    sex: str
    nik: str  # as registered (a mistyped NIK is close to the true one)
    kk: str  # the household's family card number


def _unclaimed(nik: Any) -> Any:
    """SQL: no active member holds this NIK."""
    return ~exists().where(MEMBERS.c.nik == nik, MEMBERS.c.status == RecordStatus.ACTIVE.value)


def _people(members: Sequence[Unmatched]) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "key": [m.member_id for m in members],
            "name": [m.name for m in members],
            "birth_date": [m.birth_date for m in members],
            "sex": [m.sex for m in members],
            "region_code": [m.village_code for m in members],
            "nik": [m.nik for m in members],
            "kk": [m.kk for m in members],
        }
    )


def _best(pairs: Any, threshold: float) -> dict[int, tuple[int, float]]:
    """left key → (right key, probability) of its most probable pair at or above ``threshold``."""
    if pairs.empty:
        return {}
    kept = pairs[pairs["probability"] >= threshold].sort_values("probability", ascending=False)
    best = kept.drop_duplicates("left_key")
    return {
        int(left): (int(right), float(p))
        for left, right, p in zip(best["left_key"], best["right_key"], best["probability"], strict=True)
    }


async def suggest_niks(
    engine: AsyncEngine, snapshot_id: int, members: Sequence[Unmatched], threshold: float
) -> dict[int, Outcome]:
    """member id → ``nik_suggested`` outcome, for the members whose person was found."""
    import pandas as pd

    from core.identity.linkage import link

    a = ADMINDUK.c
    query = select(a.row_number, a.nik, a.kk, a.full_name, a.birth_date, a.sex, a.village_code, a.birth_place).where(
        a.snapshot_id == snapshot_id, _unclaimed(a.nik)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    right = pd.DataFrame(rows, columns=["key", "nik", "kk", "name", "birth_date", "sex", "region_code", "birth_place"])
    niks = dict(zip(right["key"], right["nik"], strict=True))
    pairs = link(_people(members), right, threshold=threshold)
    return {
        member: Outcome(IdentityStatus.NIK_SUGGESTED, probability=round(p, 4), suggested_nik=niks[person])
        for member, (person, p) in _best(pairs, threshold).items()
    }


async def suggest_pupils(
    engine: AsyncEngine, snapshot_id: int, children: Sequence[Unmatched], threshold: float
) -> dict[int, Outcome]:
    """member id → the outcome of the pupil found by name and birth date (``enrolled`` or ``not_enrolled``)."""
    import pandas as pd

    from core.identity.linkage import link

    d = DAPODIK.c
    query = select(
        d.row_number, d.name, d.birth_date, d.sex, d.nik, d.enrolled, d.level, d.grade, d.attendance_pct
    ).where(d.snapshot_id == snapshot_id, or_(d.nik.is_(None), _unclaimed(d.nik)))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    pupils = {row[0]: tuple(row[5:]) for row in rows}
    right = pd.DataFrame(
        {
            "key": [row[0] for row in rows],
            "name": [row[1] for row in rows],
            "birth_date": [row[2] for row in rows],
            "sex": [row[3] for row in rows],
            "region_code": [None] * len(rows),
            "nik": [row[4] for row in rows],
        }
    )
    pairs = link(_people(children).drop(columns=["kk"]), right, threshold=threshold)
    return {
        member: pupil_outcome(pupils[pupil], probability=round(p, 4))
        for member, (pupil, p) in _best(pairs, threshold).items()
    }

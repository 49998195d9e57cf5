"""Finding 13 (recap): public recaps withhold counts below SIKS_PUBLIC_RECAP_MIN_COUNT households and round
every other count down, totals too, so no withheld cell comes back by subtraction from a total."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.households import service
from core.public.recap import ProgramRecipients, RegionRecap, publish, published
from core.storage.db import write_transaction
from tests.serving import serve
from tests.test_public import NEIGHBOUR, RECAP, VILLAGE, ask, family, plant

DISTRICT = "32.01.01"  # Cibinong: VILLAGE and NEIGHBOUR are two of its villages
SHOWN = """query Recap($code: String!) { recap(regionCode: $code) {
  households verifiedHouseholds verifiedShare suppressed countsRoundedTo
  recipients { program households } } }"""


def test_published_counts_withhold_small_cells_and_round_the_others_down() -> None:
    shown = [published(n, 5) for n in (0, 1, 4, 5, 9, 10, 14, 15, 12_347)]
    assert shown == [None, None, None, 5, 5, 10, 10, 15, 12_345]
    assert [published(n, 10) for n in (0, 9, 10, 19, 20)] == [None, None, 10, 10, 20]
    assert [published(n, 1) for n in (0, 1, 4, 7)] == [0, 1, 4, 7]  # 1: exact counts


def possible(shown: int | None, min_count: int) -> range:
    """What a published count says the true count can be: the attacker's view."""
    return range(0, min_count) if shown is None else range(shown, shown + min_count)


def recoverable(cells: tuple[int, ...], min_count: int) -> bool:
    """Whether a withheld cell is pinned to one value by the published cells and their published total."""
    total = possible(published(sum(cells), min_count), min_count)
    ranges = [possible(published(cell, min_count), min_count) for cell in cells]
    for index, cell in enumerate(cells):
        if published(cell, min_count) is not None:
            continue
        others = [r for position, r in enumerate(ranges) if position != index]
        low, high = sum(r.start for r in others), sum(r.stop - 1 for r in others)
        values = [v for v in ranges[index] if total.start - high <= v <= total.stop - 1 - low]
        if len(values) == 1:
            return True
    return False


@pytest.mark.parametrize("min_count", [2, 3, 5])
def test_finding_13_no_withheld_cell_comes_back_by_subtraction_from_its_total(min_count: int) -> None:
    """Every way of splitting a total into fewer than min_count cells of 0 to 3 * min_count: no withheld cell is
    pinned, whether the total is published or withheld. (Rounded to the nearest multiple instead, villages of 4
    and 4 would make a district of 8 published as 10, at least 8, and both 4s would come back; with zero shown,
    a withheld district over four withheld villages would pin each to 1.) The limit, documented: min_count
    cells all at the top of their range."""
    for parts in range(1, min_count):
        for cells in itertools.combinations_with_replacement(range(3 * min_count), parts):
            assert not recoverable(cells, min_count), cells
    assert recoverable((min_count - 1,) * min_count, min_count)


async def register(engine: AsyncEngine, village: str, count: int) -> None:
    async with write_transaction(engine) as conn:
        for n in range(count):
            registered = await service.register_household(conn, family(village, f"Warga Nomor {chr(65 + n)}"))
            assert not isinstance(registered, service.Invalid), registered


@pytest.fixture
async def public(db: AsyncEngine, settings: Settings) -> Any:
    async with serve(settings) as http:  # the default: SIKS_PUBLIC_RECAP_MIN_COUNT=5
        yield http


async def shown(http: httpx.AsyncClient, code: str) -> dict[str, Any]:
    return (await ask(http, SHOWN, code=code))["data"]["recap"]


async def test_finding_13_recap_withholds_cells_of_fewer_than_five_households(
    db: AsyncEngine, public: httpx.AsyncClient
) -> None:
    await plant(db)  # Pondok Rajeg: 3 active households, 2 verified, 2 PKH recipients in 2026-Q1
    village = await shown(public, VILLAGE)
    assert village == {
        "households": None,
        "verifiedHouseholds": None,
        "verifiedShare": None,
        "suppressed": True,
        "countsRoundedTo": 5,
        "recipients": [],  # PKH's 2 are withheld: left out, as a program with none is
    }
    assert await shown(public, "11") == {**village}  # Aceh, nobody registered: zero looks like 1 to 4
    body = await ask(public, RECAP, code=VILLAGE)  # the older query shape still answers, with nulls
    assert body["data"]["recap"]["households"] is None


async def test_finding_13_a_withheld_village_does_not_come_back_from_its_district(
    db: AsyncEngine, public: httpx.AsyncClient, settings: Settings
) -> None:
    """Two villages of 4 households: both withheld, the district of 8 published as 5 (5 to 9), so either village
    may have 1 to 4. Seven and four: the district of 11 is 10, the village of 7 is 5; still no exact count."""
    await register(db, VILLAGE, 4)
    await register(db, NEIGHBOUR, 4)
    answers = [await shown(public, code) for code in (VILLAGE, NEIGHBOUR, DISTRICT)]
    assert [a["households"] for a in answers] == [None, None, 5]
    assert [a["verifiedHouseholds"] for a in answers] == [None, None, None]  # nobody verified: 0 is withheld
    assert [a["suppressed"] for a in answers] == [True, True, True]
    assert not recoverable((4, 4), 5)
    await register(db, VILLAGE, 3)
    async with serve(settings) as http:  # a new process: recaps are cached for a minute
        village, neighbour, district = [await shown(http, code) for code in (VILLAGE, NEIGHBOUR, DISTRICT)]
    assert (village["households"], neighbour["households"], district["households"]) == (5, None, 10)
    assert (district["verifiedHouseholds"], district["verifiedShare"], district["suppressed"]) == (None, None, True)
    assert not recoverable((7, 4), 5)


def test_the_recap_share_is_computed_from_the_published_counts() -> None:
    """An exact share next to rounded counts would give a withheld count back (1 of 9 verified: 0.11)."""
    shown_recap = publish(RegionRecap(households=9, verified=1, recipients=[]), 5)
    assert (shown_recap.households, shown_recap.verified, shown_recap.verified_share) == (5, None, None)
    assert publish(RegionRecap(households=14, verified=6, recipients=[]), 5).verified_share == 0.5


def test_programs_with_a_withheld_count_are_left_out_and_the_others_rounded() -> None:
    quarter = ("2026-Q1", date(2026, 1, 1), date(2026, 4, 1))
    recap = RegionRecap(
        households=40,
        verified=12,
        recipients=[ProgramRecipients("bst", *quarter, 3), ProgramRecipients("pkh", *quarter, 17)],
    )
    assert publish(recap, 5).recipients == [ProgramRecipients("pkh", *quarter, 15)]
    assert publish(recap, 1).recipients == recap.recipients

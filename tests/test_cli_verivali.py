"""``siks verivali``: rounds, progress and determination from the command line."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from core.cli import app
from core.foundation.enums import HouseholdRemovalReason
from core.storage.db import write_transaction
from core.verification import proposals
from tests.test_verification_determination import to_the_top
from tests.verification_support import officer, registered


async def siks(*args: str, code: int = 0) -> str:
    result = await asyncio.to_thread(CliRunner().invoke, app, ["verivali", *args])
    assert result.exit_code == code, result.output
    return result.output


async def test_round_progress_and_determination(db: AsyncEngine, settings: Any) -> None:
    households = await registered(db, 2)
    made = await siks("create-round", "--period", "2026-Q4", "--label", "Verivali Q4", "--region", "32.01.01")
    assert "2 households on the prelist" in made
    round_id = made.split(":")[0].removeprefix("round ")
    assert round_id in await siks("rounds")
    async with write_transaction(db) as conn:
        removal = await proposals.propose_removal(
            conn, officer("village_operator"), households[0].id, 1, HouseholdRemovalReason.NOT_FOUND
        )
    await to_the_top(db, [removal.id])
    done = await siks("determine", "--label", "DTKS 2026-12", "--period", "2026-12")
    assert "0 added, 0 changed, 1 removed, 0 not applied; 1 households" in done
    assert "DTKS 2026-12" in await siks("editions")
    shown = await siks("progress", round_id, "--region", "32.01")
    assert shown.splitlines()[1].split()[:3] == ["32.01.01", "2", "0"] and shown.splitlines()[-1].startswith("total")
    again = await siks("determine", "--label", "DTKS 2026-12", "--period", "2026-12", code=2)
    assert "already labelled 'DTKS 2026-12'" in again
    assert "nothing to determine" in await siks("determine", "--label", "DTKS 2027-01", "--period", "2027-01", code=2)
    assert "is not a round id" in await siks("progress", "abc", code=2)
    assert "no verification round with id 123" in await siks("progress", "123", code=2)
    bad = await siks("create-round", "--period", "2026", "--label", "x", "--region", "99.99", code=2)
    assert "regionCodes.0: region 99.99 does not exist" in bad

"""Recipients to object to: households of real villages receiving aid now (an approved cycle whose period has
not ended), and grievance cases filed as SIKS-Dataku files them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo
from core.auth.principal import Principal
from core.auth.users import create_user
from core.foundation.enums import GrievanceReason, Relationship, Sex
from core.foundation.ids import ids
from core.grievances.cases import GRIEVANCES
from core.grievances.filing import Objection, Recipient, file_grievance
from core.households import service
from core.models import Enrollment, ProgramCycle
from core.storage.db import write_transaction
from tests import factories

VILLAGE = factories.VILLAGE  # 32.01.01.1001 Pondok Rajeg, district Cibinong 32.01.01
SIBLING = "32.01.01.1002"  # Karadenan, same district


@dataclass(frozen=True)
class Planted:
    household_id: int
    member_id: int


async def recipient(
    engine: AsyncEngine, name: str, village: str = VILLAGE, *, receiving: bool = True, rt: str = "001"
) -> Planted:
    """A household of ``village`` headed by ``name``; with ``receiving``, enrolled in PKH by an approved cycle
    for a quarter that ends in 60 days."""
    district = village.rsplit(".", 1)[0]
    head = factories.member(Relationship.HEAD, Sex.FEMALE, date(1980, 3, 4), district, name)
    data = factories.household(village, members=[head], rt=rt)
    now = datetime.now(UTC)
    async with write_transaction(engine) as conn:
        record = await service.register_household(conn, data)
        assert not isinstance(record, service.Invalid), record
        if receiving:
            cycle = ids.next_id()
            await conn.execute(
                insert(ProgramCycle.__table__).values(
                    id=cycle, program="pkh", period=f"T{cycle % 10_000}", region_code=village[:2],
                    status="approved", started_at=now, run_by="test",
                )
            )  # fmt: skip
            today = now.date()
            await conn.execute(
                insert(Enrollment.__table__).values(
                    id=ids.next_id(), cycle_id=cycle, program="pkh", period=f"T{cycle % 10_000}",
                    period_start=today - timedelta(days=30), period_end=today + timedelta(days=60),
                    household_id=record.id, village_code=village, amount=750_000, status="enrolled", created_at=now,
                )
            )  # fmt: skip
    return Planted(record.id, record.members[0].id)


async def filed(
    engine: AsyncEngine,
    planted: Planted,
    village: str = VILLAGE,
    reason: GrievanceReason = GrievanceReason.NO_LONGER_POOR,
    days: int = 14,
) -> int:
    """A case about ``planted`` as the Sanggah page files it; its id."""
    request = RequestInfo(Principal("dataku", "public", village, via="dataku"), client="198.51.100.7")
    objection = Objection(
        village, Recipient(planted.member_id, planted.household_id, "SI** RO****"), reason,
        "Sudah punya mobil dan toko besar di pasar.", "081234567890",
    )  # fmt: skip
    async with write_transaction(engine) as conn:
        case = await file_grievance(conn, request, objection, "k" * 32, days, datetime.now(UTC))
    return int(case.id)


async def backdate(engine: AsyncEngine, grievance_id: int, days: int) -> None:
    """Move a case's filing and deadline ``days`` into the past, as if filed then."""
    async with write_transaction(engine) as conn:
        row = (
            await conn.execute(
                select(GRIEVANCES.c.created_at, GRIEVANCES.c.deadline).where(GRIEVANCES.c.id == grievance_id)
            )
        ).one()
        await conn.execute(
            update(GRIEVANCES)
            .where(GRIEVANCES.c.id == grievance_id)
            .values(created_at=row.created_at - timedelta(days=days), deadline=row.deadline - timedelta(days=days))
        )


async def officer(engine: AsyncEngine, username: str, role: str, region: str) -> None:
    async with write_transaction(engine) as conn:
        await create_user(conn, username, "rahasia-sekali-123", role, region)

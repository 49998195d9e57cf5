"""Payment statuses from the channels: whole batches, idempotent, refused whole on any bad row."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.models import Disbursement, Enrollment, ProgramCycle
from core.programs.disbursements import UpdateRefused, apply_status_updates, read_channel_csv, reconcile
from core.storage.db import write_transaction
from tests import factories
from tests.cli_support import siks
from tests.conftest import GraphQLClient
from tests.test_schema_households import store

DISBURSEMENTS = Disbursement.__table__
UPDATE = """mutation($updates: [DisbursementUpdateInput!]!) { updateDisbursements(updates: $updates) {
  __typename ... on DisbursementUpdateSummary { updated unchanged }
  ... on ValidationError { fields { field message } } } }"""


async def payments(engine: AsyncEngine, statuses: list[str], village: str = factories.VILLAGE) -> list[str]:
    """Real payment rows (one household, cycle and enrollment each) in the given statuses."""
    household_ids = await store(engine, [factories.household(village) for _ in statuses])
    now = datetime.now(UTC)
    references = []
    async with write_transaction(engine) as conn:
        cycle_id = int(now.timestamp() * 1000)
        await conn.execute(
            insert(ProgramCycle.__table__).values(
                id=cycle_id,
                program="bpnt",
                period="2026-03",
                region_code=village,
                status="approved",
                enrolled=len(statuses),
                refused=0,
                total_amount=200_000 * len(statuses),
                started_at=now,
                run_by="test",
            )
        )
        for index, (household_id, status) in enumerate(zip(household_ids, statuses, strict=True)):
            enrollment_id = cycle_id + index + 1
            await conn.execute(
                insert(Enrollment.__table__).values(
                    id=enrollment_id,
                    cycle_id=cycle_id,
                    program="bpnt",
                    period="2026-03",
                    period_start=date(2026, 3, 1),
                    period_end=date(2026, 4, 1),
                    household_id=int(household_id),
                    village_code=village,
                    amount=200_000,
                    status="enrolled",
                    created_at=now,
                )
            )
            reference = f"BPNT-202603-{enrollment_id}-1"
            await conn.execute(
                insert(DISBURSEMENTS).values(
                    id=enrollment_id,
                    enrollment_id=enrollment_id,
                    program="bpnt",
                    period="2026-03",
                    village_code=village,
                    stage=1,
                    amount=200_000,
                    channel="kks_card",
                    reference=reference,
                    status=status,
                    updated_at=now,
                )
            )
            references.append(reference)
    return references


async def statuses(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as conn:
        return dict((await conn.execute(select(DISBURSEMENTS.c.reference, DISBURSEMENTS.c.status))).all())


def problems(result: dict[str, Any]) -> list[str]:
    assert result["__typename"] == "ValidationError", result
    return [f"{f['field']}: {f['message']}" for f in result["fields"]]


async def test_statuses_move_and_resending_changes_nothing(db: AsyncEngine, gql: GraphQLClient) -> None:
    first, second, third = await payments(db, ["released", "released", "released"])
    updates = [
        {"reference": first, "status": "disbursed"},
        {"reference": second, "status": "FAILED", "note": "kartu hilang"},
        {"reference": third, "status": "disbursed"},
    ]
    assert (await gql(UPDATE, {"updates": updates}))["updateDisbursements"] == {
        "__typename": "DisbursementUpdateSummary",
        "updated": 3,
        "unchanged": 0,
    }
    assert (await gql(UPDATE, {"updates": updates}))["updateDisbursements"]["unchanged"] == 3
    retry = (
        await gql(
            UPDATE,
            {"updates": [{"reference": second, "status": "disbursed"}, {"reference": third, "status": "returned"}]},
        )
    )["updateDisbursements"]
    assert retry["updated"] == 2
    assert await statuses(db) == {first: "disbursed", second: "disbursed", third: "returned"}


async def test_a_bad_batch_is_refused_whole(db: AsyncEngine, gql: GraphQLClient) -> None:
    released, pending = await payments(db, ["released", "pending"])
    before = await statuses(db)
    result = (
        await gql(
            UPDATE,
            {
                "updates": [
                    {"reference": released, "status": "disbursed"},
                    {"reference": "NOPE-1", "status": "disbursed"},
                    {"reference": released, "status": "disbursed"},
                    {"reference": pending, "status": "disbursed"},
                    {"reference": released, "status": "paid"},
                    # The same enrollment and stage under another program's prefix names no payment.
                    {"reference": "BST" + released.removeprefix("BPNT"), "status": "disbursed"},
                    {"reference": released + "0", "status": "disbursed"},
                ]
            },
        )
    )["updateDisbursements"]
    found = problems(result)
    assert any("row 3 (NOPE-1): no disbursement has this reference" in p for p in found)
    assert any("row 7 (BST-" in p and "no disbursement has this reference" in p for p in found)
    assert any("row 8 (" in p and "no disbursement has this reference" in p for p in found)
    assert any("reference repeated (first on row 2)" in p for p in found)
    assert any("cannot become disbursed: its cycle is not approved yet" in p for p in found)
    assert any("status 'paid' is not one of disbursed, failed, returned" in p for p in found)
    assert await statuses(db) == before
    assert problems((await gql(UPDATE, {"updates": []}))["updateDisbursements"]) == ["updates: no updates were given"]


async def test_channel_csv(db: AsyncEngine, tmp_path: Path) -> None:
    first, second = await payments(db, ["released", "released"])
    path = tmp_path / "pos.csv"
    path.write_text(
        f"reference,status,note\n{first},disbursed,\n{second},returned,rekening ditutup\n", encoding="utf-8"
    )
    async with write_transaction(db) as conn:
        result = await apply_status_updates(conn, read_channel_csv(path))
    assert (result.updated, result.unchanged) == (2, 0)
    path.write_text(f"reference,status\n{first},disbursed\n{first},disbursed\n", encoding="utf-8")
    with pytest.raises(UpdateRefused) as refused:
        async with write_transaction(db) as conn:
            await apply_status_updates(conn, read_channel_csv(path))
    assert "reference repeated" in refused.value.errors[0].message
    for content, message in [
        (b"ref,state\nx,y\n", "expected columns reference,status"),
        ("reference,status\nX,disbursed é\n".encode("latin-1"), "not UTF-8"),
    ]:
        path.write_bytes(content)
        with pytest.raises(UpdateRefused) as refused:
            read_channel_csv(path)
        assert message in refused.value.errors[0].message


async def test_reconciliation_per_regency(db: AsyncEngine, gql: GraphQLClient) -> None:
    first, *_ = await payments(db, ["released", "released", "pending"])
    await payments(db, ["released"], factories.OTHER_VILLAGE)
    await gql(UPDATE, {"updates": [{"reference": first, "status": "disbursed"}]})
    async with db.connect() as conn:
        lines = await reconcile(conn, program="bpnt", period="2026-03")
    assert [
        (line.region_code, line.payments, line.disbursed, line.released, line.pending, line.disbursed_amount)
        for line in lines
    ] == [("32.01", 3, 1, 1, 1, 200_000), ("35.78", 1, 0, 1, 0, 0)]
    data = await gql('{ reconciliation(regionCode: "35") { regionCode payments amount released } }')
    assert data["reconciliation"] == [{"regionCode": "35.78", "payments": 1, "amount": 200000.0, "released": 1}]


async def test_cli_import_and_reconcile(db: AsyncEngine, tmp_path: Path) -> None:
    first, second = await payments(db, ["released", "released"])
    path = tmp_path / "channel.csv"
    path.write_text(f"reference,status\n{first},disbursed\n{second},failed\n", encoding="utf-8")
    done = siks("disbursement", "import", str(path))
    assert done.returncode == 0 and "2 updated, 0 unchanged" in done.stdout
    path.write_text(f"reference,status\n{first},returned\nGHOST,disbursed\n", encoding="utf-8")
    refused = siks("disbursement", "import", str(path))
    assert refused.returncode == 2 and "GHOST" in refused.stderr and "nothing was updated" in refused.stderr
    assert (await statuses(db))[first] == "disbursed"
    table = siks("disbursement", "reconcile", "--program", "bpnt")
    assert table.returncode == 0
    assert "bpnt\t2026-03\t32.01\t2\t400000\t0\t0\t1\t1\t0" in table.stdout

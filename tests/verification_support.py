"""Helpers for the verification tests: officers of each level over one village, GraphQL documents."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo
from core.auth.principal import Principal
from core.households import service
from core.households.data import HouseholdData
from core.storage.db import write_transaction
from tests import factories

VILLAGE = factories.VILLAGE  # 32.01.01.1001
#: role → its own scope over VILLAGE, level by level
CHAIN_SCOPES = {
    "village_operator": "32.01.01.1001",
    "district_officer": "32.01.01",
    "regency_office": "32.01",
    "province_office": "32",
    "data_centre": "",
}
REVIEWERS = ("district_officer", "regency_office", "province_office")

PROPOSAL_RESULT = """
  __typename
  ... on Proposal { id kind status stage version householdId basedOnVersion conflictReason
                    steps { action level toStage actor note } changes { entity field current proposed nik } }
  ... on ValidationError { message fields { field message } }
  ... on VersionConflict { message currentVersion }
  ... on NotFound { message }
  ... on StepRefused { message }
"""
PROPOSE_NEW = f"""mutation($input: HouseholdInput!, $note: String!) {{
  proposeNewHousehold(input: $input, note: $note) {{ {PROPOSAL_RESULT} }} }}"""
PROPOSE_CHANGE = f"""mutation($id: ID!, $version: Int!, $change: ProposedChangeInput!) {{
  proposeHouseholdChange(householdId: $id, version: $version, change: $change, note: "pemutakhiran") {{
    {PROPOSAL_RESULT} }} }}"""
PROPOSE_REMOVAL = f"""mutation($id: ID!, $version: Int!, $reason: HouseholdRemovalReason!) {{
  proposeHouseholdRemoval(householdId: $id, version: $version, reason: $reason, note: "pindah") {{
    {PROPOSAL_RESULT} }} }}"""
APPROVE = """mutation($ids: [ID!]!) { approveProposals(ids: $ids, note: "sesuai") {
  __typename ... on Proposal { id stage status } ... on StepRefused { message } ... on NotFound { message } } }"""
RETURN = (
    f"""mutation($id: ID!, $reason: String!) {{ returnProposal(id: $id, reason: $reason) {{ {PROPOSAL_RESULT} }} }}"""
)
REJECT = (
    f"""mutation($id: ID!, $reason: String!) {{ rejectProposal(id: $id, reason: $reason) {{ {PROPOSAL_RESULT} }} }}"""
)
DETERMINE = """mutation($label: String!, $period: String!) { determineDtks(label: $label, period: $period) {
  __typename
  ... on Determination { edition { id label additions changes removals conflicts households members
                                   counts(regionCode: "32.01") { households members } }
                         conflicts { reason proposals } }
  ... on ValidationError { fields { field message } } } }"""


def officer(role: str, scope: str | None = None) -> RequestInfo:
    """A caller for service-level calls."""
    return RequestInfo(Principal(f"test-{role}", role, CHAIN_SCOPES.get(role, "") if scope is None else scope))


async def registered(engine: AsyncEngine, count: int = 1, **extra: Any) -> list[Any]:
    """``count`` households registered directly in VILLAGE (or ``village=`` another)."""
    made = []
    async with write_transaction(engine) as conn:
        for _ in range(count):
            data: HouseholdData = factories.household(**extra)
            record = await service.register_household(conn, data)
            assert not isinstance(record, service.Invalid), record
            made.append(record)
    return made


async def row_count(engine: AsyncEngine, table: Any, *where: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())

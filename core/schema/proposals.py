"""GraphQL: proposals (usulan) climbing village → national, and the DTKS editions they end in.

Resolvers convert input and map outcomes; the rules live in ``core.verification``.
"""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from core.schema import enums
from core.schema.access import require
from core.schema.arguments import checked_code, parse_id
from core.schema.authorization import guarded
from core.schema.context import Context
from core.schema.errors import NotFound, StepRefused, ValidationError, VersionConflict
from core.schema.global_ids import global_id
from core.schema.households import Household
from core.schema.list_sizes import paged
from core.schema.mutations import HouseholdChanges, HouseholdInput, MemberChanges, MemberInput, given
from core.schema.node import Node, by_row_id, fetched_by
from core.schema.pagination import PageInfo, encode_cursor, page_info, window
from core.schema.proposed_values import ProposedValue
from core.schema.regions import Region
from core.schema.writes import as_error, check_allowed, run_write
from core.storage.db import write_transaction
from core.verification import chain, determination, proposals
from core.verification.determination import EditionRecord
from core.verification.drafts import ChangeRequest, MemberChange, MemberRemoval
from core.verification.queries import (
    ProposalFilter,
    count_proposals,
    edition_counts,
    editions,
    editions_by_id,
    proposal_page,
    proposals_by_id,
    proposed_of,
    proposed_values,
    steps_of,
)

if TYPE_CHECKING:
    from core.schema.fieldwork import VisitPhoto

DEFAULT_PAGE_SIZE = 50


@guarded("proposal")
@strawberry.type(description="One recorded step of a proposal.")
class ProposalStep:
    action: str = strawberry.field(
        description="propose, revise, approve, return, reject, determine or conflict.",
        deprecation_reason="The stored spelling: read stepAction, an enum as the rest of the API spells it.",
    )
    step_action: enums.ProposalStepAction = enums.enum_twin(enums.ProposalStepAction, "action", "What the step did.")
    level: enums.VerificationLevel = strawberry.field(description="The level that acted.")
    to_stage: enums.VerificationLevel = strawberry.field(description="Where the proposal went.")
    actor: str
    role: str
    note: str
    at: datetime


@fetched_by(by_row_id(lambda conn, ids, _scope: editions_by_id(conn, ids)))  # editions are national
@guarded("dtks_edition")
@strawberry.type(description="A DTKS edition: the registry as determined (penetapan) by the ministry; never changes.")
class DtksEdition(Node):
    id: strawberry.ID = global_id("DtksEdition")
    label: str
    period: str
    determined_at: datetime
    determined_by: str
    additions: int
    changes: int
    removals: int
    conflicts: int = strawberry.field(description="Proposals not applied because their household had changed.")
    households: int = strawberry.field(description="Active households in the whole registry once determined.")
    members: int

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, EditionRecord)

    @strawberry.field(description="Active households and members as of this edition, in a region within yours.")
    async def counts(self: Any, info: Info[Context, None], region_code: str | None = None) -> EditionCounts:  # type: ignore[misc]
        principal = require(info.context, "dtks_edition", "read")
        code = checked_code(region_code, "regionCode") if region_code else ""
        async with info.context.engine.connect() as conn:
            households, members = await edition_counts(conn, self.id, code, principal.scope)
        return EditionCounts(region_code=code or principal.scope, households=households, members=members)


@guarded("dtks_edition")
@strawberry.type
class EditionCounts:
    region_code: str = strawberry.field(description="'' for the whole country.")
    households: int
    members: int


@fetched_by(by_row_id(proposals_by_id))
@guarded("proposal", personal=("changes",), household="household_id")
@strawberry.type(description="A proposal to add, change or remove a household, with its steps up the hierarchy.")
class Proposal(Node):
    id: strawberry.ID = global_id("Proposal")
    kind: enums.ProposalKind
    status: enums.ProposalStatus
    stage: enums.VerificationLevel = strawberry.field(description="The level that acts next.")
    household_id: strawberry.ID = global_id(
        "Household", "household_id", description="For a new household: the id it will get."
    )
    village_code: str
    based_on_version: int | None = strawberry.field(description="The household version the proposal was made from.")
    removal_reason: enums.HouseholdRemovalReason | None
    note: str
    conflict_reason: str | None
    round_id: strawberry.ID | None = global_id("VerificationRound", "round_id", required=False)
    visit_id: strawberry.ID | None = global_id("Visit", "visit_id", required=False)
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(description="Pass this back when revising the proposal.")

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, proposals.ProposalRecord)

    @strawberry.field(description="The village (desa/kelurahan).")
    async def village(self: Any, info: Info[Context, None]) -> Region | None:  # type: ignore[misc]
        return await info.context.loaders.region.load(self.village_code)  # type: ignore[return-value]

    @strawberry.field(description="The household as it is in the registry now (null for a new household).")
    async def household(self: Any, info: Info[Context, None]) -> Household | None:  # type: ignore[misc]
        return await info.context.loaders.household.load(self.household_id)  # type: ignore[return-value]

    @strawberry.field(description="Every step taken, oldest first.")
    async def steps(self: Any, info: Info[Context, None]) -> list[ProposalStep]:  # type: ignore[misc]
        loader = info.context.loaders.named("proposal_steps", _load_steps(info.context))
        return await loader.load(self.id)  # type: ignore[no-any-return]

    @strawberry.field(description="The proposed values beside the current ones.")
    async def changes(self: Any, info: Info[Context, None]) -> list[ProposedValue]:  # type: ignore[misc]
        loader = info.context.loaders.named("proposal_values", _load_proposed(info.context))
        return proposed_values(self, await loader.load(self.id))  # type: ignore[return-value]

    @strawberry.field(description="Photos sent with the proposal: a citizen's usul may carry one of the house.")
    async def photos(
        self: Any,  # type: ignore[misc]
        info: Info[Context, None],
    ) -> list[Annotated[VisitPhoto, strawberry.lazy("core.schema.fieldwork")]]:
        from core.schema.fieldwork import proposal_photos

        return await proposal_photos(info, self.id)  # type: ignore[no-any-return]

    @strawberry.field(description="The DTKS edition that determined it.")
    async def edition(self: Any, info: Info[Context, None]) -> DtksEdition | None:  # type: ignore[misc]
        if self.edition_id is None or self.status != "determined":
            return None
        loader = info.context.loaders.named("dtks_editions", _load_editions(info.context))
        return await loader.load(self.edition_id)  # type: ignore[no-any-return]


def _load_steps(context: Context) -> Any:
    async def load(keys: list[int]) -> list[Any]:
        async with context.engine.connect() as conn:
            found = await steps_of(conn, keys)
        return [found[key] for key in keys]

    return load


def _load_editions(context: Context) -> Any:
    async def load(keys: list[int]) -> list[Any]:
        async with context.engine.connect() as conn:
            found = await editions_by_id(conn, keys)
        return [found.get(key) for key in keys]

    return load


def _load_proposed(context: Context) -> Any:
    async def load(keys: list[int]) -> list[Any]:
        async with context.engine.connect() as conn:
            found = await proposed_of(conn, keys)
        return [found[key] for key in keys]

    return load


@guarded("proposal")
@strawberry.type
class ProposalEdge:
    cursor: str
    node: Proposal


@guarded("proposal")
@strawberry.type
class ProposalConnection:
    edges: list[ProposalEdge]
    page_info: PageInfo
    where: strawberry.Private[ProposalFilter]

    @strawberry.field(description="Proposals matching the filters, over all pages.")
    async def total_count(self, info: Info[Context, None]) -> int:
        async with info.context.engine.connect() as conn:
            return await count_proposals(conn, self.where)


@guarded("dtks_edition")
@strawberry.type(description="A determination: the new edition and what was not applied, by reason.")
class Determination:
    edition: DtksEdition
    conflicts: list[ConflictCount]


@guarded("dtks_edition")
@strawberry.type
class ConflictCount:
    reason: str
    proposals: int


ProposalResult = Annotated[
    Proposal | ValidationError | VersionConflict | NotFound | StepRefused,
    strawberry.union("ProposalResult", description="The proposal as it now stands, or why nothing changed."),
]
StepResult = Annotated[
    Proposal | NotFound | StepRefused,
    strawberry.union("ProposalStepResult", description="One proposal of a bulk approval: moved on, or why not."),
]
DeterminationResult = Annotated[
    Determination | ValidationError,
    strawberry.union("DeterminationResult", description="The new DTKS edition, or why none was made."),
]


@strawberry.input(description="Changes to one member, named by id.")
class ProposedMemberChange:
    member_id: strawberry.ID
    changes: MemberChanges


@strawberry.input(description="A member who leaves the household, and why.")
class ProposedMemberRemoval:
    member_id: strawberry.ID
    reason: enums.RemovalReason


@strawberry.input(description="What a change proposal asks for; give at least one part.")
class ProposedChangeInput:
    household: HouseholdChanges | None = None
    member_changes: list[ProposedMemberChange] = strawberry.field(default_factory=list)
    new_members: list[MemberInput] = strawberry.field(default_factory=list)
    removed_members: list[ProposedMemberRemoval] = strawberry.field(default_factory=list)

    def to_request(self) -> ChangeRequest | ValidationError:
        household = given(self.household) if self.household is not None else {}
        if isinstance(household, ValidationError):
            return household
        member_changes = []
        for index, item in enumerate(self.member_changes):
            values = given(item.changes)
            if isinstance(values, ValidationError):
                values.fields[0].field = f"memberChanges.{index}.changes.{values.fields[0].field}"
                return values
            member = parse_id(item.member_id, f"memberChanges.{index}.memberId", "Member")
            member_changes.append(MemberChange(member, values))
        return ChangeRequest(
            household=household,
            member_changes=member_changes,
            new_members=[m.to_data() for m in self.new_members],
            removed_members=[
                MemberRemoval(parse_id(r.member_id, f"removedMembers.{i}.memberId", "Member"), r.reason)
                for i, r in enumerate(self.removed_members)
            ],
        )


@strawberry.type
class ProposalQuery:
    @strawberry.field(
        description=f"Proposals in your region (and below), in pages (first/after forward, last/before backward; "
        f"{DEFAULT_PAGE_SIZE} when neither is given); filter by stage, status, kind.",
        metadata=paged(DEFAULT_PAGE_SIZE),
    )
    async def proposals(
        self,
        info: Info[Context, None],
        region_code: str | None = None,
        stage: enums.VerificationLevel | None = None,
        status: enums.ProposalStatus | None = None,
        kind: enums.ProposalKind | None = None,
        round_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ProposalConnection:
        principal = require(info.context, "proposal", "read")
        page_window = window(
            first, after, last, before, default=DEFAULT_PAGE_SIZE, limit=info.context.settings.max_page_size
        )
        where = ProposalFilter(
            scope=principal.scope,
            region_code=checked_code(region_code, "regionCode") if region_code else None,
            stage=stage.value if stage else None,
            status=status.value if status else None,
            kind=kind.value if kind else None,
            round_id=parse_id(round_id, "roundId", "VerificationRound") if round_id is not None else None,
        )
        async with info.context.engine.connect() as conn:
            page = await proposal_page(conn, where, page_window)
        return ProposalConnection(
            edges=[ProposalEdge(cursor=encode_cursor(r.id), node=r) for r in page.rows],
            page_info=page_info(page, attrgetter("id")),
            where=where,
        )

    @strawberry.field(description="One proposal (null outside your region, as if it did not exist).")
    async def proposal(self, info: Info[Context, None], id: strawberry.ID) -> Proposal | None:
        principal = require(info.context, "proposal", "read")
        async with info.context.engine.connect() as conn:
            return await proposals.proposal_by_id(conn, parse_id(id, "id", "Proposal"), principal.scope)  # type: ignore[no-any-return]

    @strawberry.field(description="DTKS editions, newest first.")
    async def dtks_editions(self, info: Info[Context, None], first: int = 20) -> list[DtksEdition]:
        require(info.context, "dtks_edition", "read")
        limit = info.context.settings.max_page_size
        async with info.context.engine.connect() as conn:
            return await editions(conn, window(first, None, None, None, default=first, limit=limit).size)  # type: ignore[return-value]


@strawberry.type
class ProposalMutation:
    @strawberry.mutation(description="Propose a household that is not in the registry yet (village level).")
    async def propose_new_household(
        self, info: Info[Context, None], input: HouseholdInput, note: str = ""
    ) -> ProposalResult:
        data = input.to_data()
        return await run_write(  # type: ignore[return-value]
            info,
            operation="proposeNewHousehold",
            obj="proposal",
            act="propose",
            change=lambda conn: proposals.propose_new_household(conn, info.context.request_info, data, note),
        )

    @strawberry.mutation(description="Propose changes to a household and its members; version is the household's.")
    async def propose_household_change(
        self,
        info: Info[Context, None],
        household_id: strawberry.ID,
        version: int,
        change: ProposedChangeInput,
        note: str = "",
    ) -> ProposalResult:
        target, request = parse_id(household_id, "householdId", "Household"), change.to_request()
        if isinstance(request, ValidationError):
            return request
        return await run_write(  # type: ignore[return-value]
            info,
            operation="proposeHouseholdChange",
            obj="proposal",
            act="propose",
            change=lambda conn: proposals.propose_change(
                conn, info.context.request_info, target, version, request, note
            ),
        )

    @strawberry.mutation(description="Propose taking a household out of the DTKS; version is the household's.")
    async def propose_household_removal(
        self,
        info: Info[Context, None],
        household_id: strawberry.ID,
        version: int,
        reason: enums.HouseholdRemovalReason,
        note: str = "",
    ) -> ProposalResult:
        target = parse_id(household_id, "householdId", "Household")
        return await run_write(  # type: ignore[return-value]
            info,
            operation="proposeHouseholdRemoval",
            obj="proposal",
            act="propose",
            change=lambda conn: proposals.propose_removal(
                conn, info.context.request_info, target, version, reason, note
            ),
        )

    @strawberry.mutation(
        description="Revise a proposal returned to the village and send it on again; version is the proposal's. "
        "Give household (new household), change (change) or removalReason (removal)."
    )
    async def revise_proposal(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        version: int,
        household: HouseholdInput | None = None,
        change: ProposedChangeInput | None = None,
        removal_reason: enums.HouseholdRemovalReason | None = None,
        note: str = "",
    ) -> ProposalResult:
        request = change.to_request() if change is not None else None
        if isinstance(request, ValidationError):
            return request
        revision = proposals.Revision(household.to_data() if household else None, request, removal_reason)
        target = parse_id(id, "id", "Proposal")
        return await run_write(  # type: ignore[return-value]
            info,
            operation="reviseProposal",
            obj="proposal",
            act="propose",
            change=lambda conn: proposals.revise_proposal(
                conn, info.context.request_info, target, version, revision, note
            ),
        )

    @strawberry.mutation(
        description="Approve proposals waiting at your level, forwarding each one level up; one answer per id."
    )
    async def approve_proposals(
        self, info: Info[Context, None], ids: list[strawberry.ID], note: str = ""
    ) -> list[StepResult]:
        await check_allowed(info, "approveProposals", "proposal", "review")
        targets = [parse_id(value, f"ids.{i}", "Proposal") for i, value in enumerate(ids)]
        async with write_transaction(info.context.engine) as conn:
            outcome = await chain.approve(conn, info.context.request_info, targets, note)
        if isinstance(outcome, list):
            return [as_error(item) for item in outcome]  # type: ignore[misc]
        raise GraphQLError(outcome.errors[0].message)

    @strawberry.mutation(description="Return a proposal to the level below, saying what must be corrected.")
    async def return_proposal(self, info: Info[Context, None], id: strawberry.ID, reason: str) -> ProposalResult:
        target = parse_id(id, "id", "Proposal")
        return await run_write(  # type: ignore[return-value]
            info,
            operation="returnProposal",
            obj="proposal",
            act="review",
            change=lambda conn: chain.send_back(conn, info.context.request_info, target, reason),
        )

    @strawberry.mutation(description="Reject a proposal for good, with the reason (at the village: withdraw it).")
    async def reject_proposal(self, info: Info[Context, None], id: strawberry.ID, reason: str) -> ProposalResult:
        target = parse_id(id, "id", "Proposal")
        return await run_write(  # type: ignore[return-value]
            info,
            operation="rejectProposal",
            obj="proposal",
            act="review",
            change=lambda conn: chain.reject(conn, info.context.request_info, target, reason),
        )

    @strawberry.mutation(
        description="Determine (penetapan) every proposal approved by a province into a new DTKS edition."
    )
    async def determine_dtks(self, info: Info[Context, None], label: str, period: str) -> DeterminationResult:
        outcome = await run_write(
            info,
            operation="determineDtks",
            obj="dtks_edition",
            act="determine",
            change=lambda conn: determination.determine(conn, info.context.request_info, label, period),
        )
        if isinstance(outcome, determination.Determined):
            conflicts = [
                ConflictCount(reason=determination.CONFLICT_REASONS[k], proposals=v)
                for k, v in outcome.conflicts.items()
            ]
            return Determination(edition=outcome.edition, conflicts=conflicts)
        return outcome  # type: ignore[return-value]

"""GraphQL: duplicate candidates found by ``siks dedup run``, and deciding them (``core.identity.duplicates``).

A pair is visible when at least one side's village lies in the caller's region. Each side shows
what a decision needs (name, NIK, sex, birth date, relationship, village, KK number, household
size) even when it lies outside the caller's region; the full household (``side.household``) only
inside it.
"""

from __future__ import annotations

from datetime import date, datetime
from operator import attrgetter
from typing import Annotated, Any, NamedTuple

import strawberry
from strawberry.types import Info

from core.foundation.ids import decode_global, id_from_text
from core.foundation.refusals import Invalid
from core.identity import duplicates
from core.identity.duplicates import CandidateFilter, Decision
from core.regions.codes import region_within
from core.schema import enums
from core.schema.access import require
from core.schema.arguments import checked_code, parse_id
from core.schema.authorization import guarded, unguarded
from core.schema.context import Context
from core.schema.errors import Error, ErrorCode, NotFound, ValidationError, VersionConflict, coded
from core.schema.global_ids import InvalidId, global_id
from core.schema.households import Household
from core.schema.list_sizes import Items, PageOfConnection, paged, sized
from core.schema.node import Node, by_row_id, fetched_by
from core.schema.pagination import PageInfo, encode_cursor, page_info, window
from core.schema.proposals import Proposal
from core.schema.regions import Region
from core.schema.writes import run_write

DEFAULT_PAGE_SIZE = 50
OBJECT = "duplicate_candidate"

DuplicateDecision = strawberry.enum(
    Decision, name="DuplicateDecision", description="SAME: one person (family) twice; DIFFERENT: two people."
)


class _PairKey(NamedTuple):
    """What loading a pair's sides needs, hashable (a DataLoader key)."""

    id: int
    kind: str
    first_id: int
    second_id: int
    first_household_id: int
    second_household_id: int
    first_village_code: str
    second_village_code: str


def _pair_key(record: Any) -> _PairKey:
    return _PairKey(*(getattr(record, name) for name in _PairKey._fields))


@guarded(OBJECT, personal=("name", "nik", "birth_date", "kk_number"), household="household_key", person="member_key")
@strawberry.type(description="One side of a duplicate pair: what deciding needs, wherever it lies.")
class DuplicateSide:
    member_key: strawberry.Private[int | None]
    household_key: strawberry.Private[int]
    scope: strawberry.Private[str]
    member_id: strawberry.ID | None = global_id(
        "Member", "member_key", required=False, description="The member (same-person pairs); null for a family."
    )
    household_id: strawberry.ID = global_id("Household", "household_key")
    village_code: str
    name: str | None = strawberry.field(description="The member's name, or for a family its head's.")
    nik: str | None = strawberry.field(description="The member's NIK, or for a family its head's.")
    sex: enums.Sex | None
    birth_date: date | None
    relationship: enums.Relationship | None
    member_status: enums.MemberStatus | None = strawberry.field(description="Null for a family.")
    household_status: enums.RecordStatus | None
    kk_number: str | None = strawberry.field(description="The household's family card (KK) number.")
    active_members: int = strawberry.field(description="Active members of the household.")

    @strawberry.field(description="True when this side's village lies in your region (you may act on it).")
    def in_your_region(self) -> bool:
        return region_within(self.village_code, self.scope)

    @strawberry.field(description="The village (desa/kelurahan).")
    async def village(self, info: Info[Context, None]) -> Region | None:
        return await info.context.loaders.region.load(self.village_code)  # type: ignore[return-value]

    @strawberry.field(description="The whole household: null outside your region.")
    async def household(self, info: Info[Context, None]) -> Household | None:
        return await info.context.loaders.household.load(self.household_key)  # type: ignore[return-value]

    @classmethod
    def of(cls, side: duplicates.Side, scope: str) -> DuplicateSide:
        return cls(
            member_key=side.member_id,
            household_key=side.household_id,
            scope=scope,
            village_code=side.village_code,
            name=side.name,
            nik=side.nik,
            sex=side.sex,  # type: ignore[arg-type]
            birth_date=side.birth_date,
            relationship=side.relationship,  # type: ignore[arg-type]
            member_status=side.member_status,  # type: ignore[arg-type]
            household_status=side.household_status,  # type: ignore[arg-type]
            kk_number=side.kk_number,
            active_members=side.active_members,
        )


def _load_sides(context: Context) -> Any:
    async def load(keys: list[_PairKey]) -> list[tuple[DuplicateSide, DuplicateSide]]:
        async with context.engine.connect() as conn:
            found = await duplicates.sides_of(conn, keys)
        scope = context.principal.scope
        return [
            (DuplicateSide.of(found[(key.id, 1)], scope), DuplicateSide.of(found[(key.id, 2)], scope)) for key in keys
        ]

    return load


def _load_member_pairs(context: Context) -> Any:
    async def load(keys: list[_PairKey]) -> list[list[Any]]:
        async with context.engine.connect() as conn:
            found = await duplicates.member_pairs_of(conn, keys, context.principal.scope)
        return [found[key.id] for key in keys]

    return load


@fetched_by(by_row_id(duplicates.candidates_by_id))
@guarded(OBJECT)
@strawberry.type(description="Two members (or households) that may be one person (or family) registered twice.")
class DuplicateCandidate(Node):
    id: strawberry.ID = global_id("DuplicateCandidate")
    kind: enums.DuplicateKind
    status: enums.DuplicateStatus
    probability: float = strawberry.field(description="How probable it is that the two are one (0 to 1).")
    agreeing: list[str] = strawberry.field(
        description="The fields that agree (name, birth_date, sex, nik, region_code ...; a family: members ...)."
    )
    decided_by: str | None
    decided_at: datetime | None
    found_at: datetime = strawberry.field(description="When a run last found the pair.")
    run_id: strawberry.Private[int]
    proposal_id: strawberry.Private[int | None]
    version: int = strawberry.field(description="Pass this back when deciding the pair.")

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, duplicates.CandidateRecord)

    @strawberry.field(description="The first side (the lower id).")
    async def first(self: Any, info: Info[Context, None]) -> DuplicateSide:  # type: ignore[misc]
        loader = info.context.loaders.named("duplicate_sides", _load_sides(info.context))
        return (await loader.load(_pair_key(self)))[0]  # type: ignore[no-any-return]

    @strawberry.field(description="The second side.")
    async def second(self: Any, info: Info[Context, None]) -> DuplicateSide:  # type: ignore[misc]
        loader = info.context.loaders.named("duplicate_sides", _load_sides(info.context))
        return (await loader.load(_pair_key(self)))[1]  # type: ignore[no-any-return]

    @strawberry.field(description="The proposal a SAME decision made (null outside your region).")
    async def proposal(self: Any, info: Info[Context, None]) -> Proposal | None:  # type: ignore[misc]
        if self.proposal_id is None:
            return None
        loader = info.context.loaders.named("duplicate_proposals", _load_proposals(info.context))
        return await loader.load(self.proposal_id)  # type: ignore[no-any-return]

    @strawberry.field(
        description="For a family registered twice: the same-person pairs between its two households.",
        metadata=sized(Items(20, "members of one family card (KK), paired")),
    )
    async def member_pairs(self: Any, info: Info[Context, None]) -> list[DuplicateCandidate]:  # type: ignore[misc]
        if self.kind != enums.DuplicateKind.SAME_FAMILY.value:  # type: ignore[attr-defined]
            return []
        loader = info.context.loaders.named("duplicate_member_pairs", _load_member_pairs(info.context))
        return await loader.load(_pair_key(self))  # type: ignore[no-any-return]


def _load_proposals(context: Context) -> Any:
    from core.verification.queries import proposals_by_id

    async def load(keys: list[int]) -> list[Any]:
        async with context.engine.connect() as conn:
            found = await proposals_by_id(conn, keys, context.principal.scope)
        return [found.get(key) for key in keys]

    return load


@guarded(OBJECT)
@strawberry.type
class DuplicateCandidateEdge:
    cursor: str
    node: DuplicateCandidate


@guarded(OBJECT)
@strawberry.type
class DuplicateCandidateConnection:
    edges: list[DuplicateCandidateEdge] = strawberry.field(metadata=sized(PageOfConnection()))
    page_info: PageInfo
    where: strawberry.Private[CandidateFilter]

    @strawberry.field(description="Candidates matching the filters, over all pages.")
    async def total_count(self, info: Info[Context, None]) -> int:
        async with info.context.engine.connect() as conn:
            return await duplicates.count_candidates(conn, self.where)


@unguarded
@strawberry.type(description="The pair was decided before (see its status); nothing was changed.")
class DecisionRefused(Error):
    message: str
    code: ErrorCode = coded(ErrorCode.ALREADY_DECIDED)
    status: enums.DuplicateStatus


ResolveDuplicateResult = Annotated[
    DuplicateCandidate | ValidationError | VersionConflict | NotFound | DecisionRefused,
    strawberry.union("ResolveDuplicateResult", description="The pair as it now stands, or why nothing changed."),
]


def _keep(value: strawberry.ID | None) -> tuple[str | None, int] | None:
    """The kept record named by ``keep``: (``Member`` or ``Household``, row id), or (None, id) for a raw id."""
    if value is None:
        return None
    text = str(value)
    number = id_from_text(text)
    if number is not None:
        return None, number
    found = decode_global(text)
    if found is None or found[0] not in ("Member", "Household") or id_from_text(found[1]) is None:
        raise InvalidId("keep", f"{text[:40]!r} is not the id of a Member or Household returned by this API")
    return found[0], int(found[1])


@strawberry.type
class DuplicateQuery:
    @strawberry.field(
        description=f"Duplicate candidates with at least one side in your region (and regionCode), in pages "
        f"(first/after forward, last/before backward; {DEFAULT_PAGE_SIZE} when neither is given).",
        metadata=paged(DEFAULT_PAGE_SIZE),
    )
    async def duplicate_candidates(
        self,
        info: Info[Context, None],
        status: enums.DuplicateStatus | None = None,
        kind: enums.DuplicateKind | None = None,
        region_code: str | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> DuplicateCandidateConnection:
        principal = require(info.context, OBJECT, "read")
        page_window = window(
            first, after, last, before, default=DEFAULT_PAGE_SIZE, limit=info.context.settings.max_page_size
        )
        where = CandidateFilter(
            scope=principal.scope,
            region_code=checked_code(region_code, "regionCode") if region_code else None,
            status=status.value if status else None,
            kind=kind.value if kind else None,
        )
        async with info.context.engine.connect() as conn:
            page = await duplicates.candidate_page(conn, where, page_window)
        return DuplicateCandidateConnection(
            edges=[DuplicateCandidateEdge(cursor=encode_cursor(r.id), node=r) for r in page.rows],
            page_info=page_info(page, attrgetter("id")),
            where=where,
        )


@strawberry.type
class DuplicateMutation:
    @strawberry.mutation(
        description="Decide a duplicate pair in your region; version is the pair's. SAME names the member (or "
        "household) to keep and proposes removing the other as a duplicate through the verification chain "
        "(nothing changes in the registry until the chain determines it); DIFFERENT closes the pair for good."
    )
    async def resolve_duplicate(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        decision: DuplicateDecision,  # type: ignore[valid-type]
        version: int,
        keep: strawberry.ID | None = None,
        reason: str = "",
    ) -> ResolveDuplicateResult:
        target = parse_id(id, "id", "DuplicateCandidate")
        kept = _keep(keep)
        request = info.context.request_info
        outcomes: list[Any] = []

        async def change(conn: Any) -> Any:
            outcome = await duplicates.decide(
                conn, request, target, version, decision, kept[1] if kept else None, reason, kept[0] if kept else None
            )
            outcomes.append(outcome)
            return outcome

        async def before(conn: Any) -> Any:
            return await duplicates.candidate_by_id(conn, target, request.principal.scope)

        result = await run_write(
            info,
            operation="resolveDuplicate",
            obj=OBJECT,
            act="resolve",
            change=change,
            audited=OBJECT,
            before=before,
            target=target,
        )
        refused = outcomes[-1] if outcomes else None
        if isinstance(refused, duplicates.AlreadyDecided):
            return DecisionRefused(message=refused.message, status=enums.DuplicateStatus(refused.status))  # type: ignore[call-arg]
        if isinstance(refused, Invalid) and not isinstance(result, ValidationError):
            return ValidationError.of(refused)
        return result  # type: ignore[return-value]

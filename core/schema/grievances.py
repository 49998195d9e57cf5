"""GraphQL: grievance cases (sanggah) of the caller's region — list, count, assign, reply, resolve, escalate.

Resolvers convert input and map outcomes; the rules live in ``core.grievances``. A case outside the
caller's region answers as if it did not exist (null, ``NotFound``).
"""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from core.grievances import cases, handling
from core.grievances.cases import GrievanceFilter
from core.schema import enums
from core.schema.access import require
from core.schema.arguments import checked_code, parse_id
from core.schema.authorization import guarded, unguarded
from core.schema.context import Context
from core.schema.errors import Error, ErrorCode, NotFound, ValidationError, VersionConflict, coded
from core.schema.global_ids import global_id
from core.schema.households import Household
from core.schema.list_sizes import Items, PageOfConnection, paged, sized
from core.schema.node import Node, by_row_id, fetched_by
from core.schema.pagination import PageInfo, encode_cursor, page_info, window
from core.schema.proposals import Proposal
from core.schema.regions import Region
from core.schema.writes import run_write

DEFAULT_PAGE_SIZE = 50
OBJECT = "grievance"

GrievanceOutcome = strawberry.enum(
    handling.Outcome, name="GrievanceOutcome", description="UPHELD: the recipient does not qualify; REJECTED: they do."
)
GrievanceAgeBand = strawberry.enum(
    cases.AgeBand,
    name="GrievanceAgeBand",
    description="Days since an unresolved case was filed: under 7, 7 to 14, over 14.",
)


@guarded(OBJECT)
@strawberry.type(description="One thing that happened to a grievance case, oldest first.")
class GrievanceEvent:
    kind: enums.GrievanceEventKind
    public: bool = strawberry.field(description="Shown to the citizen on Lacak (the text too).")
    text: str = strawberry.field(description="A reply's text or a decision's reason; empty for the other events.")
    level: enums.VerificationLevel = strawberry.field(description="The level handling the case after the event.")
    actor: str
    role: str
    at: datetime


@fetched_by(by_row_id(cases.grievances_by_id))
@guarded(OBJECT, personal=("text", "reporter_phone"), household="household_id")
@strawberry.type(description="A citizen's objection (sanggah) that a recipient does not qualify, and its handling.")
class Grievance(Node):
    id: strawberry.ID = global_id("Grievance")
    village_code: str
    household_id: strawberry.ID = global_id("Household", "household_id", description="The household objected to.")
    reason: enums.GrievanceReason
    text: str = strawberry.field(description="The citizen's words.")
    reporter_phone: str | None = strawberry.field(description="The citizen's telephone number, if given.")
    status: enums.GrievanceStatus
    level: enums.VerificationLevel = strawberry.field(description="The level handling the case now.")
    assignee: str | None = strawberry.field(description="The username of the officer handling it.")
    deadline: datetime = strawberry.field(description="When this level must have decided; then it is escalated.")
    resolution: str | None = strawberry.field(description="The public reason of the decision (shown on Lacak).")
    resolved_by: str | None
    resolved_at: datetime | None
    proposal_id: strawberry.ID | None = global_id(
        "Proposal", "proposal_id", required=False, description="The removal proposal an UPHELD decision made."
    )
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(description="Pass this back when acting on the case.")

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, cases.GrievanceRecord)

    @strawberry.field(description="True when undecided past its deadline (escalation moves it a level up).")
    def overdue(self: Any) -> bool:  # type: ignore[misc]
        return cases.overdue(self)

    @strawberry.field(description="The village (desa/kelurahan).")
    async def village(self: Any, info: Info[Context, None]) -> Region | None:  # type: ignore[misc]
        return await info.context.loaders.region.load(self.village_code)  # type: ignore[return-value]

    @strawberry.field(description="The household objected to, as it is in the registry now.")
    async def household(self: Any, info: Info[Context, None]) -> Household | None:  # type: ignore[misc]
        return await info.context.loaders.household.load(self.household_id)  # type: ignore[return-value]

    @strawberry.field(description="The removal proposal an UPHELD decision made (null outside your region).")
    async def proposal(self: Any, info: Info[Context, None]) -> Proposal | None:  # type: ignore[misc]
        if self.proposal_id is None:
            return None
        loader = info.context.loaders.named("grievance_proposals", _load_proposals(info.context))
        return await loader.load(self.proposal_id)  # type: ignore[no-any-return]

    @strawberry.field(
        description="Every event, oldest first: public ones (shown on Lacak) and internal notes.",
        metadata=sized(Items(50, "events of one case")),
    )
    async def events(self: Any, info: Info[Context, None]) -> list[GrievanceEvent]:  # type: ignore[misc]
        loader = info.context.loaders.named("grievance_events", _load_events(info.context))
        return await loader.load(self.id)  # type: ignore[no-any-return]


def _load_events(context: Context) -> Any:
    async def load(keys: list[int]) -> list[Any]:
        async with context.engine.connect() as conn:
            found = await cases.events_of(conn, keys)
        return [found[key] for key in keys]

    return load


def _load_proposals(context: Context) -> Any:
    from core.verification.queries import proposals_by_id

    async def load(keys: list[int]) -> list[Any]:
        async with context.engine.connect() as conn:
            found = await proposals_by_id(conn, keys, context.principal.scope)
        return [found.get(key) for key in keys]

    return load


@guarded(OBJECT)
@strawberry.type
class GrievanceEdge:
    cursor: str
    node: Grievance


@guarded(OBJECT)
@strawberry.type
class GrievanceConnection:
    edges: list[GrievanceEdge] = strawberry.field(metadata=sized(PageOfConnection()))
    page_info: PageInfo
    where: strawberry.Private[GrievanceFilter]

    @strawberry.field(description="Cases matching the filters, over all pages.")
    async def total_count(self, info: Info[Context, None]) -> int:
        async with info.context.engine.connect() as conn:
            return await cases.count_grievances(conn, self.where)


@guarded(OBJECT)
@strawberry.type
class GrievanceStatusCount:
    status: enums.GrievanceStatus
    count: int


@guarded(OBJECT)
@strawberry.type
class GrievanceAgeCount:
    band: GrievanceAgeBand  # type: ignore[valid-type]
    count: int


@guarded(OBJECT)
@strawberry.type(description="Cases of a region: by status, and the unresolved ones by age and overdue.")
class GrievanceCounts:
    region_code: str = strawberry.field(description="'' for the whole country.")
    total: int
    by_status: list[GrievanceStatusCount]
    by_age: list[GrievanceAgeCount] = strawberry.field(description="Unresolved cases by days since filing.")
    overdue: int = strawberry.field(description="Unresolved cases past their deadline.")


@guarded(OBJECT)
@strawberry.type
class EscalatedCount:
    from_level: enums.VerificationLevel
    cases: int


@guarded(OBJECT)
@strawberry.type(description="The overdue cases of your region moved a level up.")
class Escalation:
    escalated: int
    by_level: list[EscalatedCount]


@unguarded
@strawberry.type(
    description="The case cannot be acted on as it stands (resolved, or handled at a level above yours), or the "
    "removal proposal of an UPHELD decision was refused; nothing was changed."
)
class GrievanceRefused(Error):
    message: str
    code: ErrorCode = coded(ErrorCode.GRIEVANCE_REFUSED)


GrievanceResult = Annotated[
    Grievance | ValidationError | VersionConflict | NotFound | GrievanceRefused,
    strawberry.union("GrievanceResult", description="The case as it now stands, or why nothing changed."),
]


@strawberry.type
class GrievanceQuery:
    @strawberry.field(
        description=f"Grievance cases in your region (and regionCode), in pages (first/after forward, last/before "
        f"backward; {DEFAULT_PAGE_SIZE} when neither is given); filter by status and overdue.",
        metadata=paged(DEFAULT_PAGE_SIZE),
    )
    async def grievances(
        self,
        info: Info[Context, None],
        status: enums.GrievanceStatus | None = None,
        region_code: str | None = None,
        overdue: bool | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> GrievanceConnection:
        principal = require(info.context, OBJECT, "read")
        page_window = window(
            first, after, last, before, default=DEFAULT_PAGE_SIZE, limit=info.context.settings.max_page_size
        )
        where = GrievanceFilter(
            scope=principal.scope,
            region_code=checked_code(region_code, "regionCode") if region_code else None,
            status=status.value if status else None,
            overdue=overdue,
            at=cases.now(),
        )
        async with info.context.engine.connect() as conn:
            page = await cases.grievance_page(conn, where, page_window)
        return GrievanceConnection(
            edges=[GrievanceEdge(cursor=encode_cursor(r.id), node=r) for r in page.rows],
            page_info=page_info(page, attrgetter("id")),
            where=where,
        )

    @strawberry.field(description="One grievance case (null outside your region, as if it did not exist).")
    async def grievance(self, info: Info[Context, None], id: strawberry.ID) -> Grievance | None:
        principal = require(info.context, OBJECT, "read")
        async with info.context.engine.connect() as conn:
            return await cases.grievance_by_id(conn, parse_id(id, "id", "Grievance"), principal.scope)  # type: ignore[no-any-return]

    @strawberry.field(description="Grievance cases of a region within yours (yours when not given), counted.")
    async def grievance_counts(self, info: Info[Context, None], region_code: str | None = None) -> GrievanceCounts:
        principal = require(info.context, OBJECT, "read")
        code = checked_code(region_code, "regionCode") if region_code else None
        async with info.context.engine.connect() as conn:
            counted = await cases.grievance_counts(conn, principal.scope, code)
        return GrievanceCounts(
            region_code=code or principal.scope,
            total=sum(counted.by_status.values()),
            by_status=[
                GrievanceStatusCount(status=enums.GrievanceStatus(s), count=n)
                for s, n in counted.by_status.items()  # type: ignore[call-arg]
            ],
            by_age=[GrievanceAgeCount(band=cases.AgeBand(b), count=n) for b, n in counted.by_age.items()],  # type: ignore[call-arg]
            overdue=counted.overdue,
        )


async def _act(info: Info[Context, None], operation: str, target: int, change: Any) -> Any:
    """Run one action on a case as an audited write; a refusal of the case's rules becomes GrievanceRefused."""
    request = info.context.request_info
    refusals: list[Any] = []

    async def act(conn: Any) -> Any:
        outcome = await change(conn)
        if isinstance(outcome, handling.GrievanceRefused):
            refusals.append(outcome)
        return outcome

    async def before(conn: Any) -> Any:
        return await cases.grievance_by_id(conn, target, request.principal.scope)

    result = await run_write(
        info, operation=operation, obj=OBJECT, act="write", change=act, audited=OBJECT, before=before, target=target
    )
    if refusals:
        return GrievanceRefused(message=refusals[-1].message)  # type: ignore[call-arg]
    return result


@strawberry.type
class GrievanceMutation:
    @strawberry.mutation(
        description="Give a case to an officer (username) whose region covers its village and lies within yours; "
        "version is the case's."
    )
    async def assign_grievance(
        self, info: Info[Context, None], id: strawberry.ID, version: int, assignee: str
    ) -> GrievanceResult:
        target = parse_id(id, "id", "Grievance")
        request = info.context.request_info
        return await _act(  # type: ignore[no-any-return]
            info, "assignGrievance", target, lambda conn: handling.assign(conn, request, target, version, assignee)
        )

    @strawberry.mutation(
        description="Reply on a case: public (shown to the citizen on Lacak: write no names or NIKs) or an internal "
        "note for officers; version is the case's."
    )
    async def reply_to_grievance(
        self, info: Info[Context, None], id: strawberry.ID, version: int, text: str, public: bool
    ) -> GrievanceResult:
        target = parse_id(id, "id", "Grievance")
        request = info.context.request_info
        return await _act(  # type: ignore[no-any-return]
            info, "replyToGrievance", target, lambda conn: handling.reply(conn, request, target, version, text, public)
        )

    @strawberry.mutation(
        description="Decide a case; version is the case's. UPHELD proposes removing the household through the "
        "verification chain (removalReason, or the one the objection's reason implies); if the chain refuses the "
        "proposal the case stays open. REJECTED needs a reason. The reason is public (Lacak shows it)."
    )
    async def resolve_grievance(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        version: int,
        outcome: GrievanceOutcome,  # type: ignore[valid-type]
        reason: str = "",
        removal_reason: enums.HouseholdRemovalReason | None = None,
    ) -> GrievanceResult:
        target = parse_id(id, "id", "Grievance")
        request = info.context.request_info
        return await _act(  # type: ignore[no-any-return]
            info,
            "resolveGrievance",
            target,
            lambda conn: handling.resolve(conn, request, target, version, outcome, reason, removal_reason),
        )

    @strawberry.mutation(
        description="Move every undecided case of your region past its deadline one level up (village → district "
        "→ regency/city → province → national), unassigned, with a new deadline; `siks grievances escalate` does the "
        "same for the whole country."
    )
    async def escalate_overdue_grievances(self, info: Info[Context, None]) -> Escalation:
        days = info.context.settings.grievance_deadline_days
        request = info.context.request_info
        done = await run_write(
            info,
            operation="escalateOverdueGrievances",
            obj=OBJECT,
            act="write",
            change=lambda conn: handling.escalate_overdue(conn, request, days),
        )
        assert isinstance(done, handling.Escalated)
        return Escalation(
            escalated=done.total,
            by_level=[
                EscalatedCount(from_level=enums.VerificationLevel(level), cases=n)  # type: ignore[call-arg]
                for level, n in done.by_level.items()
            ],
        )

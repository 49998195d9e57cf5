"""GraphQL: identity-check outcomes (``Member.identityCheck``), run summaries and the discrepancy list.

Only completed runs are read, and of those the latest per member and source (``core.identity.queries``).
Lists are filtered by the caller's scope in SQL. Reference data shows only as far as a check needs it:
the outcome, the suggested NIK, which fields disagree, a death date, a new village, a school level.
"""

from __future__ import annotations

from datetime import date, datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from core.foundation import enums as domain
from core.households.queries import members_by_id
from core.identity.queries import (
    SOURCE_STATUSES,
    CheckRecord,
    DiscrepancyFilter,
    RunRecord,
    check_run,
    count_discrepancies,
    counts_by_child_region,
    discrepancy_page,
    discrepancy_statuses,
    latest_checks,
)
from core.reference.formats import Source
from core.regions.codes import region_within
from core.schema import enums
from core.schema.access import require
from core.schema.arguments import checked_code, parse_id
from core.schema.authorization import guarded
from core.schema.context import Context
from core.schema.global_ids import global_id
from core.schema.list_sizes import paged
from core.schema.pagination import PageInfo, encode_cursor, page_info, window
from core.schema.regions import Region

if TYPE_CHECKING:
    from core.schema.households import Household, Member

OBJECT = "identity_check"
DEFAULT_PAGE_SIZE = 50

ReferenceSource = enums.ReferenceSource
IdentityStatus = enums.IdentityStatus
IdentityRunStatus = enums.IdentityRunStatus


@guarded(OBJECT)
@strawberry.type(description="What an operator needs to act on an outcome; fields not about the outcome are null.")
class IdentityCheckDetails:
    death_date: date | None = strawberry.field(description="DECEASED: the date of death the civil registry records.")
    new_village_code: str | None = strawberry.field(description="MOVED: the village the civil registry now records.")
    mismatched_fields: list[str] | None = strawberry.field(
        description="IDENTITY_MISMATCH: which of name, birthDate, sex disagree (never the registry's values)."
    )
    name_similarity: float | None = strawberry.field(
        description="IDENTITY_MISMATCH: how alike the names are once normalised (0..1)."
    )
    level: str | None = strawberry.field(description="ENROLLED: school level (SD, SMP, SMA, SMK).")
    grade: int | None = strawberry.field(description="ENROLLED: grade.")
    attendance_pct: float | None = strawberry.field(description="ENROLLED: attendance in the semester, %.")
    segment: str | None = strawberry.field(description="PBI_ACTIVE: PBI-APBN or PBI-APBD.")

    @classmethod
    def of(cls, details: dict[str, Any]) -> IdentityCheckDetails:
        died = details.get("deathDate")
        return cls(
            death_date=date.fromisoformat(died) if died else None,
            new_village_code=details.get("newVillageCode"),
            mismatched_fields=details.get("fields"),
            name_similarity=details.get("nameSimilarity"),
            level=details.get("level"),
            grade=details.get("grade"),
            attendance_pct=details.get("attendancePct"),
            segment=details.get("segment"),
        )


@guarded(OBJECT, personal=("suggested_nik", "details"), household="household_id", person="member_id")
@strawberry.type(description="One member's outcome against one reference source in a completed check run.")
class IdentityCheck:
    member_id: strawberry.ID = global_id("Member", "member_id")
    household_id: strawberry.ID = global_id("Household", "household_id")
    run_id: strawberry.ID = global_id("IdentityRun", "run_id")
    village_code: str = strawberry.field(description="The household's village when checked.")
    checked_at: datetime
    probability: float | None = strawberry.field(
        description="NIK_SUGGESTED, or a pupil found by name and birth date: the match probability (0..1)."
    )
    suggested_nik: str | None = strawberry.field(description="NIK_SUGGESTED: the civil registry's probable NIK.")

    @strawberry.field(description="The outcome.")
    def status(self: Any) -> IdentityStatus:  # type: ignore[misc, valid-type]
        return domain.IdentityStatus(self.status)

    @strawberry.field(description="The registry checked against.")
    def source(self: Any) -> ReferenceSource:  # type: ignore[misc, valid-type]
        return Source(self.source)

    @strawberry.field(description="What the outcome needs to be acted on.")
    def details(self: Any) -> IdentityCheckDetails:  # type: ignore[misc]
        return IdentityCheckDetails.of(self.details or {})

    @strawberry.field(description="The member (null outside your region).")
    async def member(
        self: Any, info: Info[Context, None]
    ) -> (
        Annotated[  # type: ignore[misc]
            Member, strawberry.lazy("core.schema.households")
        ]
        | None
    ):
        return await _member_loader(info.context).load(self.member_id)  # type: ignore[no-any-return]

    @strawberry.field(description="The member's household (null outside your region).")
    async def household(
        self: Any, info: Info[Context, None]
    ) -> (
        Annotated[  # type: ignore[misc]
            Household, strawberry.lazy("core.schema.households")
        ]
        | None
    ):
        return await info.context.loaders.household.load(self.household_id)  # type: ignore[return-value]


def _member_loader(context: Context) -> Any:
    async def load(keys: list[int]) -> list[Any]:
        async with context.engine.connect() as conn:
            found = await members_by_id(conn, keys, context.principal.scope)
        return [found.get(key) for key in keys]

    return context.loaders.named("identity_members", load)


def _checks_loader(context: Context) -> Any:
    async def load(keys: list[int]) -> list[list[CheckRecord]]:
        async with context.engine.connect() as conn:
            found = await latest_checks(conn, keys)
        return [found[key] for key in keys]

    return context.loaders.named("identity_checks", load)


async def member_identity_check(info: Info[Context, None], member_id: int, source: Source) -> CheckRecord | None:
    """The member's latest completed outcome against ``source`` (``Member.identityCheck``)."""
    require(info.context, OBJECT, "read")
    found = await _checks_loader(info.context).load(member_id)
    return next((record for record in found if record.source == source.value), None)


async def member_identity_checks(info: Info[Context, None], member_id: int) -> list[CheckRecord]:
    """The member's latest completed outcome against each source (``Member.identityChecks``)."""
    require(info.context, OBJECT, "read")
    return await _checks_loader(info.context).load(member_id)  # type: ignore[no-any-return]


@guarded(OBJECT)
@strawberry.type
class IdentityDiscrepancyEdge:
    cursor: str
    node: IdentityCheck


@guarded(OBJECT)
@strawberry.type(description="Discrepancies of the latest completed checks, in your region, in member order.")
class IdentityDiscrepancyConnection:
    edges: list[IdentityDiscrepancyEdge]
    page_info: PageInfo
    where: strawberry.Private[DiscrepancyFilter]

    @strawberry.field(description="Discrepancies matching the filters, over all pages.")
    async def total_count(self, info: Info[Context, None]) -> int:
        async with info.context.engine.connect() as conn:
            return await count_discrepancies(conn, self.where)


@guarded(OBJECT)
@strawberry.type(description="One run of `siks identity check`.")
class IdentityRun:
    id: strawberry.ID = global_id("IdentityRun")
    region_code: str | None = strawberry.field(description="The region checked; null: the whole country.")
    members_checked: int
    started_at: datetime
    completed_at: datetime | None

    @strawberry.field(description="Where the run stands (summaries show completed runs only).")
    def status(self: Any) -> IdentityRunStatus:  # type: ignore[misc, valid-type]
        return domain.IdentityRunStatus(self.status)

    @strawberry.field(description="The sources the run checked against (a source without a snapshot is skipped).")
    def sources(self: Any) -> list[ReferenceSource]:  # type: ignore[misc, valid-type]
        used = (self.adminduk_snapshot_id, self.dapodik_snapshot_id, self.bpjs_snapshot_id)
        return [source for source, snapshot in zip(Source, used, strict=True) if snapshot is not None]


@guarded(OBJECT)
@strawberry.type(description="How many members got an outcome.")
class IdentityStatusCount:
    source: ReferenceSource  # type: ignore[valid-type]
    status: IdentityStatus  # type: ignore[valid-type]
    members: int


@guarded(OBJECT)
@strawberry.type(description="One region's outcomes in a run.")
class IdentityRegionCounts:
    region_code: str
    counts: list[IdentityStatusCount]

    @strawberry.field(description="The region.")
    async def region(self, info: Info[Context, None]) -> Region | None:
        return await info.context.loaders.region.load(self.region_code)  # type: ignore[return-value]


@guarded(OBJECT)
@strawberry.type(description="A run's outcomes counted per child region of a region, within your scope.")
class IdentityRunSummary:
    run: IdentityRun
    region_code: str = strawberry.field(description="The region whose children are counted ('' = Indonesia).")
    regions: list[IdentityRegionCounts]


def _counts(found: dict[tuple[str, str], int]) -> list[IdentityStatusCount]:
    return [
        IdentityStatusCount(source=Source(source), status=domain.IdentityStatus(status), members=members)
        for (source, status), members in sorted(found.items())
    ]


@strawberry.type
class IdentityQuery:
    @strawberry.field(
        description="Outcomes of a completed check run per child region of regionCode (default: your region): "
        "runId, or the latest completed run covering the region. Null when there is none."
    )
    async def identity_run_summary(
        self, info: Info[Context, None], run_id: strawberry.ID | None = None, region_code: str | None = None
    ) -> IdentityRunSummary | None:
        principal = require(info.context, OBJECT, "read")
        code = checked_code(region_code, "regionCode") if region_code else principal.scope
        if not (region_within(code, principal.scope) or region_within(principal.scope, code)):
            return None  # a region outside yours: as if nothing had been checked there
        wanted = parse_id(run_id, "runId", "IdentityRun") if run_id is not None else None
        async with info.context.engine.connect() as conn:
            run: RunRecord | None = await check_run(conn, wanted, code)
            if run is None:
                return None
            counts = await counts_by_child_region(conn, run.id, code, principal.scope)
        regions = [IdentityRegionCounts(region_code=child, counts=_counts(found)) for child, found in counts.items()]
        return IdentityRunSummary(run=run, region_code=code, regions=regions)  # type: ignore[arg-type]

    @strawberry.field(
        description=f"Discrepancies (outcomes that are work for operators) of the latest completed checks in your "
        f"region, one source at a time, in pages (first/after forward, last/before backward; {DEFAULT_PAGE_SIZE} "
        "when neither is given); filter by status and region.",
        metadata=paged(DEFAULT_PAGE_SIZE),
    )
    async def identity_discrepancies(
        self,
        info: Info[Context, None],
        status: list[IdentityStatus] | None = None,  # type: ignore[valid-type]
        source: ReferenceSource = Source.ADMINDUK,  # type: ignore[valid-type, assignment]
        region_code: str | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> IdentityDiscrepancyConnection:
        principal = require(info.context, OBJECT, "read")
        page_window = window(
            first, after, last, before, default=DEFAULT_PAGE_SIZE, limit=info.context.settings.max_page_size
        )
        chosen = Source(source)
        wanted = [domain.IdentityStatus(value) for value in status] if status is not None else None
        foreign = sorted(s.name for s in wanted or () if s not in SOURCE_STATUSES[chosen])
        if foreign:
            raise GraphQLError(
                f"status: {', '.join(foreign)} is not an outcome of {chosen.name}; pass the source that gives it",
                extensions={"code": "BAD_USER_INPUT", "argument": "status"},
            )
        where = DiscrepancyFilter(
            scope=principal.scope,
            source=chosen,
            statuses=discrepancy_statuses(chosen, wanted),
            region_code=checked_code(region_code, "regionCode") if region_code else None,
        )
        async with info.context.engine.connect() as conn:
            page = await discrepancy_page(conn, where, page_window)
        return IdentityDiscrepancyConnection(
            edges=[IdentityDiscrepancyEdge(cursor=encode_cursor(r.member_id), node=r) for r in page.rows],  # type: ignore[arg-type]
            page_info=page_info(page, attrgetter("member_id")),
            where=where,
        )

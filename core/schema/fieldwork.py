"""GraphQL: verification rounds and their prelists, field visits, visit photos and progress.

Resolvers convert input and map outcomes; the rules live in ``core.verification``.
"""

from __future__ import annotations

from datetime import date, datetime
from operator import attrgetter
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.file_uploads import Upload
from strawberry.types import Info

from core.foundation.refusals import Missing
from core.regions.codes import region_within
from core.schema import enums
from core.schema.access import require
from core.schema.arguments import checked_code, parse_id
from core.schema.authorization import guarded
from core.schema.context import Context
from core.schema.errors import NotFound, ValidationError, VersionConflict
from core.schema.global_ids import global_id
from core.schema.households import Household
from core.schema.list_sizes import paged
from core.schema.node import Node, by_row_id, fetched_by
from core.schema.pagination import PageInfo, page_info, window
from core.schema.proposals import Proposal, ProposedChangeInput
from core.schema.writes import as_error, check_allowed, run_write
from core.storage.db import write_transaction
from core.verification import photos, progress, rounds, visits
from core.verification.proposals import proposal_by_id
from core.verification.storage import folder_store

DEFAULT_PAGE_SIZE = 100


@fetched_by(by_row_id(photos.photos_by_id))
@guarded("photo")
@strawberry.type(
    description="A photo taken on a visit or sent with a citizen's usul; fetch it from url with the same credentials."
)
class VisitPhoto(Node):
    id: strawberry.ID = global_id("VisitPhoto")
    kind: enums.PhotoKind
    content_type: str
    size: int = strawberry.field(description="Bytes of the original.")
    sha256: str = strawberry.field(description="Checksum of the original as uploaded.")
    uploaded_by: str
    uploaded_at: datetime

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, photos.PhotoRecord)

    @strawberry.field(description="Where to GET the image (officers get the original, others a copy without metadata).")
    def url(self: Any) -> str:  # type: ignore[misc]
        return f"/photos/{self.id}"


@fetched_by(by_row_id(visits.visits_by_id))
@guarded("visit", personal=("latitude", "longitude"), household="household_id")
@strawberry.type(description="A field visit (kunjungan) to a household on a round's prelist.")
class Visit(Node):
    id: strawberry.ID = global_id("Visit")
    round_id: strawberry.ID = global_id("VerificationRound", "round_id")
    household_id: strawberry.ID = global_id("Household", "household_id")
    village_code: str
    outcome: enums.VisitOutcome
    visited_at: datetime
    recorded_at: datetime
    latitude: float
    longitude: float
    household_version: int = strawberry.field(description="The household version the officer saw.")
    officer: str
    note: str
    source: str = strawberry.field(description="online, or offline (synced from a village package).")

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, visits.VisitRecord)

    @strawberry.field(description="The proposal the visit led to (changes found, or a removal).")
    async def proposal(self: Any, info: Info[Context, None]) -> Proposal | None:  # type: ignore[misc]
        if self.proposal_id is None:
            return None
        async with info.context.engine.connect() as conn:
            return await proposal_by_id(conn, self.proposal_id, info.context.principal.scope)  # type: ignore[no-any-return]

    @strawberry.field(description="Photos taken on the visit.")
    async def photos(self: Any, info: Info[Context, None]) -> list[VisitPhoto]:  # type: ignore[misc]
        loader = info.context.loaders.named("visit_photos", _load_photos(info.context))
        return await loader.load(self.id)  # type: ignore[no-any-return]


def _load_photos(context: Context) -> Any:
    async def load(keys: list[int]) -> list[Any]:
        async with context.engine.connect() as conn:
            found = await photos.photos_of_visits(conn, keys)
        return [found[key] for key in keys]

    return load


async def proposal_photos(info: Info[Context, None], proposal_id: int) -> list[Any]:
    """The photos sent with a proposal (``Proposal.photos``), batched per request."""
    context = info.context

    async def load(keys: list[int]) -> list[Any]:
        async with context.engine.connect() as conn:
            found = await photos.photos_of_proposals(conn, keys)
        return [found[key] for key in keys]

    return await context.loaders.named("proposal_photos", load).load(proposal_id)  # type: ignore[no-any-return]


def _load_visits(context: Context) -> Any:
    async def load(keys: list[int]) -> list[Any]:
        async with context.engine.connect() as conn:
            found = await visits.visits_by_id(conn, keys, context.principal.scope)
        return [found.get(key) for key in keys]

    return load


@guarded("verification_round")
@strawberry.type(description="A household due for a visit in a round, with the visit once made.")
class PrelistEntry:
    household_key: strawberry.Private[int]
    household_id: strawberry.ID = global_id("Household", "household_key")
    household_version: int = strawberry.field(description="The household's version when the prelist was made.")
    visit_id: strawberry.Private[int | None]

    @strawberry.field
    async def household(self, info: Info[Context, None]) -> Household | None:
        return await info.context.loaders.household.load(self.household_key)  # type: ignore[return-value]

    @strawberry.field
    async def visit(self, info: Info[Context, None]) -> Visit | None:
        if self.visit_id is None:
            return None
        return await info.context.loaders.named("visits", _load_visits(info.context)).load(self.visit_id)  # type: ignore[no-any-return]


@guarded("verification_round")
@strawberry.type
class PrelistConnection:
    entries: list[PrelistEntry]
    page_info: PageInfo
    total_count: int


@guarded("verification_round")
@strawberry.type(description="Counts of a round in one region.")
class ProgressCounts:
    region_code: str
    due: int = strawberry.field(description="Households on the prelist.")
    visited: int
    proposed: int = strawberry.field(description="Proposals made from the round's visits.")
    approved_by_district: int
    approved_by_regency: int
    approved_by_province: int
    determined: int
    returned: int = strawberry.field(description="Waiting, returned for correction.")
    rejected: int
    conflicts: int


@guarded("verification_round")
@strawberry.type
class RoundProgress:
    region_code: str
    total: ProgressCounts
    regions: list[ProgressCounts] = strawberry.field(description="One row per region one level below.")


@fetched_by(by_row_id(rounds.visible_rounds))
@guarded("verification_round")
@strawberry.type(description="A verification round: a period and regions, with a prelist per village.")
class VerificationRound(Node):
    id: strawberry.ID = global_id("VerificationRound")
    period: str
    label: str
    status: str = strawberry.field(
        description="open or closed.",
        deprecation_reason="The stored spelling: read roundStatus, an enum as the rest of the API spells it.",
    )
    round_status: enums.VerificationRoundStatus = enums.enum_twin(
        enums.VerificationRoundStatus, "status", "OPEN for visits, or CLOSED."
    )
    not_visited_since: date | None
    households: int = strawberry.field(description="Households on the prelist, in all the round's regions.")
    created_by: str
    created_at: datetime
    regions: list[str]

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, rounds.RoundRecord)

    @strawberry.field(
        description=f"A village's households due for a visit, in pages (first/after forward, last/before backward; "
        f"{DEFAULT_PAGE_SIZE} when neither is given).",
        metadata=paged(DEFAULT_PAGE_SIZE),
    )
    async def prelist(
        self: Any,  # type: ignore[misc]
        info: Info[Context, None],
        village_code: str,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> PrelistConnection:
        page_window = window(
            first, after, last, before, default=DEFAULT_PAGE_SIZE, limit=info.context.settings.max_page_size
        )
        code = checked_code(village_code, "villageCode")
        async with info.context.engine.connect() as conn:
            page, total = await rounds.prelist_page(conn, self.id, code, info.context.principal.scope, page_window)
        entries = [
            PrelistEntry(household_key=r.household_id, household_version=r.household_version, visit_id=r.visit_id)
            for r in page.rows
        ]  # type: ignore[call-arg]
        return PrelistConnection(
            entries=entries, page_info=page_info(page, attrgetter("household_id")), total_count=total
        )

    @strawberry.field(description="Progress in a region within yours (default: your whole region).")
    async def progress(self: Any, info: Info[Context, None], region_code: str | None = None) -> RoundProgress:  # type: ignore[misc]
        scope = info.context.principal.scope
        code = checked_code(region_code, "regionCode") if region_code else scope
        if not region_within(code, scope):
            raise GraphQLError(f"regionCode: {code} is outside your region {scope}")
        async with info.context.engine.connect() as conn:
            found = await progress.round_progress(conn, self.id, code)
        as_counts = lambda row: ProgressCounts(**{name: getattr(row, name) for name in row.__slots__})  # noqa: E731
        return RoundProgress(
            region_code=found.region_code, total=as_counts(found.total), regions=[as_counts(r) for r in found.regions]
        )


@guarded("visit")
@strawberry.type(description="The visit as recorded and the proposal it led to, if any.")
class VisitRecorded:
    visit: Visit
    proposal: Proposal | None


RoundResult = Annotated[
    VerificationRound | ValidationError | NotFound,
    strawberry.union("VerificationRoundResult", description="The round, or why nothing changed."),
]
VisitResult = Annotated[
    VisitRecorded | ValidationError | VersionConflict | NotFound,
    strawberry.union("VisitResult", description="The visit recorded, or why nothing was recorded."),
]
PhotoResult = Annotated[
    VisitPhoto | ValidationError | NotFound,
    strawberry.union("VisitPhotoResult", description="The stored photo, or why it was refused."),
]


@strawberry.input(description="A field visit as the officer reports it.")
class VisitInput:
    round_id: strawberry.ID
    household_id: strawberry.ID
    outcome: enums.VisitOutcome
    visited_at: datetime
    latitude: float
    longitude: float
    household_version: int = strawberry.field(description="The household version the officer saw (prelist or read).")
    changes: ProposedChangeInput | None = strawberry.field(
        default=None, description="What the officer found different (outcome FOUND only)."
    )
    note: str = ""


@strawberry.type
class FieldworkQuery:
    @strawberry.field(description="Verification rounds touching your region, newest first.")
    async def verification_rounds(self, info: Info[Context, None]) -> list[VerificationRound]:
        principal = require(info.context, "verification_round", "read")
        async with info.context.engine.connect() as conn:
            return await rounds.list_rounds(conn, principal.scope)  # type: ignore[no-any-return]

    @strawberry.field(description="One verification round (null if it does not touch your region).")
    async def verification_round(self, info: Info[Context, None], id: strawberry.ID) -> VerificationRound | None:
        principal = require(info.context, "verification_round", "read")
        async with info.context.engine.connect() as conn:
            found = await rounds.visible_round(conn, parse_id(id, "id", "VerificationRound"), principal.scope)
        return None if isinstance(found, Missing) else found  # type: ignore[return-value]

    @strawberry.field(description="One field visit (null outside your region).")
    async def visit(self, info: Info[Context, None], id: strawberry.ID) -> Visit | None:
        principal = require(info.context, "visit", "read")
        async with info.context.engine.connect() as conn:
            return await visits.visit_by_id(conn, parse_id(id, "id", "Visit"), principal.scope)  # type: ignore[no-any-return]


@strawberry.type
class FieldworkMutation:
    @strawberry.mutation(description="Open a verification round over regions within yours and make its prelist.")
    async def create_verification_round(
        self,
        info: Info[Context, None],
        period: str,
        label: str,
        region_codes: list[str],
        not_visited_since: date | None = None,
    ) -> RoundResult:
        return await run_write(  # type: ignore[return-value]
            info,
            operation="createVerificationRound",
            obj="verification_round",
            act="write",
            change=lambda conn: rounds.create_round(
                conn, info.context.request_info, period, label, region_codes, not_visited_since
            ),
        )

    @strawberry.mutation(description="Close a round: no more visits are recorded in it.")
    async def close_verification_round(self, info: Info[Context, None], id: strawberry.ID) -> RoundResult:
        target = parse_id(id, "id", "VerificationRound")
        return await run_write(  # type: ignore[return-value]
            info,
            operation="closeVerificationRound",
            obj="verification_round",
            act="write",
            change=lambda conn: rounds.close_round(conn, info.context.request_info, target),
        )

    @strawberry.mutation(description="Record a field visit; changes found become a proposal, as does a removal.")
    async def record_visit(self, info: Info[Context, None], input: VisitInput) -> VisitResult:
        changes = input.changes.to_request() if input.changes is not None else None
        if isinstance(changes, ValidationError):
            return changes
        report = visits.VisitReport(
            round_id=parse_id(input.round_id, "roundId", "VerificationRound"),
            household_id=parse_id(input.household_id, "householdId", "Household"),
            outcome=input.outcome,
            visited_at=input.visited_at,
            latitude=input.latitude,
            longitude=input.longitude,
            household_version=input.household_version,
            changes=changes,
            note=input.note,
        )
        outcome = await run_write(
            info,
            operation="recordVisit",
            obj="visit",
            act="write",
            change=lambda conn: visits.record_visit(conn, info.context.request_info, report),
        )
        if isinstance(outcome, visits.Recorded):
            return VisitRecorded(visit=outcome.visit, proposal=outcome.proposal)
        return outcome  # type: ignore[return-value]

    @strawberry.mutation(
        description="Upload a photo of a visit (multipart request): JPEG, PNG or WebP, at most SIKS_MAX_PHOTO_BYTES."
    )
    async def upload_visit_photo(
        self, info: Info[Context, None], visit_id: strawberry.ID, kind: enums.PhotoKind, file: Upload
    ) -> PhotoResult:
        await check_allowed(info, "uploadVisitPhoto", "photo", "write")
        if not callable(getattr(file, "read", None)):
            return ValidationError.single(
                "file", "send the photo as a file in a multipart request (GraphQL multipart request spec)"
            )
        context, target = info.context, parse_id(visit_id, "visitId", "Visit")
        store = folder_store(context.settings.photo_dir)
        stored = None
        try:
            async with write_transaction(context.engine) as conn:
                outcome = await photos.store_photo(
                    conn,
                    store,
                    context.request_info,
                    target,
                    kind,
                    file,  # type: ignore[arg-type]
                    filename=getattr(file, "filename", None),
                    declared_type=getattr(file, "content_type", None),
                    max_bytes=context.settings.max_photo_bytes,
                )
                if isinstance(outcome, photos.PhotoRecord):
                    stored = outcome
        except BaseException:
            if stored is not None:
                await photos.discard_files(store, stored)
            raise
        return as_error(outcome)  # type: ignore[return-value]

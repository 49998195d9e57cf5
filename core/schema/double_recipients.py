"""GraphQL: the double-recipient report (one NIK or KK in two households, exclusive programs, the deceased,
probable duplicates found by ``siks dedup run``)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from core.foundation.refusals import Invalid
from core.programs.double_recipients import DoubleRecipientKind, DoubleRecipientReport, double_recipient_report
from core.programs.scope import NATIONAL
from core.schema.access import Forbidden, allowed
from core.schema.authorization import field_reads, guarded
from core.schema.context import Context
from core.schema.errors import ValidationError
from core.schema.global_ids import global_id, global_ids

DoubleRecipientCaseKind = strawberry.enum(
    DoubleRecipientKind, name="DoubleRecipientCaseKind", description="What makes a double-recipient case."
)


@guarded("enrollment")
@strawberry.type(description="An enrollment a case involves.")
class CaseEnrollment:
    enrollment_key: strawberry.Private[int]
    household_key: strawberry.Private[int]
    enrollment_id: strawberry.ID = global_id("Enrollment", "enrollment_key")
    household_id: strawberry.ID = global_id("Household", "household_key")
    program: str
    period: str


@guarded("enrollment", personal=("key",), household="household_keys")
@strawberry.type(description="One double-recipient case and why it is one.")
class DoubleRecipientCase:
    kind: str = strawberry.field(
        description="nik_in_two_households, shared_kk, exclusive_programs, deceased_member or probable_duplicate.",
        deprecation_reason="The stored spelling: read caseKind, an enum as the rest of the API spells it.",
    )
    household_keys: strawberry.Private[list[int]]
    member_keys: strawberry.Private[list[int]]
    household_ids: list[strawberry.ID] = global_ids("Household", "household_keys")
    member_ids: list[strawberry.ID] = global_ids("Member", "member_keys")
    programs: list[str]
    enrollments: list[CaseEnrollment]
    key: str = strawberry.field(
        description="The shared NIK or KK number, for those kinds.",
        metadata=field_reads("member"),
    )
    detail: str

    @strawberry.field(description="Why this is a double-recipient case.")
    def case_kind(self) -> DoubleRecipientCaseKind:
        return DoubleRecipientKind(self.kind)  # type: ignore[return-value]


@guarded("enrollment")
@strawberry.type(description="Every double-recipient case in a region for enrollments overlapping a period.")
class DoubleRecipientReportType:
    region_code: str
    period: str
    cases: list[DoubleRecipientCase]

    @classmethod
    def of(cls, report: DoubleRecipientReport) -> DoubleRecipientReportType:
        return cls(
            region_code=report.region_code,
            period=report.period,
            cases=[
                DoubleRecipientCase(
                    kind=case.kind.value,
                    household_keys=list(case.household_ids),
                    member_keys=list(case.member_ids),
                    programs=list(case.programs),
                    enrollments=[
                        CaseEnrollment(
                            enrollment_key=e.enrollment_id,
                            household_key=e.household_id,
                            program=e.program,
                            period=e.period,
                        )
                        for e in case.enrollments
                    ],
                    key=case.key,
                    detail=case.detail,
                )
                for case in report.cases
            ],
        )


DoubleRecipientResult = Annotated[
    DoubleRecipientReportType | ValidationError, strawberry.union("DoubleRecipientResult")
]


@strawberry.type
class DoubleRecipientQuery:
    @strawberry.field(
        description="Double recipients in a region (ID = Indonesia) for a period (YYYY, YYYY-Qn, YYYY-MM).",
        metadata=field_reads("enrollment"),  # its answer may be a ValidationError, which needs nothing of its own
    )
    async def double_recipients(
        self, info: Info[Context, None], region_code: str, period: str
    ) -> DoubleRecipientResult:
        context = info.context
        region = "" if region_code == NATIONAL else region_code
        if not allowed(context, "enrollment", "read", region):
            raise Forbidden(context.principal, "enrollment", "read")
        async with context.engine.connect() as conn:
            report = await double_recipient_report(
                conn,
                context.registry,
                region_code,
                period,
                duplicate_probability=context.settings.duplicate_report_probability,
            )
        if isinstance(report, Invalid):
            return ValidationError.of(report)
        return DoubleRecipientReportType.of(report)

"""GraphQL: aid programs — what is installed, a household's enrollments, integrator queries.

``HouseholdPrograms`` and ``Programs`` hold core's fields only; each application's schema mounts
its own plugins' fields on them (``core.schema.build``), so nothing here depends on which plugins
are loaded.
"""

from __future__ import annotations

from datetime import date

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from core.programs.integrators import BatchTooLarge, eligibility_by_nik
from core.programs.periods import PeriodError
from core.programs.queries import EnrollmentRecord, enrollments_by_id
from core.programs.registry import ProgramRegistry
from core.schema import enums
from core.schema.access import require
from core.schema.authorization import guarded, namespace
from core.schema.context import Context
from core.schema.global_ids import global_id
from core.schema.node import Node, by_row_id, fetched_by
from core.storage.records import HouseholdRecord


@guarded("program")
@strawberry.type(description="A rule of a program's eligibility.")
class ProgramRule:
    code: str
    description: str


@guarded("program")
@strawberry.type(description="An installed aid program.")
class ProgramInfo:
    slug: str
    name: str
    description: str
    channel: str
    period_kind: str = strawberry.field(
        description="month (YYYY-MM), quarter (YYYY-Qn) or year (YYYY).",
        deprecation_reason="The stored spelling: read periodType, an enum as the rest of the API spells it.",
    )
    period_type: enums.PeriodKind = enums.enum_twin(
        enums.PeriodKind, "period_kind", "The program's period: MONTH (YYYY-MM), QUARTER (YYYY-Qn) or YEAR (YYYY)."
    )
    excludes: list[str]
    rules: list[ProgramRule]


def _program_infos(registry: ProgramRegistry) -> list[ProgramInfo]:
    from core.programs.eligibility import rules_of

    return [
        ProgramInfo(
            slug=program.slug,
            name=program.name,
            description=program.description,
            channel=program.channel,
            period_kind=program.period_kind.value,
            excludes=list(program.excludes),
            rules=[ProgramRule(code=rule.code, description=rule.description) for rule in rules_of(program)],
        )
        for program in registry.programs.values()
    ]


@guarded("enrollment")
@strawberry.type(description="Part of a benefit: a PKH component of one member, or a family amount.")
class BenefitComponent:
    component: str
    member_id: strawberry.ID | None = global_id("Member", "member_id", required=False)
    amount: int = strawberry.field(description="Rupiah.")


@fetched_by(by_row_id(enrollments_by_id))
@guarded("enrollment")
@strawberry.type(description="A household's enrollment in a program for a period (kepesertaan).")
class Enrollment(Node):
    id: strawberry.ID = global_id("Enrollment")
    program: str
    period: str
    period_start: date
    period_end: date
    amount: int = strawberry.field(description="Rupiah for the whole period.")
    status: str = strawberry.field(
        deprecation_reason="The stored spelling: read enrollmentStatus, an enum as the rest of the API spells it."
    )
    enrollment_status: enums.EnrollmentStatus = enums.enum_twin(
        enums.EnrollmentStatus, "status", "Where the enrollment stands."
    )
    components: list[BenefitComponent]

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, EnrollmentRecord)


@guarded("household")
@strawberry.type(description="A household's aid programs: its enrollments and each program's own fields.")
class HouseholdPrograms:
    @strawberry.field(description="Enrollments in every program, newest period first.")
    async def enrollments(self: HouseholdRecord, info: Info[Context, None]) -> list[Enrollment]:  # type: ignore[misc]
        require(info.context, "enrollment", "read")
        return await info.context.loaders.enrollments.load(self.id)  # type: ignore[return-value]


@namespace
@strawberry.type(description="The aid programs: what is installed and each program's own queries.")
class Programs:
    @strawberry.field(description="The aid programs installed on this server.")
    def installed(self, info: Info[Context, None]) -> list[ProgramInfo]:
        require(info.context, "program", "read")
        return _program_infos(info.context.registry)


@guarded("eligibility")
@strawberry.type(description="One program's verdict for a household.")
class ProgramEligibility:
    program: str
    period: str
    eligible: bool
    summary: str = strawberry.field(description='e.g. "not eligible: decile 7 > 4".')
    reasons: list[str]
    enrolled_periods: list[str]


@guarded("eligibility")
@strawberry.type(description="What the registry says about one NIK. No names or addresses.")
class EligibilityAnswer:
    nik: str
    found: bool = strawberry.field(description="False when the NIK is in no active household.")
    programs: list[ProgramEligibility]


async def _answers(info: Info[Context, None], niks: list[str], as_of: date | None) -> list[EligibilityAnswer]:
    principal = require(info.context, "eligibility", "read")
    try:
        async with info.context.engine.connect() as conn:
            registry = info.context.registry
            answers = await eligibility_by_nik(conn, registry, niks, as_of or date.today(), scope=principal.scope)
    except BatchTooLarge as exc:
        raise GraphQLError(f"niks: {exc}") from exc
    except PeriodError as exc:
        raise GraphQLError(f"asOf: {exc}") from exc
    return [
        EligibilityAnswer(
            nik=answer.nik,
            found=answer.found,
            programs=[
                ProgramEligibility(
                    program=p.verdict.program,
                    period=p.verdict.period,
                    eligible=p.verdict.eligible,
                    summary=p.verdict.summary,
                    reasons=[("✓ " if o.passed else "✗ ") + o.explanation for o in p.verdict.outcomes],
                    enrolled_periods=p.enrolled_periods,
                )
                for p in answer.programs
            ],
        )
        for answer in answers
    ]


@strawberry.type
class ProgramQuery:
    @strawberry.field(description="The aid programs and their own queries.")
    def programs(self) -> Programs:
        return Programs()

    @strawberry.field(
        description="Per program: eligible or not for the period containing asOf (today), why, enrollments."
    )
    async def eligibility(self, info: Info[Context, None], nik: str, as_of: date | None = None) -> EligibilityAnswer:
        return (await _answers(info, [nik], as_of))[0]

    @strawberry.field(description="The same for up to 10,000 NIKs in one request, answered in the order asked.")
    async def eligibility_batch(
        self, info: Info[Context, None], niks: list[str], as_of: date | None = None
    ) -> list[EligibilityAnswer]:
        return await _answers(info, niks, as_of)

"""Statuses and kinds in the API's words: every field that answered a stored lowercase spelling has an
UPPER_CASE enum twin (the old field @deprecated, naming it), and the twins answer the stored values."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from graphql import GraphQLEnumType, build_schema, get_named_type
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.ids import encode_global
from core.models import Enrollment, ProgramCycle
from tests.conftest import GraphQLClient
from tests.test_disbursements import UPDATE, payments, problems, statuses

CONTRACT = Path(__file__).resolve().parent.parent / "contract" / "schema.graphql"
TWIN = re.compile(r"(?:read|send|filter with) (\w+), an enum as the rest of the API spells it")


def test_every_stored_spelling_names_an_enum_twin_beside_it() -> None:
    schema = build_schema(CONTRACT.read_text(encoding="utf-8"))
    twins = []
    for type_ in schema.type_map.values():
        fields = getattr(type_, "fields", None)
        if type_.name.startswith("__") or not fields:
            continue
        for name, field in fields.items():
            owners = [(name, field, fields)] + [
                (arg_name, arg, field.args) for arg_name, arg in getattr(field, "args", {}).items()
            ]
            for owner_name, owner, siblings in owners:
                reason = owner.deprecation_reason or ""
                if (found := TWIN.search(reason)) is None:
                    continue
                twin = siblings.get(found.group(1))
                assert twin is not None, f"{type_.name}.{owner_name} names {found.group(1)}, which is not beside it"
                assert isinstance(get_named_type(twin.type), GraphQLEnumType), f"{type_.name}.{found.group(1)}"
                twins.append(f"{type_.name}.{found.group(1)}")
    expected = {
        "AuditEntry.auditOutcome",
        "DisbursementUpdateInput.paymentStatus",
        "Enrollment.enrollmentStatus",
        "KubeGroup.groupStatus",
        "ProgramCycle.cycleStatus",
        "ProgramInfo.periodType",
        "ProposalStep.stepAction",
        "VerificationRound.roundStatus",
        "WelfareModel.modelKind",
        "Query.auditOutcome",
    }
    assert expected <= set(twins), expected - set(twins)


def test_no_status_kind_action_or_outcome_is_a_plain_string_any_more() -> None:
    """A new lowercase status string fails here: give it an enum (docs/api-contract.md, Relay conventions)."""
    schema = build_schema(CONTRACT.read_text(encoding="utf-8"))
    plain = [
        f"{type_.name}.{name}"
        for type_ in schema.type_map.values()
        if not type_.name.startswith("__") and getattr(type_, "fields", None)
        for name, field in type_.fields.items()
        if re.search(r"(status|kind|action|outcome)$", name, re.IGNORECASE)
        and get_named_type(field.type).name == "String"
        and not field.deprecation_reason
    ]
    assert not plain, plain


async def test_cycle_and_enrollment_answer_their_status_as_enums(db: AsyncEngine, gql: GraphQLClient) -> None:
    await payments(db, ["released"])
    async with db.connect() as conn:
        cycle_id = (await conn.execute(select(ProgramCycle.__table__.c.id))).scalar_one()
        enrollment_id = (await conn.execute(select(Enrollment.__table__.c.id))).scalar_one()
    data = await gql(
        """query($c: ID!, $e: ID!) {
          cycle: node(id: $c) { ... on ProgramCycle { status cycleStatus } }
          enrollment: node(id: $e) { ... on Enrollment { status enrollmentStatus } } }""",
        {"c": encode_global("ProgramCycle", cycle_id), "e": encode_global("Enrollment", enrollment_id)},
    )
    assert data == {
        "cycle": {"status": "approved", "cycleStatus": "APPROVED"},
        "enrollment": {"status": "enrolled", "enrollmentStatus": "ENROLLED"},
    }


async def test_program_periods_answer_their_kind_as_an_enum(gql: GraphQLClient) -> None:
    data = await gql("{ programs { installed { slug periodKind periodType } } }")
    programs = data["programs"]["installed"]
    assert programs
    assert all(p["periodType"] == p["periodKind"].upper() for p in programs), programs
    assert {p["periodType"] for p in programs} <= {"MONTH", "QUARTER", "YEAR"}


async def test_payment_status_is_sent_as_an_enum_and_the_old_spelling_still_works(
    db: AsyncEngine, gql: GraphQLClient
) -> None:
    first, second = await payments(db, ["released", "released"])
    updates = [{"reference": first, "paymentStatus": "DISBURSED"}, {"reference": second, "status": "failed"}]
    assert (await gql(UPDATE, {"updates": updates}))["updateDisbursements"]["updated"] == 2
    assert await statuses(db) == {first: "disbursed", second: "failed"}


async def test_a_payment_status_missing_or_contradicted_is_refused_and_nothing_changes(
    db: AsyncEngine, gql: GraphQLClient
) -> None:
    first, second = await payments(db, ["released", "released"])
    updates = [{"reference": first}, {"reference": second, "paymentStatus": "FAILED", "status": "disbursed"}]
    assert problems((await gql(UPDATE, {"updates": updates}))["updateDisbursements"]) == [
        "updates.0.paymentStatus: give the payment's new status",
        "updates.1.status: paymentStatus and status disagree; send paymentStatus only",
    ]
    assert await statuses(db) == {first: "released", second: "released"}


async def test_the_audit_log_answers_and_filters_outcomes_as_enums(
    db: AsyncEngine, gql: GraphQLClient, as_role: Callable[[str], GraphQLClient]
) -> None:
    (reference,) = await payments(db, ["released"])
    updates = [{"reference": reference, "paymentStatus": "DISBURSED"}]
    assert (await gql(UPDATE, {"updates": updates}))["updateDisbursements"]["updated"] == 1
    auditor = as_role("auditor")
    entries = (await auditor("{ auditLog(first: 20) { operation outcome auditOutcome } }"))["auditLog"]
    assert {"operation": "updateDisbursements", "outcome": "ok", "auditOutcome": "OK"} in entries
    assert all(e["auditOutcome"] == e["outcome"].upper() for e in entries), entries
    only_ok = (await auditor("{ auditLog(auditOutcome: OK, first: 50) { auditOutcome } }"))["auditLog"]
    assert only_ok and {e["auditOutcome"] for e in only_ok} == {"OK"}
    body = await auditor.raw('{ auditLog(auditOutcome: OK, outcome: "denied") { seq } }')
    assert body["errors"][0]["message"] == "auditOutcome and outcome disagree; filter with auditOutcome only"
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

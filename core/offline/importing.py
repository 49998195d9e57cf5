"""Importing an offline package: every visit, photo and new-household proposal in one transaction.

Before anything is written the whole file is checked: who imports it (an active village operator
or district officer whose scope covers the village), that this server issued it for that village,
that its reference data is as exported (the digest), and every row the field app wrote. Then one
write transaction records the visits through ``record_visit`` (source ``offline``), stores their
photos through ``store_photo`` and makes the proposals through ``propose_new_household``. A
household changed online since the export, or visited meanwhile, is a reported conflict; any
other refusal rolls everything back and removes the photo files this import wrote. Client ids
make a second import of the same file write nothing; a client id imported before with other
content is a reported conflict (the first content stands), never a silent skip. A row that would
put a household in a village outside the officer's region refuses the whole file too, and is
audited as a denied attempt.
"""

from __future__ import annotations

import asyncio
import hmac
import sqlite3
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.audit.log import RequestInfo, record
from core.auth.principal import Role
from core.auth.users import UserRecord, user_by_name
from core.foundation.refusals import Conflict, Invalid, Missing, OutsideScope
from core.households.rules import codes_to_check, full_household_errors
from core.households.service import destination_refusal
from core.offline.export import PACKAGES
from core.offline.package import FieldPhoto, FieldProposal, FieldVisit, FieldWork, PackageFile, PackageRefused
from core.regions.codes import region_within
from core.regions.queries import existing_codes
from core.storage.db import write_transaction
from core.verification.client_ids import content_sha256, resent_reason
from core.verification.drafts import PROPOSALS
from core.verification.photos import PHOTOS, BytesSource, PhotoRecord, discard_files, store_photo
from core.verification.proposals import Origin, propose_new_household
from core.verification.rounds import VISITS
from core.verification.storage import PhotoStore
from core.verification.visits import Recorded, Resent, VisitReport, record_visit

VISIT_ROLES = frozenset({Role.VILLAGE_OPERATOR.value, Role.DISTRICT_OFFICER.value})


class OutsideRegion(PackageRefused):
    """A row would put a household outside the officer's region: the file is refused and the attempt audited."""


@dataclass(frozen=True, slots=True)
class ImportConflict:
    """A visit or proposal whose changes were not proposed, because the registry moved on since the export."""

    client_id: str
    household_id: int | None  # None for a new household
    reason: str


@dataclass(slots=True)
class ImportReport:
    package_id: str
    village_code: str
    round_id: int
    officer: str
    visits_recorded: int = 0
    visits_already: int = 0
    photos_stored: int = 0
    photos_already: int = 0
    proposals_made: int = 0
    proposals_already: int = 0
    conflicts: list[ImportConflict] = field(default_factory=list)
    imported_before: datetime | None = None  # when this package was last imported, if it was

    @property
    def empty(self) -> bool:
        """The field app wrote no visit and no proposal."""
        counted = (self.visits_recorded, self.visits_already, self.proposals_made, self.proposals_already)
        return not any(counted) and not self.conflicts

    @property
    def nothing_new(self) -> bool:
        return not (self.visits_recorded or self.photos_stored or self.proposals_made)

    def summary(self) -> dict[str, Any]:
        """What this import did, as kept in ``offline_packages.import_summary``."""
        counts = asdict(self)
        return {
            **{k: v for k, v in counts.items() if k.endswith(("_recorded", "_already", "_stored", "_made"))},
            "conflicts": [asdict(c) for c in self.conflicts],
        }


@dataclass(frozen=True, slots=True)
class _Run:
    """One import under way: its caller, file and photo store, and the photos written so far."""

    request: RequestInfo
    package: PackageFile
    store: PhotoStore
    max_photo_bytes: int
    report: ImportReport
    written: list[Any] = field(default_factory=list)


def _why(outcome: Any) -> str:
    if isinstance(outcome, Invalid):
        return "; ".join(f"{e.field}: {e.message}" for e in outcome.errors)
    if isinstance(outcome, Missing):
        return f"{outcome.entity} {outcome.key} was not found"
    if isinstance(outcome, Conflict):
        return f"the {outcome.entity} changed (now version {outcome.current_version})"
    return str(outcome)


async def _officer(conn: AsyncConnection, username: str) -> UserRecord:
    user = await user_by_name(conn, username)
    if user is None or not user.active:
        raise PackageRefused(f"there is no active user {username[:64]}; name the officer who made the visits")
    if user.role not in VISIT_ROLES:
        raise PackageRefused(
            f"user {username} is a {user.role}; only a village operator or a district officer imports field visits"
        )
    return user


async def _issued(conn: AsyncConnection, package: PackageFile, user: UserRecord) -> Any:
    """The package as this server recorded it when exporting; refuses a foreign or re-addressed file."""
    manifest, name = package.manifest, package.path.name
    row = (await conn.execute(select(PACKAGES).where(PACKAGES.c.id == manifest.package_id))).first()
    if row is None:
        raise PackageRefused(
            f"{name} was not issued by this server (unknown package id); import only packages exported here"
        )
    if row.village_code != manifest.village_code:
        raise PackageRefused(
            f"{name} says it is for village {manifest.village_code[:13]}, but it was issued for village "
            f"{row.village_code}; the package was altered"
        )
    if not region_within(row.village_code, user.region_code):
        raise PackageRefused(f"user {user.username} works in {user.region_code}, not in village {row.village_code}")
    return row


async def _visit(conn: AsyncConnection, run: _Run, visit: FieldVisit) -> int | None:
    """Record one visit; its server id, or None when it was not recorded (a conflict)."""
    report = run.report
    earlier = (
        await conn.execute(
            select(VISITS.c.client_id, VISITS.c.visited_at).where(
                VISITS.c.round_id == report.round_id, VISITS.c.household_id == visit.household_id
            )
        )
    ).first()
    if earlier is not None and earlier.client_id != visit.client_id:
        reason = (
            f"the household was already visited in this round ({earlier.visited_at:%Y-%m-%d}, another visit); "
            "this visit was not recorded"
        )
        report.conflicts.append(ImportConflict(visit.client_id, visit.household_id, reason))
        return None
    outcome = await record_visit(
        conn,
        run.request,
        VisitReport(
            round_id=report.round_id,
            household_id=visit.household_id,
            outcome=visit.outcome,
            visited_at=visit.visited_at,
            latitude=visit.latitude,
            longitude=visit.longitude,
            household_version=visit.household_version,
            changes=visit.changes,
            note=visit.note,
            client_id=visit.client_id,
        ),
        source="offline",
    )
    if isinstance(outcome, Resent):  # the visit imported before under this client id stands
        report.conflicts.append(
            ImportConflict(
                visit.client_id, visit.household_id, f"{outcome.reason}; its photos here were not stored either"
            )
        )
        return None
    if not isinstance(outcome, Recorded):
        refusal = OutsideRegion if isinstance(outcome, OutsideScope) else PackageRefused
        raise refusal(f"visits row {visit.client_id!r} (household {visit.household_id}): {_why(outcome)}")
    if outcome.already:
        report.visits_already += 1
    else:
        report.visits_recorded += 1
    if outcome.conflict:
        report.conflicts.append(ImportConflict(visit.client_id, visit.household_id, outcome.conflict))
    return int(outcome.visit.id)


async def _photo(conn: AsyncConnection, run: _Run, visit_id: int, photo: FieldPhoto) -> None:
    kept = (
        await conn.execute(
            select(PHOTOS.c.sha256).where(PHOTOS.c.visit_id == visit_id, PHOTOS.c.kind == photo.kind.value)
        )
    ).first()
    if kept is not None:
        if kept.sha256 != photo.sha256:
            raise PackageRefused(
                f"photos row {photo.client_id!r}: its visit already has a different {photo.kind.value} photo"
            )
        run.report.photos_already += 1
        return
    stored = await store_photo(
        conn,
        run.store,
        run.request,
        visit_id,
        photo.kind,
        BytesSource(run.package.photo_content(photo.client_id)),
        filename=None,
        declared_type=None,
        max_bytes=run.max_photo_bytes,
        sha256=photo.sha256,
    )
    if not isinstance(stored, PhotoRecord):
        raise PackageRefused(f"photos row {photo.client_id!r}: {_why(stored)}")
    run.written.append(stored)
    run.report.photos_stored += 1


async def _proposal(conn: AsyncConnection, run: _Run, proposal: FieldProposal) -> None:
    report = run.report
    where = f"proposals row {proposal.client_id!r}"
    made_before = (
        await conn.execute(
            select(PROPOSALS.c.village_code, PROPOSALS.c.content_sha256).where(
                PROPOSALS.c.client_id == proposal.client_id
            )
        )
    ).first()
    sent = content_sha256({"household": proposal.household, "note": proposal.note})
    if made_before is not None:
        if made_before.village_code != report.village_code:
            raise PackageRefused(f"{where}: its client_id is already used by a proposal of another village")
        if made_before.content_sha256 not in (None, sent):  # None: made before proposals kept a digest
            reason = resent_reason(proposal.client_id, "new-household proposal")
            report.conflicts.append(ImportConflict(proposal.client_id, None, reason))
        else:
            report.proposals_already += 1
        return
    household = proposal.household
    if refused := destination_refusal(household.village_code, run.request.principal.scope):
        raise OutsideRegion(f"{where}: {_why(refused)}")
    if household.village_code != report.village_code:
        raise PackageRefused(
            f"{where}: the new household is in village {household.village_code[:13]}, "
            f"not in the package's village {report.village_code}"
        )
    known = await existing_codes(conn, codes_to_check(household))
    errors = full_household_errors(household, known.__contains__, datetime.now(UTC).date())
    if errors:
        raise PackageRefused(f"{where}: {_why(Invalid(errors))}")
    origin = Origin(round_id=report.round_id, client_id=proposal.client_id, content_sha256=sent)
    made = await propose_new_household(conn, run.request, household, proposal.note, origin)
    if isinstance(made, Invalid):  # rules hold: a KK or NIK taken online since the export
        report.conflicts.append(ImportConflict(proposal.client_id, None, _why(made)))
    else:
        report.proposals_made += 1


async def _record_all(engine: AsyncEngine, run: _Run, work: FieldWork) -> None:
    report = run.report
    photos: dict[str, list[FieldPhoto]] = defaultdict(list)
    for photo in work.photos:
        photos[photo.visit_client_id].append(photo)
    try:
        async with write_transaction(engine) as conn:
            query = select(PACKAGES.c.imported_at).where(PACKAGES.c.id == report.package_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()  # two imports of one package queue
            report.imported_before = (await conn.execute(query)).scalar_one()
            for visit in work.visits:
                visit_id = await _visit(conn, run, visit)
                for photo in photos[visit.client_id] if visit_id is not None else []:
                    await _photo(conn, run, visit_id, photo)
            for proposal in work.proposals:
                await _proposal(conn, run, proposal)
            if not report.nothing_new:
                summary = report.summary()
                await conn.execute(
                    update(PACKAGES)
                    .where(PACKAGES.c.id == report.package_id)
                    .values(imported_at=datetime.now(UTC), imported_by=report.officer, import_summary=summary)
                )
                await record(
                    conn,
                    run.request,
                    operation="importOfflinePackage",
                    entity="offline_package",
                    entity_id=report.package_id,
                    after=summary,
                )
    except BaseException:
        for photo in run.written:
            await discard_files(run.store, photo)
        raise


async def import_package(
    engine: AsyncEngine, store: PhotoStore, path: Path, officer: str, *, secret_key: str, max_photo_bytes: int
) -> ImportReport:
    """Import the package at ``path`` as ``officer``; PackageRefused (nothing written) if any check fails."""
    package = await asyncio.to_thread(PackageFile, path)
    with package:
        async with engine.connect() as conn:
            user = await _officer(conn, officer)
            issued = await _issued(conn, package, user)
        try:
            digest = await asyncio.to_thread(package.digest, secret_key)
            if not (hmac.compare_digest(digest, issued.digest) and package.manifest.digest == issued.digest):
                raise PackageRefused(
                    f"the reference data in {path.name} was changed after export (its digest does not match); "
                    "export a new package"
                )
            work = await asyncio.to_thread(package.field_work, max_photo_bytes)
        except sqlite3.DatabaseError as exc:
            raise PackageRefused(f"{path.name} cannot be read as an offline package ({exc})") from None
        report = ImportReport(issued.id, issued.village_code, int(issued.round_id), user.username)
        request = RequestInfo(user.principal(via="cli"), client=f"offline:{issued.id}")
        try:
            await _record_all(engine, _Run(request, package, store, max_photo_bytes, report), work)
        except OutsideRegion as refused:
            async with write_transaction(engine) as conn:
                await record(
                    conn,
                    request,
                    operation="importOfflinePackage",
                    entity="offline_package",
                    entity_id=issued.id,
                    outcome="denied",
                    after={"reason": str(refused)},
                )
            raise
    return report

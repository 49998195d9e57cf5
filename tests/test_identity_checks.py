"""``siks identity check``: every outcome, failed and killed runs, refusals, the audit row (docs/identity.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo
from core.auth.principal import Principal
from core.foundation.enums import Education, IdentityRunStatus, Relationship, Sex
from core.households.data import MemberData
from core.households.identity import make_nik
from core.identity import checks as check_module
from core.identity.checks import CheckRefused, run_check
from core.identity.queries import latest_checks
from core.models import AuditEntry, IdentityCheck, IdentityRun
from core.reference.formats import Source
from core.reference.loader import load_reference
from core.storage.db import write_transaction
from core.storage.locks import held_for_job
from core.storage.records import MEMBERS
from tests import factories
from tests.cli_support import siks
from tests.reference_files import write_extract
from tests.test_schema_households import store

OPERATOR = RequestInfo(Principal(username="cli:datacentre", role="cli", scope="", via="cli"), client="cli")
TODAY = date(2026, 12, 7)
VILLAGE = factories.VILLAGE  # 32.01.01.1001, Kabupaten Bogor
OTHER_VILLAGE = "32.01.01.1002"
FAR_VILLAGE = factories.OTHER_VILLAGE  # Kota Surabaya
DISTRICT = "32.01.01"
HEADS = {101, 106, 120}  # serials of the household heads


def person(name: str, born: date, sex: Sex = Sex.MALE, serial: int = 1, **extra: Any) -> MemberData:
    nik = make_nik(DISTRICT, born, sex, serial)
    relationship = extra.pop("relationship", Relationship.HEAD if serial in HEADS else Relationship.OTHER_RELATIVE)
    return MemberData(nik=nik, name=name, sex=sex, birth_date=born, relationship=relationship, **extra)


def adminduk(m: MemberData, **change: str) -> list[str]:
    row = {
        "nik": m.nik, "kk": f"320101{m.nik[-4:]}000001", "full_name": m.name, "birth_place": "Bogor",
        "birth_date": m.birth_date.isoformat(), "sex": "P" if m.sex is Sex.FEMALE else "L",
        "village_code": VILLAGE, "status": "alive", "death_date": "", "updated_at": "2026-11-30",
    }  # fmt: skip
    row.update(change)
    return list(row.values())


@dataclass
class World:
    members: dict[str, MemberData]
    files: dict[Source, Path]


def registry() -> dict[str, MemberData]:
    return {
        "verified": person("H. Budi Santoso", date(1980, 5, 17), serial=101),
        "variant": person("Moch. Djoko Susilo", date(1975, 3, 4), serial=102),
        "deceased": person("Slamet Riyadi", date(1950, 1, 5), serial=103),
        "moved": person("Agus Salim", date(1960, 7, 7), serial=104),
        "elsewhere": person("Wahyu Hidayat", date(1970, 2, 2), serial=105),
        "mismatch": person("Sri Wahyuni", date(1982, 9, 20), Sex.FEMALE, serial=106),
        "unknown": person("Rahmat Hidayat", date(1990, 1, 1), serial=107),
        "pupil": person("Dewi Lestari", date(2014, 1, 2), Sex.FEMALE, serial=108, education=Education.PRIMARY),
        "dropout": person("Andi Pratama", date(2010, 6, 1), serial=109),
        "unnamed_pupil": person("Rina Kartika", date(2012, 4, 9), Sex.FEMALE, serial=110),
        "toddler": person("Bayu Saputra", date(2023, 3, 3), serial=111),
    }


def extracts(tmp_path: Path, m: dict[str, MemberData]) -> dict[Source, Path]:
    rows = [
        adminduk(m["verified"], full_name="Budi Santoso"),
        adminduk(m["variant"], full_name="Muhamad Joko Susilo"),
        adminduk(m["deceased"], status="deceased", death_date="2025-03-01"),
        adminduk(m["moved"], status="moved", village_code=FAR_VILLAGE),
        adminduk(m["elsewhere"], village_code=OTHER_VILLAGE),
        adminduk(m["mismatch"], birth_date="1982-09-21", sex="L"),
        adminduk(m["pupil"]),
        adminduk(m["dropout"]),
        adminduk(m["unnamed_pupil"]),
        adminduk(m["toddler"]),
    ]
    pupils = [
        ["0123456781", m["pupil"].nik, "Dewi Lestari", "2014-01-02", "P", "20212345", "SD", "6", "true", "92.5",
         "2026-1"],
        ["0123456782", m["dropout"].nik, "Andi Pratama", "2010-06-01", "L", "20212346", "SMP", "9", "false", "",
         "2026-1"],
        ["0123456783", "", "Rina Kartika", "2012-04-09", "P", "20212346", "SMP", "8", "true", "88", "2026-1"],
    ]  # fmt: skip
    bpjs = [
        [m["verified"].nik, "0001234567801", "PBI-APBN", "true"],
        [m["variant"].nik, "0001234567802", "OTHER", "true"],
        [m["deceased"].nik, "0001234567803", "PBI-APBD", "false"],
        [m["pupil"].nik, "0001234567804", "PBI-APBD", "true"],
    ]
    return {
        Source.ADMINDUK: write_extract(tmp_path / "adminduk.csv", Source.ADMINDUK, rows),
        Source.DAPODIK: write_extract(tmp_path / "dapodik.csv", Source.DAPODIK, pupils),
        Source.BPJS: write_extract(tmp_path / "bpjs.csv", Source.BPJS, bpjs),
    }


async def seed(db: AsyncEngine, tmp_path: Path, sources: tuple[Source, ...] = tuple(Source)) -> World:
    m = registry()
    people = list(m.values())
    await store(db, [factories.household(VILLAGE, people[:5]), factories.household(VILLAGE, people[5:])])
    files = extracts(tmp_path, m)
    for source in sources:
        await load_reference(db, source, files[source], request=OPERATOR, today=TODAY)
    return World(m, files)


async def outcomes(db: AsyncEngine, run_id: int) -> dict[tuple[str, str], dict[str, Any]]:
    """(member NIK, source) → the stored outcome of one run."""
    checks = IdentityCheck.__table__
    async with db.connect() as conn:
        rows = await conn.execute(
            select(MEMBERS.c.nik, checks)
            .join(MEMBERS, MEMBERS.c.id == checks.c.member_id)
            .where(checks.c.run_id == run_id)
        )
        return {(row.nik, row.source): dict(row._mapping) for row in rows}


def audit_rows(run_id: int) -> Any:
    table = AuditEntry.__table__
    return select(table).where(table.c.operation == "runIdentityCheck", table.c.entity_id == str(run_id))


def outcome_of(found: dict[tuple[str, str], dict[str, Any]], m: MemberData, source: Source) -> dict[str, Any]:
    return found[(m.nik, source.value)]


async def test_every_adminduk_dapodik_and_bpjs_outcome(db: AsyncEngine, tmp_path: Path) -> None:
    world = await seed(db, tmp_path)
    m = world.members
    summary = await run_check(db, region_code=None, started_by="cli:datacentre", today=TODAY)
    found = await outcomes(db, summary.run_id)

    def status(key: str, source: Source = Source.ADMINDUK) -> str:
        return str(outcome_of(found, m[key], source)["status"])

    assert status("verified") == "verified"
    assert status("variant") == "verified"  # Moch. Djoko / Muhamad Joko: the same name once normalised
    assert status("deceased") == "deceased"
    assert outcome_of(found, m["deceased"], Source.ADMINDUK)["details"] == {"deathDate": "2025-03-01"}
    assert status("moved") == "moved"
    assert outcome_of(found, m["moved"], Source.ADMINDUK)["details"] == {"newVillageCode": FAR_VILLAGE}
    assert status("elsewhere") == "moved"
    assert outcome_of(found, m["elsewhere"], Source.ADMINDUK)["details"] == {"newVillageCode": OTHER_VILLAGE}
    mismatch = outcome_of(found, m["mismatch"], Source.ADMINDUK)
    assert mismatch["status"] == "identity_mismatch"
    assert mismatch["details"]["fields"] == ["birthDate", "sex"]  # which fields, never the registry's values
    assert "1982-09-21" not in json.dumps(mismatch["details"])
    assert status("unknown") == "nik_unknown"
    # Dapodik: children 6-18 only
    assert status("pupil", Source.DAPODIK) == "enrolled"
    assert outcome_of(found, m["pupil"], Source.DAPODIK)["details"] == {
        "level": "SD", "grade": 6, "attendancePct": 92.5,
    }  # fmt: skip
    assert status("dropout", Source.DAPODIK) == "not_enrolled"
    assert (m["toddler"].nik, "dapodik") not in found and (m["verified"].nik, "dapodik") not in found
    # BPJS: an active PBI membership
    assert status("verified", Source.BPJS) == "pbi_active"
    assert outcome_of(found, m["verified"], Source.BPJS)["details"] == {"segment": "PBI-APBN"}
    assert status("pupil", Source.BPJS) == "pbi_active"
    assert status("variant", Source.BPJS) == "pbi_inactive"  # OTHER
    assert status("deceased", Source.BPJS) == "pbi_inactive"  # not active
    assert status("unknown", Source.BPJS) == "pbi_inactive"  # no membership
    assert summary.members == 11 and summary.skipped == []
    assert summary.counts["adminduk"]["verified"] == 6  # verified, variant, pupil, dropout, unnamed pupil, toddler
    assert sum(summary.counts["bpjs"].values()) == 11
    async with db.connect() as conn:
        run = (await conn.execute(select(IdentityRun.__table__))).one()
    assert run.status == "completed" and run.members_checked == 11
    assert run.adminduk_snapshot_id and run.dapodik_snapshot_id and run.bpjs_snapshot_id


@pytest.mark.skipif(find_spec("core.identity.linkage") is None, reason="core.identity.linkage is not merged yet")
async def test_linkage_suggests_the_nik_of_a_mistyped_member_and_finds_a_pupil_without_nik(
    db: AsyncEngine, tmp_path: Path
) -> None:
    m = registry()
    true = m["unknown"]
    typo = replace(true, nik=true.nik[:-2] + true.nik[-1] + true.nik[-2])
    people = [*list(m.values())[:6], typo, *list(m.values())[7:]]
    await store(db, [factories.household(VILLAGE, people[:5]), factories.household(VILLAGE, people[5:])])
    files = extracts(tmp_path, m)
    rows = [*(line.split(",") for line in files[Source.ADMINDUK].read_text().splitlines()[1:])]
    rows.append(adminduk(true))
    write_extract(files[Source.ADMINDUK], Source.ADMINDUK, rows)
    for source in (Source.ADMINDUK, Source.DAPODIK):
        await load_reference(db, source, files[source], request=OPERATOR, today=TODAY)
    summary = await run_check(db, region_code=None, started_by="cli:datacentre", today=TODAY, link_threshold=0.5)
    found = await outcomes(db, summary.run_id)
    suggested = found[(typo.nik, "adminduk")]
    assert suggested["status"] == "nik_suggested" and suggested["suggested_nik"] == true.nik
    assert 0.5 <= suggested["probability"] <= 1
    pupil = found[(m["unnamed_pupil"].nik, "dapodik")]
    assert pupil["status"] == "enrolled" and pupil["details"]["level"] == "SMP" and pupil["probability"] >= 0.5


async def test_a_source_without_snapshot_is_skipped_and_no_adminduk_refuses(db: AsyncEngine, tmp_path: Path) -> None:
    await seed(db, tmp_path, sources=(Source.DAPODIK,))
    with pytest.raises(CheckRefused, match="no Adminduk snapshot"):
        await run_check(db, region_code=None, started_by="cli:datacentre", today=TODAY)
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(IdentityRun.__table__)) == 0
    await load_reference(db, Source.ADMINDUK, tmp_path / "adminduk.csv", request=OPERATOR, today=TODAY)
    summary = await run_check(db, region_code=None, started_by="cli:datacentre", today=TODAY)
    assert summary.skipped == ["bpjs"] and set(summary.counts) == {"adminduk", "dapodik"}
    assert any("bpjs: skipped" in line for line in summary.lines())


async def test_a_region_run_checks_only_its_members_and_bad_codes_are_refused(db: AsyncEngine, tmp_path: Path) -> None:
    world = await seed(db, tmp_path)
    far = person("Joko Widodo", date(1961, 6, 21), serial=120)
    await store(db, [factories.household(FAR_VILLAGE, [far])])
    summary = await run_check(db, region_code="32.01", started_by="cli:datacentre", today=TODAY)
    found = await outcomes(db, summary.run_id)
    assert summary.members == len(world.members) and (far.nik, "adminduk") not in found
    for bad, reason in (("32.1", "not a Kemendagri region code"), ("32.99", "not a loaded region")):
        with pytest.raises(CheckRefused, match=reason):
            await run_check(db, region_code=bad, started_by="cli:datacentre", today=TODAY)


async def test_a_failed_run_is_marked_failed_leaves_no_outcomes_and_the_latest_completed_run_answers(
    db: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await seed(db, tmp_path)
    first = await run_check(db, region_code=None, started_by="cli:datacentre", today=TODAY)
    original = check_module._Check._bpjs
    calls = []

    async def broken(self: Any, conn: Any, in_batch: Any) -> Any:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("the database went away")
        return await original(self, conn, in_batch)

    monkeypatch.setattr(check_module._Check, "_bpjs", broken)
    with pytest.raises(RuntimeError, match="went away"):
        await run_check(db, region_code=None, started_by="cli:datacentre", today=TODAY, batch_members=4)
    async with db.connect() as conn:
        runs = (await conn.execute(select(IdentityRun.__table__).order_by(IdentityRun.started_at))).all()
        assert [run.status for run in runs] == ["completed", "failed"]
        assert "went away" in runs[1].error
        assert (
            await conn.scalar(
                select(func.count()).select_from(IdentityCheck.__table__).where(IdentityCheck.run_id == runs[1].id)
            )
            == 0
        )
        member_id = await conn.scalar(select(MEMBERS.c.id).where(MEMBERS.c.nik == world.members["deceased"].nik))
        latest = await latest_checks(conn, [member_id])
        audit = (
            await conn.execute(
                select(AuditEntry.__table__)
                .where(AuditEntry.operation == "runIdentityCheck", AuditEntry.entity_id.in_([str(r.id) for r in runs]))
                .order_by(AuditEntry.seq)
            )
        ).all()
    assert {c.run_id for c in latest[member_id]} == {first.run_id}
    assert [row.outcome for row in audit] == ["ok", "error"]


async def test_a_killed_run_is_ignored_and_failed_by_the_next_one(db: AsyncEngine, tmp_path: Path) -> None:
    world = await seed(db, tmp_path)
    first = await run_check(db, region_code=None, started_by="cli:datacentre", today=TODAY)
    second = await run_check(db, region_code=None, started_by="cli:datacentre", today=TODAY)
    async with write_transaction(db) as conn:  # as if the second run's process had been killed midway
        await conn.execute(
            update(IdentityRun.__table__).where(IdentityRun.id == second.run_id).values(status="running")
        )
    async with db.connect() as conn:
        member_id = await conn.scalar(select(MEMBERS.c.id).where(MEMBERS.c.nik == world.members["verified"].nik))
        assert {c.run_id for c in (await latest_checks(conn, [member_id]))[member_id]} == {first.run_id}
    third = await run_check(db, region_code=None, started_by="cli:datacentre", today=TODAY)
    async with db.connect() as conn:
        statuses = dict((await conn.execute(select(IdentityRun.id, IdentityRun.status))).all())
        assert {c.run_id for c in (await latest_checks(conn, [member_id]))[member_id]} == {third.run_id}
    assert statuses[second.run_id] == IdentityRunStatus.FAILED
    assert statuses[third.run_id] == IdentityRunStatus.COMPLETED


async def test_a_second_check_is_refused_while_one_runs(db: AsyncEngine, tmp_path: Path) -> None:
    await seed(db, tmp_path)
    async with held_for_job(db, "identity-check"):  # a check running in another process
        with pytest.raises(CheckRefused, match="another identity check is running"):
            await run_check(db, region_code=None, started_by="cli:datacentre", today=TODAY)
        refused = siks("identity", "check")
        assert refused.returncode != 0 and "another identity check is running" in refused.stderr
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(IdentityRun.__table__)) == 0
    done = await run_check(db, region_code=None, started_by="cli:datacentre", today=TODAY)
    assert done.members > 0


async def test_the_run_is_audited_with_its_snapshots(db: AsyncEngine, tmp_path: Path) -> None:
    await seed(db, tmp_path)
    summary = await run_check(db, region_code="32.01", started_by="cli:datacentre", request=OPERATOR, today=TODAY)
    async with db.connect() as conn:
        [row] = (await conn.execute(audit_rows(summary.run_id))).all()
    after = json.loads(row.after)
    assert row.actor == "cli:datacentre" and row.entity_id == str(summary.run_id)
    assert after["region"] == "32.01" and after["snapshots"] == summary.snapshots and after["members"] == 11


async def test_cli_check_prints_the_summary_and_refuses_without_snapshot(db: AsyncEngine, tmp_path: Path) -> None:
    refused = siks("identity", "check")
    assert refused.returncode == 2 and "no Adminduk snapshot" in refused.stderr
    await seed(db, tmp_path)
    bad = siks("identity", "check", "--region", "32-01")
    assert bad.returncode == 2 and "not a Kemendagri region code" in bad.stderr
    ran = siks("identity", "check", "--region", "32.01")
    assert ran.returncode == 0, ran.stderr
    assert "11 members of 32.01 checked" in ran.stdout and "adminduk:" in ran.stdout and "bpjs:" in ran.stdout
    async with db.connect() as conn:
        run_id = await conn.scalar(select(IdentityRun.id))
        [row] = (await conn.execute(audit_rows(run_id))).all()
    assert row.actor.startswith("cli:") and row.role == "cli"

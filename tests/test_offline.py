"""Offline village packages through the real command line: export, a field app's rows, import."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from typer.testing import CliRunner

from core.audit.log import RequestInfo
from core.auth.passwords import hash_password
from core.auth.principal import Principal
from core.auth.users import create_api_key
from core.cli import app
from core.foundation.enums import FloorMaterial
from core.foundation.ids import ids
from core.foundation.settings import Settings, get_settings
from core.households import service
from core.households.data import HouseholdData
from core.models import PROPOSED_HOUSEHOLDS, OfflinePackage, Proposal, User, Visit, VisitPhoto
from core.offline.field_json import JSON_MAX_CHARACTERS, JSON_MAX_DEPTH, nested_deeper_than
from core.storage.db import write_transaction
from core.storage.records import HOUSEHOLDS
from core.verification import rounds
from tests import factories

VILLAGE = factories.VILLAGE
OFFICER = "petugas.pondok"
REGENCY = RequestInfo(Principal("test-regency", "regency_office", "32.01"))
COUNTED = ("visits", "visit_photos", "proposals", "proposal_households", "proposal_steps", "audit_log")
PACKAGE_TABLES = {"manifest", "regions", "code_lists", "households", "members", "visits", "photos", "proposals"}


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


async def siks(*args: str) -> tuple[int, str, str]:
    return await asyncio.to_thread(invoke, *args)


@pytest.fixture
def photo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The photo folder the commands write to (this test's own)."""
    folder = tmp_path / "photos"
    monkeypatch.setenv("SIKS_PHOTO_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    monkeypatch.delenv("SIKS_PHOTO_DIR")
    get_settings.cache_clear()


@functools.cache
def password_hash() -> str:
    return hash_password("kata-sandi-panjang")


async def add_user(conn: AsyncConnection, username: str, role: str, scope: str, active: bool = True) -> None:
    """A user row as ``create_user`` writes it, without hashing a password for every test."""
    now = datetime.now(UTC)
    await conn.execute(
        insert(User.__table__).values(
            id=ids.next_id(),
            username=username,
            password_hash=password_hash(),
            role=role,
            region_code=scope,
            active=active,
            created_at=now,
            updated_at=now,
        )
    )


@dataclass
class Field:
    """A village with three prelisted households in an open round, and its village operator."""

    households: list[Any]
    round_id: int
    package: Path
    photo_dir: Path


@pytest.fixture
async def field(db: AsyncEngine, tmp_path: Path, photo_dir: Path) -> Field:
    async with write_transaction(db) as conn:
        records = [await service.register_household(conn, factories.household()) for _ in range(3)]
        made = await rounds.create_round(conn, REGENCY, "2026-Q4", "Pemutakhiran Q4", [VILLAGE])
        await add_user(conn, OFFICER, "village_operator", VILLAGE)
    return Field(records, made.id, tmp_path / "pondok-rajeg.siks", photo_dir)


async def export(field: Field) -> None:
    code, out, err = await siks("offline", "export", "--village", VILLAGE, "--output", str(field.package))
    assert code == 0, err
    assert f"village {VILLAGE}, round {field.round_id}, 3 households, 9 members" in out


async def import_package(path: Path, officer: str = OFFICER) -> tuple[int, str, str]:
    return await siks("offline", "import", str(path), "--officer", officer)


# What a field app does with the file


def package_rows(path: Path, query: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(query).fetchall()


def change_file(path: Path, statement: str, *values: Any) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(statement, values)


def visited_at(hours_ago: float = 2) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).astimezone().isoformat()


def add_visit(
    path: Path,
    client_id: str,
    household_id: int,
    changes: dict[str, Any] | None = None,
    *,
    latitude: float = -6.4812,
    longitude: float = 106.8507,
    hours_ago: float = 2,
    outcome: str = "found",
) -> None:
    (version,) = package_rows(path, f"SELECT version FROM households WHERE id = {household_id}")[0]
    change_file(
        path,
        "INSERT INTO visits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        client_id,
        household_id,
        outcome,
        visited_at(hours_ago),
        latitude,
        longitude,
        version,
        "rumah sudah berlantai keramik" if changes else "",
        json.dumps(changes) if changes is not None else None,
    )


def add_photo(path: Path, client_id: str, visit_client_id: str, kind: str, content: bytes, sha256: str = "") -> None:
    sha = sha256 or hashlib.sha256(content).hexdigest()
    change_file(path, "INSERT INTO photos VALUES (?, ?, ?, ?, ?)", client_id, visit_client_id, kind, content, sha)


def plain(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    return value.isoformat() if isinstance(value, date) else value


def household_json(data: HouseholdData) -> str:
    values = {f.name: plain(getattr(data, f.name)) for f in fields(data) if f.name != "members"}
    values["members"] = [{f.name: plain(getattr(m, f.name)) for f in fields(m)} for m in data.members]
    return json.dumps(values)


def add_proposal(path: Path, client_id: str, data: HouseholdData) -> None:
    change_file(
        path, "INSERT INTO proposals VALUES (?, 'new_household', ?, ?)", client_id, household_json(data), "rumah baru"
    )


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (48, 32), "brown")
    exif = image.getexif()
    exif[ExifTags.Base.Make] = "FieldPhone"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update({1: "S", 2: (6.0, 28.0, 52.3), 3: "E", 4: (106.0, 51.0, 2.5)})
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "grey").save(out, format="PNG")
    return out.getvalue()


# The registry, read back


async def counts(db: AsyncEngine) -> dict[str, int]:
    async with db.connect() as conn:
        return {t: (await conn.execute(text(f"SELECT COUNT(*) FROM {t}"))).scalar_one() for t in COUNTED}


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


async def rows(db: AsyncEngine, query: Any) -> list[Any]:
    async with db.connect() as conn:
        return list(await conn.execute(query))


# Round trip


async def test_a_field_visit_with_photos_and_a_new_household_round_trips(field: Field, db: AsyncEngine) -> None:
    await export(field)
    first, second, _third = field.households
    assert dict(package_rows(field.package, "SELECT id, version FROM households")) == {
        h.id: h.version for h in field.households
    }
    (village,) = package_rows(field.package, "SELECT village_code, round_id, households FROM manifest")
    assert village == (VILLAGE, field.round_id, 3)
    assert [r[0] for r in package_rows(field.package, "SELECT code FROM regions ORDER BY code")] == [
        "32",
        "32.01",
        "32.01.01",
        VILLAGE,
    ]
    assert ("floor_material", "ceramic") in package_rows(field.package, "SELECT list, value FROM code_lists")

    add_visit(field.package, "v-1", first.id, {"household": {"floor_material": "ceramic", "has_television": True}})
    add_visit(field.package, "v-2", second.id, hours_ago=1)
    gps_photo = jpeg_with_gps()
    add_photo(field.package, "p-1", "v-1", "roof", gps_photo)
    add_photo(field.package, "p-2", "v-1", "floor", png())
    newcomer = factories.household()
    add_proposal(field.package, "n-1", newcomer)

    code, out, err = await import_package(field.package)

    assert code == 0, err
    assert "visits recorded: 2, already imported: 0" in out
    assert "photos stored: 2, already stored: 0" in out
    assert "proposals made: 1, already made: 0" in out
    assert "conflicts: 0" in out
    visits = Visit.__table__
    found = await rows(db, select(visits.c.client_id, visits.c.source, visits.c.officer, visits.c.proposal_id))
    assert sorted(r[:3] for r in found) == [("v-1", "offline", OFFICER), ("v-2", "offline", OFFICER)]
    change_id = next(r.proposal_id for r in found if r.client_id == "v-1")
    proposed = PROPOSED_HOUSEHOLDS
    (changed,) = await rows(
        db, select(proposed.c.floor_material, proposed.c.has_television).where(proposed.c.proposal_id == change_id)
    )
    assert tuple(changed) == ("ceramic", True)
    proposals = Proposal.__table__
    (new_household,) = await rows(
        db, select(proposals.c.kind, proposals.c.round_id).where(proposals.c.client_id == "n-1")
    )
    assert tuple(new_household) == ("new_household", field.round_id)

    photos = VisitPhoto.__table__
    stored = await rows(db, select(photos.c.kind, photos.c.sha256, photos.c.original_key, photos.c.public_key))
    assert {r.kind: r.sha256 for r in stored} == {
        "roof": hashlib.sha256(gps_photo).hexdigest(),
        "floor": hashlib.sha256(png()).hexdigest(),
    }
    roof = next(r for r in stored if r.kind == "roof")
    assert (field.photo_dir / roof.original_key).read_bytes() == gps_photo
    with Image.open(field.photo_dir / roof.public_key) as public:
        assert dict(public.getexif()) == {}
    with Image.open(field.photo_dir / roof.original_key) as original:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)[1] == "S"

    packages = OfflinePackage.__table__
    (package,) = await rows(db, select(packages.c.imported_by, packages.c.import_summary))
    assert package.imported_by == OFFICER
    assert package.import_summary["visits_recorded"] == 2 and package.import_summary["photos_stored"] == 2


async def test_a_household_changed_online_after_export_is_a_conflict_and_keeps_its_data(
    field: Field, db: AsyncEngine
) -> None:
    await export(field)
    household = field.households[0]
    newcomer = factories.household()
    async with write_transaction(db) as conn:
        online = await service.update_household(conn, household.id, household.version, {"floor_area": 48.0})
        registered = await service.register_household(conn, factories.household(kk_number=newcomer.kk_number))
    assert online.version == household.version + 1 and registered.kk_number == newcomer.kk_number
    add_visit(field.package, "v-1", household.id, {"household": {"floor_area": 20.0, "floor_material": "earth"}})
    add_proposal(field.package, "n-1", newcomer)

    code, out, err = await import_package(field.package)

    assert code == 0, err
    assert "visits recorded: 1" in out and "proposals made: 0" in out and "conflicts: 2" in out
    assert f"household {household.id} (v-1): the household changed online since the package was made" in out
    assert f"new household (n-1): kkNumber: KK number {newcomer.kk_number} is already registered" in out
    (kept,) = await rows(
        db, select(HOUSEHOLDS.c.floor_area, HOUSEHOLDS.c.floor_material).where(HOUSEHOLDS.c.id == household.id)
    )
    assert tuple(kept) == (48.0, FloorMaterial.CEMENT_BRICK.value)
    visits = Visit.__table__
    (visit,) = await rows(db, select(visits.c.source, visits.c.proposal_id))
    assert tuple(visit) == ("offline", None)
    assert (await counts(db))["proposals"] == 0


async def test_importing_the_same_package_twice_changes_nothing(field: Field, db: AsyncEngine) -> None:
    await export(field)
    add_visit(field.package, "v-1", field.households[0].id, {"household": {"roof_material": "zinc"}})
    add_photo(field.package, "p-1", "v-1", "house_front", jpeg_with_gps())
    add_proposal(field.package, "n-1", factories.household())
    code, out, err = await import_package(field.package)
    assert code == 0, err
    assert "visits recorded: 1" in out and "photos stored: 1" in out and "proposals made: 1" in out
    before, photo_files = await counts(db), files(field.photo_dir)
    packages = OfflinePackage.__table__
    (first_import,) = await rows(db, select(packages.c.imported_at, packages.c.import_summary))

    code, out, err = await import_package(field.package)

    assert code == 0, err
    assert "nothing new: everything in package" in out
    assert "visits recorded: 0, already imported: 1" in out
    assert "photos stored: 0, already stored: 1" in out
    assert "proposals made: 0, already made: 1" in out
    assert await counts(db) == before
    assert files(field.photo_dir) == photo_files
    assert tuple((await rows(db, select(packages.c.imported_at, packages.c.import_summary)))[0]) == tuple(first_import)


# Finding 12c: a client id sent again with other content


def other_changes(path: Path) -> None:
    change_file(
        path, "UPDATE visits SET changes = ? WHERE client_id = 'v-1'", '{"household": {"roof_material": "clay_tile"}}'
    )


def other_note(path: Path) -> None:
    change_file(path, "UPDATE visits SET note = 'atap sudah diganti' WHERE client_id = 'v-1'")


def other_place(path: Path) -> None:
    change_file(path, "UPDATE visits SET latitude = latitude + 0.0001 WHERE client_id = 'v-1'")


def same_instant_elsewhere(path: Path) -> None:
    ((moment,),) = package_rows(path, "SELECT visited_at FROM visits WHERE client_id = 'v-1'")
    papua = timezone(timedelta(hours=9))
    change_file(
        path,
        "UPDATE visits SET visited_at = ? WHERE client_id = 'v-1'",
        datetime.fromisoformat(moment).astimezone(papua).isoformat(),
    )


def same_json_respaced(path: Path) -> None:
    ((changes,),) = package_rows(path, "SELECT changes FROM visits WHERE client_id = 'v-1'")
    respaced = json.dumps(json.loads(changes), indent=4, sort_keys=True)
    assert respaced != changes
    change_file(path, "UPDATE visits SET changes = ? WHERE client_id = 'v-1'", respaced)


RESENDS: dict[str, tuple[Callable[[Path], None], bool]] = {
    "other changes": (other_changes, True),
    "other note": (other_note, True),
    "other place": (other_place, True),
    "the same instant in another time zone": (same_instant_elsewhere, False),
    "the same changes spaced otherwise": (same_json_respaced, False),
}


@pytest.mark.parametrize("case", list(RESENDS))
async def test_finding_12c_a_visit_sent_again_with_other_content_is_a_conflict_naming_its_client_id(
    field: Field, db: AsyncEngine, case: str
) -> None:
    await export(field)
    first, second, _third = field.households
    add_visit(field.package, "v-1", first.id, {"household": {"roof_material": "zinc"}})
    add_photo(field.package, "p-1", "v-1", "roof", jpeg_with_gps())
    assert (await import_package(field.package))[0] == 0
    visits, proposed = Visit.__table__, PROPOSED_HOUSEHOLDS
    query = select(visits.c.note, visits.c.latitude, proposed.c.roof_material).join(
        proposed, proposed.c.proposal_id == visits.c.proposal_id
    )
    recorded = await rows(db, query)
    change, conflicting = RESENDS[case]
    change(field.package)
    add_visit(field.package, "v-2", second.id, hours_ago=1)  # new work in the same file is still imported
    add_photo(field.package, "p-2", "v-1", "floor", png())  # a photo added to the resent visit

    code, out, err = await import_package(field.package)

    assert code == 0, err
    assert "visits recorded: 1" in out
    if conflicting:
        assert "already imported: 0" in out and "photos stored: 0, already stored: 0" in out
        assert "conflicts: 1" in out
        assert (
            f"household {first.id} (v-1): client id v-1 was already imported as a visit with different content; "
            "the first one stands and this one was not recorded" in out
        )
        assert "its photos here were not stored either" in out
        (package,) = await rows(db, select(OfflinePackage.__table__.c.import_summary))
        assert [c["client_id"] for c in package.import_summary["conflicts"]] == ["v-1"]
    else:
        assert "already imported: 1" in out and "photos stored: 1, already stored: 1" in out
        assert "conflicts: 0" in out
    assert await rows(db, query) == recorded, "the visit recorded first stands"


async def test_finding_12c_only_a_resent_visit_is_reported_not_as_everything_already_imported(
    field: Field, db: AsyncEngine
) -> None:
    await export(field)
    add_visit(field.package, "v-1", field.households[0].id)
    assert (await import_package(field.package))[0] == 0
    other_note(field.package)
    before = await counts(db)

    code, out, err = await import_package(field.package)

    assert code == 0, err
    assert "nothing new was imported from package" in out and "already imported" not in out.splitlines()[0]
    assert "visits recorded: 0, already imported: 0" in out and "conflicts: 1" in out
    assert await counts(db) == before


async def test_finding_12c_a_new_household_sent_again_with_other_content_is_a_conflict(
    field: Field, db: AsyncEngine
) -> None:
    await export(field)
    newcomer = factories.household()
    add_proposal(field.package, "n-1", newcomer)
    assert (await import_package(field.package))[0] == 0
    proposed = PROPOSED_HOUSEHOLDS
    before = await rows(db, select(proposed.c.address))
    change_file(field.package, "UPDATE proposals SET note = 'rumah baru di ujung gang' WHERE client_id = 'n-1'")

    code, out, err = await import_package(field.package)

    assert code == 0, err
    assert "proposals made: 0, already made: 0" in out and "conflicts: 1" in out
    assert (
        "new household (n-1): client id n-1 was already imported as a new-household proposal with different content"
        in out
    )
    assert await rows(db, select(proposed.c.address)) == before
    change_file(field.package, "UPDATE proposals SET note = 'rumah baru' WHERE client_id = 'n-1'")  # as first sent
    code, out, err = await import_package(field.package)
    assert code == 0 and "proposals made: 0, already made: 1" in out and "conflicts: 0" in out, out


# Refused whole


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def not_sqlite(path: Path) -> None:
    path.write_bytes(jpeg_with_gps())


def alter_household(path: Path) -> None:
    change_file(path, "UPDATE households SET floor_material = 'ceramic', version = version + 5")


def alter_village(path: Path) -> None:
    change_file(path, "UPDATE manifest SET village_code = '32.01.01.1002'")


def foreign_id(path: Path) -> None:
    change_file(path, "UPDATE manifest SET package_id = ?", "f" * 32)


def other_format(path: Path) -> None:
    change_file(path, "UPDATE manifest SET format = 'siks-offline/9'")


def unknown_household(path: Path) -> None:
    change_file(
        path,
        "INSERT INTO visits VALUES ('v-9', 123456789, 'found', ?, -6.48, 106.85, 1, '', NULL)",
        visited_at(1),
    )


def photo_of_missing_visit(path: Path) -> None:
    add_photo(path, "p-9", "v-404", "wall", png())


def wrong_checksum(path: Path) -> None:
    add_photo(path, "p-9", "v-1", "wall", png(), sha256="0" * 64)


def bad_enum(path: Path) -> None:
    (household_id,) = package_rows(path, "SELECT id FROM households ORDER BY id DESC LIMIT 1")[0]
    add_visit(path, "v-9", household_id, {"household": {"floor_material": "marble"}}, hours_ago=1)


def bad_time(path: Path) -> None:
    change_file(path, "UPDATE visits SET visited_at = '04/05/2026 09:30'")


def far_away(path: Path) -> None:  # refused by the registry, after v-1 and its photo were written
    (household_id,) = package_rows(path, "SELECT id FROM households ORDER BY id DESC LIMIT 1")[0]
    add_visit(path, "v-9", household_id, latitude=-7.25, longitude=112.75, hours_ago=1)


def deep_visit_json(path: Path) -> None:  # finding 12b: was a RecursionError
    change_file(path, "UPDATE visits SET changes = ? WHERE client_id = 'v-1'", "[" * 100_000 + "]" * 100_000)


def deep_proposal_json(path: Path) -> None:
    change_file(
        path, "UPDATE proposals SET household = ? WHERE client_id = 'n-1'", '{"a":' * 40_000 + "1" + "}" * 40_000
    )


def long_json(path: Path) -> None:
    change_file(
        path,
        "UPDATE visits SET changes = ? WHERE client_id = 'v-1'",
        json.dumps({"household": {"address": "x" * JSON_MAX_CHARACTERS}}),
    )


REFUSALS: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (truncate, "is truncated"),
    "not sqlite": (not_sqlite, "is not an offline package: it is not an SQLite database"),
    "altered household row": (alter_household, "was changed after export (its digest does not match)"),
    "altered manifest village": (alter_village, "says it is for village 32.01.01.1002, but it was issued for village"),
    "never issued": (foreign_id, "was not issued by this server"),
    "other format": (other_format, "is a package of format 'siks-offline/9'; this server reads siks-offline/1"),
    "household not in package": (unknown_household, "visits row 'v-9': household 123456789 is not in the package"),
    "photo of a missing visit": (photo_of_missing_visit, "photos row 'p-9': visit 'v-404' is not in the package"),
    "wrong checksum": (wrong_checksum, "photos row 'p-9': the photo's content does not match its sha256"),
    "bad code": (bad_enum, "changes.household.floor_material: 'marble' is not one of: marble_granite, ceramic"),
    "bad time": (bad_time, "visited_at: '04/05/2026 09:30' is not an ISO 8601 time with its offset"),
    "refused by the registry": (far_away, "visits row 'v-9' (household"),
    "visit JSON 100,000 deep": (deep_visit_json, "visits row 'v-1': changes: the JSON is nested more than 16 deep"),
    "proposal JSON 40,000 deep": (
        deep_proposal_json,
        "proposals row 'n-1': household: the JSON is nested more than 16",
    ),
    "JSON too long": (long_json, "visits row 'v-1': changes: the JSON is longer than 262,144 characters"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_bad_package_is_refused_whole(field: Field, db: AsyncEngine, case: str) -> None:
    await export(field)
    add_visit(field.package, "v-1", field.households[0].id, {"household": {"toilet": "shared"}})
    add_photo(field.package, "p-1", "v-1", "roof", jpeg_with_gps())
    add_proposal(field.package, "n-1", factories.household())
    spoil, message = REFUSALS[case]
    spoil(field.package)
    before = await counts(db)

    code, out, err = await import_package(field.package)

    assert code == 2, out
    assert err.startswith("error: nothing was imported: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert await counts(db) == before
    assert files(field.photo_dir) == []


@pytest.mark.parametrize(
    ("text", "deeper"),
    [
        ("[" * 16 + "]" * 16, False),
        ("[" * 17 + "]" * 17, True),
        ('{"a": {"b": [1, {"c": []}]}}', False),
        ('["' + "[" * 40 + '"]', False),  # brackets inside a string are text
        ('["\\\\", ' + "[" * 16 + "]" * 16 + "]", True),  # an escaped backslash escapes nothing after it
        ('["\\"' + "[" * 40 + '"]', False),  # an escaped quote does not end the string
    ],
)
def test_json_nesting_is_counted_outside_strings(text: str, deeper: bool) -> None:
    assert nested_deeper_than(text, JSON_MAX_DEPTH) is deeper


@pytest.mark.parametrize(
    ("role", "scope", "active", "message"),
    [
        ("regency_office", "32.01", True, "user mandor is a regency_office; only a village operator or a district"),
        ("village_operator", "32.01.01.1002", True, "user mandor works in 32.01.01.1002, not in village 32.01.01.1001"),
        ("district_officer", "32.01.01", False, "there is no active user mandor"),
    ],
)
async def test_only_an_active_officer_of_the_village_imports(
    field: Field, db: AsyncEngine, role: str, scope: str, active: bool, message: str
) -> None:
    await export(field)
    add_visit(field.package, "v-1", field.households[0].id)
    async with write_transaction(db) as conn:
        await add_user(conn, "mandor", role, scope, active)
    before = await counts(db)

    code, _out, err = await import_package(field.package, "mandor")

    assert code == 2 and message in err, err
    assert await counts(db) == before


# Export


async def test_the_package_holds_no_credentials(field: Field, db: AsyncEngine, settings: Settings) -> None:
    async with write_transaction(db) as conn:
        key, _prefix = await create_api_key(conn, OFFICER, "field tablet")
        password_hash = (await conn.execute(text("SELECT password_hash FROM users"))).scalar_one()
    await export(field)

    tables = {r[0] for r in package_rows(field.package, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == PACKAGE_TABLES
    content = field.package.read_bytes()
    # a key is siks_<prefix>_<secret>, and the secret itself may hold "_": split twice only
    for secret in (settings.secret_key, get_settings().secret_key, password_hash, key, key.split("_", 2)[2]):
        assert secret.encode() not in content
    packages = OfflinePackage.__table__
    ((digest,),) = await rows(db, select(packages.c.digest))
    assert package_rows(field.package, "SELECT digest FROM manifest") == [(digest,)]
    assert len(digest) == 64


async def test_export_without_an_open_round_for_the_village_is_refused(field: Field, db: AsyncEngine) -> None:
    async with write_transaction(db) as conn:
        await rounds.close_round(conn, REGENCY, field.round_id)

    code, _out, err = await siks("offline", "export", "--village", VILLAGE, "--output", str(field.package))

    assert code == 2
    assert f"no open verification round has village {VILLAGE} on its prelist" in err
    assert not field.package.exists()
    packages = OfflinePackage.__table__
    assert (await rows(db, select(func.count()).select_from(packages))) == [(0,)]


async def test_a_client_id_already_used_for_another_households_visit_is_refused(field: Field, db: AsyncEngine) -> None:
    await export(field)
    add_visit(field.package, "v-1", field.households[0].id)
    assert (await import_package(field.package))[0] == 0
    second = field.package.with_name("second.siks")
    code, _out, err = await siks("offline", "export", "--village", VILLAGE, "--output", str(second))
    assert code == 0, err
    add_visit(second, "v-1", field.households[1].id)
    before = await counts(db)

    code, _out, err = await import_package(second)

    assert code == 2
    assert f"(household {field.households[1].id}): clientId: client id v-1 is already used by another visit" in err
    assert await counts(db) == before


async def test_a_package_without_field_work_imports_nothing(field: Field, db: AsyncEngine) -> None:
    await export(field)
    before = await counts(db)

    code, out, err = await import_package(field.package)

    assert code == 0, err
    assert "holds no visits and no proposals: there was nothing to import" in out
    assert await counts(db) == before

"""Users and integrators' API keys: create, disable, list, authenticate."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.auth.passwords import hash_password, password_problem, verify_password
from core.auth.principal import SCOPE_LEVEL, Principal, Role
from core.foundation.ids import ids
from core.foundation.refusals import FieldError
from core.models import ApiKey, User
from core.regions.codes import is_region_code, level_number
from core.regions.queries import existing_codes

USERS = User.__table__
API_KEYS = ApiKey.__table__
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
KEY_PREFIX = "siks"


class UserRefused(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    role: str
    region_code: str
    active: bool

    def principal(self, via: str = "token") -> Principal:
        return Principal(username=self.username, role=self.role, scope=self.region_code, user_id=self.id, via=via)


def _now() -> datetime:
    return datetime.now(UTC)


async def _scope_errors(conn: AsyncConnection, role: str, region_code: str) -> list[FieldError]:
    try:
        wanted = SCOPE_LEVEL[Role(role)]
    except ValueError:
        known = ", ".join(r.value for r in Role if r is not Role.PUBLIC)
        return [FieldError("role", f"'{role[:32]}' is not a role; roles: {known}")]
    if role == Role.PUBLIC.value:
        return [FieldError("role", "the public role is for anonymous requests, not users")]
    if region_code == "":
        if wanted not in (0, None):
            return [FieldError("region", f"a {role} needs a region scope")]
        return []
    if not is_region_code(region_code) or not await existing_codes(conn, [region_code]):
        return [FieldError("region", f"region {region_code[:20]} does not exist")]
    if wanted is not None and level_number(region_code) != wanted:
        levels = {1: "a province", 2: "a regency/city", 3: "a district", 4: "a village", 0: "national ('')"}
        return [FieldError("region", f"a {role}'s scope is {levels[wanted]}, not {region_code}")]
    return []


async def create_user(conn: AsyncConnection, username: str, password: str, role: str, region_code: str) -> UserRecord:
    errors: list[FieldError] = []
    if not _USERNAME.fullmatch(username):
        errors.append(FieldError("username", "3-64 characters: lower-case letters, digits, dot, dash, underscore"))
    elif (await conn.execute(select(USERS.c.id).where(USERS.c.username == username))).first():
        errors.append(FieldError("username", f"user {username} already exists"))
    problem = password_problem(password)
    if problem:
        errors.append(FieldError("password", problem))
    errors.extend(await _scope_errors(conn, role, region_code))
    if errors:
        raise UserRefused(errors)
    now = _now()
    user_id = ids.next_id()
    await conn.execute(
        insert(USERS).values(
            id=user_id,
            username=username,
            password_hash=hash_password(password),
            role=role,
            region_code=region_code,
            active=True,
            created_at=now,
            updated_at=now,
        )
    )
    return UserRecord(user_id, username, role, region_code, True)


async def set_active(conn: AsyncConnection, username: str, active: bool) -> UserRecord:
    result = await conn.execute(
        update(USERS).where(USERS.c.username == username).values(active=active, updated_at=_now())
    )
    if result.rowcount != 1:
        raise UserRefused([FieldError("username", f"no user {username[:64]}")])
    user = await user_by_name(conn, username)
    assert user is not None
    if not active:
        await conn.execute(
            update(API_KEYS)
            .where(API_KEYS.c.user_id == user.id, API_KEYS.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
    return user


async def list_users(conn: AsyncConnection) -> list[UserRecord]:
    rows = await conn.execute(
        select(USERS.c.id, USERS.c.username, USERS.c.role, USERS.c.region_code, USERS.c.active).order_by(
            USERS.c.username
        )
    )
    return [UserRecord(*row) for row in rows]


async def user_by_name(conn: AsyncConnection, username: str) -> UserRecord | None:
    row = (
        await conn.execute(
            select(USERS.c.id, USERS.c.username, USERS.c.role, USERS.c.region_code, USERS.c.active).where(
                USERS.c.username == username
            )
        )
    ).first()
    return UserRecord(*row) if row else None


async def user_by_id(conn: AsyncConnection, user_id: int) -> UserRecord | None:
    row = (
        await conn.execute(
            select(USERS.c.id, USERS.c.username, USERS.c.role, USERS.c.region_code, USERS.c.active).where(
                USERS.c.id == user_id
            )
        )
    ).first()
    return UserRecord(*row) if row else None


async def authenticate(conn: AsyncConnection, username: str, password: str) -> UserRecord | None:
    """The active user with this password, or None; a miss costs as much as a wrong password."""
    row = (
        await conn.execute(
            select(USERS.c.id, USERS.c.password_hash, USERS.c.active).where(USERS.c.username == username)
        )
    ).first()
    if not verify_password(row.password_hash if row else None, password) or row is None or not row.active:
        return None
    return await user_by_id(conn, row.id)


def _key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_api_key(conn: AsyncConnection, username: str, label: str) -> tuple[str, str]:
    """A new key for the user: (the key, shown once; its prefix, kept for lists and revocation)."""
    user = await user_by_name(conn, username)
    if user is None or not user.active:
        raise UserRefused([FieldError("username", f"no active user {username[:64]}")])
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    await conn.execute(
        insert(API_KEYS).values(
            id=ids.next_id(),
            user_id=user.id,
            prefix=prefix,
            key_hash=_key_hash(secret),
            label=label[:120],
            created_at=_now(),
        )
    )
    return f"{KEY_PREFIX}_{prefix}_{secret}", prefix


async def revoke_api_key(conn: AsyncConnection, prefix: str) -> None:
    result = await conn.execute(
        update(API_KEYS).where(API_KEYS.c.prefix == prefix, API_KEYS.c.revoked_at.is_(None)).values(revoked_at=_now())
    )
    if result.rowcount != 1:
        raise UserRefused([FieldError("prefix", f"no active API key {prefix[:16]}")])


async def principal_for_api_key(conn: AsyncConnection, key: str) -> Principal | None:
    """The principal of a valid, unrevoked key of an active user, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    row = (
        await conn.execute(
            select(
                API_KEYS.c.key_hash,
                API_KEYS.c.revoked_at,
                USERS.c.id,
                USERS.c.username,
                USERS.c.role,
                USERS.c.region_code,
                USERS.c.active,
            )
            .join(USERS, USERS.c.id == API_KEYS.c.user_id)
            .where(API_KEYS.c.prefix == parts[1])
        )
    ).first()
    if row is None or row.revoked_at is not None or not row.active:
        return None
    if not hmac.compare_digest(row.key_hash, _key_hash(parts[2])):
        return None
    return Principal(username=row.username, role=row.role, scope=row.region_code, user_id=row.id, via="api_key")

"""Users, API keys, refresh tokens, access-control policy and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, SmallInteger, Text
from sqlmodel import Field, SQLModel

from core.models.types import ID_TYPE, TIMESTAMP, code_type


class User(SQLModel, table=True):
    """Someone who logs in: an operator, officer, auditor or an integrator's service account."""

    __tablename__ = "users"

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    username: str = Field(max_length=64, unique=True)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=32)
    region_code: str = Field(sa_type=code_type(), description="Scope: this region and everything below; '' = national.")
    active: bool = True
    created_at: datetime = Field(sa_type=TIMESTAMP)
    updated_at: datetime = Field(sa_type=TIMESTAMP)


class ApiKey(SQLModel, table=True):
    """An integrator's key: only its SHA-256 is kept; the prefix identifies it in lists and logs."""

    __tablename__ = "api_keys"

    id: int = Field(primary_key=True, sa_type=ID_TYPE)
    user_id: int = Field(foreign_key="users.id", index=True, sa_type=ID_TYPE)
    prefix: str = Field(max_length=16, unique=True)
    key_hash: str = Field(max_length=64)
    label: str = Field(max_length=120)
    created_at: datetime = Field(sa_type=TIMESTAMP)
    revoked_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class RefreshToken(SQLModel, table=True):
    """A refresh token's id (jti); using one retires it and issues the next (rotation)."""

    __tablename__ = "refresh_tokens"

    jti: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True, sa_type=ID_TYPE)
    expires_at: datetime = Field(sa_type=TIMESTAMP)
    used_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)


class CasbinRule(SQLModel, table=True):
    """Policy lines as the Casbin SQLAlchemy adapter stores them."""

    __tablename__ = "casbin_rule"

    id: int | None = Field(default=None, primary_key=True)
    ptype: str = Field(max_length=255)
    v0: str | None = Field(default=None, max_length=255)
    v1: str | None = Field(default=None, max_length=255)
    v2: str | None = Field(default=None, max_length=255)
    v3: str | None = Field(default=None, max_length=255)
    v4: str | None = Field(default=None, max_length=255)
    v5: str | None = Field(default=None, max_length=255)


class PolicyVersion(SQLModel, table=True):
    """Bumped by every policy change; each server process reloads when it sees a new value."""

    __tablename__ = "policy_version"

    id: int = Field(primary_key=True)
    version: int = 0
    changed_at: datetime = Field(sa_type=TIMESTAMP)


class AuditEntry(SQLModel, table=True):
    """An append-only audit row; ``hash`` covers the row and the previous row's hash (``core.audit.log``)."""

    __tablename__ = "audit_log"

    seq: int = Field(primary_key=True, sa_type=BigInteger())
    at: datetime = Field(sa_type=TIMESTAMP)
    actor: str = Field(max_length=64)
    role: str = Field(max_length=32)
    scope: str = Field(max_length=13)
    client: str = Field(max_length=64)
    request_id: str = Field(max_length=64)
    operation: str = Field(max_length=64, index=True)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64, index=True)
    outcome: str = Field(max_length=12, description="ok, denied or read")
    before: str | None = Field(default=None, sa_type=Text())
    after: str | None = Field(default=None, sa_type=Text())
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    chain_version: int = Field(
        default=1, sa_type=SmallInteger(), description="1: unkeyed SHA-256 (before 0009); 2: HMAC-SHA256, audit key"
    )
    key_id: str | None = Field(default=None, max_length=16, description="The audit key of a version 2 row")


class AuditHead(SQLModel, table=True):
    """The chain's last sequence number and hash; appending locks this one row."""

    __tablename__ = "audit_head"

    id: int = Field(primary_key=True)
    seq: int = Field(sa_type=BigInteger())
    hash: str = Field(max_length=64)

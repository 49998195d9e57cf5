"""Writing audit rows in the caller's transaction, each hash covering the previous row's hash.

Appending locks the one ``audit_head`` row (``FOR UPDATE`` on PostgreSQL; SQLite's write
transactions are exclusive already), so the chain has one order even with many processes.

Two chain versions: rows written before migration 0009 carry version 1, a plain SHA-256 of the
fields and the previous hash, which anyone with write access to the database could recompute.
Rows written since carry version 2: an HMAC-SHA256 under the audit key (``core.audit.keys``),
which is not in the database, and the id of that key. Version 2 rows follow the last version 1
row in the same chain; a version 1 row after a version 2 row is a forgery (``core.audit.verify``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.keys import AuditKeyring, keyring_of
from core.auth.principal import Principal
from core.models import AuditEntry, AuditHead

AUDIT = AuditEntry.__table__
HEAD = AuditHead.__table__
GENESIS = "0" * 64
#: Unkeyed SHA-256 (rows written before the audit key existed) and keyed HMAC-SHA256.
LEGACY_CHAIN, KEYED_CHAIN = 1, 2
CHAIN_LABEL = b"siks audit chain"
LEGACY_FIELDS = (
    "seq",
    "at",
    "actor",
    "role",
    "scope",
    "client",
    "request_id",
    "operation",
    "entity",
    "entity_id",
    "outcome",
    "before",
    "after",
    "prev_hash",
)
HASHED_FIELDS = (*LEGACY_FIELDS, "chain_version", "key_id")


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Where a change came from: the caller, their address and the request id."""

    principal: Principal
    client: str = "local"
    request_id: str = "-"


def canonical(value: Any) -> str | None:
    """Stable JSON for before/after images (sorted keys, dates as ISO text)."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return {name: getattr(value, name) for name in value.__dataclass_fields__}
    if hasattr(value, "__slots__"):
        return {name: getattr(value, name) for name in value.__slots__ if hasattr(value, name)}
    return str(value)


def _material(row: dict[str, Any], fields: tuple[str, ...]) -> str:
    return "\x1f".join("" if row[name] is None else _text(row[name]) for name in fields)


def legacy_hash(row: dict[str, Any]) -> str:
    """A version 1 row's hash: SHA-256 of its fields; anyone can recompute it."""
    return hashlib.sha256(_material(row, LEGACY_FIELDS).encode()).hexdigest()


def row_hash(row: dict[str, Any], keyring: AuditKeyring) -> str | None:
    """A row's hash by its chain version; None for a keyed row whose key is not in ``keyring``."""
    if row["chain_version"] == LEGACY_CHAIN:
        return legacy_hash(row)
    return keyring.mac(row["key_id"], CHAIN_LABEL, _material(row, HASHED_FIELDS))


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


@dataclass(frozen=True, slots=True)
class AuditItem:
    """One change to append with ``record_many``."""

    operation: str
    entity: str
    entity_id: str | int
    outcome: str = "ok"
    before: Any = None
    after: Any = None


async def record(
    conn: AsyncConnection,
    request: RequestInfo,
    *,
    operation: str,
    entity: str,
    entity_id: str | int,
    outcome: str = "ok",
    before: Any = None,
    after: Any = None,
) -> int:
    """Append one audit row in ``conn``'s transaction; returns its sequence number."""
    return await record_many(conn, request, [AuditItem(operation, entity, entity_id, outcome, before, after)])


async def record_many(conn: AsyncConnection, request: RequestInfo, items: list[AuditItem]) -> int:
    """Append one audit row per item, in order, in ``conn``'s transaction; returns the last sequence number."""
    keyring = keyring_of(conn)
    key = keyring.signing_key()
    head_query = select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1)
    if conn.dialect.name == "postgresql":
        head_query = head_query.with_for_update()
    seq, prev_hash = (await conn.execute(head_query)).one()
    if not items:
        return int(seq)
    principal = request.principal
    at = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for item in items:
        seq += 1
        row: dict[str, Any] = {
            "seq": seq,
            "at": at,
            "actor": principal.username[:64],
            "role": principal.role[:32],
            "scope": principal.scope[:13],
            "client": request.client[:64],
            "request_id": request.request_id[:64],
            "operation": item.operation[:64],
            "entity": item.entity[:32],
            "entity_id": str(item.entity_id)[:64],
            "outcome": item.outcome,
            "before": canonical(item.before),
            "after": canonical(item.after),
            "prev_hash": prev_hash,
            "chain_version": KEYED_CHAIN,
            "key_id": key,
        }
        row["hash"] = prev_hash = keyring.sign(CHAIN_LABEL, _material(row, HASHED_FIELDS))
        rows.append(row)
    await conn.execute(insert(AUDIT), rows)
    await conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=seq, hash=prev_hash))
    return int(seq)

"""SIKS's own Ed25519 signing keys: made, rotated, published, and used to sign.

The private key is stored in ``dci_signing_keys`` as PKCS#8 PEM encrypted with ``SIKS_SECRET_KEY``
(``BestAvailableEncryption``), so a copy of the database alone signs nothing; changing the secret key
therefore needs a ``siks dci keys rotate`` afterwards (the old key can no longer be read, only published).
The newest key that has not been superseded signs. Rotation supersedes it: it stays in the JWKS for
``SIKS_DCI_KEY_GRACE_DAYS`` so that signatures it made (a callback still queued, a response being
checked) keep verifying, and is left out after that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)
from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.dci.security.signing import jwk, public_x, thumbprint
from core.foundation.settings import Settings
from core.models import DciSigningKey
from core.storage.db import WRITE_OPTION, write_transaction

KEYS = DciSigningKey.__table__


class SigningKeyUnreadable(RuntimeError):
    """The active key was encrypted with another SIKS_SECRET_KEY."""


@dataclass(frozen=True, slots=True)
class SigningKeyInfo:
    kid: str
    x: str
    created_at: datetime
    superseded_at: datetime | None
    publish_until: datetime | None

    def published_at(self, now: datetime) -> bool:
        return self.publish_until is None or _aware(self.publish_until) > now

    @property
    def active(self) -> bool:
        return self.superseded_at is None


def _aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def in_write_transaction(conn: AsyncConnection) -> bool:
    """Whether ``conn`` came from ``write_transaction`` (what it writes commits with the caller's work)."""
    return conn.sync_connection is not None and bool(conn.sync_connection.get_execution_options().get(WRITE_OPTION))


def _password(settings: Settings) -> bytes:
    return settings.secret_key.encode()


async def create_key(conn: AsyncConnection, settings: Settings, now: datetime | None = None) -> SigningKeyInfo:
    """A new active key in ``conn``'s transaction; every earlier active key is superseded, published for the grace
    period of ``settings``."""
    now = now or datetime.now(UTC)
    private = Ed25519PrivateKey.generate()
    x = public_x(private.public_key())
    kid = thumbprint(x)
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(_password(settings)))
    await conn.execute(
        update(KEYS)
        .where(KEYS.c.superseded_at.is_(None))
        .values(superseded_at=now, publish_until=now + timedelta(days=settings.dci_key_grace_days))
    )
    await conn.execute(insert(KEYS).values(kid=kid, public_x=x, private_pem=pem.decode("ascii"), created_at=now))
    return SigningKeyInfo(kid, x, now, None, None)


async def list_keys(conn: AsyncConnection) -> list[SigningKeyInfo]:
    """Every key, newest first."""
    rows = await conn.execute(
        select(KEYS.c.kid, KEYS.c.public_x, KEYS.c.created_at, KEYS.c.superseded_at, KEYS.c.publish_until).order_by(
            KEYS.c.created_at.desc()
        )
    )
    return [SigningKeyInfo(*row) for row in rows]


async def published_jwks(conn: AsyncConnection, now: datetime | None = None) -> dict[str, list[dict[str, str]]]:
    """The JWKS: the active key and the superseded ones still in their grace period, newest first."""
    now = now or datetime.now(UTC)
    rows = await conn.execute(
        select(KEYS.c.kid, KEYS.c.public_x)
        .where(or_(KEYS.c.publish_until.is_(None), KEYS.c.publish_until > now))
        .order_by(KEYS.c.created_at.desc())
    )
    return {"keys": [jwk(row.public_x, row.kid) for row in rows]}


async def _active_row(conn: AsyncConnection) -> tuple[str, str] | None:
    row = (
        await conn.execute(
            select(KEYS.c.kid, KEYS.c.private_pem)
            .where(KEYS.c.superseded_at.is_(None))
            .order_by(KEYS.c.created_at.desc())
            .limit(1)
        )
    ).first()
    return (row.kid, row.private_pem) if row else None


async def _ensure_row(conn: AsyncConnection, settings: Settings) -> tuple[str, str]:
    """The active key's kid and PEM; the first key is made if there is none: in ``conn``'s transaction when it is a
    write transaction, otherwise in a write transaction of its own (so a read connection's end cannot lose a key
    that already signed)."""
    row = await _active_row(conn)
    if row is not None:
        return row
    if in_write_transaction(conn):
        await create_key(conn, settings)
        row = await _active_row(conn)
    else:
        async with write_transaction(conn.engine) as writer:
            if await _active_row(writer) is None:
                await create_key(writer, settings)
            row = await _active_row(writer)
    assert row is not None
    return row


async def ensure_key(conn: AsyncConnection, settings: Settings) -> str:
    """The kid of the active key, made now if there is none."""
    return (await _ensure_row(conn, settings))[0]


async def active_private_key(conn: AsyncConnection, settings: Settings) -> tuple[str, Ed25519PrivateKey]:
    """The kid and private key that sign now (made on first use)."""
    kid, pem = await _ensure_row(conn, settings)
    try:
        private = load_pem_private_key(pem.encode("ascii"), password=_password(settings))
    except ValueError:
        raise SigningKeyUnreadable(
            f"SIKS's DCI signing key {kid} was encrypted with another SIKS_SECRET_KEY; run `siks dci keys rotate`"
        ) from None
    assert isinstance(private, Ed25519PrivateKey)
    return kid, private

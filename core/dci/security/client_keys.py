"""Integrators' public keys: registered per integrator, looked up by the kid a signature names.

A key is read from a PEM file (``openssl genpkey -algorithm ed25519`` then ``openssl pkey -pubout``), a
JWK or JWKS file, or an ``http(s)`` URL of the integrator's JWKS, fetched once at registration (register
again after the integrator rotates). Only Ed25519 keys (JWK ``kty`` OKP, ``crv`` Ed25519) are accepted.
A key's kid is the JWK's own ``kid``, or its RFC 7638 thumbprint when it has none or came as PEM.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.auth.users import user_by_name
from core.dci.security.signing import public_key_of, public_x, thumbprint
from core.foundation.ids import ids
from core.foundation.refusals import FieldError
from core.models import DciClientKey, User

CLIENT_KEYS = DciClientKey.__table__
_KID_LENGTH = 64
_FETCH_BYTES = 65_536
_FETCH_SECONDS = 10


class ClientKeyRefused(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def _refuse(field: str, message: str) -> ClientKeyRefused:
    return ClientKeyRefused([FieldError(field, message)])


@dataclass(frozen=True, slots=True)
class PublicKey:
    kid: str
    x: str


@dataclass(frozen=True, slots=True)
class ClientKeyInfo:
    username: str
    kid: str
    source: str
    created_at: datetime
    revoked_at: datetime | None


def _from_jwk(item: Any) -> PublicKey | None:
    """An Ed25519 key from one JWK; None for a key of another type (a JWKS may hold several)."""
    if not isinstance(item, dict) or item.get("kty") != "OKP" or item.get("crv") != "Ed25519":
        return None
    if "d" in item:
        raise _refuse("public-key", "this JWK holds a private key ('d'); register the public key only")
    x = item.get("x")
    try:
        public_key_of(str(x))
    except (ValueError, TypeError):
        raise _refuse("public-key", "the JWK's x is not a 32-byte Ed25519 public key in base64url") from None
    kid = str(item.get("kid") or thumbprint(str(x)))
    if len(kid) > _KID_LENGTH or "|" in kid:
        raise _refuse("public-key", f"a kid is at most {_KID_LENGTH} characters without '|'")
    return PublicKey(kid, str(x))


def parse_public_keys(text: str) -> list[PublicKey]:
    """The Ed25519 public keys in a PEM public key, a JWK or a JWKS."""
    if "-----BEGIN" in text:
        if "PRIVATE KEY" in text:
            raise _refuse("public-key", "this is a private key; register the public key only (openssl pkey -pubout)")
        try:
            key = load_pem_public_key(text.encode())
        except ValueError:
            raise _refuse("public-key", "the PEM is not a public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise _refuse("public-key", "the key is not an Ed25519 key; DCI signatures use Ed25519")
        x = public_x(key)
        return [PublicKey(thumbprint(x), x)]
    try:
        document = json.loads(text)
    except ValueError:
        raise _refuse("public-key", "expected a PEM public key, a JWK or a JWKS (JSON)") from None
    items = document.get("keys") if isinstance(document, dict) and "keys" in document else [document]
    if not isinstance(items, list):
        raise _refuse("public-key", "a JWKS's keys must be a list")
    keys = [key for key in (_from_jwk(item) for item in items) if key is not None]
    if not keys:
        raise _refuse("public-key", "no Ed25519 key (kty OKP, crv Ed25519) in the JWK or JWKS")
    return keys


def read_public_keys(source: str) -> list[PublicKey]:
    """The keys at ``source``: an http(s) URL of a JWKS, or a file."""
    if source.startswith(("https://", "http://")):
        try:
            with urllib.request.urlopen(source, timeout=_FETCH_SECONDS) as answer:  # noqa: S310 (scheme checked)
                text = answer.read(_FETCH_BYTES).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _refuse("public-key", f"could not fetch the JWKS at {source[:200]}: {exc}") from None
        return parse_public_keys(text)
    path = Path(source)
    if not path.is_file():
        raise _refuse("public-key", f"{source[:200]} is neither a file nor an http(s) URL")
    try:
        return parse_public_keys(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _refuse("public-key", "the file is not text (PEM or JSON)") from None


async def _user_id(conn: AsyncConnection, username: str) -> int:
    user = await user_by_name(conn, username)
    if user is None or not user.active:
        raise _refuse("username", f"no active user {username[:64]}")
    return user.id


async def register_keys(conn: AsyncConnection, username: str, keys: list[PublicKey], source: str) -> list[str]:
    """Register ``keys`` for the user; a kid the user already has must name the same key. Returns the new kids."""
    user_id = await _user_id(conn, username)
    known = {
        row.kid: row
        for row in await conn.execute(
            select(CLIENT_KEYS.c.kid, CLIENT_KEYS.c.public_x, CLIENT_KEYS.c.revoked_at).where(
                CLIENT_KEYS.c.user_id == user_id
            )
        )
    }
    added: list[str] = []
    for key in keys:
        existing = known.get(key.kid)
        if existing is None:
            await conn.execute(
                insert(CLIENT_KEYS).values(
                    id=ids.next_id(),
                    user_id=user_id,
                    kid=key.kid,
                    public_x=key.x,
                    source=source[:500],
                    created_at=datetime.now(UTC),
                )
            )
            added.append(key.kid)
        elif existing.public_x != key.x:
            raise _refuse("public-key", f"{username} already has a different key with kid {key.kid}")
        elif existing.revoked_at is not None:
            raise _refuse("public-key", f"key {key.kid} of {username} was revoked; register a new key")
    return added


async def revoke_key(conn: AsyncConnection, username: str, kid: str) -> None:
    user_id = await _user_id(conn, username)
    result = await conn.execute(
        update(CLIENT_KEYS)
        .where(CLIENT_KEYS.c.user_id == user_id, CLIENT_KEYS.c.kid == kid, CLIENT_KEYS.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    if result.rowcount != 1:
        raise _refuse("kid", f"{username} has no registered key {kid[:64]}")


async def list_client_keys(conn: AsyncConnection, username: str | None = None) -> list[ClientKeyInfo]:
    users = User.__table__
    query = (
        select(
            users.c.username,
            CLIENT_KEYS.c.kid,
            CLIENT_KEYS.c.source,
            CLIENT_KEYS.c.created_at,
            CLIENT_KEYS.c.revoked_at,
        )
        .join(users, users.c.id == CLIENT_KEYS.c.user_id)
        .order_by(users.c.username, CLIENT_KEYS.c.created_at)
    )
    if username is not None:
        query = query.where(users.c.username == username)
    return [ClientKeyInfo(*row) for row in await conn.execute(query)]


async def client_public_key(conn: AsyncConnection, user_id: int, kid: str) -> Ed25519PublicKey | None:
    """The unrevoked key ``kid`` registered for the user, or None."""
    row = (
        await conn.execute(
            select(CLIENT_KEYS.c.public_x).where(
                CLIENT_KEYS.c.user_id == user_id, CLIENT_KEYS.c.kid == kid, CLIENT_KEYS.c.revoked_at.is_(None)
            )
        )
    ).first()
    return public_key_of(row.public_x) if row else None

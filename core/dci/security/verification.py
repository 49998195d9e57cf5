"""Checking a DCI request's signature against the key its sender registered, and signing SIKS's own messages.

A request is refused when its signature is

- missing while ``SIKS_DCI_SIGNATURE_REQUIRED`` is on (the default in production): ``err.signature.missing``;
  with the setting off an unsigned request passes, but a signature that is sent is always checked;
- malformed, made by a key not registered for the caller, or not over exactly this header and message:
  ``err.signature.invalid``;
- expired: its ``expires`` has passed, or its ``created`` or the header's ``message_ts`` is further from now
  than ``SIKS_DCI_SIGNATURE_WINDOW_SECONDS``: ``err.signature.invalid``;
- replayed: the sender's ``message_id`` was already received with a valid signature: ``err.request.bad``.
  Message ids are kept in ``dci_seen_messages`` for twice the window (after that the time checks refuse a
  replay) and older ones are deleted as new ones arrive.

``verify_signature`` records the message id in the caller's transaction when it is a write transaction
(``core.storage.db.write_transaction``: the id is then kept only if the request's work commits), and otherwise
in a write transaction of its own, committed before it returns.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.auth.principal import Principal
from core.dci.security import signing
from core.dci.security.client_keys import client_public_key
from core.dci.security.errors import REQUEST_BAD, SIGNATURE_INVALID, SIGNATURE_MISSING, DciSignatureRefused
from core.dci.security.keys import active_private_key, in_write_transaction
from core.foundation.settings import Settings
from core.models import DciSeenMessage
from core.storage.db import write_transaction

SEEN = DciSeenMessage.__table__
#: The sender_id SIKS signs as when a header names none.
SIKS_SENDER_ID = "siks"


def _refused(code: str, message: str, reason: str) -> DciSignatureRefused:
    return DciSignatureRefused(code, message, reason)


def _message_ts(header: dict[str, Any]) -> datetime | None:
    value = header.get("message_ts")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_times(parameters: signing.SignatureParameters, header: dict[str, Any], settings: Settings) -> None:
    now = datetime.now(UTC)
    window = settings.dci_signature_window_seconds
    stamp = now.timestamp()
    if parameters.expires <= stamp:
        raise _refused(SIGNATURE_INVALID, "the signature has expired (its expires time has passed)", "expired")
    if parameters.expires < parameters.created:
        raise _refused(SIGNATURE_INVALID, "the signature expires before it was created", "expired")
    if abs(stamp - parameters.created) > window:
        raise _refused(
            SIGNATURE_INVALID, f"the signature was created more than {window} seconds from now; sign again", "expired"
        )
    sent = _message_ts(header)
    if sent is None:
        raise _refused(SIGNATURE_INVALID, "a signed message needs the header's message_ts (ISO 8601)", "expired")
    if abs((now - sent).total_seconds()) > window:
        raise _refused(
            SIGNATURE_INVALID, f"the header's message_ts is more than {window} seconds from now; send again", "expired"
        )


async def _record_seen(conn: AsyncConnection, sender: str, message_id: str, settings: Settings) -> None:
    now = datetime.now(UTC)
    await conn.execute(delete(SEEN).where(SEEN.c.forget_after < now))
    seen = (
        await conn.execute(select(SEEN.c.seen_at).where(SEEN.c.sender == sender, SEEN.c.message_id == message_id))
    ).first()
    replay = _refused(REQUEST_BAD, f"message_id {message_id[:64]} was already received; send a new one", "replayed")
    if seen is not None:
        raise replay
    forget_after = now + timedelta(seconds=2 * settings.dci_signature_window_seconds)
    try:
        async with conn.begin_nested():  # a concurrent twin committed first: its row wins, this one is a replay
            await conn.execute(
                insert(SEEN).values(sender=sender, message_id=message_id, seen_at=now, forget_after=forget_after)
            )
    except IntegrityError:
        raise replay from None


async def _remember(conn: AsyncConnection, sender: str, message_id: str, settings: Settings) -> None:
    """Record the message id (refusing a replay): in the caller's write transaction, so it is kept only if the
    request's work is; on any other connection in a write transaction of its own, committed at once."""
    if in_write_transaction(conn):
        await _record_seen(conn, sender, message_id, settings)
        return
    async with write_transaction(conn.engine) as writer:
        await _record_seen(writer, sender, message_id, settings)


async def verify_signature(
    conn: AsyncConnection, settings: Settings, principal: Principal, envelope: dict[str, Any]
) -> None:
    """Check the envelope's ``signature`` against the keys registered for ``principal``; DciSignatureRefused with
    the spec's code when it is refused (see the module's doc). ``conn`` may be a read or a write connection."""
    value = envelope.get("signature")
    header = envelope.get("header")
    message = envelope.get("message")
    if value is None or (isinstance(value, str) and value.strip() in signing.UNSIGNED_PLACEHOLDERS):
        if settings.dci_signatures_required():
            raise _refused(
                SIGNATURE_MISSING, "this registry requires signed requests; sign the header and message", "missing"
            )
        return
    if not isinstance(value, str):
        raise _refused(SIGNATURE_INVALID, "the signature must be a string", "malformed")
    if not isinstance(header, dict):
        raise _refused(SIGNATURE_INVALID, "a signed envelope needs a header object", "malformed")
    try:
        parameters = signing.parse(value)
    except signing.MalformedSignature as exc:
        raise _refused(SIGNATURE_INVALID, str(exc), "malformed") from None
    if parameters.sender_id != header.get("sender_id"):
        raise _refused(
            SIGNATURE_INVALID, "the signature's kidId names another sender than the header's sender_id", "bad"
        )
    if principal.user_id is None:
        raise _refused(SIGNATURE_INVALID, "only a registered integrator's signature can be verified", "unknown_key")
    public_key = await client_public_key(conn, principal.user_id, parameters.key_id)
    if public_key is None:
        raise _refused(
            SIGNATURE_INVALID,
            f"no key {parameters.key_id[:64]} is registered for {principal.username}; "
            "register it with `siks dci clients key`",
            "unknown_key",
        )
    if not signing.verifies(public_key, parameters, header, message):
        raise _refused(SIGNATURE_INVALID, "the signature does not match the header and message", "bad")
    _check_times(parameters, header, settings)
    message_id = header.get("message_id")
    if not isinstance(message_id, str) or not message_id or len(message_id) > 128:
        raise _refused(SIGNATURE_INVALID, "a signed message needs a header message_id of 1-128 characters", "malformed")
    await _remember(conn, principal.username, message_id, settings)


async def sign_envelope(
    conn: AsyncConnection, settings: Settings, header: dict[str, Any], message: dict[str, Any]
) -> str:
    """The ``signature`` of SIKS's own envelope (a response, callback or notification) with this header and
    message, made with SIKS's active key (the first is made on first use) and valid for the signature window.
    The kidId names the header's ``sender_id`` (``siks`` when it has none) and the key's kid in the JWKS."""
    kid, private_key = await active_private_key(conn, settings)
    created = int(datetime.now(UTC).timestamp())
    return signing.sign(
        private_key,
        sender_id=str(header.get("sender_id") or SIKS_SENDER_ID),
        key_id=kid,
        header=header,
        message=message,
        created=created,
        expires=created + settings.dci_signature_window_seconds,
    )

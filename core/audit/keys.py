"""The audit keys: HMAC-SHA256 keys for the audit chain and its checkpoints, found by key id.

The key is a setting (``SIKS_AUDIT_KEY``), never a row: whoever can write the database cannot
recompute a keyed hash. Each key is known by its id, the first 16 hex digits of an HMAC of a
fixed label, so a row names the key that keyed it without revealing it. Rotating the key moves
the old one to ``SIKS_AUDIT_RETIRED_KEYS``: new rows use the new key, old rows stay verifiable.

The keyring travels with the engine made from the same settings (an engine execution option,
see ``core.storage.db.create_engine``), so the server, the command line and the tests key rows with the
key of the settings they were started with.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from core.foundation.settings import Settings, get_settings

#: The execution option under which an engine carries its ``AuditKeyring``.
KEYRING_OPTION = "siks_audit_keyring"


class AuditKeyRefused(RuntimeError):
    """The configured audit key may not key the audit log in this mode."""


def key_id(key: bytes) -> str:
    """The public name of a key: 16 hex digits that reveal nothing about it."""
    return hmac.new(key, b"siks audit key id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class AuditKeyring:
    """The current audit key (rows and checkpoints are keyed with it) and the retired ones (only verified)."""

    current_id: str
    keys: Mapping[str, bytes]
    problem: str | None = None  # why the current key may not key new rows (production with a weak key)

    @classmethod
    def of(cls, settings: Settings) -> AuditKeyring:
        return _keyring(settings.audit_key, tuple(settings.retired_audit_keys()), settings.audit_key_problem())

    def mac(self, key: str, label: bytes, material: str) -> str | None:
        """HMAC-SHA256 of ``material`` under the key named ``key``, or None when that key is not configured."""
        secret = self.keys.get(key)
        if secret is None:
            return None
        return _mac(secret, label, material)

    def sign(self, label: bytes, material: str) -> str:
        """HMAC-SHA256 of ``material`` under the current key (see ``signing_key``)."""
        return _mac(self.keys[self.signing_key()], label, material)

    def signing_key(self) -> str:
        """The id of the key new rows and checkpoints are keyed with; refuses a key this mode may not use."""
        if self.problem is not None:
            raise AuditKeyRefused(f"refusing to write the audit log: {self.problem}")
        return self.current_id


def _mac(secret: bytes, label: bytes, material: str) -> str:
    return hmac.new(secret, label + b"\x1f" + material.encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=16)
def _keyring(current: str, retired: tuple[str, ...], problem: str | None) -> AuditKeyring:
    keys = {key_id(secret.encode()): secret.encode() for secret in (*retired, current)}
    return AuditKeyring(current_id=key_id(current.encode()), keys=keys, problem=problem)


def keyring_of(connectable: Any) -> AuditKeyring:
    """The keyring of an engine or connection made by ``core.storage.db.create_engine``; else the environment's."""
    sync = getattr(connectable, "sync_connection", None) or getattr(connectable, "sync_engine", connectable)
    keyring = sync.get_execution_options().get(KEYRING_OPTION)
    return keyring if isinstance(keyring, AuditKeyring) else AuditKeyring.of(get_settings())

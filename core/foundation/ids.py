"""Row ids assigned in Python, so bulk loads need no round trip per row.

Ids are 63-bit integers ordered by creation time (milliseconds since 2020-01-01 in the high
bits, then 12 random bits fixed per process, then a 10-bit counter), so two processes loading
at once do not collide and keyset pagination by id follows insertion order.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger

_EPOCH_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
_NODE_BITS = 12
_COUNTER_BITS = 10
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1
MAX_ID = 2**63 - 1
_ID_TEXT = re.compile(r"[0-9]{1,19}")  # ASCII digits: int() also takes other scripts' digits, spaces and "1_0"


def encode_global(type_name: str, key: object) -> str:
    """The global id of the ``type_name`` record whose key is ``key``: base64 of ``Type:key`` (Relay), opaque to
    clients; the API answers it for every entity (``core.schema.global_ids``)."""
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode()


def decode_global(text: str) -> tuple[str, str] | None:
    """(type name, key) of a global id made by ``encode_global``, or None if ``text`` is not one."""
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    type_name, separator, key = raw.partition(":")
    if not separator or not type_name.isidentifier() or not key or encode_global(type_name, key) != text:
        return None  # only the exact text encode_global() makes, so ids have one spelling each
    return type_name, key


def id_from_text(text: str) -> int | None:
    """The id written in ``text`` (1 to 19 ASCII digits, at most ``MAX_ID``), or None if it is not one."""
    if not _ID_TEXT.fullmatch(text):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


class IdAllocator:
    """Hands out unique, increasing ids; thread-safe."""

    def __init__(self, node: int | None = None) -> None:
        self._node = secrets.randbits(_NODE_BITS) if node is None else node & ((1 << _NODE_BITS) - 1)
        self._lock = threading.Lock()
        self._last_ms = 0
        self._counter = 0

    def next_id(self) -> int:
        with self._lock:
            now = int(time.time() * 1000) - _EPOCH_MS
            if now <= self._last_ms:
                self._counter += 1
                if self._counter > _COUNTER_MAX:  # borrow the next millisecond
                    self._last_ms += 1
                    self._counter = 0
            else:
                self._last_ms = now
                self._counter = 0
            return (self._last_ms << (_NODE_BITS + _COUNTER_BITS)) | (self._node << _COUNTER_BITS) | self._counter

    def take(self, count: int) -> list[int]:
        """``count`` ids; 1,024 or more come from one reserved block, a millisecond (1,024 ids) at a time."""
        if count <= _COUNTER_MAX:
            return [self.next_id() for _ in range(count)]
        return self.reserve(count).ids(count)

    def reserve(self, count: int) -> IdBlock:
        """Reserve ``count`` ids at once, for rows numbered in SQL (``IdBlock.sql``): the allocator skips
        the milliseconds the block uses, so no later id of this process, nor any other process's, meets it."""
        with self._lock:
            start = max(int(time.time() * 1000) - _EPOCH_MS, self._last_ms + 1)
            self._last_ms = start + max(count - 1, 0) // (_COUNTER_MAX + 1)
            self._counter = _COUNTER_MAX  # the next id takes a new millisecond
            return IdBlock(start, self._node)


@dataclass(frozen=True, slots=True)
class IdBlock:
    """Ids reserved by ``IdAllocator.reserve``: the n-th (0-based) is ``id_of(n)``."""

    start_ms: int
    node: int

    def id_of(self, ordinal: int) -> int:
        per_ms = _COUNTER_MAX + 1
        return (
            ((self.start_ms + ordinal // per_ms) << (_NODE_BITS + _COUNTER_BITS))
            | (self.node << _COUNTER_BITS)
            | (ordinal % per_ms)
        )

    def ids(self, count: int) -> list[int]:
        """The first ``count`` ids of the block, in order: within one millisecond they are consecutive."""
        per_ms = _COUNTER_MAX + 1
        taken: list[int] = []
        for first in range(0, count, per_ms):
            start = self.id_of(first)
            taken.extend(range(start, start + min(per_ms, count - first)))
        return taken

    def sql(self, ordinal: Any) -> Any:
        """The same as ``id_of`` for a 0-based SQL integer expression (e.g. ``row_number() over () - 1``)."""
        per_ms = _COUNTER_MAX + 1
        grouped = ordinal.self_group()
        whole_ms = grouped.op("/", return_type=BigInteger())(per_ms)  # integer division in SQLite and PostgreSQL
        return (whole_ms + self.start_ms) * (1 << (_NODE_BITS + _COUNTER_BITS)) + (
            self.node * per_ms + grouped % per_ms
        )


ids = IdAllocator()

"""Row ids assigned in Python, so bulk loads need no round trip per row.

Ids are 63-bit integers ordered by creation time (milliseconds since 2020-01-01 in the high
bits, then 12 random bits fixed per process, then a 10-bit counter), so two processes loading
at once do not collide and keyset pagination by id follows insertion order.
"""

from __future__ import annotations

import secrets
import threading
import time

_EPOCH_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
_NODE_BITS = 12
_COUNTER_BITS = 10
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1


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
        return [self.next_id() for _ in range(count)]


ids = IdAllocator()

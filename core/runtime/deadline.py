"""The deadline of the request being served, for work that cannot be interrupted from outside.

``asyncio.timeout`` stops a request only where it awaits; a long synchronous stretch (completing
thousands of GraphQL values, encoding the answer) holds the event loop until it ends, and every
other client waits with it. The ``TimeLimit`` middleware therefore also sets this deadline, and
such work checks ``passed()`` as it goes and stops itself (``core/schema/limits.py``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

#: ``extensions.code`` of a request stopped at its deadline (answered with HTTP 503).
TIMEOUT_CODE = "REQUEST_TIMEOUT"


@dataclass(frozen=True, slots=True)
class Deadline:
    """A moment on the monotonic clock, and the limit in seconds it was set from (for messages)."""

    at: float
    seconds: float

    def passed(self) -> bool:
        return time.monotonic() >= self.at

    @property
    def extensions(self) -> dict[str, str]:
        """The error's ``extensions`` when a request is stopped at this deadline."""
        return {"code": TIMEOUT_CODE}

    @property
    def message(self) -> str:
        """What a request stopped at this deadline is told."""
        return (
            f"the request took longer than the limit of {self.seconds:g} s and was stopped; "
            "ask for less at once (smaller pages, fewer nested lists)"
        )


_current: ContextVar[Deadline | None] = ContextVar("siks_request_deadline", default=None)


@contextmanager
def deadline_in(seconds: float) -> Iterator[Deadline]:
    """Sets the deadline ``seconds`` from now for the code inside (and the tasks it starts)."""
    deadline = Deadline(time.monotonic() + seconds, seconds)
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def current_deadline() -> Deadline | None:
    """The deadline of the request being served, or None outside a request."""
    return _current.get()

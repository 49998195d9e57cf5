"""Limits checked while an operation executes: the size of its answer and the request's deadline.

The cost estimate refuses what is expensive by the schema's declared sizes before anything runs;
these two stop, as it runs, what the data make larger or slower than declared:

- every completed value is counted in the bytes it will take in the JSON answer (keys,
  punctuation, strings by their length), and the operation stops with ``RESPONSE_TOO_LARGE``
  once the answer would pass ``SIKS_MAX_RESPONSE_BYTES`` — while the answer is being built, not
  after 2 GB of it exist;
- every ``CHECK_EVERY`` values the request's deadline (``core.runtime.deadline``) is read, and the
  operation stops with ``REQUEST_TIMEOUT`` once it has passed, so a long synchronous stretch of
  value completion never holds the event loop past the limit (``asyncio.timeout`` alone cannot
  interrupt it).

A stop aborts the whole operation: the answer is ``data: null`` with that one error (no partial
data), the values built so far are dropped, and sibling work still pending stops at its next
check. ``encode_answer`` applies both limits once more to the JSON encoding itself.
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import GraphQLError

from core.foundation.wording import say
from core.runtime.deadline import Deadline, current_deadline

TOO_LARGE_CODE = "RESPONSE_TOO_LARGE"
#: Values completed between two looks at the clock.
CHECK_EVERY = 64
#: Bytes a value other than a string counts (a number, a boolean, null), with its key's quotes, colon and comma.
VALUE_BYTES = 8


class ExecutionStopped(GraphQLError):
    """An operation stopped by a limit while it ran; the whole answer is this error."""

    @classmethod
    def too_large(cls, max_bytes: int) -> ExecutionStopped:
        return cls(
            f"the answer would be larger than the limit of {max_bytes:,} bytes and was stopped; "
            "ask for less at once (smaller pages, fewer fields or nested lists)",
            extensions={"code": TOO_LARGE_CODE},
        )

    @classmethod
    def timed_out(cls, deadline: Deadline) -> ExecutionStopped:
        return cls(deadline.message, extensions=deadline.extensions)


class Budget:
    """What one operation may still spend: answer bytes up to ``max_bytes`` (None: no cap), time up to ``deadline``."""

    __slots__ = ("deadline", "max_bytes", "spent", "stopped", "ticks")

    def __init__(self, max_bytes: int | None, deadline: Deadline | None) -> None:
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.spent = 0
        self.ticks = 0
        self.stopped: ExecutionStopped | None = None

    def spend(self, size: int) -> None:
        """Counts one completed value of ``size`` bytes; raises ``ExecutionStopped`` once a limit is passed (and at
        every call after that, so pending work stops too)."""
        if self.stopped is not None:
            raise self._stop(self.stopped)
        self.spent += size
        if self.max_bytes is not None and self.spent > self.max_bytes:
            raise self._stop(ExecutionStopped.too_large(self.max_bytes))
        self.ticks += 1
        if self.ticks >= CHECK_EVERY:
            self.ticks = 0
            if self.deadline is not None and self.deadline.passed():
                raise self._stop(ExecutionStopped.timed_out(self.deadline))

    def _stop(self, error: ExecutionStopped) -> ExecutionStopped:
        self.stopped = error
        # a new instance each time: raising one instance again would keep extending its traceback
        return ExecutionStopped(error.message, extensions=error.extensions)


def leaf_bytes(value: Any) -> int:
    """Bytes a completed leaf value takes in the answer, with its key's punctuation (not the key's name)."""
    return len(value) + VALUE_BYTES if type(value) is str else VALUE_BYTES


def encode_answer(data: Any, max_bytes: int | None) -> bytes:
    """The JSON answer; ``TimeoutError`` when the request's deadline passed before it (the ``TimeLimit`` middleware
    answers HTTP 503), and the ``RESPONSE_TOO_LARGE`` error instead of an answer longer than ``max_bytes``."""
    deadline = current_deadline()
    if deadline is not None and deadline.passed():
        raise TimeoutError(deadline.message)
    body = orjson.dumps(data)
    if max_bytes is not None and len(body) > max_bytes:
        stopped = ExecutionStopped.too_large(max_bytes).formatted
        return orjson.dumps({"data": None, "errors": [{**stopped, "message": say(stopped["message"])}]})
    return body

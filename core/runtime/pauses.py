"""Keeping the garbage collector's pauses short while the application serves.

A full collection walks every object the process tracks. After start-up that is a quarter of a
million (imports, the GraphQL schema, the policy), and a large answer being built triggers full
collections: each one stopped every request of the process for 0.3–0.5 s on the project machine
(measured with ``bench/query_load_bench.py``). Frozen objects are never walked again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def start_up_frozen() -> Iterator[None]:
    """Freeze what exists (what start-up made) for as long as the block runs; unfreeze after, so an application
    stopped inside a longer-lived process (tests) leaves nothing uncollectable behind. No collection first: with
    the test suite's heap that would cost a fraction of a second at every start."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()

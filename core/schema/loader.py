"""The DataLoader every request's loaders are made of (``core/schema/context.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from strawberry.dataloader import DataLoader

K = TypeVar("K")
T = TypeVar("T")


class SharedLoader(DataLoader[K, T]):
    """strawberry's DataLoader, whose shared futures a cancelled caller leaves alone.

    Every resolver asking for a key awaits the same future. When a request is stopped (its time
    limit), asyncio cancels what each waiting resolver awaits, so strawberry's futures are
    cancelled one by one, and on each one strawberry scans its whole batch to see whether all are
    cancelled: quadratic in the batch, seconds of CPU for a request waiting on thousands of keys
    (the districts of the country), long after the request was answered. Each caller here awaits
    a shield of the future instead: cancelling a caller cancels its shield only, and the batch
    finishes loading and is dropped with the request.
    """

    def load(self, key: K) -> Awaitable[T]:
        return asyncio.shield(super().load(key))

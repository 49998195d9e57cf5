"""Helpers shared by the command groups."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.db import create_engine
from core.storage.migrate import SchemaNotCurrent, require_current

T = TypeVar("T")


def run_with_engine(work: Callable[[AsyncEngine], Awaitable[T]], *, needs_schema: bool = True) -> T:
    """Run ``work`` on a fresh engine; a schema problem becomes a one-line error and exit code 2."""

    async def runner() -> T:
        engine = create_engine()
        try:
            if needs_schema:
                await require_current(engine)
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(runner())
    except SchemaNotCurrent as exc:
        fail(str(exc))
        raise  # unreachable: fail exits


def fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)

"""PostgreSQL text cannot hold NUL characters, so no request may carry one."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException


async def refuse_nul(request: Any) -> None:
    """Answer 400 when the body or query string holds a NUL character (raw or as a JSON ``\\u0000`` escape)."""
    body = await request.body()
    if b"\x00" in body or b"\\u0000" in body.lower() or "%00" in str(request.url.query):
        raise HTTPException(400, "the request contains a NUL character (\\u0000), which no field accepts")

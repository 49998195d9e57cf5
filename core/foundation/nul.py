"""PostgreSQL text cannot hold NUL characters, so no request may carry one in its text."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException

MESSAGE = "the request contains a NUL character (\\u0000), which no field accepts"
#: A multipart GraphQL request (file upload): its operations, map and at most this many files.
MAX_UPLOAD_FILES = 1


def _has_nul(text: str) -> bool:
    return "\x00" in text or "\\u0000" in text.lower()


async def refuse_nul(request: Any) -> None:
    """Answer 400 when the body or query string holds a NUL character (raw or as a JSON ``\\u0000`` escape).

    In a multipart upload only the text parts are checked: the file itself is binary.
    """
    if "%00" in str(request.url.query):
        raise HTTPException(400, MESSAGE)
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        form = await request.form(max_files=MAX_UPLOAD_FILES, max_fields=10)  # kept: strawberry reads it again
        if any(isinstance(value, str) and _has_nul(value) for value in form.values()):
            raise HTTPException(400, MESSAGE)
        return
    body = await request.body()
    if b"\x00" in body or b"\\u0000" in body.lower():
        raise HTTPException(400, MESSAGE)

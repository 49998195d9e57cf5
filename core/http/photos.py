"""GET /photos/{id}: a visit photo, streamed from storage to a caller whose region covers the household.

Officers of the verification chain get the original as uploaded; anyone else allowed to see photos
(program officers) gets the copy re-encoded without metadata, so no GPS position leaves with it.
A photo outside the caller's region answers 404, exactly as one that does not exist. Each served
photo is audited: an ID-card picture is one person's full record.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from core.audit.log import RequestInfo, record
from core.auth.requests import NotAuthenticated, principal_of
from core.foundation.ids import id_from_text
from core.http.errors import error_response
from core.http.request_id import request_id_of
from core.storage.db import write_transaction
from core.verification.levels import OFFICER_ROLES
from core.verification.photos import photo_by_id
from core.verification.storage import folder_store


def _error(status: int, message: str) -> JSONResponse:
    return error_response(status, message)


def photo_endpoint(state: Any) -> Any:
    """The route handler, reading the engine, access control and settings from the app's state."""

    async def serve(request: Request) -> Response:
        settings, engine = state.settings, state.engine
        try:
            principal = await principal_of(dict(request.headers), engine, settings)
        except NotAuthenticated as exc:
            return _error(401, f"not authenticated: {exc}")
        if principal.is_public:
            return _error(401, "not authenticated: photos need an access token or API key")
        await state.access.refresh()
        if not state.access.allows(principal, "photo", "read"):
            return _error(403, f"not allowed: role {principal.role} may not read photo")
        raw = request.path_params["photo_id"]
        photo = None
        photo_id = id_from_text(raw)
        if photo_id is not None:
            async with engine.connect() as conn:
                photo = await photo_by_id(conn, photo_id, principal.scope)
        if photo is None:
            return _error(404, f"no photo with id {raw[:24]}")
        original = principal.role in OFFICER_ROLES
        client = request.client.host if request.client else "unknown"
        async with write_transaction(engine) as conn:
            await record(
                conn,
                RequestInfo(principal, client, request_id_of(request)),
                operation="read:photo",
                entity="visit_photo",
                entity_id=photo.id,
                outcome="read",
                after={"copy": "original" if original else "without metadata"},
            )
        key = photo.original_key if original else photo.public_key
        store = folder_store(settings.photo_dir)
        if not await store.exists(key):
            return _error(404, f"photo {photo.id} is recorded but its file is missing from photo storage")
        extension = key.rsplit(".", 1)[-1]
        headers = {
            "cache-control": "private, no-store",
            "x-content-type-options": "nosniff",
            "content-disposition": f'inline; filename="{photo.kind}-{photo.id}.{extension}"',
        }
        return StreamingResponse(store.read(key), media_type=photo.content_type, headers=headers)

    return serve

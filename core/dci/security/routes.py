"""The DCI security endpoints: ``POST /oauth2/client/token`` and ``GET /.well-known/jwks.json``.

The token endpoint follows authz_core_api_v1.0.0.yaml and RFC 6749 section 4.4: ``grant_type=client_credentials``
with ``client_id`` and ``client_secret`` in the form body (the spec's ``application/x-www-form-urlencoded``; a JSON
body with the same fields is accepted too) or in HTTP Basic authentication. The answer is
``{"access_token", "token_type": "bearer", "expires_in"}`` (``expires_in`` a string of seconds, as the spec types
it). Refusals carry RFC 6749's ``error`` and ``error_description`` and the spec's ``errors: [{code, message}]``:
``invalid_request`` and ``unsupported_grant_type`` (400), ``invalid_client`` (401). Each token issued is audited.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.audit.log import RequestInfo, record
from core.dci.security.credentials import issue_token, principal_for_client
from core.dci.security.keys import ensure_key, published_jwks
from core.http.request_id import request_id_of
from core.storage.db import write_transaction

TOKEN_PATH = "/oauth2/client/token"
JWKS_PATH = "/.well-known/jwks.json"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="siks"'
    body = {"error": error, "error_description": description, "errors": [{"code": error, "message": description}]}
    return JSONResponse(body, status_code=status, headers=headers)


class _BadRequest(ValueError):
    pass


async def _fields(request: Request) -> dict[str, str]:
    """The request's parameters: a form or JSON body, plus the client's Basic credentials."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, str] = {}
    if content_type == "application/json":
        try:
            body: Any = json.loads(await request.body() or b"null")
        except ValueError:
            raise _BadRequest("the body is not JSON") from None
        if not isinstance(body, dict):
            raise _BadRequest("the JSON body must be an object")
        fields = {key: value for key, value in body.items() if isinstance(value, str)}
    elif content_type == "application/x-www-form-urlencoded":
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
    else:
        raise _BadRequest("send the parameters as application/x-www-form-urlencoded (or application/json)")
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, client_secret = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise _BadRequest("the Basic credentials are not base64 of client_id:client_secret") from None
        if "client_id" in fields and fields["client_id"] != unquote(client_id):
            raise _BadRequest("the client_id of the body and of the Basic credentials differ")
        fields["client_id"], fields["client_secret"] = unquote(client_id), unquote(client_secret)
    return fields


def token_endpoint(state: Any) -> Any:
    async def token(request: Request) -> Response:
        try:
            fields = await _fields(request)
        except _BadRequest as exc:
            return _oauth_error(400, "invalid_request", str(exc))
        missing = [name for name in ("grant_type", "client_id", "client_secret") if not fields.get(name)]
        if missing:
            return _oauth_error(400, "invalid_request", f"missing {', '.join(missing)}")
        if fields["grant_type"] != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", "this endpoint issues tokens for grant_type=client_credentials only"
            )
        async with write_transaction(state.engine) as conn:
            principal = await principal_for_client(conn, fields["client_id"], fields["client_secret"])
            if principal is None:
                return _oauth_error(401, "invalid_client", "the client_id or client_secret is wrong, or was revoked")
            issued = issue_token(state.settings, principal)
            client = request.client.host if request.client else "unknown"
            await record(
                conn,
                RequestInfo(principal, client, request_id_of(request)),
                operation="issueDciToken",
                entity="api_key",
                entity_id=fields["client_id"][:64],
                after={"expires_in": issued.expires_in, "scope": fields.get("scope", "")[:200]},
            )
        answer = {"access_token": issued.access_token, "token_type": "bearer", "expires_in": str(issued.expires_in)}
        return JSONResponse(answer, headers=_NO_STORE)

    return token


def jwks_endpoint(state: Any) -> Any:
    async def jwks(_request: Request) -> Response:
        async with state.engine.connect() as conn:
            await ensure_key(conn, state.settings)
        async with state.engine.connect() as conn:
            keys = await published_jwks(conn)
        return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})

    return jwks


def security_routes(state: Any) -> list[Route]:
    """The token endpoint and the JWKS, reading the engine and settings from the app's state."""
    return [
        Route(TOKEN_PATH, token_endpoint(state), methods=["POST"]),
        Route(JWKS_PATH, jwks_endpoint(state), methods=["GET"]),
    ]

"""The DCI Social Registry endpoints (paths as the spec names them), mounted by ``core.http.app``.

Every request: the caller (``core.dci.security.dci_caller``), then the envelope (``core.dci.envelope``),
then its signature (``verify_signature``). Refusals answer with the spec's ``Response`` (``ack_status``
ERR and an error code): HTTP 401 for a caller or signature refused, 400 for a malformed or replayed request.
Sync endpoints answer with the result; async ones answer ACK and post the result to ``sender_uri``.
Each request is a ``dci_transactions`` row and an audit row (with its consent and purpose fields).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.audit.log import RequestInfo, record
from core.auth.principal import PUBLIC, Principal
from core.dci import security
from core.dci.envelope import DciRefusal, Envelope, ack, answer_header, err, new_correlation_id, parse_envelope
from core.dci.subscriptions import subscribe, unsubscribe
from core.dci.targets import check_callback_target
from core.dci.transactions import (
    Caller,
    answer_search,
    close_transaction,
    open_transaction,
    parse_status_request,
    post_callback,
    reference_ids_of,
    search_requests,
    transaction_status,
)
from core.foundation.settings import Settings
from core.http.request_id import request_id_of
from core.runtime.ratelimit import LimiterUnavailable, address_key
from core.storage.db import write_transaction

log = logging.getLogger(__name__)
#: The permission (policy object ``dci``) each action needs.
PERMISSIONS = {"search": "search", "txn-status": "search", "subscribe": "subscribe", "unsubscribe": "subscribe"}


class DciJSON(JSONResponse):
    """A JSON answer encoded with orjson (search pages are large)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A request that passed the caller, envelope and signature checks."""

    principal: Principal
    envelope: Envelope
    info: RequestInfo
    correlation_id: str

    @property
    def caller(self) -> Caller:
        return Caller(self.principal.username, self.principal.scope, self.envelope.sender_id)


def _refused(correlation_id: str, code: str, message: str, status: int) -> DciJSON:
    return DciJSON(err(correlation_id, code, message), status_code=status)


def _purposes(items: list[Any], key: str) -> list[dict[str, Any]]:
    """What the audit keeps of each request: its reference id, query type, consent and authorization."""
    kept = []
    for item in items:
        if not isinstance(item, dict):
            continue
        raw = item.get(key)
        criteria: dict[str, Any] = raw if isinstance(raw, dict) else {}
        kept.append(
            {
                "reference_id": str(item.get("reference_id", ""))[:99],
                "query_type": criteria.get("query_type") or criteria.get("filter_type"),
                "consent": criteria.get("consent"),
                "authorize": criteria.get("authorize"),
            }
        )
    return kept


class DciEndpoints:
    """The handlers; ``state`` is the application's state (engine, settings)."""

    def __init__(self, state: Any) -> None:
        self.state = state

    @property
    def settings(self) -> Settings:
        settings: Settings = self.state.settings
        return settings

    async def _accept(self, request: Request, action: str, correlation_id: str) -> Accepted:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        client = request.client.host if request.client else "unknown"
        async with self.state.engine.connect() as conn:
            principal = await security.dci_caller(request, conn, self.settings)
        info = RequestInfo(principal, client, request_id_of(request))
        await self._authorize(info, action, correlation_id)
        if body is None:
            raise DciRefusal("err.request.bad", "the body is not JSON")
        envelope = parse_envelope(body, action)
        async with self.state.engine.connect() as conn:
            await security.verify_signature(conn, self.settings, principal, body)
        return Accepted(principal, envelope, info, correlation_id)

    async def _authorize(self, info: RequestInfo, action: str, correlation_id: str) -> None:
        """The caller's role may use this part of the DCI API (policy object ``dci``); a refusal is audited."""
        permission = PERMISSIONS[action]
        await self.state.access.refresh()
        if self.state.access.allows(info.principal, "dci", permission):
            return
        async with write_transaction(self.state.engine) as conn:
            await record(
                conn,
                info,
                operation=f"dci{permission.title()}",
                entity="dci_transaction",
                entity_id=correlation_id,
                outcome="denied",
                after={"path": action},
            )
        raise DciRefusal(
            "err.request.forbidden", f"the role {info.principal.role} may not {permission} through DCI", 403
        )

    def endpoint(
        self, action: str, handle: Callable[[Accepted], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            correlation_id = new_correlation_id()
            try:
                accepted = await self._accept(request, action, correlation_id)
                return await handle(accepted)
            except security.DciUnauthorized as refusal:
                return await self._unauthenticated(request, correlation_id, refusal)
            except security.DciSignatureRefused as refusal:  # a replay is a bad request, not bad credentials
                status = 400 if refusal.reason == "replayed" else 401
                return _refused(correlation_id, refusal.code, refusal.message, status)
            except DciRefusal as refusal:
                return _refused(correlation_id, refusal.code, refusal.message, refusal.status)

        return endpoint

    async def _unauthenticated(
        self, request: Request, correlation_id: str, refusal: security.DciUnauthorized
    ) -> DciJSON:
        """401, counted against the address's limit for requests without valid credentials (as at /graphql)
        and audited in aggregate; over the limit 429 with ``Retry-After``."""
        client = request.client.host if request.client else "unknown"
        counted = RequestInfo(PUBLIC, client, request_id_of(request))
        guards = self.state.guards
        try:
            verdict = await guards.anonymous.hit(address_key(client))
        except LimiterUnavailable:
            return _refused(correlation_id, "err.service.unavailable", "the request limiter is unavailable", 503)
        if not verdict.allowed:
            reason = "too many requests without valid credentials"
            await guards.refusals.refused(counted, operation="rateLimited", entity="dci", reason=reason)
            answer = _refused(correlation_id, "err.request.too_many_requests", reason, 429)
            answer.headers["Retry-After"] = str(verdict.retry_after)
            return answer
        await guards.refusals.refused(counted, operation="authenticate", entity="credentials", reason=refusal.message)
        return _refused(correlation_id, refusal.code, refusal.message, 401)

    async def _envelope(self, header: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
        async with self.state.engine.connect() as conn:
            signature = await security.sign_envelope(conn, self.settings, header, message)
        return {"signature": signature, "header": header, "message": message}

    async def _audit(self, conn: Any, accepted: Accepted, operation: str, after: dict[str, Any]) -> None:
        after = {
            "transaction_id": accepted.envelope.transaction_id,
            "sender_id": accepted.envelope.sender_id,
            **after,
        }
        await record(
            conn,
            accepted.info,
            operation=operation,
            entity="dci_transaction",
            entity_id=accepted.correlation_id,
            after=after,
        )

    # -- search ---------------------------------------------------------------------------------------------

    async def _search(self, accepted: Accepted, items: list[Any], opened: bool) -> tuple[dict[str, Any], str]:
        """Answer the search, keep the answer with its transaction and audit it (one write transaction).

        ``opened``: the transaction row exists already (an async search); otherwise it is written here.
        """
        async with self.state.engine.connect() as conn:
            answer, status = await answer_search(conn, accepted.envelope.message, accepted.principal.scope)
        message = {
            "transaction_id": accepted.envelope.transaction_id,
            "correlation_id": accepted.correlation_id,
            **answer,
        }
        returned = {a["reference_id"]: len(a.get("data", {}).get("reg_records", [])) for a in answer["search_response"]}
        async with write_transaction(self.state.engine) as conn:
            if not opened:
                await open_transaction(
                    conn, accepted.caller, accepted.envelope, accepted.correlation_id, reference_ids_of(items), status
                )
            await close_transaction(conn, accepted.correlation_id, status, message)
            await self._audit(
                conn, accepted, "dciSearch", {"requests": _purposes(items, "search_criteria"), "returned": returned}
            )
        return message, status

    async def sync_search(self, accepted: Accepted) -> Response:
        items = search_requests(accepted.envelope.message)
        message, status = await self._search(accepted, items, opened=False)
        header = answer_header("on-search", accepted.envelope.sender_id, status=status, total_count=len(items))
        return DciJSON(await self._envelope(header, message))

    async def async_search(self, accepted: Accepted) -> Response:
        items = search_requests(accepted.envelope.message)
        uri = await self._callback_uri(accepted)
        async with write_transaction(self.state.engine) as conn:
            await open_transaction(
                conn, accepted.caller, accepted.envelope, accepted.correlation_id, reference_ids_of(items), "pdng"
            )

        async def answer() -> None:
            try:
                message, status = await self._search(accepted, items, opened=True)
            except Exception:  # the ACK is sent: record the failure for txn status instead of losing it
                log.exception("DCI async search %s failed", accepted.correlation_id)
                async with write_transaction(self.state.engine) as conn:
                    await close_transaction(conn, accepted.correlation_id, "rjct", {"error": "the search failed"})
                return
            header = answer_header("on-search", accepted.envelope.sender_id, status=status, total_count=len(items))
            await post_callback(uri, await self._envelope(header, message))

        return DciJSON(ack(accepted.correlation_id), background=BackgroundTask(answer))

    async def _callback_uri(self, accepted: Accepted) -> str:
        """The request's ``sender_uri``, which SIKS will post to: present, and a place it may post to."""
        uri = accepted.envelope.sender_uri
        if uri is None:
            raise DciRefusal("err.sender_uri.invalid", "an async request needs header.sender_uri for its answer")
        await check_callback_target(uri, self.settings)
        return uri

    # -- transaction status ---------------------------------------------------------------------------------

    async def _status(self, accepted: Accepted) -> tuple[dict[str, Any], dict[str, Any]]:
        request = parse_status_request(accepted.envelope.message)
        async with self.state.engine.connect() as conn:
            status = await transaction_status(conn, accepted.principal.username, request)
        async with write_transaction(self.state.engine) as conn:
            await self._audit(
                conn,
                accepted,
                "dciTxnStatus",
                {"attribute_type": request["attribute_type"], "txn_type": request["txn_type"]},
            )
        message = {
            "transaction_id": accepted.envelope.transaction_id,
            "correlation_id": accepted.correlation_id,
            "txnstatus_response": {"txn_type": request["txn_type"], "txn_status": status},
        }
        header = answer_header("txn-on-status", accepted.envelope.sender_id)
        return header, message

    async def sync_txn_status(self, accepted: Accepted) -> Response:
        header, message = await self._status(accepted)
        return DciJSON(await self._envelope(header, message))

    async def async_txn_status(self, accepted: Accepted) -> Response:
        uri = await self._callback_uri(accepted)
        header, message = await self._status(accepted)

        async def answer() -> None:
            await post_callback(uri, await self._envelope(header, message))

        return DciJSON(ack(accepted.correlation_id), background=BackgroundTask(answer))

    # -- subscriptions --------------------------------------------------------------------------------------

    async def subscribe(self, accepted: Accepted) -> Response:
        uri = await self._callback_uri(accepted)
        message = accepted.envelope.message
        async with write_transaction(self.state.engine) as conn:
            answer, status = await subscribe(conn, accepted.caller, message, uri)
            items = message["subscribe_request"]
            await open_transaction(
                conn, accepted.caller, accepted.envelope, accepted.correlation_id, reference_ids_of(items), status
            )
            reply = {
                "transaction_id": accepted.envelope.transaction_id,
                "correlation_id": accepted.correlation_id,
                **answer,
            }
            await close_transaction(conn, accepted.correlation_id, status, reply)
            codes = [s["code"] for a in answer["subscribe_response"] for s in a.get("subscriptions", [])]
            await self._audit(
                conn, accepted, "dciSubscribe", {"requests": _purposes(items, "subscribe_criteria"), "codes": codes}
            )
        header = answer_header("on-subscribe", accepted.envelope.sender_id, status=status, total_count=len(items))

        async def answer_back() -> None:
            await post_callback(uri, await self._envelope(header, reply))

        return DciJSON(ack(accepted.correlation_id), background=BackgroundTask(answer_back))

    async def unsubscribe(self, accepted: Accepted) -> Response:
        uri = accepted.envelope.sender_uri
        async with write_transaction(self.state.engine) as conn:
            answer, status = await unsubscribe(conn, accepted.caller, accepted.envelope.message)
            codes = accepted.envelope.message["subscription_codes"]
            await open_transaction(conn, accepted.caller, accepted.envelope, accepted.correlation_id, [], status)
            reply = {
                "transaction_id": accepted.envelope.transaction_id,
                "correlation_id": accepted.correlation_id,
                **answer,
            }
            await close_transaction(conn, accepted.correlation_id, status, reply)
            await self._audit(conn, accepted, "dciUnsubscribe", {"codes": codes, "status": status})
        if uri is None:  # nothing will follow: the answer is NACK (valid, no callback)
            body = ack(accepted.correlation_id)
            body["message"]["ack_status"] = "NACK"
            return DciJSON(body)
        header = answer_header("on-unsubscribe", accepted.envelope.sender_id, status=status, total_count=len(codes))

        async def answer_back() -> None:
            await post_callback(uri, await self._envelope(header, reply))

        return DciJSON(ack(accepted.correlation_id), background=BackgroundTask(answer_back))


def dci_routes(state: Any) -> list[Route]:
    """The DCI Social Registry routes, to be mounted on the application."""
    endpoints = DciEndpoints(state)
    table: list[tuple[str, str, Callable[[Accepted], Awaitable[Response]]]] = [
        ("/registry/sync/search", "search", endpoints.sync_search),
        ("/registry/search", "search", endpoints.async_search),
        ("/registry/sync/txn/status", "txn-status", endpoints.sync_txn_status),
        ("/registry/txn/status", "txn-status", endpoints.async_txn_status),
        ("/registry/subscribe", "subscribe", endpoints.subscribe),
        ("/registry/unsubscribe", "unsubscribe", endpoints.unsubscribe),
    ]
    return [Route(path, endpoints.endpoint(action, handle), methods=["POST"]) for path, action, handle in table]

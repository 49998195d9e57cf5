"""DCI security: client credentials and the token endpoint, signatures (good, bad, expired, replayed,
unsigned), SIKS's keys and their rotation, the JWKS, and the commands — over HTTP against the real app."""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from core.dci.security import DciSignatureRefused, DciUnauthorized, dci_caller, sign_envelope, verify_signature
from core.dci.security.keys import published_jwks
from core.dci.security.signing import thumbprint
from core.foundation.settings import Settings
from core.models import AuditEntry, DciSeenMessage
from core.storage.db import write_transaction
from tests.cli_support import siks
from tests.serving import production, uvicorn_server

DOCS = Path(__file__).resolve().parents[1] / "docs" / "dci-security.md"


def doc_functions() -> dict[str, Any]:
    """The Python block of docs/dci-security.md, run as written: the agency's sign and verify functions."""
    block = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert block is not None
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), str(DOCS), "exec"), namespace)  # noqa: S102 — the doc's own example
    return namespace


DOC = doc_functions()


def integrator(username: str = "bpjs.dci", region: str = "") -> tuple[str, str, str]:
    """A new integrator with a key: (api key, client_id, client_secret), as `siks users key` prints them."""
    created = siks(
        "users", "create", username, "--role", "integrator", "--region", region, "--password-stdin",
        input="rahasia-sekali-123\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    made = siks("users", "key", username, "--label", "PKS 1/2026")
    assert made.returncode == 0, made.stderr
    key, client_id, client_secret = made.stdout.splitlines()
    return key, client_id.removeprefix("client_id: "), client_secret.removeprefix("client_secret: ")


def key_pair(tmp_path: Path, username: str) -> tuple[Ed25519PrivateKey, str]:
    """The agency's private key, its public key registered with `siks dci clients key`; returns the kid."""
    private = Ed25519PrivateKey.generate()
    pem = tmp_path / f"{username}.pub.pem"
    pem.write_bytes(private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    ran = siks("dci", "clients", "key", username, "--public-key", str(pem))
    assert ran.returncode == 0, ran.stderr
    kid = ran.stdout.split()[1]
    x = base64.urlsafe_b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).rstrip(b"=")
    assert kid == thumbprint(x.decode())
    return private, kid


def envelope(sender_id: str = "dtsen.bpjs", sent: datetime | None = None) -> dict[str, Any]:
    header = {
        "version": "1.0.0",
        "message_id": str(uuid.uuid4()),
        "message_ts": (sent or datetime.now(UTC)).isoformat(),
        "action": "search",
        "sender_id": sender_id,
        "sender_uri": "https://dtsen.bpjs.example/callback/on-search",
        "receiver_id": "siks",
        "total_count": 1,
        "is_msg_encrypted": False,
    }
    message = {"transaction_id": "T1", "search_request": [{"reference_id": "R1", "search_criteria": {}}]}
    return {"header": header, "message": message}


def signed(private: Ed25519PrivateKey, kid: str, **changes: Any) -> dict[str, Any]:
    env = envelope(**changes)
    return {"signature": DOC["sign"](private, kid, env["header"], env["message"]), **env}


async def token(http: httpx.AsyncClient, client_id: str, client_secret: str) -> httpx.Response:
    return await http.post(
        "/oauth2/client/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
    )


def request_with(headers: dict[str, str]) -> Request:
    """A Starlette request carrying these headers, as a DCI route receives it."""
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/registry/sync/search", "headers": raw})


async def caller(db: AsyncEngine, settings: Settings, headers: dict[str, str]) -> Any:
    async with db.connect() as conn:
        return await dci_caller(request_with(headers), conn, settings)


async def verify(db: AsyncEngine, settings: Settings, principal: Any, env: dict[str, Any]) -> None:
    async with write_transaction(db) as conn:
        await verify_signature(conn, settings, principal, env)


async def refusal(db: AsyncEngine, settings: Settings, principal: Any, env: dict[str, Any]) -> DciSignatureRefused:
    with pytest.raises(DciSignatureRefused) as refused:
        await verify(db, settings, principal, env)
    return refused.value


async def test_client_credentials_buy_a_bearer_token(
    db: AsyncEngine, client: httpx.AsyncClient, settings: Settings
) -> None:
    api_key, client_id, client_secret = integrator()
    assert api_key == f"siks_{client_id}_{client_secret}"
    answer = await token(client, client_id, client_secret)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == str(settings.access_token_minutes * 60)
    assert answer.headers["cache-control"] == "no-store"
    principal = await caller(db, settings, {"Authorization": f"Bearer {body['access_token']}"})
    assert (principal.username, principal.role, principal.via) == ("bpjs.dci", "integrator", "token")
    assert (await caller(db, settings, {"X-API-Key": api_key})).username == "bpjs.dci"

    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    by_basic = await client.post(
        "/oauth2/client/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert by_basic.status_code == 200, by_basic.text
    by_json = await client.post(
        "/oauth2/client/token",
        json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
    )
    assert by_json.status_code == 200, by_json.text
    async with db.connect() as conn:
        issued = await conn.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.operation == "issueDciToken")
        )
    assert issued == 3


async def test_the_token_endpoint_refuses_with_rfc_6749_errors(db: AsyncEngine, client: httpx.AsyncClient) -> None:
    _key, client_id, client_secret = integrator()
    wrong = await token(client, client_id, client_secret[:-2] + "xx")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.json()["errors"][0]["code"] == "invalid_client"
    assert client_secret[:-2] not in wrong.text
    grant = await client.post(
        "/oauth2/client/token",
        data={"grant_type": "password", "client_id": client_id, "client_secret": client_secret},
    )
    assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")
    missing = await client.post("/oauth2/client/token", data={"grant_type": "client_credentials"})
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    assert "client_id, client_secret" in missing.json()["error_description"]
    text = await client.post("/oauth2/client/token", content=b"grant_type", headers={"content-type": "text/plain"})
    assert (text.status_code, text.json()["error"]) == (400, "invalid_request")

    assert siks("users", "key", "bpjs.dci", "--label", "-", "--revoke", client_id).returncode == 0
    revoked = await token(client, client_id, client_secret)
    assert (revoked.status_code, revoked.json()["error"]) == (401, "invalid_client")


async def test_dci_callers_without_valid_credentials_are_unauthorized(
    db: AsyncEngine, client: httpx.AsyncClient, settings: Settings
) -> None:
    _key, client_id, client_secret = integrator()
    bearer = (await token(client, client_id, client_secret)).json()["access_token"]
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer nope"}, {"X-API-Key": "siks_a_b"}):
        with pytest.raises(DciUnauthorized) as refused:
            await caller(db, settings, headers)
        assert refused.value.code == "err.request.unauthorized"
    assert siks("users", "disable", "bpjs.dci").returncode == 0  # no new tokens; the issued one runs out
    assert (await token(client, client_id, client_secret)).status_code == 401
    assert (await caller(db, settings, {"Authorization": f"Bearer {bearer}"})).username == "bpjs.dci"


async def test_a_good_signature_passes_and_its_replay_is_refused(
    db: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    api_key, *_ = integrator()
    private, kid = key_pair(tmp_path, "bpjs.dci")
    principal = await caller(db, settings, {"X-API-Key": integrator("other.dci")[0]})
    bpjs = await caller(db, settings, {"X-API-Key": api_key})
    required = settings.model_copy(update={"dci_signature_required": True})
    env = signed(private, kid)
    reformatted = json.loads(json.dumps(env, indent=2, sort_keys=True))  # the same JSON, written otherwise
    await verify(db, required, bpjs, reformatted)

    replay = await refusal(db, required, bpjs, env)
    assert (replay.code, replay.reason) == ("err.request.bad", "replayed")
    other = await refusal(db, required, principal, signed(private, kid))  # the key is bpjs's, not other's
    assert (other.code, other.reason) == ("err.signature.invalid", "unknown_key")
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(DciSeenMessage)) == 1
    async with write_transaction(db) as conn:  # a message id whose replay window has passed
        await conn.execute(
            update(DciSeenMessage.__table__).values(forget_after=datetime.now(UTC) - timedelta(seconds=1))
        )
    await verify(db, required, bpjs, signed(private, kid))
    async with db.connect() as conn:
        ids = (await conn.execute(select(DciSeenMessage.__table__.c.message_id))).scalars().all()
    assert env["header"]["message_id"] not in ids and len(ids) == 1  # forgotten when the next one came

    read = signed(private, kid)
    async with db.connect() as conn:  # a read connection, as a route may pass: the id is kept all the same
        await verify_signature(conn, required, bpjs, read)
    assert (await refusal(db, required, bpjs, read)).reason == "replayed"


async def test_bad_expired_and_unsigned_requests_are_refused(
    db: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    api_key, *_ = integrator()
    private, kid = key_pair(tmp_path, "bpjs.dci")
    bpjs = await caller(db, settings, {"X-API-Key": api_key})
    required = settings.model_copy(update={"dci_signature_required": True})
    relaxed = settings.model_copy(update={"dci_signature_required": False})

    tampered = signed(private, kid)
    tampered["message"]["transaction_id"] = "T2"
    bad = await refusal(db, required, bpjs, tampered)
    assert (bad.code, bad.reason) == ("err.signature.invalid", "bad")
    stranger = signed(Ed25519PrivateKey.generate(), kid)
    assert (await refusal(db, required, bpjs, stranger)).reason == "bad"
    other_sender = signed(private, kid)
    other_sender["header"]["sender_id"] = "someone.else"
    assert (await refusal(db, required, bpjs, other_sender)).code == "err.signature.invalid"

    old = signed(private, kid, sent=datetime.now(UTC) - timedelta(seconds=settings.dci_signature_window_seconds + 60))
    expired = await refusal(db, required, bpjs, old)
    assert (expired.code, expired.reason) == ("err.signature.invalid", "expired")
    short = envelope()
    short["signature"] = DOC["sign"](private, kid, short["header"], short["message"], lifetime=-1)
    assert (await refusal(db, required, bpjs, short)).reason == "expired"

    for unsigned in ({**envelope()}, {**envelope(), "signature": ""}, {**envelope(), "signature": "unsigned-stub"}):
        missing = await refusal(db, required, bpjs, unsigned)
        assert (missing.code, missing.reason) == ("err.signature.missing", "missing")
        await verify(db, relaxed, bpjs, unsigned)  # not required: an unsigned request passes
    for value in ("invalid-signature", "eyJhbGciOiJSUzI1NiJ9.", 'Signature: kidId="a|b|rsa"'):
        malformed = await refusal(db, relaxed, bpjs, {**envelope(), "signature": value})  # sent: always checked
        assert (malformed.code, malformed.reason) == ("err.signature.invalid", "malformed")

    assert siks("dci", "clients", "key", "bpjs.dci", "--revoke", kid).returncode == 0
    assert (await refusal(db, required, bpjs, signed(private, kid))).reason == "unknown_key"
    listed = siks("dci", "clients", "list", "bpjs.dci")
    assert listed.returncode == 0 and kid in listed.stdout and "revoked" in listed.stdout


def test_signatures_are_required_in_production_by_default(settings: Settings) -> None:
    assert settings.dci_signatures_required() is False
    assert production(settings).dci_signatures_required() is True
    assert production(settings, dci_signature_required=False).dci_signatures_required() is False


async def test_siks_signs_and_rotation_keeps_the_old_kid_verifiable(
    db: AsyncEngine, client: httpx.AsyncClient, settings: Settings
) -> None:
    env = envelope(sender_id="siks")
    async with db.connect() as conn:
        env["signature"] = await sign_envelope(conn, settings, env["header"], env["message"])
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert len(jwks["keys"]) == 1
    first = jwks["keys"][0]
    assert {k: first[k] for k in ("kty", "crv", "use", "alg")} == {
        "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA"
    }  # fmt: skip
    assert first["kid"] == thumbprint(first["x"]) and "d" not in first
    assert f'kidId="siks|{first["kid"]}|ed25519"' in env["signature"]
    assert DOC["signed_by_siks"](env, jwks)
    forged = {**env, "message": {**env["message"], "transaction_id": "T9"}}
    assert not DOC["signed_by_siks"](forged, jwks)

    rotated = siks("dci", "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    after = (await client.get("/.well-known/jwks.json")).json()
    assert [key["kid"] for key in after["keys"]][1:] == [first["kid"]]  # newest first, the old one in its grace
    assert DOC["signed_by_siks"](env, after)
    fresh = envelope(sender_id="siks")
    async with db.connect() as conn:
        fresh["signature"] = await sign_envelope(conn, settings, fresh["header"], fresh["message"])
    assert after["keys"][0]["kid"] in fresh["signature"] and DOC["signed_by_siks"](fresh, after)

    assert siks("dci", "keys", "rotate", env={"SIKS_DCI_KEY_GRACE_DAYS": "0"}).returncode == 0
    last = (await client.get("/.well-known/jwks.json")).json()
    second = after["keys"][0]["kid"]
    assert len(last["keys"]) == 2 and second not in {key["kid"] for key in last["keys"]}  # no grace: retired
    assert not DOC["signed_by_siks"](fresh, last) and DOC["signed_by_siks"](env, last)
    async with db.connect() as conn:
        later = await published_jwks(conn, datetime.now(UTC) + timedelta(days=settings.dci_key_grace_days, hours=1))
    assert [key["kid"] for key in later["keys"]] == [last["keys"][0]["kid"]]  # the first key's grace has ended
    listed = siks("dci", "keys", "list").stdout.splitlines()
    assert [line.split("\t")[2].split()[0] for line in listed] == ["active", "retired", "published"]
    async with db.connect() as conn:
        rotations = await conn.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.operation == "rotateDciSigningKey")
        )
    assert rotations == 2


async def test_client_key_registration_refuses_what_it_cannot_use(db: AsyncEngine, tmp_path: Path) -> None:
    integrator()
    private = Ed25519PrivateKey.generate()
    x = base64.urlsafe_b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).rstrip(b"=")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}, {"kty": "OKP", "crv": "Ed25519",
                                "x": x.decode(), "kid": "bpjs-2026"}]}))  # fmt: skip
    assert siks("dci", "clients", "key", "bpjs.dci", "--public-key", str(jwks)).stdout.startswith("key bpjs-2026")
    again = siks("dci", "clients", "key", "bpjs.dci", "--public-key", str(jwks))
    assert again.returncode == 0 and "nothing changed" in again.stdout
    secret = tmp_path / "secret.jwk"
    secret.write_text(json.dumps({"kty": "OKP", "crv": "Ed25519", "x": x.decode(), "d": "AAAA"}))
    assert "private key" in siks("dci", "clients", "key", "bpjs.dci", "--public-key", str(secret)).stderr
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    refused = siks("dci", "clients", "key", "bpjs.dci", "--public-key", str(empty))
    assert refused.returncode == 2 and "no Ed25519 key" in refused.stderr
    assert "neither a file" in siks("dci", "clients", "key", "bpjs.dci", "--public-key", "nowhere.pem").stderr
    assert "no active user" in siks("dci", "clients", "key", "nobody", "--public-key", str(jwks)).stderr
    assert siks("dci", "clients", "key", "bpjs.dci").returncode == 2


async def test_the_token_endpoint_and_jwks_over_real_http(db: AsyncEngine, settings: Settings) -> None:
    _key, client_id, client_secret = integrator()
    with uvicorn_server(settings) as base:
        answer = httpx.post(
            f"{base}/oauth2/client/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
        )
        assert answer.status_code == 200, answer.text
        jwks = httpx.get(f"{base}/.well-known/jwks.json")
        assert jwks.status_code == 200 and jwks.json()["keys"][0]["crv"] == "Ed25519"
        assert httpx.get(f"{base}/oauth2/client/token").status_code == 405


@contextmanager
def jwks_server(document: dict[str, Any]) -> Iterator[str]:
    """A real HTTP server on a free port answering GET /jwks.json with ``document``; yields its URL."""
    body = json.dumps(document).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 — the http.server hook's name
            found = self.path == "/jwks.json"
            self.send_response(200 if found else 404)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body if found else b"{}")

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_client_key_is_registered_from_its_jwks_url(db: AsyncEngine, settings: Settings) -> None:
    api_key, *_ = integrator()
    private = Ed25519PrivateKey.generate()
    x = base64.urlsafe_b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).rstrip(b"=")
    with jwks_server({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x.decode(), "kid": "dinsos-1"}]}) as base:
        ran = siks("dci", "clients", "key", "bpjs.dci", "--public-key", f"{base}/jwks.json")
        assert ran.returncode == 0 and ran.stdout.startswith("key dinsos-1 registered"), ran.stderr
        missing = siks("dci", "clients", "key", "bpjs.dci", "--public-key", f"{base}/nothing.json")
        assert missing.returncode == 2 and "could not fetch the JWKS" in missing.stderr
    bpjs = await caller(db, settings, {"X-API-Key": api_key})
    await verify(db, settings.model_copy(update={"dci_signature_required": True}), bpjs, signed(private, "dinsos-1"))
    listed = siks("dci", "clients", "list").stdout
    assert f"bpjs.dci\tdinsos-1\t{base}/jwks.json" in listed

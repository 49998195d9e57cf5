"""Signed DCI requests through the real routes, with signatures required (core/dci/routes.py with
core/dci/security): unsigned refused, signed answered and SIKS's answer verifiable against its JWKS,
a replay and a tampered message refused — each refusal with the spec's code."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from core.foundation.settings import Settings
from tests.cli_support import siks
from tests.dci_support import by_id, search_body
from tests.serving import serve
from tests.test_dci_security import DOC, integrator

SEARCH = "/registry/sync/search"


async def test_a_signed_search_is_answered_signed_and_unsigned_replayed_or_tampered_ones_are_refused(
    db: Any, settings: Settings, tmp_path: Path
) -> None:
    api_key, *_ = integrator()
    private = Ed25519PrivateKey.generate()
    pem = tmp_path / "client.pem"
    pem.write_bytes(private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    registered = siks("dci", "clients", "key", "bpjs.dci", "--public-key", str(pem))
    assert registered.returncode == 0, registered.stderr
    kid = registered.stdout.split()[1]
    headers = {"X-API-Key": api_key}
    async with serve(settings.model_copy(update={"dci_signature_required": True})) as http:
        body = search_body(by_id("NIK", "3201010101010001"))
        unsigned = await http.post(SEARCH, json=body, headers=headers)
        body["signature"] = DOC["sign"](private, kid, body["header"], body["message"])
        tampered = copy.deepcopy(body)
        tampered["message"]["search_request"][0]["search_criteria"]["query"]["value"] = "3201010101010002"
        forged = await http.post(SEARCH, json=tampered, headers=headers)
        signed = await http.post(SEARCH, json=body, headers=headers)
        replayed = await http.post(SEARCH, json=body, headers=headers)
        jwks = (await http.get("/.well-known/jwks.json")).json()

    assert unsigned.status_code == 401 and unsigned.json()["message"]["error"]["code"] == "err.signature.missing"
    assert forged.status_code == 401 and forged.json()["message"]["error"]["code"] == "err.signature.invalid"
    assert signed.status_code == 200, signed.text
    assert DOC["signed_by_siks"](signed.json(), jwks)
    assert replayed.status_code == 400 and replayed.json()["message"]["error"]["code"] == "err.request.bad"

"""The DCI message signature: Ed25519 over the envelope's header and message, in the spec's form.

The spec (``MsgSignature`` in social_api_v1.0.0.yaml) gives the signature as

    Signature: namespace="spdci", kidId="{sender_id}|{unique_key_id}|{algorithm}", algorithm="ed25519",
    created="1606970629", expires="1607030629", headers="(created) (expires) digest",
    signature="Base64(signing content)"

The signed content is three lines, as in the HTTP-signature scheme the example follows::

    (created): 1606970629
    (expires): 1607030629
    digest: BLAKE-512=<base64 of the BLAKE2b-512 of the body>

where the body is ``{"header": ..., "message": ...}`` in the JSON Canonicalization Scheme (RFC 8785),
so that a receiver gets the same bytes from the parsed envelope whatever whitespace or key order the
sender used. Keys travel as JWKs (RFC 8037: ``kty`` OKP, ``crv`` Ed25519) whose ``kid`` is the
RFC 7638 thumbprint. Nothing here touches the database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

NAMESPACE = "spdci"
ALGORITHM = "ed25519"
SIGNED_HEADERS = "(created) (expires) digest"
#: What DCI tooling sends in ``signature`` for a message it did not sign (the compliance suite's two).
UNSIGNED_PLACEHOLDERS = frozenset({"", "unsigned", "unsigned-stub"})

_PARAMETER = re.compile(r'\s*([A-Za-z]+)="([^"]*)"\s*(?:,|$)')
_PREFIX = re.compile(r"^\s*Signature\s*:?\s*", re.IGNORECASE)


class MalformedSignature(ValueError):
    """A ``signature`` value that is not in the spec's form; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class SignatureParameters:
    """The parts of a signature value."""

    sender_id: str
    key_id: str
    created: int
    expires: int
    signature: bytes


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_body(header: dict[str, Any], message: Any) -> bytes:
    """The bytes the digest covers: the header and message in RFC 8785 canonical JSON."""
    return rfc8785.dumps({"header": header, "message": message})


def digest(header: dict[str, Any], message: Any) -> str:
    return "BLAKE-512=" + base64.b64encode(hashlib.blake2b(canonical_body(header, message)).digest()).decode("ascii")


def signing_string(created: int, expires: int, header: dict[str, Any], message: Any) -> bytes:
    return f"(created): {created}\n(expires): {expires}\ndigest: {digest(header, message)}".encode()


def sign(
    private_key: Ed25519PrivateKey,
    *,
    sender_id: str,
    key_id: str,
    header: dict[str, Any],
    message: Any,
    created: int,
    expires: int,
) -> str:
    """The ``signature`` value of an envelope with this header and message."""
    value = base64.b64encode(private_key.sign(signing_string(created, expires, header, message))).decode("ascii")
    return (
        f'Signature: namespace="{NAMESPACE}", kidId="{sender_id}|{key_id}|{ALGORITHM}", algorithm="{ALGORITHM}", '
        f'created="{created}", expires="{expires}", headers="{SIGNED_HEADERS}", signature="{value}"'
    )


def parse(value: str) -> SignatureParameters:
    """The parameters of a signature value; MalformedSignature says what is wrong with one that is not."""
    rest = _PREFIX.sub("", value, count=1)
    parameters: dict[str, str] = {}
    position = 0
    while position < len(rest):
        found = _PARAMETER.match(rest, position)
        if found is None:
            raise MalformedSignature(
                'the signature is not in the DCI form Signature: kidId="sender|key id|ed25519", algorithm=..., '
                "created=..., expires=..., headers=..., signature=..."
            )
        parameters[found.group(1)] = found.group(2)
        position = found.end()
    missing = [name for name in ("algorithm", "created", "expires", "headers", "signature") if name not in parameters]
    key = parameters.get("kidId", parameters.get("keyId"))
    if key is None:
        missing.insert(0, "kidId")
    if missing:
        raise MalformedSignature(f"the signature lacks {', '.join(missing)}")
    if parameters["algorithm"].lower() != ALGORITHM:
        raise MalformedSignature(f"the signature's algorithm must be {ALGORITHM}, not {parameters['algorithm'][:20]}")
    if " ".join(parameters["headers"].split()) != SIGNED_HEADERS:
        raise MalformedSignature(f'the signature must cover headers="{SIGNED_HEADERS}"')
    assert key is not None
    parts = key.split("|")
    if len(parts) != 3 or not parts[0] or not parts[1] or parts[2].lower() != ALGORITHM:
        raise MalformedSignature(f'kidId must be "sender_id|key id|{ALGORITHM}"')
    try:
        created, expires = int(parameters["created"]), int(parameters["expires"])
    except ValueError:
        raise MalformedSignature("created and expires must be Unix times in seconds") from None
    try:
        signature = base64.b64decode(parameters["signature"], validate=True)
    except (binascii.Error, ValueError):
        raise MalformedSignature("the signature value is not base64") from None
    if len(signature) != 64:
        raise MalformedSignature("an Ed25519 signature is 64 bytes")
    return SignatureParameters(parts[0], parts[1], created, expires, signature)


def verifies(
    public_key: Ed25519PublicKey, parameters: SignatureParameters, header: dict[str, Any], message: Any
) -> bool:
    """Whether the signature was made by this key over exactly this header and message."""
    content = signing_string(parameters.created, parameters.expires, header, message)
    try:
        public_key.verify(parameters.signature, content)
    except InvalidSignature:
        return False
    return True


def public_x(public_key: Ed25519PublicKey) -> str:
    return b64url(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def public_key_of(x: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(unb64url(x))


def thumbprint(x: str) -> str:
    """The RFC 7638 thumbprint (SHA-256, base64url) of the Ed25519 JWK with this ``x``."""
    members = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(members.encode()).digest())


def jwk(x: str, kid: str) -> dict[str, str]:
    """The public JWK of a signing key, as the JWKS endpoint publishes it."""
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"}

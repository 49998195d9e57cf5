"""DCI security: who sends a request (OAuth2 client credentials, bearer tokens, API keys) and whether its
Ed25519 signature holds; SIKS's own signing keys and their JWKS.

The seam the DCI routes call:

- ``dci_caller(request, conn, settings) -> Principal`` (raises ``DciUnauthorized``),
- ``verify_signature(conn, settings, principal, envelope)`` (raises ``DciSignatureRefused``; it records the
  message id against replays: in ``conn``'s transaction if that is a write transaction, else in its own),
- ``sign_envelope(conn, settings, header, message) -> str`` (the ``signature`` of SIKS's own envelopes).
"""

from core.dci.security.credentials import dci_caller
from core.dci.security.errors import DciRefused, DciSignatureRefused, DciUnauthorized
from core.dci.security.verification import sign_envelope, verify_signature

__all__ = ["DciRefused", "DciSignatureRefused", "DciUnauthorized", "dci_caller", "sign_envelope", "verify_signature"]

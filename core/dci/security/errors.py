"""The refusals of DCI security, each with the spec's error code (``Error.code`` in the DCI yaml files)."""

from __future__ import annotations


class DciRefused(Exception):
    """A DCI request refused: ``code`` is the spec's error code, ``message`` says what was wrong."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DciUnauthorized(DciRefused):
    """No valid credentials (answered with HTTP 401): ``err.request.unauthorized``."""


class DciSignatureRefused(DciRefused):
    """The envelope's signature is missing, malformed, wrong, expired or replayed.

    ``code``: ``err.signature.missing`` (required but absent), ``err.signature.invalid`` (malformed, not made by
    a key registered for the caller, or outside the time window) or ``err.request.bad`` (a message id already
    received: a replay). ``reason`` is one of missing, malformed, unknown_key, bad, expired, replayed.
    """

    def __init__(self, code: str, message: str, reason: str = "bad") -> None:
        super().__init__(code, message)
        self.reason = reason


UNAUTHORIZED = "err.request.unauthorized"
SIGNATURE_MISSING = "err.signature.missing"
SIGNATURE_INVALID = "err.signature.invalid"
REQUEST_BAD = "err.request.bad"

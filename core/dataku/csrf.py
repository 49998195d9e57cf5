"""Forms posted from our own pages only: a signed token tied to a cookie, and a honeypot field.

The cookie ``dataku_csrf`` holds a random nonce (HttpOnly, SameSite=Strict); every form carries
``csrf_token``, the nonce signed with the server's secret (itsdangerous, salted, timestamped). A POST
is accepted when the token's signature holds, it is younger than ``MAX_AGE_SECONDS`` and it signs the
nonce of the request's own cookie. Bots that fill every field fill ``HONEYPOT`` too, which people
never see (hidden by the style sheet, labelled "leave empty" for screen readers).
"""

from __future__ import annotations

import hmac
import secrets
from enum import Enum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

COOKIE = "dataku_csrf"
FIELD = "csrf_token"
HONEYPOT = "website"
SALT = "siks-dataku-csrf"
MAX_AGE_SECONDS = 2 * 3600


class Refusal(Enum):
    NO_COOKIE = "no cookie"
    BAD_TOKEN = "bad token"
    EXPIRED = "expired"
    OTHER_COOKIE = "token of another cookie"
    HONEYPOT = "honeypot filled"


class FormGuard:
    """Makes and checks the tokens of one application (its secret)."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    def token_for(self, nonce: str) -> str:
        return self._serializer.dumps(nonce)

    def check(self, form: dict[str, str], cookie: str | None) -> Refusal | None:
        """None when the form may be acted on; else why not."""
        if form.get(HONEYPOT, ""):
            return Refusal.HONEYPOT
        if not cookie:
            return Refusal.NO_COOKIE
        try:
            signed = self._serializer.loads(form.get(FIELD, ""), max_age=MAX_AGE_SECONDS)
        except SignatureExpired:
            return Refusal.EXPIRED
        except BadSignature:
            return Refusal.BAD_TOKEN
        if not isinstance(signed, str) or not hmac.compare_digest(signed.encode(), cookie.encode()):
            return Refusal.OTHER_COOKIE
        return None

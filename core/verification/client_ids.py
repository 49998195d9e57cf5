"""Client ids: a field app's own names for what it sends, so that sending something again is harmless.

A row written under a client id keeps the sha256 of what was sent (``content_sha256``). The same
client id sent again with the same content is *already recorded*; with other content it is a
conflict naming the client id, never a silent skip: what was recorded first stands.
"""

from __future__ import annotations

import hashlib
from typing import Any

from core.audit.log import canonical


def content_sha256(content: dict[str, Any]) -> str:
    """The sha256 (hex) of ``content`` as stable JSON: sorted keys, times in UTC, dataclasses as objects.

    It is taken before the content's values are checked, so it must digest any text: a lone surrogate
    (which the value check refuses afterwards, naming its field) is encoded as it stands."""
    return hashlib.sha256((canonical(content) or "").encode("utf-8", "surrogatepass")).hexdigest()


def resent_reason(client_id: str, what: str) -> str:
    """The conflict of a client id sent again with other content, in one sentence."""
    return (
        f"client id {client_id} was already imported as a {what} with different content; the first one stands "
        "and this one was not recorded (a changed record needs a new client id)"
    )

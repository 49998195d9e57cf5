"""Where SIKS may send a DCI callback: never, unless allowed, into its own network.

A client names the address SIKS posts answers to (``sender_uri``) and notifications to (a
subscription's notify URI). Left unchecked, that lets any integrator make the registry's server post
to a loopback, private or link-local address — a database admin page, a cloud metadata service. The
host is resolved when the request is accepted and refused when any address it resolves to is not a
public one, unless private callbacks are allowed (development mode by default,
``SIKS_DCI_CALLBACK_PRIVATE_ALLOWED``) or the host is listed in ``SIKS_DCI_CALLBACK_HOSTS``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from core.dci.envelope import DciRefusal
from core.foundation.settings import Settings

CODE = "err.sender_uri.invalid"


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


async def check_callback_target(uri: str, settings: Settings) -> None:
    """Refuse (``DciRefusal``) a callback URI whose host is not a public address where that is not allowed."""
    if settings.dci_private_callbacks_allowed():
        return
    parts = urlsplit(uri)
    host = parts.hostname or ""
    allowed = {item.strip().lower() for item in settings.dci_callback_hosts.split(",") if item.strip()}
    if host.lower() in allowed:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as error:
        raise DciRefusal(CODE, f"the callback host '{host[:80]}' cannot be resolved ({error})") from error
    if not found or not all(_public(str(entry[4][0])) for entry in found):
        raise DciRefusal(
            CODE,
            f"the callback host '{host[:80]}' is a loopback, private or link-local address; "
            "SIKS sends callbacks only to public addresses (or to hosts in SIKS_DCI_CALLBACK_HOSTS)",
        )

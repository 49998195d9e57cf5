"""Login throttling: failed logins slow down the account tried and the address trying.

Two gates, each a ``Backoff`` in the shared counter store (``core.runtime.ratelimit``):

- the account (by the username as typed, lower-cased; unknown usernames are throttled alike, so
  a lock says nothing about whether an account exists): ``SIKS_LOGIN_ACCOUNT_FAILURES`` free
  failures;
- the client address (IPv6: its /64), whatever accounts it tries (password spraying):
  ``SIKS_LOGIN_ADDRESS_FAILURES`` free failures.

Once a gate has had its free failures, each further attempt must wait: ``SIKS_LOGIN_LOCKOUT_SECONDS``
after the last failure, doubling with every failure up to ``SIKS_LOGIN_MAX_LOCKOUT_SECONDS``. While
either gate is locked the password is not even checked: the answer is ``TOO_MANY_ATTEMPTS`` with the
seconds to wait.
Failures are forgotten an hour (at least twice the longest lock) after the last one.

Every attempt is charged to both gates before the password is checked, so a burst of concurrent
attempts cannot pass a lock that the first of them would have set. A successful login clears its
account's gate and takes back its own charge of the address: it does not wipe the failures that
address has run up against other accounts.
"""

from __future__ import annotations

import hashlib
import hmac

from core.foundation.settings import Settings
from core.runtime.ratelimit import Backoff, CounterStore, Verdict, address_key

#: Failures are forgotten this long after the last one (or twice the longest lock, if longer).
FAILURE_MEMORY_SECONDS = 3600


def account_key(settings: Settings, username: str) -> str:
    """The gate key of a username: a keyed hash, so the store holds no typed names (or mistyped passwords)."""
    typed = username.strip().lower()[:128].encode()
    return hmac.new(settings.secret_key.encode(), b"login\x1f" + typed, hashlib.sha256).hexdigest()[:32]


class LoginThrottle:
    """The account and address gates of logins, in ``store`` (shared by every process when it is Redis)."""

    def __init__(self, store: CounterStore, settings: Settings) -> None:
        self.store = store
        self._settings = settings
        memory = max(FAILURE_MEMORY_SECONDS, 2 * settings.login_max_lockout_seconds)
        first, longest = settings.login_lockout_seconds, settings.login_max_lockout_seconds
        self.account = Backoff(settings.login_account_failures, first, longest, memory)
        self.address = Backoff(settings.login_address_failures, first, longest, memory)

    def _keys(self, username: str, client: str) -> tuple[str, str]:
        return f"login:account:{account_key(self._settings, username)}", f"login:address:{address_key(client)}"

    async def attempt(self, username: str, client: str) -> Verdict:
        """May ``client`` try a password for ``username`` now? If so, the attempt is charged as a failure."""
        account, address = self._keys(username, client)
        return await self.store.admit([(account, self.account), (address, self.address)])

    async def succeeded(self, username: str, client: str) -> None:
        """The attempt was right: clear the account's failures, take back this attempt's charge of the address."""
        account, address = self._keys(username, client)
        await self.store.clear(account)
        await self.store.refund(address, self.address)

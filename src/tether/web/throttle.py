"""Password guessing, slowed: failed attempts are counted per address (the email typed) and
per client address, with the ``limits`` library's moving window.

Three limits, each over one window (a minute by default):

- per (address, client address) pair, small (5): someone mistyping, or one machine guessing
  one account, is slowed first;
- per address from anywhere, larger (30): many machines guessing one account are slowed too;
- per client address, whatever the address (20): one machine trying many accounts.

Why the pair first: a per-address limit alone would let a stranger keep anyone out by failing
on their address; counted per pair, the stranger's failures slow only the stranger.  Only the
larger per-address limit is shared, and reaching it takes several client addresses.  Even then
nobody is locked out: a moving window forgets each failure a window after it happened, so a
refused address may try again as soon as its oldest failure is that old.  Refused attempts are
not counted (hammering does not extend the wait) and successes are not counted at all; a
success clears its pair's failures.

The storage is the ``rate_limit_storage`` setting: ``memory://`` (one process, the embedded
default) or e.g. ``redis://host:6379`` so several processes share the counts.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from tether.config import Settings
from tether.domain.exclusions import normalize_email
from tether.services.errors import ServiceError, Unauthorized


def in_words(seconds: int) -> str:
    """A wait as the sign-in page says it: "1 second", "42 seconds", "3 minutes"."""
    if seconds < 120:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    return f"{math.ceil(seconds / 60)} minutes"


@dataclass(frozen=True)
class Refusal:
    retry_after: int  # seconds, for the Retry-After header
    from_client: bool  # the client address's limit, not the address's

    @property
    def sign_in_message(self) -> str:
        who = "from your network" if self.from_client else "for this address"
        return f"Too many sign-in attempts {who}. Try again in {in_words(self.retry_after)}."

    @property
    def password_message(self) -> str:
        who = "from your network" if self.from_client else "for this account"
        return f"Too many wrong passwords {who}. Try again in {in_words(self.retry_after)}."

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def wrong_password(exc: ServiceError) -> bool:
    """Whether a refusal counts as a failed attempt: a wrong password (at sign-in, or the
    current one when changing it), not a form error."""
    return isinstance(exc, Unauthorized) or exc.field == "current_password"


def client_of(request: Request) -> str | None:
    """The client address, as the server sees it (behind a reverse proxy, uvicorn takes it
    from X-Forwarded-For when the proxy is one it trusts: --forwarded-allow-ips)."""
    return request.client.host if request.client else None


def client_key(host: str | None) -> str:
    """The client address counted: an IPv6 client by its /64 (one machine usually holds a
    whole /64, and would otherwise have endless addresses to try from)."""
    try:
        ip = ipaddress.ip_address(host or "")
    except ValueError:
        return host or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class PasswordGuesses:
    """The failed password attempts of the last window, per address and client address."""

    def __init__(self, settings: Settings) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))
        window = settings.sign_in_window_seconds
        self._pair = RateLimitItemPerSecond(settings.sign_in_failures_per_address_and_client,
                                            window, namespace="tether-sign-in-pair")
        self._address = RateLimitItemPerSecond(settings.sign_in_failures_per_address, window,
                                               namespace="tether-sign-in-address")
        self._client = RateLimitItemPerSecond(settings.sign_in_failures_per_client, window,
                                              namespace="tether-sign-in-client")

    def _keys(self, address: str, client: str | None
              ) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        # Addresses hashed: the storage (perhaps a shared Redis) never holds who signs in.
        who = hashlib.sha256(normalize_email(address).encode()).hexdigest()[:32]
        where = client_key(client)
        return [(self._pair, (who, where)), (self._address, (who,)), (self._client, (where,))]

    def refusal(self, address: str, client: str | None) -> Refusal | None:
        """Why this attempt must wait, if it must (checked before the password is)."""
        waits = []
        for item, ids in self._keys(address, client):
            if not self._limiter.test(item, *ids):
                reset = self._limiter.get_window_stats(item, *ids).reset_time
                waits.append((max(1, math.ceil(reset - time.time())), item is self._client))
        if not waits:
            return None
        retry_after, from_client = max(waits)
        return Refusal(retry_after, from_client)

    def failed(self, address: str, client: str | None) -> None:
        for item, ids in self._keys(address, client):
            self._limiter.hit(item, *ids)

    def succeeded(self, address: str, client: str | None) -> None:
        pair, ids = self._keys(address, client)[0]
        self._limiter.clear(pair, *ids)


async def password_guesses(request: Request) -> PasswordGuesses:
    """The app's counts (one per app, made on first use; async, so on the event loop: no two
    requests make it at once)."""
    found: PasswordGuesses | None = getattr(request.app.state, "password_guesses", None)
    if found is None:
        found = PasswordGuesses(request.app.state.tether.settings)
        request.app.state.password_guesses = found
    return found


Guesses = Annotated[PasswordGuesses, Depends(password_guesses)]

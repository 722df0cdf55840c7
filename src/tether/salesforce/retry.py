"""When to send a failed request again, and how long to wait first (pure)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from tether.salesforce.errors import ErrorKind, SalesforceError

# PATCH is here because every PATCH Tether sends sets fields to given values (update, upsert,
# collections update): sending it twice leaves the record as sending it once.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base·2ⁿ))."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        return rng() * min(self.cap, self.base * 2.0 ** attempt)


def should_retry(error: SalesforceError, *, attempt: int, max_retries: int,
                 idempotent: bool) -> bool:
    """Only transient errors are retried, ``max_retries`` times at most; a non-idempotent
    write whose outcome is unknown is never sent again blindly (the caller reconciles)."""
    if attempt >= max_retries or error.kind is not ErrorKind.TRANSIENT or not error.retryable:
        return False
    return idempotent or not error.ambiguous

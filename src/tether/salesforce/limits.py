"""The org's daily API usage as Salesforce reports it on every counted call.

``Sforce-Limit-Info: api-usage=18/5000`` (optionally followed by
``; per-app-api-usage=17/250(appName=…)``) is read from each answer and reported into a usage
ledger, so quota decisions cost no extra ``/limits`` call.  The durable ledger lives in Tether's
database; the in-memory one here serves tests and one-off scripts.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Protocol

HEADER = "Sforce-Limit-Info"
_API_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")


@dataclass(frozen=True)
class ApiUsage:
    used: int
    max: int

    @property
    def remaining(self) -> int:
        return max(0, self.max - self.used)

    @property
    def fraction(self) -> float:
        return self.used / self.max if self.max else 1.0


def parse_limit_info(header: str | None) -> ApiUsage | None:
    """``api-usage=N/M`` from a Sforce-Limit-Info header; None when absent or unreadable."""
    if not header:
        return None
    m = _API_USAGE.search(header)
    if m is None:
        return None
    return ApiUsage(int(m.group(1)), int(m.group(2)))


class UsageLedger(Protocol):
    """Where the client reports each org's usage: ``on_usage=ledger.record``."""

    async def record(self, org_id: str, used: int, maximum: int) -> None: ...


@dataclass(frozen=True)
class UsageSample:
    org_id: str
    used: int
    max: int
    at: dt.datetime


@dataclass
class MemoryUsageLedger:
    """Every sample, and the last usage reported for each org."""

    samples: list[UsageSample] = field(default_factory=list)
    latest: dict[str, ApiUsage] = field(default_factory=dict)

    async def record(self, org_id: str, used: int, maximum: int) -> None:
        now = dt.datetime.now(dt.UTC)
        self.samples.append(UsageSample(org_id, used, maximum, now))
        self.latest[org_id] = ApiUsage(used, maximum)

    def usage(self, org_id: str) -> ApiUsage | None:
        return self.latest.get(org_id)

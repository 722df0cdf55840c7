"""Injected faults, per org: 503s, UNABLE_TO_LOCK_ROW, slow answers, an exhausted daily limit."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sfemu.errors import ApiError

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass
class FaultPlan:
    unavailable: bool = False
    lock: bool = False
    timeout_seconds: float = 0.0


class Faults:
    """One random generator per org, seeded, so a test's sequence of faults repeats."""

    def __init__(self) -> None:
        self._rngs: dict[str, random.Random] = {}

    def configure(self, org_id: str, spec: dict[str, Any]) -> None:
        self._rngs[org_id] = random.Random(spec.get("seed"))

    def plan(self, org_id: str, spec: dict[str, Any], method: str) -> FaultPlan:
        if not spec:
            return FaultPlan()
        rng = self._rngs.setdefault(org_id, random.Random(spec.get("seed")))
        plan = FaultPlan()
        if rng.random() < float(spec.get("unavailable_rate", 0.0)):
            plan.unavailable = True
        elif method in WRITE_METHODS and rng.random() < float(spec.get("lock_rate", 0.0)):
            plan.lock = True
        elif rng.random() < float(spec.get("timeout_rate", 0.0)):
            # The request is carried out, then the answer comes too late: an ambiguous outcome.
            plan.timeout_seconds = float(spec.get("timeout_seconds", 30.0))
        return plan


def check_spec(spec: dict[str, Any]) -> dict[str, Any]:
    rates = ("unavailable_rate", "lock_rate", "timeout_rate")
    clean: dict[str, Any] = {}
    for key, value in spec.items():
        if key in rates:
            if not isinstance(value, int | float) or isinstance(value, bool) or not (
                    0.0 <= float(value) <= 1.0):
                raise ApiError("INVALID_FIELD", f"{key} must be a number from 0 to 1", [key])
            clean[key] = float(value)
        elif key == "exhaust_daily_limit":
            if not isinstance(value, bool):
                raise ApiError("INVALID_FIELD", f"{key} must be true or false", [key])
            clean[key] = value
        elif key == "timeout_seconds":
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ApiError("INVALID_FIELD", f"{key} must be a positive number", [key])
            clean[key] = float(value)
        elif key == "seed":
            clean[key] = value
        else:
            raise ApiError("INVALID_FIELD", f"Unknown fault setting: {key}", [key])
    return clean


def unavailable() -> ApiError:
    return ApiError("SERVER_UNAVAILABLE", "Server temporarily unavailable, please try again",
                    status=503)


def lock_error() -> ApiError:
    return ApiError("UNABLE_TO_LOCK_ROW",
                    "unable to obtain exclusive access to this record or 1 records")

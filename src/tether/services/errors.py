"""Errors a use case reports; the web layer turns them into HTTP answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ServiceError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, field: str | None = None, *,
                 extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # More of the answer beside detail and field: Salesforce's refusal, both sides of a
        # conflict, the fields a create lacks.
        self.extra = dict(extra or {})


class Invalid(ServiceError):
    status = 422
    code = "invalid"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Unavailable(ServiceError):
    """Salesforce could not be reached, or its answer was lost: try again."""

    status = 503
    code = "unavailable"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class Gone(ServiceError):
    """It existed, and cannot be used any more (an invitation used, revoked or expired)."""

    status = 410
    code = "gone"


def described(exc: BaseException, limit: int = 2000) -> str:
    """An exception as the activity log shows it: its class and message."""
    return f"{type(exc).__name__}: {exc}"[:limit]

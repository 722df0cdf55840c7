"""Errors a use case reports; the web layer turns them into HTTP answers."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


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

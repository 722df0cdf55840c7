"""Errors in Salesforce's shape: ``[{"message", "errorCode", "fields"}]`` with its HTTP status."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# errorCode -> HTTP status, where Salesforce answers something other than 400.
STATUS_BY_CODE: dict[str, int] = {
    "INVALID_SESSION_ID": 401,
    "REQUEST_LIMIT_EXCEEDED": 403,
    "API_DISABLED_FOR_ORG": 403,
    "API_CURRENTLY_DISABLED": 403,
    "INSUFFICIENT_ACCESS": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "SERVER_UNAVAILABLE": 503,
    "UNKNOWN_EXCEPTION": 500,
}


class ApiError(Exception):
    def __init__(self, error_code: str, message: str, fields: list[str] | None = None,
                 status: int | None = None, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, bare: bool = False) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.fields = fields or []
        self.status = status or STATUS_BY_CODE.get(error_code, 400)
        self.extra = extra or {}
        self.headers = headers or {}  # response headers the error carries (Allow on a 405)
        self.bare = bare  # errorCode and message only, as Salesforce's 404 answers

    def body(self) -> list[dict[str, Any]]:
        if self.bare:
            return [{"errorCode": self.error_code, "message": self.message}]
        item: dict[str, Any] = {"message": self.message, "errorCode": self.error_code,
                                "fields": self.fields}
        item.update(self.extra)
        return [item]

    def collection_error(self) -> dict[str, Any]:
        """The per-record form used by sObject Collections (``statusCode``, not ``errorCode``)."""
        item: dict[str, Any] = {"statusCode": self.error_code, "message": self.message,
                                "fields": self.fields}
        item.update(self.extra)
        return item


def not_found() -> ApiError:
    """Salesforce's answer for an unknown resource or record:
    ``[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]``."""
    return ApiError("NOT_FOUND", "The requested resource does not exist", bare=True)


# The order in which Salesforce lists methods in a 405's message.
_METHOD_ORDER = ("GET", "HEAD", "PATCH", "POST", "PUT", "DELETE")


def method_not_allowed(method: str, allowed: Iterable[str]) -> ApiError:
    """405 naming the methods the resource really answers (HEAD wherever GET is)."""
    names = set(allowed)
    if "GET" in names:
        names.add("HEAD")
    listed = [m for m in _METHOD_ORDER if m in names]
    return ApiError("METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are "
                    f"{','.join(listed)}", headers={"Allow": ", ".join(listed)})


def invalid_session() -> ApiError:
    return ApiError("INVALID_SESSION_ID", "Session expired or invalid")


def invalid_type(sobject: str) -> ApiError:
    return ApiError(
        "INVALID_TYPE",
        f"sObject type '{sobject}' is not supported. If you are attempting to use a custom "
        "object, be sure to append the '__c' after the entity name. Please reference your WSDL "
        "or the describe call for the appropriate names.")

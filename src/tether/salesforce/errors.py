"""Every Salesforce error, classified in one table: transient, auth, quota or permanent.

The table is the single source of truth for "should we try again?" (Airbyte's error-handler
model): the client's retry loop, the writer and the activity log all read it, none keep their
own list of codes.  Keys are Salesforce's ``errorCode`` (REST), ``statusCode`` (sObject
Collections) or OAuth ``error`` values, and HTTP statuses for answers that carry no code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx


class ErrorKind(StrEnum):
    TRANSIENT = "transient"  # try again later; it may well work
    AUTH = "auth"  # the connection needs a refresh, or the user must reconnect
    QUOTA = "quota"  # a limit of the org is used up; wait for it to roll over
    PERMANENT = "permanent"  # the request itself is wrong; sending it again changes nothing


@dataclass(frozen=True)
class Rule:
    kind: ErrorKind
    # The same request may succeed when sent again: after a backoff (TRANSIENT) or after a
    # token refresh (AUTH).  QUOTA and PERMANENT errors are never retried by the client.
    retryable: bool
    explanation: str  # for operators: what happened and what to do
    record_gone: bool = False  # the record was deleted in Salesforce: callers re-audit it


def _t(explanation: str) -> Rule:
    return Rule(ErrorKind.TRANSIENT, True, explanation)


def _p(explanation: str, *, record_gone: bool = False) -> Rule:
    return Rule(ErrorKind.PERMANENT, False, explanation, record_gone)


def _a(explanation: str, *, refresh: bool = False) -> Rule:
    return Rule(ErrorKind.AUTH, refresh, explanation)


def _q(explanation: str) -> Rule:
    return Rule(ErrorKind.QUOTA, False, explanation)


# Failures below HTTP have no Salesforce code; the client reports them under these names.
TIMEOUT = "TIMEOUT"
NETWORK_ERROR = "NETWORK_ERROR"
BULK_JOB_FAILED = "BULK_JOB_FAILED"

_RECONNECT = "The user must connect Salesforce again."

BY_CODE: dict[str, Rule] = {
    # -- transient -------------------------------------------------------------------------
    "UNABLE_TO_LOCK_ROW": _t("Another process held a lock on the record; retried later."),
    "SERVER_UNAVAILABLE": _t("Salesforce was temporarily unavailable; retried later."),
    "UNKNOWN_EXCEPTION": _t("Salesforce failed internally; retried later."),
    "QUERY_TIMEOUT": _t("The query took too long in Salesforce; retried later."),
    "ALL_OR_NONE_OPERATION_ROLLED_BACK": _t(
        "This record was valid but was rolled back because another record in the same "
        "all-or-none request failed; send it again without the failing ones."),
    "PROCESSING_HALTED": _t(
        "This subrequest was rolled back because another one in the same all-or-none "
        "composite request failed."),
    "BATCH_PROCESSING_HALTED": _t(
        "This subrequest was skipped because an earlier one in the batch failed."),
    TIMEOUT: _t("Salesforce did not answer in time."),
    NETWORK_ERROR: _t("The connection to Salesforce failed."),
    # -- auth ------------------------------------------------------------------------------
    "INVALID_SESSION_ID": _a("The access token expired or was revoked; it is refreshed "
                             "with the refresh token.", refresh=True),
    "Bad_OAuth_Token": _a("The access token expired or was revoked; it is refreshed with the "
                          "refresh token.", refresh=True),
    "INVALID_AUTH_HEADER": _a("The request carried no valid access token.", refresh=True),
    "invalid_grant": _a("Salesforce refused the credentials (refresh token expired or "
                        "revoked, password changed, or wrong login host for a sandbox). "
                        + _RECONNECT),
    "invalid_client_id": _a("Salesforce does not know this connected app's consumer key."),
    "invalid_client": _a("The connected app's consumer secret is wrong."),
    "inactive_user": _a("The Salesforce user is inactive. " + _RECONNECT),
    "inactive_org": _a("The Salesforce org is locked, closed or suspended."),
    "redirect_uri_mismatch": _a("The callback URL is not one of the connected app's."),
    "unauthorized_client": _a("The connected app is not allowed to use this OAuth flow."),
    "access_denied": _a("The user denied access to the connected app."),
    "INVALID_OPERATION_WITH_EXPIRED_PASSWORD": _a(
        "The Salesforce user's password expired; they must log in to Salesforce and change it."),
    # -- quota -----------------------------------------------------------------------------
    "REQUEST_LIMIT_EXCEEDED": _q(
        "The org's API request limit is used up (a rolling 24 hours); work waits until it "
        "frees up or the limit is raised."),
    "rate_limit_exceeded": _q("Too many logins for this user in the last hour."),
    "LIMIT_EXCEEDED": _q("A Salesforce limit (such as Bulk API jobs) is used up."),
    "STORAGE_LIMIT_EXCEEDED": _q("The org's data storage is full; free space in Salesforce."),
    # -- permanent: org and access ---------------------------------------------------------
    "API_DISABLED_FOR_ORG": _p(
        "This org's edition has no API access. The API is included in Enterprise, Unlimited, "
        "Developer and Performance Editions, and in Professional Edition with the API add-on."),
    "API_CURRENTLY_DISABLED": _p("The API is disabled for this user's profile."),
    "INSUFFICIENT_ACCESS_OR_READONLY": _p(
        "The Salesforce user may not change this record or object."),
    "INSUFFICIENT_ACCESS": _p("The Salesforce user lacks a permission this call needs."),
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": _p(
        "The Salesforce user may not use a record this one refers to."),
    # -- permanent: the request ------------------------------------------------------------
    "INVALID_FIELD": _p("A field does not exist on the object or is not visible to the user."),
    "INVALID_FIELD_FOR_INSERT_UPDATE": _p(
        "A field cannot be set by this user on create or update."),
    "MALFORMED_QUERY": _p("The SOQL query is malformed."),
    "INVALID_TYPE": _p("The object does not exist or is not visible to the user."),
    "REQUIRED_FIELD_MISSING": _p("A required field is missing."),
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": _p("A validation rule in the org refused the record."),
    "DUPLICATES_DETECTED": _p("A duplicate rule in the org blocked the record."),
    "DUPLICATE_VALUE": _p("A unique field already holds this value on another record."),
    "DUPLICATE_EXTERNAL_ID": _p("Several records have this external id."),
    "STRING_TOO_LONG": _p("A text value is longer than its field allows."),
    "INVALID_EMAIL_ADDRESS": _p("An email address is not valid for Salesforce."),
    "MALFORMED_ID": _p("A record id is malformed."),
    "INVALID_ID_FIELD": _p("A record id is not valid for this object."),
    "INVALID_CROSS_REFERENCE_KEY": _p(
        "A lookup (such as WhoId or WhatId) points at a record that does not exist or is of "
        "the wrong type."),
    "FIELD_INTEGRITY_EXCEPTION": _p("A field value breaks an integrity rule (such as a lookup "
                                    "to a record of the wrong type)."),
    "CANNOT_UPDATE_CONVERTED_LEAD": _p("The Lead was converted and cannot be changed; write to "
                                       "its Contact instead."),
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": _p("A picklist value is not allowed."),
    "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY": _p("A trigger or process in the org failed."),
    "ENTITY_IS_LOCKED": _p("The record is locked (for example by an approval process)."),
    "DELETE_FAILED": _p("The record cannot be deleted."),
    "NOT_FOUND": _p("The requested record or resource does not exist."),
    "ENTITY_IS_DELETED": _p("The record was deleted in Salesforce.", record_gone=True),
    "INVALID_QUERY_LOCATOR": _p("The query cursor expired; run the query again."),
    "INVALID_REPLICATION_DATE": _p("The getUpdated/getDeleted window is not allowed."),
    "MISSING_ARGUMENT": _p("A required argument is missing."),
    "JSON_PARSER_ERROR": _p("Salesforce could not parse the request body."),
    "EXCEEDED_ID_LIMIT": _p("Too many records in one request (200 at most)."),
    "METHOD_NOT_ALLOWED": _p("The HTTP method is not allowed on this resource."),
    "API_ERROR": _p("Salesforce refused the request."),
    "INVALIDJOB": _p("The Bulk API job request is invalid."),
    "INVALIDJOBSTATE": _p("The Bulk API job is not in a state that allows this."),
    "INVALID_LOCATOR": _p("The Bulk API results locator is invalid."),
    "Bad_Id": _p("The identity URL does not belong to this token's user."),
    BULK_JOB_FAILED: _p("The Bulk API job failed in Salesforce."),
    "invalid_request": _p("The OAuth request is malformed."),
    "unsupported_grant_type": _p("The OAuth grant type is not supported."),
    "unsupported_response_type": _p("The OAuth response type is not supported."),
    "unsupported_token_type": _p("Salesforce does not know this token (already revoked?)."),
}

BY_STATUS: dict[int, Rule] = {
    300: _p("Several records match this external id."),
    401: _a("Salesforce refused the access token.", refresh=True),
    404: _p("The requested record or resource does not exist."),
    406: _t("Salesforce refused the request for now (406); retried later."),
    420: _t("Salesforce's edge asked to slow down (420); retried later."),
    429: _t("Too many concurrent requests (429); retried later."),
    500: _t("Salesforce failed internally (500); retried later."),
    502: _t("Bad gateway between us and Salesforce (502); retried later."),
    503: _t("Salesforce was temporarily unavailable (503); retried later."),
    504: _t("A gateway timed out waiting for Salesforce (504); retried later."),
}

_UNKNOWN_SERVER = _t("Salesforce failed with an unknown server error; retried later.")
_UNKNOWN_CLIENT = _p("Salesforce refused the request.")

# Answers after which a write may have been carried out even though it "failed".
MAYBE_DONE_STATUSES = frozenset({502, 504})


def rule_for(status: int, error_code: str | None) -> Rule:
    """The code's rule, else the status's, else 5xx transient and everything else permanent."""
    if error_code is not None:
        rule = BY_CODE.get(error_code)
        if rule is not None:
            return rule
    rule = BY_STATUS.get(status)
    if rule is not None:
        return rule
    return _UNKNOWN_SERVER if status >= 500 else _UNKNOWN_CLIENT


def classify(status: int, error_code: str | None) -> ErrorKind:
    return rule_for(status, error_code).kind


@dataclass(frozen=True)
class RecordError:
    """One error item: of a REST error body, or of one record in sObject Collections."""

    status_code: str | None  # Salesforce's errorCode / statusCode
    message: str
    fields: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. duplicateResult

    @property
    def rule(self) -> Rule:
        return rule_for(400, self.status_code)

    @property
    def kind(self) -> ErrorKind:
        return self.rule.kind

    @property
    def record_gone(self) -> bool:
        return self.rule.record_gone

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> RecordError:
        code = item.get("statusCode") or item.get("errorCode")
        fields = item.get("fields") or ()
        extra = {k: v for k, v in item.items()
                 if k not in ("statusCode", "errorCode", "message", "fields")}
        return cls(str(code) if code else None, str(item.get("message") or ""),
                   tuple(str(f) for f in fields), extra)


class SalesforceError(Exception):
    """A failed call: HTTP status (0 when no answer came), Salesforce's code and message, and
    the classification from the table."""

    def __init__(self, status: int, error_code: str | None, message: str, *,
                 fields: Iterable[str] = (), errors: Iterable[RecordError] = (),
                 ambiguous: bool = False, method: str | None = None,
                 url: str | None = None) -> None:
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = tuple(fields)
        # Every error item of the body; for collections, the failed records' errors.
        self.errors = tuple(errors)
        # The request may have been carried out (an answer lost after it was sent): a write
        # is not retried blindly, the caller reconciles.
        self.ambiguous = ambiguous
        self.method = method
        self.url = url
        self.rule = rule_for(status, error_code)
        where = f" ({method} {url})" if method and url else ""
        super().__init__(f"{error_code or status}: {message}{where}")

    @property
    def kind(self) -> ErrorKind:
        return self.rule.kind

    @property
    def retryable(self) -> bool:
        return self.rule.retryable

    @property
    def record_gone(self) -> bool:
        return self.rule.record_gone

    @property
    def explanation(self) -> str:
        return self.rule.explanation


def _where(source: httpx.Response | httpx.HTTPError) -> tuple[str | None, str | None]:
    """Method and URL (without the query, which may hold SOQL) of the failed request."""
    try:
        request = source.request
    except RuntimeError:  # built without a request (tests, or a failure before one existed)
        return None, None
    return request.method, str(request.url.copy_with(query=None))


def _body_json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def parse_error(response: httpx.Response) -> SalesforceError:
    """The error of an answer whose body was read."""
    method, url = _where(response)
    return error_from_body(response.status_code, _body_json(response), response.text,
                           method=method, url=url, reason=response.reason_phrase)


def error_from_body(status: int, body: Any, text: str = "", *, method: str | None = None,
                    url: str | None = None, reason: str = "") -> SalesforceError:
    """An error from a decoded body: the REST list shape, the OAuth shape, a list of URLs
    (300 on upsert), or, failing JSON, the text (plain text, HTML)."""
    where: dict[str, Any] = {"method": method, "url": url,
                             "ambiguous": status in MAYBE_DONE_STATUSES}
    if isinstance(body, dict) and ("error" in body or "error_description" in body):
        return SalesforceError(status, str(body.get("error") or "") or None,
                               str(body.get("error_description") or ""), **where)
    if isinstance(body, dict) and ("errorCode" in body or "message" in body):
        body = [body]
    if isinstance(body, list) and body and all(isinstance(i, dict) for i in body):
        items = [RecordError.from_json(i) for i in body]
        first = items[0]
        return SalesforceError(status, first.status_code, first.message, fields=first.fields,
                               errors=items, **where)
    if isinstance(body, list) and body and all(isinstance(i, str) for i in body):
        return SalesforceError(status, None, "Several records match: " + ", ".join(body),
                               **where)
    text = text.strip()
    # Some endpoints (identity) answer a bare word such as Bad_OAuth_Token.
    code = text if "_" in text and text.replace("_", "").isalpha() and len(text) < 64 else None
    return SalesforceError(status, code, text[:500] or reason or f"HTTP {status}", **where)


def transport_error(exc: httpx.HTTPError, *, sent: bool | None = None) -> SalesforceError:
    """A failure below HTTP.  ``ambiguous`` when the request may have reached Salesforce and
    been carried out: the answer was lost after the request was sent."""
    method, url = _where(exc)
    if sent is None:
        # A connect or pool failure never sent anything; a failed write sent part of the
        # request at most, which Salesforce does not act on.  Read-side failures come after
        # the whole request went out.
        sent = isinstance(exc, httpx.ReadTimeout | httpx.ReadError | httpx.RemoteProtocolError)
    code = TIMEOUT if isinstance(exc, httpx.TimeoutException) else NETWORK_ERROR
    return SalesforceError(0, code, f"{type(exc).__name__}: {exc}".rstrip(": "),
                           ambiguous=sent, method=method, url=url)

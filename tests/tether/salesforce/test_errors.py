"""The classification table and the error parser: every listed code, every body shape."""

from __future__ import annotations

import json

import httpx
import pytest

from tether.salesforce.composite import CompositeResult, SaveResult
from tether.salesforce.errors import (
    BY_CODE,
    NETWORK_ERROR,
    TIMEOUT,
    ErrorKind,
    SalesforceError,
    classify,
    parse_error,
    rule_for,
    transport_error,
)
from tether.salesforce.retry import Backoff, should_retry

T, A, Q, P = ErrorKind.TRANSIENT, ErrorKind.AUTH, ErrorKind.QUOTA, ErrorKind.PERMANENT

# (status, code, kind, retryable): as Salesforce answers them.
CASES = [
    (401, "INVALID_SESSION_ID", A, True),
    (400, "invalid_grant", A, False),
    (403, "REQUEST_LIMIT_EXCEEDED", Q, False),
    (403, "API_DISABLED_FOR_ORG", P, False),
    (400, "UNABLE_TO_LOCK_ROW", T, True),
    (503, "SERVER_UNAVAILABLE", T, True),
    (503, None, T, True),
    (500, None, T, True),
    (500, "UNKNOWN_EXCEPTION", T, True),
    (502, None, T, True),
    (504, None, T, True),
    (429, None, T, True),
    (420, None, T, True),
    (406, None, T, True),
    (403, "INSUFFICIENT_ACCESS_OR_READONLY", P, False),
    (400, "INVALID_FIELD", P, False),
    (400, "INVALID_FIELD_FOR_INSERT_UPDATE", P, False),
    (400, "MALFORMED_QUERY", P, False),
    (400, "INVALID_TYPE", P, False),
    (400, "REQUIRED_FIELD_MISSING", P, False),
    (400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", P, False),
    (400, "DUPLICATES_DETECTED", P, False),
    (400, "DUPLICATE_VALUE", P, False),
    (400, "STRING_TOO_LONG", P, False),
    (400, "INVALID_EMAIL_ADDRESS", P, False),
    (400, "MALFORMED_ID", P, False),
    (400, "INVALID_CROSS_REFERENCE_KEY", P, False),
    (400, "FIELD_INTEGRITY_EXCEPTION", P, False),
    (400, "CANNOT_UPDATE_CONVERTED_LEAD", P, False),
    (404, "NOT_FOUND", P, False),
    (400, "ENTITY_IS_DELETED", P, False),
    (400, "ALL_OR_NONE_OPERATION_ROLLED_BACK", T, True),
    (400, "PROCESSING_HALTED", T, True),
    (300, None, P, False),
    (401, None, A, True),
    (403, "Bad_OAuth_Token", A, True),
    (400, "invalid_client_id", A, False),
    (0, TIMEOUT, T, True),
    (0, NETWORK_ERROR, T, True),
]


@pytest.mark.parametrize(("status", "code", "kind", "retryable"), CASES)
def test_table(status: int, code: str | None, kind: ErrorKind, retryable: bool) -> None:
    assert classify(status, code) is kind
    rule = rule_for(status, code)
    assert rule.retryable is retryable
    assert rule.explanation


def test_only_entity_is_deleted_marks_the_record_gone() -> None:
    assert rule_for(400, "ENTITY_IS_DELETED").record_gone
    assert [code for code, rule in BY_CODE.items() if rule.record_gone] == ["ENTITY_IS_DELETED"]


@pytest.mark.parametrize(("status", "kind"), [(500, T), (501, T), (599, T), (400, P), (403, P),
                                              (405, P), (409, P), (418, P)])
def test_unknown_codes(status: int, kind: ErrorKind) -> None:
    assert classify(status, "SOMETHING_NEW") is kind


def test_a_known_code_wins_over_its_status() -> None:
    assert classify(500, "INVALID_FIELD") is P
    assert classify(400, "SERVER_UNAVAILABLE") is T


def test_quota_and_auth_are_never_transient() -> None:
    for rule in BY_CODE.values():
        if rule.kind in (ErrorKind.QUOTA, ErrorKind.PERMANENT):
            assert not rule.retryable


def _response(status: int, body: object = None, *, text: str | None = None,
              method: str = "POST") -> httpx.Response:
    request = httpx.Request(method, "https://example.my.salesforce.com/services/data/v59.0/"
                            "sobjects/Contact?secret=1")
    content = text.encode() if text is not None else json.dumps(body).encode()
    return httpx.Response(status, content=content, request=request)


def test_parse_the_rest_list_shape() -> None:
    error = parse_error(_response(400, [
        {"message": "Required fields are missing: [LastName]",
         "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName"]},
        {"message": "second", "errorCode": "INVALID_FIELD", "fields": []}]))
    assert (error.status, error.error_code, error.fields) == (400, "REQUIRED_FIELD_MISSING",
                                                              ("LastName",))
    assert error.kind is P and not error.retryable and not error.ambiguous
    assert [e.status_code for e in error.errors] == ["REQUIRED_FIELD_MISSING", "INVALID_FIELD"]
    assert error.method == "POST" and error.url is not None and "secret" not in error.url


def test_parse_keeps_extra_details() -> None:
    error = parse_error(_response(400, [
        {"message": "dup", "errorCode": "DUPLICATES_DETECTED", "fields": [],
         "duplicateResult": {"allowSave": False}}]))
    assert error.errors[0].extra["duplicateResult"] == {"allowSave": False}


def test_parse_the_oauth_shape() -> None:
    error = parse_error(_response(400, {"error": "invalid_grant",
                                        "error_description": "authentication failure"}))
    assert (error.error_code, error.message) == ("invalid_grant", "authentication failure")
    assert error.kind is A and not error.retryable


def test_parse_a_non_json_body() -> None:
    error = parse_error(_response(503, text="<html><body>Maintenance</body></html>"))
    assert error.error_code is None and error.kind is T and "Maintenance" in error.message
    bare = parse_error(_response(403, text="Bad_OAuth_Token", method="GET"))
    assert bare.error_code == "Bad_OAuth_Token" and bare.kind is A and bare.retryable
    empty = parse_error(_response(502, text=""))
    assert empty.kind is T and empty.ambiguous and empty.message


def test_parse_several_matches_on_upsert() -> None:
    error = parse_error(_response(300, ["/services/data/v59.0/sobjects/Contact/003A",
                                        "/services/data/v59.0/sobjects/Contact/003B"]))
    assert error.status == 300 and error.kind is P and "003B" in error.message


def test_transport_errors() -> None:
    request = httpx.Request("POST", "https://example.my.salesforce.com/x")
    read = transport_error(httpx.ReadTimeout("timed out", request=request))
    assert (read.status, read.error_code, read.kind, read.ambiguous) == (0, TIMEOUT, T, True)
    connect = transport_error(httpx.ConnectTimeout("no", request=request))
    assert connect.error_code == TIMEOUT and not connect.ambiguous
    refused = transport_error(httpx.ConnectError("refused", request=request))
    assert (refused.error_code, refused.ambiguous) == (NETWORK_ERROR, False)
    dropped = transport_error(httpx.RemoteProtocolError("closed", request=request))
    assert dropped.ambiguous


def test_save_result_and_composite_result_errors() -> None:
    failed = SaveResult.from_json({"id": None, "success": False, "errors": [
        {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]})
    assert failed.error is not None and failed.error.record_gone
    assert failed.errors[0].kind is P
    rolled = SaveResult.from_json({"id": None, "success": False, "errors": [
        {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "x", "fields": []}]})
    assert rolled.error is not None and rolled.error.kind is T
    assert SaveResult.from_json({"id": "003", "success": True, "errors": []}).error is None
    result = CompositeResult.from_json({"referenceId": "c", "httpStatusCode": 400, "body": [
        {"errorCode": "PROCESSING_HALTED", "message": "rolled back"}], "httpHeaders": {}})
    assert result.error is not None and result.error.error_code == "PROCESSING_HALTED"


def test_retry_decision() -> None:
    transient = SalesforceError(503, "SERVER_UNAVAILABLE", "down")
    lost = SalesforceError(0, TIMEOUT, "read timeout", ambiguous=True)
    quota = SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", "limit")
    assert should_retry(transient, attempt=0, max_retries=2, idempotent=False)
    assert not should_retry(transient, attempt=2, max_retries=2, idempotent=False)
    assert not should_retry(lost, attempt=0, max_retries=2, idempotent=False)
    assert should_retry(lost, attempt=0, max_retries=2, idempotent=True)
    assert not should_retry(quota, attempt=0, max_retries=2, idempotent=True)
    assert not should_retry(SalesforceError(401, "INVALID_SESSION_ID", "x"), attempt=0,
                            max_retries=2, idempotent=True)


def test_backoff_is_full_jitter_capped() -> None:
    backoff = Backoff(base=0.5, cap=4.0)
    assert [backoff.delay(n, rng=lambda: 1.0) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert backoff.delay(3, rng=lambda: 0.0) == 0.0

"""Shapes of composite and sObject Collections requests and answers (pure)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from tether.salesforce.errors import RecordError, SalesforceError, error_from_body

COLLECTION_LIMIT = 200  # records in one sObject Collections call
COMPOSITE_LIMIT = 25  # subrequests in one composite call
# Of those, sObject Collections and query subrequests: so one composite call carries up to
# 1,000 records (Salesforce counts the whole composite request as one API call).
COMPOSITE_COLLECTIONS_LIMIT = 5

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = COLLECTION_LIMIT) -> Iterator[list[T]]:
    """``items`` in lists of ``size``: what a caller sends, one collections call each."""
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


@dataclass(frozen=True)
class SaveResult:
    """One record's outcome in sObject Collections (``errors`` carry ``statusCode``)."""

    id: str | None
    success: bool
    errors: tuple[RecordError, ...] = ()
    created: bool | None = None  # upsert only

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> SaveResult:
        created = item.get("created")
        return cls(id=item.get("id") or None, success=bool(item.get("success")),
                   errors=tuple(RecordError.from_json(e) for e in item.get("errors") or ()),
                   created=bool(created) if created is not None else None)

    @property
    def error(self) -> SalesforceError | None:
        """The failure as an error (classified by its first statusCode), or None."""
        if self.success:
            return None
        first = self.errors[0] if self.errors else RecordError(None, "record not saved")
        return SalesforceError(400, first.status_code, first.message, fields=first.fields,
                               errors=self.errors)


def typed_records(records: Sequence[Mapping[str, Any]],
                  sobject: str | None) -> list[dict[str, Any]]:
    """Records with ``attributes.type``: their own, else ``sobject``."""
    out = []
    for record in records:
        item = dict(record)
        attributes = item.get("attributes")
        if not (isinstance(attributes, Mapping) and attributes.get("type")):
            if sobject is None:
                raise ValueError("a record has no attributes.type and no sobject was given")
            item["attributes"] = {"type": sobject}
        out.append(item)
    return out


def check_collection_size(count: int) -> None:
    # The caller chunks (see ``chunks``): it must record each chunk's results before the next
    # is sent, and allOrNone cannot span two calls anyway.
    if count > COLLECTION_LIMIT:
        raise ValueError(f"{count} records: sObject Collections take {COLLECTION_LIMIT} at most; "
                         "send them in chunks")


@dataclass(frozen=True)
class CompositeSubrequest:
    method: str
    url: str  # below /services/data/vXX.X/ (e.g. "sobjects/Contact"), or from /services/
    reference_id: str
    body: Any = None
    http_headers: Mapping[str, str] = field(default_factory=dict)

    def to_json(self, api_version: str) -> dict[str, Any]:
        url = self.url if self.url.startswith("/services/") else (
            f"/services/data/v{api_version}/{self.url.lstrip('/')}")
        item: dict[str, Any] = {"method": self.method.upper(), "url": url,
                                "referenceId": self.reference_id}
        if self.body is not None:
            item["body"] = self.body
        if self.http_headers:
            item["httpHeaders"] = dict(self.http_headers)
        return item


def collection_request(action: str, sobject: str | None,
                       records: Sequence[Mapping[str, Any]] = (), *,
                       ext_field: str | None = None, ids: Sequence[str] = (),
                       all_or_none: bool = False, reference_id: str = "c0"
                       ) -> CompositeSubrequest:
    """One sObject Collections call (``create``, ``update``, ``upsert`` on ``ext_field``, or
    ``delete`` of ``ids``), sent alone or as a subrequest of a composite call."""
    if action == "delete":
        check_collection_size(len(ids))
        flag = "true" if all_or_none else "false"
        return CompositeSubrequest(
            "DELETE", f"composite/sobjects?ids={','.join(ids)}&allOrNone={flag}", reference_id)
    check_collection_size(len(records))
    body = {"allOrNone": all_or_none, "records": typed_records(records, sobject)}
    if action == "create":
        return CompositeSubrequest("POST", "composite/sobjects", reference_id, body)
    if action == "update":
        return CompositeSubrequest("PATCH", "composite/sobjects", reference_id, body)
    if action == "upsert" and sobject and ext_field:
        return CompositeSubrequest(
            "PATCH", f"composite/sobjects/{quote(sobject, safe='')}/{quote(ext_field, safe='')}",
            reference_id, body)
    raise ValueError(f"no sObject Collections call for {action!r} on {sobject!r}")


def save_results(body: Any) -> list[SaveResult]:
    return [SaveResult.from_json(item) for item in body or ()]


@dataclass(frozen=True)
class CompositeResult:
    reference_id: str
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> CompositeResult:
        return cls(reference_id=str(item.get("referenceId") or ""),
                   status=int(item.get("httpStatusCode") or 0), body=item.get("body"),
                   headers=dict(item.get("httpHeaders") or {}))

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> SalesforceError | None:
        return None if self.ok else error_from_body(self.status, self.body)

    def checked(self) -> Any:
        """The body, or the subrequest's error raised."""
        if not self.ok:
            raise error_from_body(self.status, self.body)
        return self.body

"""What the SOQL evaluator needs from an org: its schema, its records and the reader's rights.

The REST query endpoint, queryAll, Bulk 2.0 query jobs and the admin API all run SOQL through
this protocol; ``sfemu.api`` implements it over the store for one (org, user).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from sfemu.schema import OrgSchema


class SoqlError(Exception):
    """A query Salesforce would refuse: MALFORMED_QUERY, INVALID_FIELD or INVALID_TYPE."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


class QueryContext(Protocol):
    schema: OrgSchema
    api_version: str  # e.g. "59.0", used in attributes.url

    def now(self) -> datetime:
        """The current instant (timezone-aware, UTC) for date literals such as TODAY."""
        ...

    def can_read_object(self, sobject: str) -> bool: ...

    def can_read_field(self, sobject: str, field: str) -> bool: ...

    def scan(self, sobject: str, *, include_deleted: bool,
             lookups: dict[str, list[str]] | None = None,
             after_id: str = "") -> Iterator[dict[str, Any]]:
        """Records (field name -> stored value) in ascending Id order, with Id > after_id.

        ``lookups`` narrow the scan through indexes: for each field, the record's value must
        equal one of the given strings, case-insensitively.  Only fields whose FieldDef.indexed
        is true may be used there.  Stored values are JSON values: strings for text, ids, dates
        ('2026-11-28') and datetimes ('2026-11-28T10:00:00.000+0000'), numbers, booleans, None.
        """
        ...

    def get_many(self, sobject: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Records by 18-character Id (deleted ones included, each carries IsDeleted)."""
        ...

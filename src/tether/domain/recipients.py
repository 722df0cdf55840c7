"""A sequence's recipients as given (a JSON list, or a CSV whose header names ``Email`` and
variable labels), read and checked: each error names the row and the column.  Pure."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tether.domain.events import is_email

MAX_RECIPIENTS = 10_000
MAX_LABEL = 100
MAX_VALUE = 1_000
MAX_VARIABLES = 50


class RecipientsError(ValueError):
    def __init__(self, detail: str, field: str, problems: Sequence[dict[str, Any]] = ()
                 ) -> None:
        super().__init__(detail)
        self.detail, self.field, self.problems = detail, field, list(problems)


@dataclass(frozen=True)
class Given:
    row: int  # 1-based: a CSV's first data row is row 2 (the header is row 1)
    email: str
    variables: Mapping[str, str] = field(default_factory=dict)


def _email(raw: object, where: str) -> str:
    value = str(raw or "").strip().lower()
    if not is_email(value) or any(c in value for c in "\r\n<>,;\""):
        raise RecipientsError(f"{where}: '{'' if raw is None else raw}' is not an email "
                              "address", where)
    return value


def _variables(raw: Any, where: str, *, columns: bool = False) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise RecipientsError(f"{where}: variables are an object of label: value", where)
    if len(raw) > MAX_VARIABLES:
        raise RecipientsError(f"{where}: at most {MAX_VARIABLES} variables", where)
    out: dict[str, str] = {}
    for label, value in raw.items():
        name = str(label).strip()
        if not name or len(name) > MAX_LABEL:
            raise RecipientsError(f"{where}: a label of 1 to {MAX_LABEL} characters "
                                  f"('{str(label)[:40]}')", where)
        if value is None:
            continue
        path = f"{where}, column {name}" if columns else f"{where}.{name}"
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise RecipientsError(f"{path}: must be text or a number", path)
        text = str(value).strip()
        if len(text) > MAX_VALUE:
            raise RecipientsError(f"{path}: at most {MAX_VALUE} characters", path)
        if text:
            out[name] = text
    return out


def _bounded(n: int) -> None:
    if n > MAX_RECIPIENTS:
        raise RecipientsError(f"at most {MAX_RECIPIENTS:,} recipients at a time ({n:,} given)",
                              "recipients")
    if n == 0:
        raise RecipientsError("no recipients given", "recipients")


def from_list(raw: Any) -> list[Given]:
    """[{"email", "variables": {label: value}}, …]"""
    if not isinstance(raw, list):
        raise RecipientsError("recipients: a list of {email, variables}", "recipients")
    _bounded(len(raw))
    out = []
    for i, item in enumerate(raw):
        where = f"recipients[{i}]"
        if not isinstance(item, Mapping):
            raise RecipientsError(f"{where}: an object {{email, variables}}", where)
        unknown = set(item) - {"email", "variables"}
        if unknown:
            name = sorted(unknown)[0]
            raise RecipientsError(f"{where}.{name}: not a field (email, variables)",
                                  f"{where}.{name}")
        out.append(Given(i + 1, _email(item.get("email"), f"{where}.email"),
                         _variables(item.get("variables"), f"{where}.variables")))
    return out


def _rows(text: str) -> list[list[str]]:
    """The CSV's rows; one a CSV reader cannot read (a stray quote or carriage return) is
    named by its line."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        return list(reader)
    except csv.Error as exc:
        raise RecipientsError(f"the CSV cannot be read at line {reader.line_num}: {exc}",
                              "csv") from None


def from_csv(text: str) -> list[Given]:
    """A header row of ``Email`` (any case) and labels, then one row per person; empty rows
    are skipped.  Every bad row is named, up to 20."""
    rows = _rows(text)
    reader = iter(rows)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise RecipientsError("the CSV is empty: its first row names the columns (Email and "
                              "the variables' labels)", "csv")
    names = [h.strip() for h in header]
    lowered = [n.lower() for n in names]
    if "email" not in lowered:
        raise RecipientsError("the CSV has no Email column (its first row names the "
                              f"columns: {', '.join(names)[:300]})", "csv.Email")
    at = lowered.index("email")
    seen: dict[str, int] = {}
    for n in names:
        if not n:
            raise RecipientsError("the CSV has a column without a name in its first row",
                                  "csv")
        if n.lower() in seen:
            raise RecipientsError(f"the CSV has two columns named {n}", f"csv.{n}")
        seen[n.lower()] = 1
    out: list[Given] = []
    problems: list[dict[str, Any]] = []
    for row_n, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(names):
            problems.append({"row": row_n, "column": None,
                             "detail": f"row {row_n}: {len(row)} cells, but the header "
                             f"names {len(names)} columns"})
            continue
        cells = dict(zip(names, row, strict=False))
        try:
            email = _email(cells.get(names[at]), f"row {row_n}, column {names[at]}")
            variables = _variables({k: v for k, v in cells.items() if k != names[at]},
                                   f"row {row_n}", columns=True)
        except RecipientsError as exc:
            problems.append({"row": row_n, "column": exc.field.partition(", column ")[2]
                             or None, "detail": exc.detail})
            continue
        out.append(Given(row_n, email, variables))
    if problems:
        raise RecipientsError("; ".join(p["detail"] for p in problems[:20])
                              + (f"; and {len(problems) - 20} more" if len(problems) > 20
                                 else ""), "csv", problems)
    _bounded(len(out))
    return out


def missing_required(given: Sequence[Given], required: Sequence[str], sobject: str,
                     *, csv_columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The people lacking a layout-required field's label among their variables, by row
    (a CSV without the column at all is named once, as a column)."""
    if csv_columns is not None:
        have = {c.strip().lower() for c in csv_columns}
        absent = [label for label in required if label.lower() not in have]
        if absent:
            return [{"row": None, "column": label,
                     "detail": f"the CSV has no {label} column, required to create a "
                     f"{sobject}"} for label in absent]
    out = []
    for g in given:
        have = {k.lower() for k, v in g.variables.items() if v}
        lacking = [label for label in required if label.lower() not in have]
        if lacking:
            out.append({"row": g.row, "email": g.email, "column": lacking[0],
                        "detail": f"row {g.row} ({g.email}): {', '.join(lacking)} "
                        f"{'is' if len(lacking) == 1 else 'are'} empty, required to create "
                        f"a {sobject}"})
    return out


def header_of(text: str) -> list[str]:
    first = next(iter(_rows(text)), [])
    return [h.strip() for h in first]

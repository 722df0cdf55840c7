"""CSV a spreadsheet opens as data, never as formulas (OWASP "CSV Injection").

A recipient such as ``=HYPERLINK(...)@example.com`` is a valid address, and Excel, LibreOffice
and Google Sheets run a cell starting with ``=``, ``+``, ``-`` or ``@`` (or with a tab or a
carriage return before one) as a formula.  Such a cell gets a leading single quote, which a
spreadsheet shows as text; and every text cell is quoted, so a separator inside a value (``,``,
or ``;`` where the spreadsheet's locale splits on it) cannot start a new cell that begins with
one of those characters.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: object) -> object:
    """A text cell that a spreadsheet would read as a formula, with ``'`` before it; any other
    value as it is (numbers stay numbers)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeCsvWriter:
    """Writes a header (the caller's own column names, as they are) and rows of untrusted
    values (each text cell neutralised and quoted, embedded quotes doubled by the csv
    module)."""

    def __init__(self, out: TextIO) -> None:
        self._header = csv.writer(out)
        self._rows = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC)

    def header(self, names: Iterable[str]) -> None:
        self._header.writerow(names)

    def row(self, values: Iterable[Any]) -> None:
        self._rows.writerow([neutralised(v) for v in values])

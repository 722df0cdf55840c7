"""Salesforce record ids: 15 case-sensitive characters plus a 3-character case-safe suffix."""

from __future__ import annotations

import re

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}([A-Z0-5]{3})?$")

# Key prefixes of the standard objects sfemu knows.
KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "Task": "00T",
    "Event": "00U",
    "User": "005",
    "Organization": "00D",
    "OpportunityContactRole": "00K",
    "Profile": "00e",
    "BulkJob": "750",  # AsyncApexJob-style ids of Bulk API jobs
}
# Salesforce writes OpportunityContactRole ids with prefix 00K; the issue names it 00k, which
# real orgs never show because prefixes are case-sensitive.  Both are accepted on input.


def checksum(id15: str) -> str:
    """The 3-character suffix: for each 5-character chunk, a mask of its upper-case letters."""
    out = []
    for chunk in range(3):
        mask = 0
        for pos in range(5):
            ch = id15[chunk * 5 + pos]
            if "A" <= ch <= "Z":
                mask |= 1 << pos
        out.append(_SUFFIX_ALPHABET[mask])
    return "".join(out)


def make_id(prefix: str, pod: str, number: int) -> str:
    """An 18-character id from a 3-character key prefix, a 2-character pod and a counter."""
    digits = []
    n = number
    for _ in range(9):
        n, rem = divmod(n, 62)
        digits.append(_BASE62[rem])
    if n:
        raise ValueError("id counter overflow")
    id15 = prefix + pod + "0" + "".join(reversed(digits))
    return id15 + checksum(id15)


def is_valid_id(value: str) -> bool:
    if not _ID_RE.match(value):
        return False
    return len(value) == 15 or checksum(value[:15]) == value[15:]


def to18(value: str) -> str:
    """Normalise a 15- or 18-character id to 18 characters; raise ValueError when malformed."""
    if not is_valid_id(value):
        raise ValueError(f"invalid id: {value}")
    return value if len(value) == 18 else value + checksum(value)

"""Email templates: Salesforce field labels in double braces, with an optional fallback
(``{{First Name}}``, ``{{First Name|there}}``).

A small parser and renderer of our own, never a template engine over what a user wrote:
a template is literal text and variables, and rendering only substitutes values.  In a body
(HTML) a value is escaped; in a subject (one header line) it has its line breaks taken out.
A fallback is the author's own text, like the rest of the template, so it is not escaped.

Pure: the service reads the field labels and the recipient's records.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OPEN, CLOSE, BAR = "{{", "}}", "|"
# Whatever a mail header or a line-based reader could take for the end of a line.
LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")
_SPACES = re.compile(r"\s+")
# What a Lead has in place of its Account's fields (the Lead is not linked to an Account).
LEAD_AS_ACCOUNT: Mapping[str, str] = {"Name": "Company"}


class TemplateError(ValueError):
    """The template cannot be parsed; ``position`` is the 0-based index of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True)
class Variable:
    label: str  # as written, whitespace around it dropped
    fallback: str | None  # None: no ``|``; "" is a fallback too (renders nothing)
    position: int

    @property
    def key(self) -> str:
        return key(self.label)


@dataclass(frozen=True)
class Template:
    parts: tuple[str | Variable, ...]

    @property
    def variables(self) -> list[Variable]:
        return [p for p in self.parts if isinstance(p, Variable)]

    @property
    def labels(self) -> list[str]:
        """Each label once (case and spacing ignored), in the order they first appear."""
        return unique(v.label for v in self.variables)


@dataclass(frozen=True)
class Rendered:
    text: str
    missing: list[str]  # labels with no value and no fallback, each once


def key(label: str) -> str:
    """A label as it is compared: case and runs of whitespace ignored."""
    return _SPACES.sub(" ", label.strip()).casefold()


def unique(labels: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for label in labels:
        if key(label) not in seen:
            seen.add(key(label))
            out.append(label)
    return out


def parse(text: str) -> Template:
    parts: list[str | Variable] = []
    at = 0
    while True:
        start = text.find(OPEN, at)
        if start < 0:
            break
        end = text.find(CLOSE, start + len(OPEN))
        inner_open = text.find(OPEN, start + len(OPEN))
        if end < 0 or 0 <= inner_open < end:
            raise TemplateError(f"'{OPEN}' at character {start + 1} has no closing "
                                f"'{CLOSE}'", start)
        label, bar, fallback = text[start + len(OPEN):end].partition(BAR)
        if not label.strip():
            raise TemplateError(f"the variable at character {start + 1} has no label", start)
        if start > at:
            parts.append(text[at:start])
        parts.append(Variable(label.strip(), fallback.strip() if bar else None, start))
        at = end + len(CLOSE)
    if at < len(text):
        parts.append(text[at:])
    return Template(tuple(parts))


def one_line(text: str) -> str:
    """Text for a header: each run of line breaks becomes one space."""
    return LINE_BREAKS.sub(" ", text)


def render(template: Template, values: Mapping[str, str], *, html_body: bool) -> Rendered:
    """The template with each variable's value (``values`` by :func:`key`), or its fallback;
    a body's values HTML-escaped, a subject's made one line."""
    out: list[str] = []
    missing: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part if html_body else one_line(part))
            continue
        value = values.get(part.key, "")
        if value:
            out.append(html.escape(value, quote=True) if html_body else one_line(value))
        elif part.fallback is not None:
            out.append(part.fallback if html_body else one_line(part.fallback))
        else:
            missing.append(part.label)
    return Rendered("".join(out), unique(missing))


def nearest(label: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The known labels closest to a mistyped one (case and spacing ignored)."""
    by_key = {key(k): k for k in known}
    return [by_key[k] for k in difflib.get_close_matches(key(label), list(by_key), n=n)]


def unknown(labels: Iterable[str], known: Iterable[str]) -> list[str]:
    keys = {key(k) for k in known}
    return [label for label in labels if key(label) not in keys]


# -- where values come from ----------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """One record's values by label: ``fields`` maps :func:`key` of a label to an API name."""

    fields: Mapping[str, str]
    data: Mapping[str, Any]

    @classmethod
    def of(cls, labels: Mapping[str, str], data: Mapping[str, Any]) -> Source:
        """From labels by API name (the first field with a label keeps it)."""
        fields: dict[str, str] = {}
        for name, label in labels.items():
            fields.setdefault(key(label), name)
        return cls(fields, data)


def lead_as_account(account_labels: Mapping[str, str], lead: Mapping[str, Any]) -> Source:
    """A Lead's stand-ins for Account fields: ``{{Account Name}}`` reads its Company."""
    return Source.of({lead_field: account_labels[name] for name, lead_field in
                      LEAD_AS_ACCOUNT.items() if name in account_labels}, lead)


def values_for(labels: Iterable[str], sources: Sequence[Source]) -> dict[str, str]:
    """Each label's value (by :func:`key`) from the first source that has a field with that
    label (the person's own, then their Account's); empty values are left out."""
    out: dict[str, str] = {}
    for label in labels:
        k = key(label)
        for source in sources:
            name = source.fields.get(k)
            if name is not None:
                text = as_text(source.data.get(name))
                if text:
                    out[k] = text
                break
    return out


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)

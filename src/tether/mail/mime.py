"""Outgoing messages built as MIME (multipart/alternative, text and HTML), and parsing of
raw messages; the standard library's `email` package only."""

from __future__ import annotations

import datetime
import email
import email.policy
import email.utils
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from html.parser import HTMLParser

_BLOCKS = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5",
           "h6", "blockquote", "pre", "hr", "section", "article", "header", "footer"}
_HIDDEN = {"script", "style", "head", "title", "template"}


@dataclass(frozen=True)
class Outgoing:
    message_id: str  # "<local@domain>", with angle brackets
    from_address: str
    from_name: str
    to: list[str]  # the visible To; Bcc never appears in headers
    cc: list[str]
    subject: str
    html: str
    text: str | None = None  # None: derived from html
    date: datetime.datetime | None = None  # None: now
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    list_unsubscribe: str | None = None  # an https URL
    one_click: bool = False  # RFC 8058 List-Unsubscribe-Post
    headers: tuple[tuple[str, str], ...] = ()


def _clean(header: str, value: str) -> str:
    # A CR or LF in a value would let it start a header of its own.
    if "\r" in value or "\n" in value:
        raise ValueError(f"{header} contains a line break")
    return value


def _address(header: str, address: str, name: str = "") -> Address:
    _clean(header, address)
    _clean(header, name)
    try:
        return Address(display_name=name, addr_spec=address)
    except (ValueError, IndexError) as exc:
        raise ValueError(f"{header} is not an address: {address!r}") from exc


def build(out: Outgoing) -> EmailMessage:
    """The message as sent: Message-ID, Date with its offset, From with its display name, To,
    Cc, Subject, threading and unsubscribe headers, then text and HTML alternatives in UTF-8."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Message-ID"] = _clean("Message-ID", out.message_id)
    when = out.date or datetime.datetime.now(datetime.UTC)
    if when.tzinfo is None:
        raise ValueError("Date has no UTC offset")
    msg["Date"] = email.utils.format_datetime(when)
    msg["From"] = _address("From", out.from_address, out.from_name)
    if out.to:
        msg["To"] = [_address("To", a) for a in out.to]
    if out.cc:
        msg["Cc"] = [_address("Cc", a) for a in out.cc]
    msg["Subject"] = _clean("Subject", out.subject)
    if out.in_reply_to:
        msg["In-Reply-To"] = _clean("In-Reply-To", out.in_reply_to)
    if out.references:
        msg["References"] = " ".join(_clean("References", r) for r in out.references)
    if out.list_unsubscribe:
        msg["List-Unsubscribe"] = f"<{_clean('List-Unsubscribe', out.list_unsubscribe)}>"
        if out.one_click:
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in out.headers:
        msg[_clean("header name", name)] = _clean(name, value)
    text = out.text if out.text is not None else html_to_text(out.html)
    # Quoted-printable, not 8bit, so no server needs 8BITMIME to carry the text unchanged.
    msg.set_content(text, charset="utf-8", cte=_cte(text))
    msg.make_alternative()
    html_part = EmailMessage(policy=email.policy.SMTP)
    html_part.set_content(out.html, subtype="html", charset="utf-8", cte=_cte(out.html))
    del html_part["MIME-Version"]  # set_content adds it; it belongs on the message only
    msg.attach(html_part)
    return msg


def _cte(content: str) -> str | None:
    return None if content.isascii() else "quoted-printable"


def to_bytes(msg: EmailMessage) -> bytes:
    """The message with CRLF line endings, as it goes over SMTP."""
    return msg.as_bytes(policy=email.policy.SMTP)


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def header_message_id(msg: EmailMessage) -> str | None:
    value = msg.get("Message-ID")
    if value is None:
        return None
    return str(value).strip() or None


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self._links: list[tuple[str | None, int]] = []  # href, where its text starts

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("- ")
        elif tag == "a":
            self._links.append((dict(attrs).get("href"), len(self.parts)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS and tag not in ("br", "li"):
            self.parts.append("\n\n")  # a blank line after a block; runs collapse later
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            label = " ".join("".join(self.parts[start:]).split())
            if href and href.strip() and href.strip() != label:
                self.parts.append(f" ({href.strip()})" if label else href.strip())

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)

    def close(self) -> None:
        super().close()
        # A link still open at the end keeps its URL too.
        while self._links:
            self.handle_endtag("a")


def html_to_text(html: str) -> str:
    """A plain-text rendering: blocks and line breaks as new lines, links as "text (url)",
    scripts and styles dropped, entities decoded, runs of white space collapsed."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    lines = (re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip()
             for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()

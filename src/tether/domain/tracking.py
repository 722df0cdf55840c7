"""Tracking (pure): signed tokens for the open pixel, tracked links, downloads and
unsubscribe links, and the rewriting of a message's links.

A token carries only a delivery (one recipient's copy of a message) and a link's position,
signed with HMAC-SHA256: the URL a click goes to is read from Tether's own table by that
position, never from the request, so a tracked link cannot be made into an open redirect, and
an altered token fails verification before anything is recorded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from collections.abc import Callable
from enum import StrEnum
from html.parser import HTMLParser

_PAYLOAD = struct.Struct(">QH")  # delivery id, link position
_MAC_BYTES = 12


class Kind(StrEnum):
    """What a token opens; part of what is signed, so one kind's token is not another's."""

    OPEN = "o"
    CLICK = "c"
    DOWNLOAD = "d"
    UNSUBSCRIBE = "u"


def tracking_key(secret_key: str) -> bytes:
    """The signing key, derived from Tether's secret key (never the encryption key itself)."""
    return hmac.new(secret_key.encode(), b"tether tracking tokens v1", hashlib.sha256).digest()


def sign(key: bytes, kind: Kind, delivery_id: int, link_n: int = 0) -> str:
    payload = _PAYLOAD.pack(delivery_id, link_n)
    mac = hmac.new(key, kind.value.encode() + payload, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode()


def verify(key: bytes, kind: Kind, token: str) -> tuple[int, int] | None:
    """(delivery id, link position) of a genuine token of this kind, else None."""
    if len(token) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _PAYLOAD.size + _MAC_BYTES:
        return None
    payload, mac = raw[:_PAYLOAD.size], raw[_PAYLOAD.size:]
    expected = hmac.new(key, kind.value.encode() + payload, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected[:_MAC_BYTES]):
        return None
    delivery_id, link_n = _PAYLOAD.unpack(payload)
    return delivery_id, link_n


def trackable(url: str) -> bool:
    """Web links are tracked; mailto:, tel:, anchors and the like are left alone."""
    return url.strip().lower().startswith(("http://", "https://"))


class _Links(HTMLParser):
    """Finds each <a href> and where its value sits in the source."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []  # (offset of the tag, href)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        href = dict(attrs).get("href")
        if href and trackable(href):
            line, col = self.getpos()
            self.found.append((_offset(self.rawdata, line, col), href.strip()))


def _offset(text: str, line: int, col: int) -> int:
    start = 0
    for _ in range(line - 1):
        start = text.index("\n", start) + 1
    return start + col


def links(html: str) -> list[str]:
    """The trackable links of a body, in order (a link twice is two positions)."""
    parser = _Links()
    parser.feed(html)
    parser.close()
    return [href for _, href in parser.found]


def rewrite(html: str, url_for: Callable[[int], str]) -> str:
    """The body with the n-th trackable link's href replaced by ``url_for(n)``."""
    parser = _Links()
    parser.feed(html)
    parser.close()
    out: list[str] = []
    last = 0
    for n, (at, _href) in enumerate(parser.found):
        end = html.index(">", at)
        tag = html[at:end]
        out.append(html[last:at])
        out.append(_replace_href(tag, url_for(n)))
        last = end
    out.append(html[last:])
    return "".join(out)


def _replace_href(tag: str, url: str) -> str:
    """The tag's href attribute (quoted either way, or not at all) set to ``url``."""
    lower = tag.lower()
    i = lower.find("href")
    while i != -1:
        j = i + 4
        while j < len(tag) and tag[j].isspace():
            j += 1
        if j < len(tag) and tag[j] == "=" and (i == 0 or not (tag[i - 1].isalnum()
                                                              or tag[i - 1] in "-_")):
            j += 1
            while j < len(tag) and tag[j].isspace():
                j += 1
            if j < len(tag) and tag[j] in "\"'":
                end = tag.index(tag[j], j + 1)
                return f'{tag[:j]}"{_attr(url)}"{tag[end + 1:]}'
            end = j
            while end < len(tag) and not tag[end].isspace() and tag[end] != ">":
                end += 1
            return f'{tag[:j]}"{_attr(url)}"{tag[end:]}'
        i = lower.find("href", i + 4)
    return tag


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;")

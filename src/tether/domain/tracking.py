"""Tracking (pure): signed tokens for the open pixel, tracked links, downloads and
unsubscribe links, the rewriting of a message's links, and the verdict on each hit: a
person, or a machine (an image prefetcher, a link scanner), with the evidence in words.

A token carries only a delivery (one recipient's copy of a message) and a link's position,
signed with HMAC-SHA256: the URL a click goes to is read from Tether's own table by that
position, never from the request, so a tracked link cannot be made into an open redirect, and
an altered token fails verification before anything is recorded.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import ipaddress
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser
from typing import Literal

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
    return _encode(payload + mac)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def verify(key: bytes, kind: Kind, token: str) -> tuple[int, int] | None:
    """(delivery id, link position) of a genuine token of this kind, else None."""
    if len(token) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _PAYLOAD.size + _MAC_BYTES or _encode(raw) != token:
        return None  # the second: base64's spare bits make other spellings of a token
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


# -- verdicts: a person, or a machine --------------------------------------------------------
# Clicks this close together, on several links, are a scanner following every link at once.
BURST_SECONDS = 5.0
BURST_LINKS = 3
APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")  # Apple's own; Mail Privacy Protection
Verdict = Literal["person", "machine"]


@dataclass(frozen=True)
class Hit:
    """A request to a tracking link, as the processor sees it: what was asked for, by what,
    and when (relative to the delivery's acceptance by the mail server)."""

    kind: Kind
    method: str
    user_agent: str
    client_ip: str
    at: dt.datetime
    seconds_since_delivery: float | None
    link_n: int | None = None  # the link's position (clicks and downloads)


def stored_kind(kind: Kind) -> str:
    """The kind as tracking_hit.kind stores it: open | click | download."""
    return kind.name.lower()


def kind_of(stored: str) -> Kind:
    return Kind[stored.upper()]


# (pattern, what it is), matched case-insensitively against the user agent; first match wins.
_MACHINES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), what) for pattern, what in (
        (r"barracuda", "Barracuda's link protection"),
        (r"mimecast", "Mimecast's link scanner"),
        (r"proofpoint", "Proofpoint's URL defense"),
        (r"bingpreview|safelinks|microsoft defender|msoffice365", "Microsoft Defender / "
         "Safe Links"),
        (r"headlesschrome|phantomjs|puppeteer|playwright|selenium|slimerjs", "a headless browser"),
        (r"python-requests|python-urllib|aiohttp|python-httpx|httpx/", "a Python HTTP library"),
        (r"\bcurl/|\bwget/|libwww-perl|go-http-client|okhttp|java/|apache-httpclient",
         "a command-line or programming HTTP client"),
        (r"bot\b|crawler|spider|scanner|facebookexternalhit|urlscan|linkcheck|link checker",
         "a bot, crawler or scanner"),
    ))
# Webmail image proxies fetch the pixel when the person opens the message.
_PROXIES: tuple[tuple[str, str], ...] = (("googleimageproxy", "Gmail"),
                                         ("yahoomailproxy", "Yahoo Mail"))
# Browsers and mail clients, for the evidence of a person; first match wins (Edge and Opera
# also say Chrome, Chrome also says Safari).
_FAMILIES: tuple[tuple[str, str], ...] = (
    ("edg/", "Edge"), ("opr/", "Opera"), ("firefox/", "Firefox"), ("thunderbird/", "Thunderbird"),
    ("microsoft outlook", "Outlook"), ("ms-office", "Outlook"), ("chrome/", "Chrome"),
    ("crios/", "Chrome"), ("version/", "Safari"), ("applewebkit/", "Apple Mail"),
    ("mozilla/", "a browser-like client"))


def judge(hit: Hit, *, neighbours: Sequence[Hit], link_count: int, scanner_seconds: float
          ) -> tuple[Verdict, list[str]]:
    """Whether a person or a machine made this hit, and why, in words.  ``neighbours`` are the
    same delivery's other hits near this one in time; ``link_count`` its tracked links."""
    evidence = _machine_evidence(hit, neighbours, link_count, scanner_seconds)
    if evidence:
        return "machine", evidence
    return "person", [_person_evidence(hit)]


def _machine_evidence(hit: Hit, neighbours: Sequence[Hit], link_count: int,
                      scanner_seconds: float) -> list[str]:
    found: list[str] = []
    agent = hit.user_agent.strip()
    if hit.method.upper() == "HEAD":
        found.append("a HEAD request, which checks a link without fetching it: people's "
                     "browsers and mail clients send GET")
    if not agent:
        found.append("no User-Agent: browsers and mail clients always send one")
    machine = next((what for pattern, what in _MACHINES if pattern.search(agent)), None)
    if machine is not None:
        found.append(f"the user agent announces {machine}")
    if hit.kind is Kind.OPEN and (agent == "Mozilla/5.0" or _from_apple(hit.client_ip)):
        found.append("Apple Mail Privacy Protection fetched the images when the message "
                     "arrived, not when it was read")
    followed = hit.kind in (Kind.CLICK, Kind.DOWNLOAD)
    since = hit.seconds_since_delivery
    if followed and since is not None and since < scanner_seconds:
        found.append(f"{_noun(hit.kind)} {max(since, 0):.1f} s after delivery, sooner than a "
                     f"person reads (under {scanner_seconds:g} s): a link scanner")
    if followed:
        links = _links_near(hit, neighbours)
        if link_count >= 2 and len(links) >= link_count:
            found.append(f"every link of the message ({link_count}) was followed within "
                         f"{BURST_SECONDS:g} s: a scanner follows them all at once")
        elif len(links) >= BURST_LINKS:
            found.append(f"{len(links)} links were followed within {BURST_SECONDS:g} s of "
                         "each other: a scanner follows them all at once")
    return found


def _links_near(hit: Hit, neighbours: Sequence[Hit]) -> set[int]:
    """The links followed within BURST_SECONDS of this hit, this one's included."""
    near: set[int] = {n.link_n for n in neighbours
            if n.kind in (Kind.CLICK, Kind.DOWNLOAD) and n.link_n is not None
            and abs((n.at - hit.at).total_seconds()) <= BURST_SECONDS}
    if hit.link_n is not None:
        near.add(hit.link_n)
    return near


def _from_apple(client_ip: str) -> bool:
    try:
        return ipaddress.ip_address(client_ip.strip()) in APPLE_NETWORK
    except ValueError:
        return False


def _person_evidence(hit: Hit) -> str:
    agent = hit.user_agent.lower()
    if hit.kind is Kind.OPEN:
        proxy = next((name for token, name in _PROXIES if token in agent), None)
        if proxy is not None:
            return f"an image proxy fetching for a person ({proxy})"
    family = next((name for token, name in _FAMILIES if token in agent), "an unrecognized client")
    return f"a browser: {family}"


def _noun(kind: Kind) -> str:
    return {Kind.OPEN: "opened", Kind.CLICK: "clicked", Kind.DOWNLOAD: "downloaded"}.get(
        kind, "followed")

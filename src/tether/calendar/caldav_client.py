"""CalDAV over httpx: checking that an address and login reach a calendar of events, and
fetching what changed in that calendar since the last look.

WebDAV is a handful of XML requests (PROPFIND, REPORT) that httpx sends as well as any
library, and doing it here keeps in view what is asked of the server and how often: a look
at an unchanged calendar costs one request and fetches no event.

How changes are found, best way first:

1. WebDAV sync (RFC 6578, REPORT sync-collection): the server names what changed since the
   token it gave last time.  A token it no longer knows (403 or 409, valid-sync-token) means
   a full listing, compared with what was known.
2. Without sync, the collection's CTag (getctag, from Apple's calendarserver extensions):
   unchanged, nothing to do; changed, a listing of every object's ETag (PROPFIND, Depth 1).
3. Without a CTag either, that listing every time.

Objects are fetched (REPORT calendar-multiget) only to be handed out.  Which objects matter
is bounded by the window: the first look fetches the events the server says fall
within it (REPORT calendar-query with a time-range).  The state records the objects handed
out, with their ETags and the window, so that a later look hands out:

- objects handed out before that changed, wherever their events now are (one that no longer
  has any in the window is handed out once more, so its meetings can be dropped, and then
  forgotten until it comes back);
- new objects with an event in the window;
- when the window has moved, every object with an event in the time newly covered (asked
  of the server for that time alone), known or not: its events there were not seen before.

So a caller expands each object handed out over its window and replaces that object's
meetings there with what it finds, and drops the meetings of the hrefs removed.  An object
known before whose events all lie in time the window has left stays in the state until it
changes; windows are expected to move forward.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urljoin, urlsplit
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import httpx
from defusedxml import ElementTree

from tether.calendar import ical
from tether.net import network_failure

__all__ = ["Account", "CalendarCheckError", "CalendarObject", "Changes", "Stage", "SyncState",
           "achanges", "acheck", "changes", "check"]

SERVICE = "CalDAV"
Stage = Literal["name resolution", "connection", "TLS", "authentication", "not a calendar",
                "timeout"]

_D = "{DAV:}"
_C = "{urn:ietf:params:xml:ns:caldav}"
_CS = "{http://calendarserver.org/ns/}"
_NS = ('xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" '
       'xmlns:CS="http://calendarserver.org/ns/"')
_XML = '<?xml version="1.0" encoding="utf-8"?>\n'
_MULTIGET_BATCH = 100
_SYNC_ROUNDS = 100  # a server that truncates its sync answer (507) is asked again, this often


@dataclass(frozen=True, repr=False)
class Account:
    """A calendar's address (the collection's own URL) and the login to it.  TLS is verified
    against the system's CAs, or against `ca_file` when given."""

    url: str
    username: str
    password: str
    ca_file: str | None = None

    def __repr__(self) -> str:
        # The password stays out of logs and tracebacks.
        return f"{type(self).__name__}(url={self.url!r}, username={self.username!r})"


class CalendarCheckError(Exception):
    """A calendar could not be used, at one stage, said in words a person reads."""

    def __init__(self, stage: Stage, detail: str) -> None:
        super().__init__(f"{SERVICE} {stage} failed: {detail}")
        self.stage: Stage = stage
        self.detail = detail


@dataclass(frozen=True)
class CalendarObject:
    """One calendar object resource: a file of one event (or series) on the server."""

    href: str
    etag: str
    ics: str


@dataclass(frozen=True)
class SyncState:
    """What the last look saw: the server's sync token or CTag, and the objects handed out
    (href -> ETag), over which window.  Stored between looks as `to_json()`."""

    sync_token: str | None = None
    ctag: str | None = None
    etags: dict[str, str] = field(default_factory=dict)
    window_start: str | None = None  # ISO, UTC
    window_end: str | None = None

    def to_json(self) -> str:
        return json.dumps({"sync_token": self.sync_token, "ctag": self.ctag,
                           "etags": dict(sorted(self.etags.items())),
                           "window_start": self.window_start, "window_end": self.window_end})

    @classmethod
    def from_json(cls, text: str) -> SyncState:
        """The state `to_json` wrote; ValueError for anything else (start again from None)."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a calendar sync state is a JSON object")
        strings = {k: data.get(k) for k in ("sync_token", "ctag", "window_start",
                                            "window_end")}
        etags = data.get("etags", {})
        if (any(v is not None and not isinstance(v, str) for v in strings.values())
                or not isinstance(etags, dict)
                or not all(isinstance(k, str) and isinstance(v, str)
                           for k, v in etags.items())):
            raise ValueError("not a calendar sync state")
        return cls(etags=dict(etags), **strings)


@dataclass(frozen=True)
class Changes:
    """What changed since `state` was given: objects new or changed (with their text), and
    hrefs of objects handed out before that are gone.  Both are relative to the state given,
    also when `full` says the server was listed in full (first look, or a token it no longer
    knew) rather than asked for changes."""

    state: SyncState
    changed: list[CalendarObject]
    removed: list[str]
    full: bool


def check(account: Account, *, timeout: float = 10, client: httpx.Client | None = None) -> str:
    """See that the address is a calendar of events the login may read; its display name
    (or, without one, the last part of its path).  Requests go through `client` when given
    (its TLS settings then apply, not the account's ca_file), else through one of its own."""
    with _Session(account, timeout, client) as session:
        response = session.request("PROPFIND", account.url, _propfind(
            "<D:resourcetype/><D:displayname/><C:supported-calendar-component-set/>"),
            depth="0", what="PROPFIND")
        member = _own_member(account.url, _multistatus(response, account.url))
        kinds = _resource_kinds(member)
        if "calendar" not in kinds:
            raise CalendarCheckError("not a calendar", _not_a_calendar(session, account.url,
                                                                       member, kinds))
        components = _components(member)
        if components and "VEVENT" not in components:
            raise CalendarCheckError("not a calendar", f"{account.url} is a calendar of "
                                     f"{_component_words(components)}, not of events")
        name = _text(member.props.get(f"{_D}displayname"))
        return name or unquote(urlsplit(account.url).path.rstrip("/").rsplit("/", 1)[-1])


def changes(account: Account, state: SyncState | None, *, window_start: dt.datetime,
            window_end: dt.datetime, timeout: float = 15,
            client: httpx.Client | None = None) -> Changes:
    """What changed in the calendar since `state` (None: the first look), among the objects
    with an event in [window_start, window_end) (aware datetimes), as the module's words
    say.  `client` as for `check`."""
    start, end = _utc(window_start), _utc(window_end)
    if end <= start:
        raise ValueError("the window ends before it starts")
    with _Session(account, timeout, client) as session:
        return _Look(session, account.url, state, start, end).run()


async def acheck(account: Account, *, timeout: float = 10) -> str:
    return await asyncio.to_thread(check, account, timeout=timeout)


async def achanges(account: Account, state: SyncState | None, *, window_start: dt.datetime,
                   window_end: dt.datetime, timeout: float = 15) -> Changes:
    return await asyncio.to_thread(changes, account, state, window_start=window_start,
                                   window_end=window_end, timeout=timeout)


# -- finding changes -------------------------------------------------------------------------

class _Refused(Exception):
    """The server does not know the sync token given."""


class _NoSync(Exception):
    """The server does not do WebDAV sync."""


class _Look:
    """One look at a calendar: asking, fetching, and the state to keep after it."""

    def __init__(self, session: _Session, url: str, state: SyncState | None,
                 start: dt.datetime, end: dt.datetime) -> None:
        self.session, self.url, self.state = session, url, state
        self.start, self.end = start, end
        self.known: dict[str, str] = dict(state.etags) if state else {}

    def run(self) -> Changes:
        state = self.state
        sync_token: str | None = None
        ctag: str | None = None
        # href -> ETag, None when gone.  A full listing names every object there is.
        members: dict[str, str | None]
        full = False
        if state is None or state.sync_token is not None:
            try:
                sync_token, members, full = self._sync(state.sync_token if state else None)
            except _NoSync:
                ctag, members, full = self._by_ctag(None)
        else:
            ctag, members, full = self._by_ctag(state.ctag)

        removed = {href for href in self.known if (members.get(href, "") is None
                                                   or (full and href not in members))}
        # Objects handed out before that changed: fetched whatever the window.
        fetch = {href for href, etag in members.items()
                 if etag is not None and href in self.known and etag != self.known[href]}
        # Objects not handed out before that changed: fetched to see whether they have an
        # event in the window.  A full listing names every object, in the window or not, so
        # there the server is asked which of those are.
        unknown = set() if full else {href for href, etag in members.items()
                                      if etag is not None and href not in self.known}
        # In the window by the server's word: handed out whatever their ETag.
        fresh: set[str] = set()
        parts = self._uncovered()
        if full and parts != [(self.start, self.end)]:
            fresh |= {href for href, etag in self._in_window(self.start, self.end).items()
                      if self.known.get(href) != etag}
        for part_start, part_end in parts:
            # Newly covered time: known objects with events there are handed out again, for
            # the caller to see those events.
            fresh |= set(self._in_window(part_start, part_end))
        fresh -= removed
        wanted = fetch | unknown | fresh
        fetched = self._fetch(wanted)

        etags = {href: etag for href, etag in self.known.items() if href not in removed}
        changed: list[CalendarObject] = []
        for href in sorted(wanted):
            obj = fetched.get(href)
            if obj is None:  # gone between the listing and the fetch
                if href in etags:
                    del etags[href]
                    removed.add(href)
                continue
            if href in fresh or ical.occurrences(obj.ics, self.start, self.end):
                etags[href] = obj.etag
                changed.append(obj)
            elif href in etags:
                del etags[href]  # handed out once more, then forgotten: it left the window
                changed.append(obj)
        new_state = SyncState(sync_token=sync_token, ctag=ctag, etags=etags,
                              window_start=self.start.isoformat(),
                              window_end=self.end.isoformat())
        return Changes(state=new_state, changed=changed, removed=sorted(removed), full=full)

    def _uncovered(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """The parts of the window that the last look's window did not cover."""
        state = self.state
        if state is None or not state.window_start or not state.window_end:
            return [(self.start, self.end)]
        try:
            before = _utc(dt.datetime.fromisoformat(state.window_start))
            after = _utc(dt.datetime.fromisoformat(state.window_end))
        except ValueError:
            return [(self.start, self.end)]
        if after <= self.start or self.end <= before:
            return [(self.start, self.end)]
        parts = []
        if self.start < before:
            parts.append((self.start, before))
        if self.end > after:
            parts.append((after, self.end))
        return parts

    def _sync(self, token: str | None) -> tuple[str, dict[str, str | None], bool]:
        """(new token, members, full): what changed since the token, or everything when
        there is none or the server no longer knows it.  _NoSync when it does no sync."""
        if token is not None:
            try:
                return (*self._sync_rounds(token), False)
            except _Refused:
                pass  # forgotten (expired, or the collection was restored): list it all
        return (*self._sync_rounds(None), True)

    def _sync_rounds(self, token: str | None) -> tuple[str, dict[str, str | None]]:
        """The changes since the token, over as many requests as the server's truncated
        answers take (RFC 6578 3.6: a 507 for the collection itself means there is more)."""
        members: dict[str, str | None] = {}
        for _ in range(_SYNC_ROUNDS):
            body = (f'{_XML}<D:sync-collection {_NS}>'
                    + (f"<D:sync-token>{escape(token)}</D:sync-token>" if token
                       else "<D:sync-token/>")
                    + "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>"
                      "</D:sync-collection>")
            response = self.session.request("REPORT", self.url, body, depth="0",
                                            what="REPORT sync-collection", check=False)
            if response.status_code in (400, 403, 409, 412) and token:
                raise _Refused()  # 403/409 valid-sync-token, or a token it cannot read
            if response.status_code in (400, 403, 405, 409, 415, 422, 501):
                raise _NoSync()
            self.session.raise_for_status(response, self.url, "REPORT sync-collection")
            root = _parse(response, self.url)
            new_token = _text(root.find(f"{_D}sync-token"))
            if not new_token:
                raise _NoSync()
            truncated = False
            for member in _members(root, self.url):
                if _same_path(member.href, self.url):
                    truncated = truncated or member.status == 507
                    continue
                members[member.href] = (None if member.status == 404
                                        else _text(member.props.get(f"{_D}getetag")) or None)
            token = new_token
            if not truncated:
                return new_token, members
        raise CalendarCheckError("connection", f"{self.url} kept truncating its list of "
                                 "changes")

    def _by_ctag(self, ctag: str | None) -> tuple[str | None, dict[str, str | None], bool]:
        response = self.session.request("PROPFIND", self.url, _propfind(
            "<D:resourcetype/><CS:getctag/>"), depth="0", what="PROPFIND")
        member = _own_member(self.url, _multistatus(response, self.url))
        if "calendar" not in _resource_kinds(member):
            raise CalendarCheckError("not a calendar", f"{self.url} is not a calendar")
        new_ctag = _text(member.props.get(f"{_CS}getctag")) or None
        if ctag is not None and new_ctag == ctag:
            return new_ctag, {}, False
        response = self.session.request("PROPFIND", self.url, _propfind(
            "<D:resourcetype/><D:getetag/>"), depth="1", what="PROPFIND")
        listing: dict[str, str | None] = {}
        for member in _multistatus(response, self.url):
            if _same_path(member.href, self.url) or "collection" in _resource_kinds(member):
                continue
            etag = _text(member.props.get(f"{_D}getetag"))
            if etag:
                listing[member.href] = etag
        return new_ctag, listing, True

    def _in_window(self, start: dt.datetime, end: dt.datetime) -> dict[str, str]:
        body = (f'{_XML}<C:calendar-query {_NS}><D:prop><D:getetag/></D:prop>'
                '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
                f'<C:time-range start="{_caldav_time(start)}" end="{_caldav_time(end)}"/>'
                "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>")
        response = self.session.request("REPORT", self.url, body, depth="1",
                                        what="REPORT calendar-query")
        found: dict[str, str] = {}
        for member in _multistatus(response, self.url):
            etag = _text(member.props.get(f"{_D}getetag"))
            if etag and not _same_path(member.href, self.url):
                found[member.href] = etag
        return found

    def _fetch(self, hrefs: Iterable[str]) -> dict[str, CalendarObject]:
        wanted = sorted(hrefs)
        fetched: dict[str, CalendarObject] = {}
        for i in range(0, len(wanted), _MULTIGET_BATCH):
            batch = wanted[i:i + _MULTIGET_BATCH]
            body = (f"{_XML}<C:calendar-multiget {_NS}>"
                    "<D:prop><D:getetag/><C:calendar-data/></D:prop>"
                    + "".join(f"<D:href>{escape(href)}</D:href>" for href in batch)
                    + "</C:calendar-multiget>")
            response = self.session.request("REPORT", self.url, body, depth="1",
                                            what="REPORT calendar-multiget")
            for member in _multistatus(response, self.url):
                etag = _text(member.props.get(f"{_D}getetag"))
                data = member.props.get(f"{_C}calendar-data")
                if member.status in (None, 200) and etag and data is not None:
                    fetched[member.href] = CalendarObject(member.href, etag, data.text or "")
        return fetched


# -- HTTP ------------------------------------------------------------------------------------

class _Session:
    """One account's requests, on the given client or on one of its own (closed after),
    with the account's login; failures to reach the server as CalendarCheckError."""

    def __init__(self, account: Account, timeout: float, client: httpx.Client | None) -> None:
        self.account, self.timeout = account, timeout
        parts = urlsplit(account.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CalendarCheckError("connection", f"{account.url!r} is not an http:// or "
                                     "https:// address")
        self.host = parts.hostname
        self.where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        self._own = client is None
        self.client = client if client is not None else httpx.Client(verify=_verify(account))
        self.auth: httpx.Auth = httpx.BasicAuth(account.username, account.password)
        self._digest = False

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._own:
            self.client.close()

    def request(self, method: str, url: str, body: str | None, *, depth: str | None = None,
                what: str, check: bool = True) -> httpx.Response:
        headers = {"Content-Type": 'application/xml; charset="utf-8"'} if body else {}
        if depth is not None:
            headers["Depth"] = depth
        content = body.encode() if body else None
        try:
            response = self.client.request(method, url, content=content, headers=headers,
                                           auth=self.auth, timeout=self.timeout,
                                           follow_redirects=True)
            challenge = response.headers.get("WWW-Authenticate", "").lower()
            if (response.status_code == 401 and not self._digest and "digest" in challenge
                    and "basic" not in challenge):
                # A server that only takes Digest (older Baïkal, for one): once more with it.
                self._digest = True
                self.auth = httpx.DigestAuth(self.account.username, self.account.password)
                response = self.client.request(method, url, content=content, headers=headers,
                                               auth=self.auth, timeout=self.timeout,
                                               follow_redirects=True)
        except httpx.HTTPError as exc:
            raise self.network_error(exc) from exc
        if check:
            self.raise_for_status(response, url, what)
        return response

    def raise_for_status(self, response: httpx.Response, url: str, what: str) -> None:
        status = response.status_code
        if status < 400:
            return
        if status == 401:
            raise CalendarCheckError("authentication", f"{self.where} refused the password "
                                     f"of {self.account.username}")
        if status == 403:
            raise CalendarCheckError("authentication", f"{self.account.username} may not "
                                     f"read {url}")
        if status in (404, 410):
            raise CalendarCheckError("not a calendar", f"there is nothing at {url}")
        if status in (405, 501) and what == "PROPFIND":
            raise CalendarCheckError("not a calendar", f"{url} is not a WebDAV server "
                                     f"({what} answered {_status_words(response)})")
        raise CalendarCheckError("connection", f"{what} on {url} answered "
                                 f"{_status_words(response)}")

    def network_error(self, exc: BaseException) -> CalendarCheckError:
        """The stage at which a request failed, looked for along the whole chain of causes
        (httpx wraps httpcore's error, which wraps the socket's), most specific first."""
        where = self.where
        found = network_failure(exc, self.host, where, self.timeout,
                                timeouts=(httpx.TimeoutException, TimeoutError))
        if found is not None:
            return CalendarCheckError(*found)
        if isinstance(exc, httpx.RemoteProtocolError):
            return CalendarCheckError("connection", f"{where} did not answer over HTTP "
                                      f"({exc})")
        return CalendarCheckError("connection", f"{where}: {exc or type(exc).__name__}")


def _verify(account: Account) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=account.ca_file)


def _status_words(response: httpx.Response) -> str:
    return f"{response.status_code} {response.reason_phrase}".strip()


# -- WebDAV XML ------------------------------------------------------------------------------

@dataclass
class _Member:
    """One <response> of a multistatus: its href (a path), its own status when it has one,
    and the properties found (status 200)."""

    href: str
    status: int | None
    props: dict[str, Element]


def _propfind(props: str) -> str:
    return f"{_XML}<D:propfind {_NS}><D:prop>{props}</D:prop></D:propfind>"


def _parse(response: httpx.Response, url: str) -> Element:
    try:
        root: Element = ElementTree.fromstring(response.content)
    except Exception as exc:  # ParseError, and defusedxml's refusals of entities
        raise CalendarCheckError("not a calendar", f"{url} did not answer in WebDAV XML "
                                 f"({exc})") from exc
    return root


def _multistatus(response: httpx.Response, url: str) -> list[_Member]:
    if response.status_code != 207:
        raise CalendarCheckError("not a calendar", f"{url} did not answer as a WebDAV server "
                                 f"({_status_words(response)}, not 207 Multi-Status)")
    return list(_members(_parse(response, url), url))


def _members(root: Element, url: str) -> Iterator[_Member]:
    for response in root.iter(f"{_D}response"):
        href = _text(response.find(f"{_D}href"))
        if not href:
            continue
        props: dict[str, Element] = {}
        for propstat in response.iter(f"{_D}propstat"):
            if _status(propstat) not in (None, 200):
                continue
            prop = propstat.find(f"{_D}prop")
            for child in prop if prop is not None else ():
                props[child.tag] = child
        yield _Member(_path(url, href), _status(response), props)


def _status(element: Element) -> int | None:
    line = _text(element.find(f"{_D}status")).split()
    return int(line[1]) if len(line) >= 2 and line[1].isdigit() else None


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _path(base: str, href: str) -> str:
    """An href as the absolute path the server gave (some answer with whole URLs)."""
    return urlsplit(urljoin(base, href)).path


def _same_path(href: str, url: str) -> bool:
    return unquote(href).rstrip("/") == unquote(urlsplit(url).path).rstrip("/")


def _own_member(url: str, members: list[_Member]) -> _Member:
    for member in members:
        if _same_path(member.href, url):
            return member
    if len(members) == 1:
        return members[0]
    raise CalendarCheckError("not a calendar", f"{url} did not describe itself when asked "
                             "(PROPFIND, Depth 0)")


def _resource_kinds(member: _Member) -> set[str]:
    """The local names in its resourcetype: collection, calendar, addressbook, principal…"""
    resourcetype = member.props.get(f"{_D}resourcetype")
    if resourcetype is None:
        return set()
    return {child.tag.rsplit("}", 1)[-1] for child in resourcetype}


def _components(member: _Member) -> list[str]:
    supported = member.props.get(f"{_C}supported-calendar-component-set")
    if supported is None:
        return []
    return [str(comp.get("name", "")).upper() for comp in supported.iter(f"{_C}comp")]


_COMPONENT_WORDS = {"VTODO": "tasks", "VJOURNAL": "journal entries", "VEVENT": "events",
                    "VAVAILABILITY": "availability", "VFREEBUSY": "free/busy times"}


def _component_words(components: list[str]) -> str:
    return " and ".join(_COMPONENT_WORDS.get(c, c) for c in components)


def _not_a_calendar(session: _Session, url: str, member: _Member, kinds: set[str]) -> str:
    """Why the address is not a calendar, naming the calendars of events to be found at it
    or in the login's calendar home, since the address given is often one level too high."""
    what = ("an address book" if "addressbook" in kinds
            else "a collection" if "collection" in kinds else "a WebDAV resource")
    found: dict[str, str] = {}
    try:
        found = _calendars_in(session, url)
        if not found:
            for home in _calendar_homes(session, url):
                found = _calendars_in(session, home)
                if found:
                    break
    except CalendarCheckError:
        pass  # the detail says less, but still why the address itself does not do
    if not found:
        return f"{url} is {what}, not a calendar"
    there = ", ".join(f"{name} ({href})" for href, name in found.items())
    return f"{url} is {what}, not a calendar; calendars there: {there}"


def _calendars_in(session: _Session, url: str) -> dict[str, str]:
    """Calendars of events directly under the collection: URL -> display name."""
    response = session.request("PROPFIND", url, _propfind(
        "<D:resourcetype/><D:displayname/><C:supported-calendar-component-set/>"),
        depth="1", what="PROPFIND")
    found: dict[str, str] = {}
    for member in _multistatus(response, url):
        components = _components(member)
        if ("calendar" in _resource_kinds(member) and not _same_path(member.href, url)
                and (not components or "VEVENT" in components)):
            address = urljoin(url, member.href)
            found[address] = (_text(member.props.get(f"{_D}displayname"))
                              or unquote(member.href.rstrip("/").rsplit("/", 1)[-1]))
    return found


def _calendar_homes(session: _Session, url: str) -> list[str]:
    """The login's calendar homes (RFC 4791 6.2.1), found through its principal (RFC 5397)."""
    response = session.request("PROPFIND", url, _propfind("<D:current-user-principal/>"),
                               depth="0", what="PROPFIND")
    principal = _own_member(url, _multistatus(response, url)).props.get(
        f"{_D}current-user-principal")
    href = _text(principal.find(f"{_D}href")) if principal is not None else ""
    if not href:
        return []
    principal_url = urljoin(url, href)
    response = session.request("PROPFIND", principal_url,
                               _propfind("<C:calendar-home-set/>"), depth="0",
                               what="PROPFIND")
    homes = _own_member(principal_url, _multistatus(response, principal_url)).props.get(
        f"{_C}calendar-home-set")
    if homes is None:
        return []
    return [urljoin(principal_url, _text(h)) for h in homes.iter(f"{_D}href") if _text(h)]


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"a window needs time-zone aware ends, not {value.isoformat()}")
    return value.astimezone(dt.UTC)


def _caldav_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")

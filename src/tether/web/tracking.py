"""The public tracking endpoints: the open pixel, tracked links, downloads, and unsubscribe.

Plain Starlette routes (no FastAPI dependency solving: these are the hottest paths Tether
has).  The signed token is the only credential: a bad one is a 404 and nothing is recorded.
Each hit is committed (services.tracking.HitSink, group commit) before it is answered; an
open reads nothing from the database.  Unsubscribing takes a POST (a form's button, or a
mail provider's RFC 8058 one-click): link scanners follow GETs.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether.domain.tracking import Kind, tracking_key, verify
from tether.services import tracking
from tether.web.deps import AppState

# The smallest transparent GIF (1x1, 43 bytes).
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00"
         b"\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
# Every hit must reach Tether: nothing may answer one from a cache.
NO_STORE = {"cache-control": "no-store, private"}
_UNSAFE_IN_URL = re.compile(r"[\x00-\x1f\x7f]")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+")


@dataclass
class Edge:
    """What the endpoints share, made on first use from the app's state."""

    key: bytes
    sink: tracking.HitSink
    state: AppState


def edge(request: Request) -> Edge:
    found: Edge | None = getattr(request.app.state, "tracking", None)
    if found is None:
        state: AppState = request.app.state.tether
        found = Edge(tracking_key(state.settings.effective_secret_key()),
                     tracking.HitSink(state.sessions), state)
        request.app.state.tracking = found
    return found


def close(app: object) -> None:
    """Stops the hit sink's thread (at shutdown, before the engine is disposed)."""
    found: Edge | None = getattr(getattr(app, "state", None), "tracking", None)
    if found is not None:
        found.sink.close()


def _not_found() -> Response:
    return Response("Not Found", status_code=404, media_type="text/plain", headers=NO_STORE)


async def _record(request: Request, at: Edge, kind: Kind, delivery_id: int,
                  link_n: int | None) -> tracking.Target | None:
    """Stores the hit (a click's or download's only if its link exists: answers the link)."""
    client = request.client
    return await at.sink.submit(tracking.hit_row(
        kind, delivery_id, link_n, request.method, request.headers.get("user-agent", ""),
        client.host if client else ""), None if link_n is None else (delivery_id, link_n))


async def open_pixel(request: Request) -> Response:
    at = edge(request)
    found = verify(at.key, Kind.OPEN, request.path_params["token"])
    if found is None:
        return _not_found()
    await _record(request, at, Kind.OPEN, found[0], None)
    body = b"" if request.method == "HEAD" else PIXEL
    return Response(body, media_type="image/gif", headers=NO_STORE)


def location(url: str) -> str:
    """A URL as a Location header can carry it: without the tabs and line breaks browsers
    drop anyway, and with anything outside ASCII percent-encoded (UTF-8)."""
    return quote(_UNSAFE_IN_URL.sub("", url.strip()), safe="!#$%&'()*+,-./:;=?@[]~_")


async def click(request: Request) -> Response:
    """A redirect to the link's stored URL only (the request names a position, not a URL)."""
    at = edge(request)
    found = verify(at.key, Kind.CLICK, request.path_params["token"])
    if found is None:
        return _not_found()
    link = await _record(request, at, Kind.CLICK, *found)
    if link is None or link.url is None:  # no such link: nothing was stored
        return _not_found()
    # No Referer: the token would otherwise reach the target site.
    return Response(status_code=302, headers={
        "location": location(link.url), "referrer-policy": "no-referrer", **NO_STORE})


async def download(request: Request) -> Response:
    at = edge(request)
    found = verify(at.key, Kind.DOWNLOAD, request.path_params["token"])
    if found is None:
        return _not_found()
    link = await _record(request, at, Kind.DOWNLOAD, *found)
    if link is None or link.file_id is None:
        return _not_found()
    data = b""
    if request.method != "HEAD":
        read = await run_in_threadpool(_read_file, at.state, link.file_id)
        if read is None:
            return _not_found()
        data = read
    media_type = link.content_type if _MEDIA_TYPE.fullmatch(link.content_type) \
        else "application/octet-stream"
    return Response(data, media_type=media_type, headers={
        "content-disposition": content_disposition(link.file_name), **NO_STORE})


def _read_file(state: AppState, file_id: str) -> bytes | None:
    with state.sessions() as db:
        return tracking.file_data(db, file_id)


def content_disposition(name: str) -> str:
    """``attachment`` with the name as RFC 6266 says: an ASCII fallback for old clients, and
    the exact name percent-encoded in UTF-8 (``filename*``)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in name)
    fallback = fallback.strip() or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


# -- unsubscribe ------------------------------------------------------------------------------
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport"
content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;
margin:4rem auto;padding:0 1rem;line-height:1.5}}button{{font-size:1rem;padding:.5rem 1rem}}
</style></head><body><h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response(_PAGE.format(title=html.escape(title), body=body), status_code=status,
                    media_type="text/html", headers=NO_STORE)


async def unsubscribe(request: Request) -> Response:
    at = edge(request)
    found = verify(at.key, Kind.UNSUBSCRIBE, request.path_params["token"])
    if found is None:
        return _not_found()
    delivery_id = found[0]
    if request.method == "POST":
        form = await request.form()
        how = "one_click" if form.get("List-Unsubscribe") == "One-Click" else "link"
        address = await run_in_threadpool(_unsubscribe, at.state, delivery_id, how)
        if address is None:
            return _not_found()
        return _page("You are unsubscribed", f"<p>{html.escape(address)} will receive no more "
                     "emails from this sender.</p>")
    address = await run_in_threadpool(_recipient, at.state, delivery_id)
    if address is None:
        return _not_found()
    return _page("Unsubscribe", f"<p>Stop emails from this sender to "
                 f"{html.escape(address)}?</p><form method=\"post\"><input type=\"hidden\" "
                 "name=\"confirm\" value=\"1\"><button type=\"submit\">Unsubscribe</button>"
                 "</form>")


def _unsubscribe(state: AppState, delivery_id: int, how: str) -> str | None:
    with state.sessions() as db:
        address = tracking.unsubscribe(db, delivery_id, how)
        db.commit()  # before the confirmation is sent
    return address


def _recipient(state: AppState, delivery_id: int) -> str | None:
    with state.sessions() as db:
        return tracking.recipient_of(db, delivery_id)


class HotPaths:
    """Opens and clicks answered before the rest of the app: outermost (it is added last),
    past the security headers, body limits, exception handling and FastAPI's routing, which
    cost more than the hit itself.  Their answers carry no content to protect (a GIF, a
    redirect, a 404): nosniff is added; everything else, downloads included, takes the full
    stack."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.hot = Router(routes=[
            Route("/t/o/{token}.gif", open_pixel, methods=["GET", "HEAD"]),
            Route("/t/c/{token}", click, methods=["GET", "HEAD"])])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(("/t/o/", "/t/c/")):
            await self.app(scope, receive, send)
            return

        async def with_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"x-content-type-options", b"nosniff")]
            await send(message)
        await self.hot(scope, receive, with_nosniff)


router = APIRouter()
router.add_route("/t/o/{token}.gif", open_pixel, methods=["GET", "HEAD"],
                 include_in_schema=False)
router.add_route("/t/c/{token}", click, methods=["GET", "HEAD"], include_in_schema=False)
router.add_route("/t/d/{token}", download, methods=["GET", "HEAD"], include_in_schema=False)
router.add_route("/u/{token}", unsubscribe, methods=["GET", "POST"], include_in_schema=False)

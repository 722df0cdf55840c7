"""Security headers on every response (a pure ASGI middleware, outermost, so the other
middlewares' refusals and unexpected 500s carry them too).

- Content-Security-Policy, as the dashboard needs it: scripts and styles from Tether itself
  (htmx is served from /static); inline ``style`` attributes (templates, and the indicator
  style htmx adds); ``'unsafe-eval'`` because htmx compiles ``hx-trigger`` filters
  (``every 5s [...]`` on the activity log) with ``Function``; and the inline event handlers of
  the templates by hash (``'unsafe-hashes'``), listed in INLINE_HANDLERS: a new one must be
  added there, or moved into a script file.  No ``form-action``: connecting Salesforce is a
  form whose answer redirects to Salesforce's login page, which form-action would block.
- ``frame-ancestors 'self'``: only Tether may frame its pages, except those under
  /app/sidebar/ (the Salesforce sidebar), which the ``frame_ancestors`` setting's origins
  may frame too, and the sign-in page on its way there (``/login?next=/app/sidebar…``: the
  sidebar's visitor signs in inside the frame).  X-Frame-Options says the same to browsers
  without CSP (not on those pages, where it cannot name other origins).
- /docs and /redoc load Swagger UI and ReDoc from Tether itself (fastapi-offline's bundled
  assets) and start them with an inline script: exactly those paths allow inline script (and
  ReDoc's search worker from a blob), nothing else does; no policy allows any other host.
- X-Content-Type-Options: nosniff, and Referrer-Policy: strict-origin-when-cross-origin.

A response that sets one of these headers itself keeps its own.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection, Sequence
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SIDEBAR = "/app/sidebar"
# Inline event handlers in the templates (usage.html's budget slider).
INLINE_HANDLERS = ("document.getElementById('budget-out').value = this.value",)


def source_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def policy(frame_ancestors: Sequence[str] = ()) -> str:
    """The dashboard's and the API's Content-Security-Policy."""
    hashes = " ".join(source_hash(h) for h in INLINE_HANDLERS)
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'unsafe-eval' 'unsafe-hashes' {hashes}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        " ".join(["frame-ancestors 'self'", *frame_ancestors]),
    ])


DOCS_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'self'",
])

Raw = list[tuple[bytes, bytes]]


def _raw(csp: str, *, frame_options: bool = True) -> Raw:
    headers = [(b"content-security-policy", csp.encode()),
               (b"x-content-type-options", b"nosniff"),
               (b"referrer-policy", b"strict-origin-when-cross-origin")]
    return [*headers, (b"x-frame-options", b"SAMEORIGIN")] if frame_options else headers


def _in_sidebar(path: str) -> bool:
    return path == SIDEBAR or path.startswith(SIDEBAR + "/") or path.startswith(SIDEBAR + "?")


def _next(query: bytes) -> str:
    values = parse_qs(query.decode("latin-1")).get("next") or [""]
    return values[0]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, frame_ancestors: Sequence[str] = (),
                 docs_paths: Collection[str] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)
        self.default = _raw(policy())
        self.sidebar = _raw(policy(frame_ancestors), frame_options=not frame_ancestors)
        self.docs = _raw(DOCS_POLICY)

    def headers_for(self, path: str, query: bytes = b"") -> Raw:
        if path in self.docs_paths:
            return self.docs
        if _in_sidebar(path) or (path == "/login" and _in_sidebar(_next(query))):
            return self.sidebar
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ours = self.headers_for(scope["path"], scope.get("query_string", b""))
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                message["headers"] = headers + [h for h in ours if h[0] not in present]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Starlette's 500 is sent from outside every middleware: send it from here, so it
            # carries the headers too (the error still goes on up, to be logged).
            if not started:
                await send_with_headers({"type": "http.response.start", "status": 500,
                                         "headers": [(b"content-type", b"text/plain")]})
                await send_with_headers({"type": "http.response.body",
                                         "body": b"Internal Server Error"})
            raise

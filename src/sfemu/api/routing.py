"""A small router for the REST tree under /services/data/vXX.X/.

Handlers take an ``ApiRequest`` and return a ``Reply``; composite subrequests go through the
same table, so a subrequest behaves exactly like the call it stands for.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from sfemu.core import Emulator, Session
from sfemu.dml import Dml, WriteOptions
from sfemu.errors import ApiError, method_not_allowed, not_found


@dataclass
class ApiRequest:
    emu: Emulator
    session: Session
    version: str
    method: str
    path: str  # below /services/data/vXX.X/, without leading or trailing slash
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    body_file: IO[bytes] | None = None  # large uploads (PUT) arrive spooled, not in memory
    origin: str = ""  # scheme://host[:port] the request came in on (absolute URLs: identity)

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError("JSON_PARSER_ERROR", f"Unexpected character: {exc}") from None

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise ApiError("JSON_PARSER_ERROR",
                           "Cannot deserialize instance of object from the request body")
        return body

    def write_options(self) -> WriteOptions:
        dup = self.headers.get("sforce-duplicate-rule-header", "")
        return WriteOptions(auto_assign=self.headers.get("sforce-auto-assign"),
                            allow_save_duplicates="allowsave=true" in dup.replace(" ",
                                                                                   "").lower())

    def dml(self) -> Dml:
        return Dml(self.emu, self.session, self.write_options())

    @property
    def base(self) -> str:
        return f"/services/data/v{self.version}"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able, or bytes
    headers: dict[str, str] = field(default_factory=dict)
    stream: Callable[[], Iterator[bytes]] | AsyncIterator[bytes] | None = None
    media_type: str = "application/json;charset=UTF-8"


Handler = Callable[[ApiRequest], Reply]


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

        def register(fn: Handler) -> Handler:
            self.routes.append((method, regex, fn))
            # Literal segments win over parameters: describe before {id}.
            self.routes.sort(key=lambda r: r[1].groups)
            return fn
        return register

    def dispatch(self, req: ApiRequest) -> Reply:
        """Run the handler of the request's resource and method.  The resource is the first
        pattern the path matches (literal segments win); HEAD runs its GET handler (the app
        then drops the body); another method is a 405 naming the methods it answers."""
        resource = next((regex.pattern for _, regex, _ in self.routes
                         if regex.match(req.path)), None)
        if resource is None:
            raise not_found()
        handlers = {method: (regex, fn) for method, regex, fn in self.routes
                    if regex.pattern == resource}
        wanted = "GET" if req.method == "HEAD" else req.method
        if wanted not in handlers:
            raise method_not_allowed(req.method, handlers)
        regex, fn = handlers[wanted]
        match = regex.match(req.path)
        assert match is not None
        req.params = match.groupdict()
        return fn(req)


ROUTER = Router()

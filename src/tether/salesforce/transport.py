"""Sending one REST call: the bearer token, refresh on INVALID_SESSION_ID, retries with
backoff on transient errors, and the ``Sforce-Limit-Info`` usage report.

:class:`SalesforceClient` builds Salesforce's resources on top of this.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Self, TypeVar

import httpx

from tether.salesforce import auth
from tether.salesforce.auth import Credentials, OAuthApp
from tether.salesforce.errors import ErrorKind, SalesforceError, parse_error, transport_error
from tether.salesforce.limits import HEADER as LIMIT_HEADER
from tether.salesforce.limits import ApiUsage, parse_limit_info
from tether.salesforce.retry import IDEMPOTENT_METHODS, Backoff, should_retry

T = TypeVar("T")
UsageCallback = Callable[[str, int, int], Awaitable[None] | None]
RefreshCallback = Callable[[Credentials], Awaitable[None]]
Params = Mapping[str, str | int | float | bool]


class SalesforceTransport:
    def __init__(self, credentials: Credentials, app: OAuthApp, *,
                 http: httpx.AsyncClient | None = None, api_version: str = "59.0",
                 on_usage: UsageCallback | None = None,
                 on_refresh: RefreshCallback | None = None, max_retries: int = 4,
                 backoff: Backoff | None = None, timeout: float = 60.0,
                 owns_http: bool | None = None) -> None:
        self._credentials = credentials
        self.app = app
        # Closed with the client: one it made, or one handed over (owns_http) for it to close.
        self._owns_http = http is None if owns_http is None else owns_http
        self.http = http if http is not None else httpx.AsyncClient(timeout=timeout)
        self.api_version = api_version
        self.on_usage = on_usage
        self.on_refresh = on_refresh
        self.max_retries = max_retries
        self.backoff = backoff or Backoff()
        self.last_usage: ApiUsage | None = None
        self._refresh_lock = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------
    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def credentials(self) -> Credentials:
        return self._credentials

    @property
    def base_url(self) -> str:
        return f"{self._credentials.instance_url}/services/data/v{self.api_version}"

    def url(self, path: str) -> str:
        """An absolute URL, a path from the instance root (``/services/…``, as in
        ``nextRecordsUrl``), or a path below ``/services/data/vXX.X/``."""
        if path.startswith(("https://", "http://")):
            return path
        if path.startswith("/"):
            return self._credentials.instance_url + path
        return f"{self.base_url}/{path}"

    # -- sending --------------------------------------------------------------------------
    async def request(self, method: str, path: str, *, params: Params | None = None,
                      json: Any = None, headers: Mapping[str, str] | None = None,
                      idempotent: bool | None = None) -> httpx.Response:
        """One call, read whole; raises :class:`SalesforceError` once retries are spent."""
        method = method.upper()
        idem = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        return await self.retrying(
            lambda: self._authorized(method, path, params, json, headers, stream=False),
            idempotent=idem)

    async def json(self, method: str, path: str, **kw: Any) -> Any:
        response = await self.request(method, path, **kw)
        return response.json() if response.content else None

    @asynccontextmanager
    async def stream(self, method: str, path: str, *, params: Params | None = None,
                     headers: Mapping[str, str] | None = None) -> AsyncIterator[httpx.Response]:
        """An answer whose body is read by the caller (``aiter_text``/``aiter_bytes``).  Only
        idempotent calls stream, so the call is retried until its headers arrive."""
        method = method.upper()
        response = await self.retrying(
            lambda: self._authorized(method, path, params, None, headers, stream=True),
            idempotent=True)
        try:
            yield response
        finally:
            await response.aclose()

    async def retrying(self, attempt: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        tries = 0
        while True:
            try:
                return await attempt()
            except SalesforceError as error:
                if not should_retry(error, attempt=tries, max_retries=self.max_retries,
                                    idempotent=idempotent):
                    raise
            await asyncio.sleep(self.backoff.delay(tries))
            tries += 1

    async def _authorized(self, method: str, path: str, params: Params | None, body: Any,
                          headers: Mapping[str, str] | None, *,
                          stream: bool) -> httpx.Response:
        token = self._credentials.access_token
        try:
            return await self._send(method, path, token, params, body, headers, stream)
        except SalesforceError as error:
            if error.kind is not ErrorKind.AUTH or not error.retryable:
                raise
            await self._refresh(token, error)
        # Once per call: a second refusal right after a refresh is not a stale token.
        return await self._send(method, path, self._credentials.access_token, params, body,
                                headers, stream)

    async def _send(self, method: str, path: str, token: str, params: Params | None,
                    body: Any, headers: Mapping[str, str] | None,
                    stream: bool) -> httpx.Response:
        request = self.http.build_request(
            method, self.url(path), params=params, json=body,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                     **(headers or {})})
        try:
            response = await self.http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        try:
            await self._report_usage(response)
            if response.status_code < 300:
                return response
            if stream:
                await response.aread()
        except BaseException as exc:
            if stream:
                await response.aclose()
            if isinstance(exc, httpx.HTTPError):
                raise transport_error(exc) from exc
            raise
        if stream:
            await response.aclose()
        raise parse_error(response)

    async def _refresh(self, stale_token: str, error: SalesforceError) -> None:
        async with self._refresh_lock:
            if self._credentials.access_token != stale_token:
                return  # another request refreshed while this one waited
            if not self._credentials.refresh_token:
                raise error
            current = self._credentials
            fresh = await self.retrying(lambda: auth.refresh(self.http, self.app, current),
                                        idempotent=True)
            self._credentials = fresh
            if self.on_refresh is not None:
                await self.on_refresh(fresh)

    async def _report_usage(self, response: httpx.Response) -> None:
        usage = parse_limit_info(response.headers.get(LIMIT_HEADER))
        if usage is None:
            return
        self.last_usage = usage
        if self.on_usage is not None:
            result = self.on_usage(self._credentials.org_id, usage.used, usage.max)
            if inspect.isawaitable(result):
                await result

"""Fixtures: a fresh sfemu org per test, an httpx client trusting sfemu's CA that records what
it sends, and clients logged in with the password grant."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Sfemu
from tether.salesforce import Backoff, OAuthApp, SalesforceClient, password_login

PASSWORD = "tether-demo"
FAST = Backoff(base=0.001, cap=0.005)

Connect = Callable[..., Awaitable[SalesforceClient]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def org(sfemu: Sfemu) -> dict[str, str]:
    return sfemu.new_org()


@pytest.fixture
def app(sfemu: Sfemu) -> OAuthApp:
    return OAuthApp("tether", "tether-secret", sfemu.base_url)


def ssl_context(sfemu: Sfemu) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=sfemu.ca_file)


@pytest.fixture
def sent() -> list[httpx.Request]:
    """Every request the test's http client sent, in order."""
    return []


@pytest.fixture
async def http(sfemu: Sfemu, sent: list[httpx.Request]) -> AsyncIterator[httpx.AsyncClient]:
    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async with httpx.AsyncClient(verify=ssl_context(sfemu), timeout=15,
                                 event_hooks={"request": [record]}) as client:
        yield client


@pytest.fixture
def connect(http: httpx.AsyncClient, app: OAuthApp, org: dict[str, str]) -> Connect:
    """``await connect(username=…, http=…, **client options)``: a client for the test's org."""
    async def make(username: str | None = None, **options: Any) -> SalesforceClient:
        client = options.pop("http", http)
        credentials = await password_login(client, app, username=username or org["admin"],
                                           password=PASSWORD)
        options.setdefault("backoff", FAST)
        return SalesforceClient(credentials, app, http=client, **options)
    return make


def paths(requests: list[httpx.Request], method: str | None = None) -> list[str]:
    return [r.url.path for r in requests if method is None or r.method == method]

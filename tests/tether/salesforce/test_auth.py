"""OAuth against sfemu: the web-server flow with PKCE through the login page, password grant,
refresh on INVALID_SESSION_ID, invalid_grant, identity, revoke, the sandbox host."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import Sfemu
from tests.tether.salesforce.conftest import FAST, PASSWORD, Connect, paths
from tether.salesforce import (
    Credentials,
    ErrorKind,
    OAuthApp,
    SalesforceClient,
    SalesforceError,
    auth,
    authorize_url,
    exchange_code,
    new_pkce,
    new_state,
    password_login,
    revoke,
)

pytestmark = pytest.mark.anyio
REDIRECT = "http://127.0.0.1:8123/oauth/callback"


async def _web_server_flow(http: httpx.AsyncClient, app: OAuthApp, username: str, *,
                           login_url: str | None = None) -> Credentials:
    """What a browser does: open the authorize URL, post the login form, follow to the
    callback; then what Tether's callback does: check state, exchange the code."""
    verifier, challenge = new_pkce()
    state = new_state()
    url = authorize_url(app, REDIRECT, state, challenge, login_url=login_url)
    page = await http.get(url)
    assert page.status_code == 200 and "password" in page.text
    answer = await http.post(url, data={"username": username, "password": PASSWORD})
    assert answer.status_code == 302, answer.text
    callback = parse_qs(urlsplit(answer.headers["location"]).query)
    assert callback["state"] == [state]
    return await exchange_code(http, app, code=callback["code"][0], redirect_uri=REDIRECT,
                               code_verifier=verifier, login_url=login_url)


async def test_password_login_and_identity(http: httpx.AsyncClient, app: OAuthApp,
                                           org: dict[str, str], sfemu: Sfemu) -> None:
    creds = await password_login(http, app, username=org["rep"], password=PASSWORD)
    assert creds.org_id == org["id"] and creds.refresh_token is None
    assert creds.instance_url == sfemu.base_url and creds.issued_at.tzinfo is not None
    assert "access_token" not in repr(creds) and creds.access_token not in repr(creds)
    who = await auth.identity(http, creds)
    assert (who.username, who.org_id, who.user_id) == (org["rep"], org["id"], creds.user_id)
    assert who.email == org["rep"]
    async with SalesforceClient(creds, app, http=http) as sf:
        assert (await sf.identity()).username == org["rep"]


async def test_wrong_password_is_invalid_grant(http: httpx.AsyncClient, app: OAuthApp,
                                               org: dict[str, str]) -> None:
    with pytest.raises(SalesforceError) as caught:
        await password_login(http, app, username=org["admin"], password="wrong")
    assert caught.value.error_code == "invalid_grant"
    assert caught.value.kind is ErrorKind.AUTH and not caught.value.retryable


async def test_code_exchange_refresh_on_invalid_session(
        http: httpx.AsyncClient, app: OAuthApp, org: dict[str, str],
        sent: list[httpx.Request]) -> None:
    creds = await _web_server_flow(http, app, org["admin"])
    assert creds.refresh_token and creds.org_id == org["id"]
    refreshed: list[Credentials] = []

    async def keep(new: Credentials) -> None:
        refreshed.append(new)

    sf = SalesforceClient(creds, app, http=http, on_refresh=keep, backoff=FAST)
    contact_id = await sf.create("Contact", {"LastName": "Refresh"})
    assert await revoke(http, creds.access_token, login_url=creds.login_url)
    sent.clear()
    record = await sf.get("Contact", contact_id)
    assert record["LastName"] == "Refresh"
    # One refused call, one refresh, the same call again.
    assert paths(sent) == [f"/services/data/v59.0/sobjects/Contact/{contact_id}",
                           "/services/oauth2/token",
                           f"/services/data/v59.0/sobjects/Contact/{contact_id}"]
    assert len(refreshed) == 1 and refreshed[0] == sf.credentials
    assert sf.credentials.access_token != creds.access_token
    assert sf.credentials.refresh_token == creds.refresh_token

    # Revoking the refresh token ends its access tokens too: now the refresh itself fails.
    assert await revoke(http, creds.refresh_token or "", login_url=creds.login_url)
    assert not await revoke(http, "5AepNotAToken", login_url=creds.login_url)
    sent.clear()
    with pytest.raises(SalesforceError) as caught:
        await sf.get("Contact", contact_id)
    assert caught.value.error_code == "invalid_grant" and caught.value.kind is ErrorKind.AUTH
    assert paths(sent) == [f"/services/data/v59.0/sobjects/Contact/{contact_id}",
                           "/services/oauth2/token"]
    assert len(refreshed) == 1


async def test_no_refresh_token_means_auth_error(connect: Connect, http: httpx.AsyncClient
                                                 ) -> None:
    sf = await connect()
    await revoke(http, sf.credentials.access_token, login_url=sf.credentials.login_url)
    with pytest.raises(SalesforceError) as caught:
        await sf.limits()
    assert caught.value.error_code == "INVALID_SESSION_ID"
    assert caught.value.kind is ErrorKind.AUTH


async def test_sandbox_login_host(http: httpx.AsyncClient, sfemu: Sfemu,
                                  org: dict[str, str]) -> None:
    sandbox = sfemu.new_org(sandbox_of=org["name"])
    app = OAuthApp("tether", "tether-secret", sfemu.base_url)
    with pytest.raises(SalesforceError) as caught:  # a sandbox user on the production host
        await password_login(http, app, username=sandbox["admin"], password=PASSWORD)
    assert caught.value.error_code == "invalid_grant"
    test_host = f"{sfemu.base_url}/test"
    creds = await _web_server_flow(http, app, sandbox["admin"], login_url=test_host)
    assert creds.org_id == sandbox["id"] and creds.login_url == test_host
    refreshed = await auth.refresh(http, app, creds)
    assert refreshed.org_id == sandbox["id"] and refreshed.refresh_token == creds.refresh_token


async def test_code_is_single_use_and_needs_the_verifier(http: httpx.AsyncClient,
                                                         app: OAuthApp,
                                                         org: dict[str, str]) -> None:
    verifier, challenge = new_pkce()
    url = authorize_url(app, REDIRECT, new_state(), challenge)
    answer = await http.post(url, data={"username": org["admin"], "password": PASSWORD})
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    with pytest.raises(SalesforceError) as caught:
        await exchange_code(http, app, code=code, redirect_uri=REDIRECT,
                            code_verifier="not-the-verifier")
    assert caught.value.error_code == "invalid_grant"
    with pytest.raises(SalesforceError):  # spent, even though the first try failed
        await exchange_code(http, app, code=code, redirect_uri=REDIRECT,
                            code_verifier=verifier)


async def test_concurrent_calls_refresh_once(http: httpx.AsyncClient, app: OAuthApp,
                                             org: dict[str, str],
                                             sent: list[httpx.Request]) -> None:
    creds = await _web_server_flow(http, app, org["admin"])
    refreshed: list[Credentials] = []

    async def keep(new: Credentials) -> None:
        refreshed.append(new)

    sf = SalesforceClient(creds, app, http=http, on_refresh=keep, backoff=FAST)
    await revoke(http, creds.access_token, login_url=creds.login_url)
    sent.clear()
    results = await asyncio.gather(*(sf.limits() for _ in range(6)))
    assert all(r["DailyApiRequests"]["Max"] for r in results)
    assert paths(sent).count("/services/oauth2/token") == 1 and len(refreshed) == 1

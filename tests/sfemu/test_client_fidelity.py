"""What third-party clients (jsforce, the Salesforce CLI) rely on, over plain HTTP: the
identity URL on both login hosts, SOAP logout, retrieve by body, honest 405s, JSON 404s on
every path, doubled slashes, recent items, list views, compact layouts, HEAD, composite limits
and the real-time package firing for seeded data."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest

from tests.conftest import Sfemu
from tests.sfemu.rest_helpers import Rest, V

NOT_FOUND = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
_LOGIN = ('<?xml version="1.0" encoding="utf-8"?><env:Envelope '
          'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>'
          '<n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>{}</n1:username>'
          '<n1:password>tether-demo</n1:password></n1:login></env:Body></env:Envelope>')
_LOGOUT = ('<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header>'
           '<SessionHeader xmlns="urn:partner.soap.sforce.com"><sessionId>{}</sessionId>'
           '</SessionHeader></se:Header><se:Body><logout xmlns="urn:partner.soap.sforce.com"/>'
           '</se:Body></se:Envelope>')


def _soap(c: httpx.Client, path: str, envelope: str) -> httpx.Response:
    return c.post(path, content=envelope, headers={"Content-Type": "text/xml",
                                                   "SOAPAction": '""'})


def _tag(xml: str, name: str) -> str:
    found = re.search(f"<{name}>([^<]*)</{name}>", xml)
    assert found, xml
    return found.group(1)


def _password_grant(c: httpx.Client, prefix: str, username: str) -> dict[str, Any]:
    r = c.post(f"{prefix}/services/oauth2/token", data={
        "grant_type": "password", "client_id": "tether", "client_secret": "tether-secret",
        "username": username, "password": "tether-demo"})
    assert r.status_code == 200, r.text
    return dict(r.json())


# -- 1, 2: identity -----------------------------------------------------------------------------
def test_resource_map_names_the_identity_url(sfemu: Sfemu, org: dict[str, str],
                                            admin: Rest) -> None:
    body = admin.call("GET", f"{V}/").json()
    user_id = admin.query("SELECT Id FROM User WHERE Username = "
                          f"'{org['admin']}'")["records"][0]["Id"]
    assert body["identity"] == f"{sfemu.base_url}/id/{org['id']}/{user_id}"
    assert body["sobjects"] == f"{V}/sobjects" and body["recent"] == f"{V}/recent"
    # jsforce reads it with the token as a query parameter (and as a header).
    with sfemu.client() as c:
        me = c.get(body["identity"], params={"format": "json", "oauth_token": admin.token})
    assert me.status_code == 200 and me.json()["user_id"] == user_id
    assert me.json()["id"] == body["identity"]


def test_sandbox_login_host_serves_identity_and_userinfo(sfemu: Sfemu) -> None:
    prod = sfemu.new_org()
    sandbox = sfemu.new_org(sandbox_of=prod["name"])
    with sfemu.client() as c:
        token = _password_grant(c, "/test", sandbox["admin"])
        assert token["id"].startswith(f"{sfemu.base_url}/test/id/{sandbox['id']}/")
        assert token["instance_url"] == sfemu.base_url
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        ident = c.get(token["id"], headers=auth)
        assert ident.status_code == 200 and ident.json()["id"] == token["id"]
        assert ident.json()["is_sandbox"] is True
        info = c.get("/test/services/oauth2/userinfo", headers=auth)
        assert info.status_code == 200 and info.json()["sub"] == token["id"]
        resources = c.get(f"{V}/", headers=auth).json()
        assert resources["identity"] == token["id"]
        # The production host answers both as well, naming itself.
        prod_token = _password_grant(c, "", prod["admin"])
        assert prod_token["id"].startswith(f"{sfemu.base_url}/id/{prod['id']}/")
        prod_auth = {"Authorization": f"Bearer {prod_token['access_token']}"}
        assert c.get(prod_token["id"], headers=prod_auth).status_code == 200
        assert c.get("/services/oauth2/userinfo", headers=prod_auth).json()["sub"] == \
            prod_token["id"]


# -- 3: SOAP logout -----------------------------------------------------------------------------
def test_soap_logout_ends_the_session(sfemu: Sfemu, org: dict[str, str]) -> None:
    with sfemu.client() as c:
        login = _soap(c, "/services/Soap/u/59.0", _LOGIN.format(org["admin"]))
        assert login.status_code == 200, login.text
        session, server_url = _tag(login.text, "sessionId"), _tag(login.text, "serverUrl")
        auth = {"Authorization": f"Bearer {session}"}
        assert c.get(f"{V}/limits", headers=auth).status_code == 200
        out = _soap(c, server_url, _LOGOUT.format(session))  # serverUrl names the org
        assert out.status_code == 200 and "<logoutResponse/>" in out.text
        dead = c.get(f"{V}/limits", headers=auth)
        assert dead.status_code == 401 and dead.json()[0]["errorCode"] == "INVALID_SESSION_ID"
        again = _soap(c, "/services/Soap/u/59.0", _LOGOUT.format(session))
        assert again.status_code == 500 and "INVALID_SESSION_ID" in again.text
        unknown = _soap(c, "/services/Soap/u/59.0", _LOGOUT.replace("logout", "frobnicate"))
        assert unknown.status_code == 500 and "No operation available" in unknown.text


# -- 4: retrieve by body, 405s ------------------------------------------------------------------
def test_collection_retrieve_by_body(admin: Rest) -> None:
    ids = [admin.create("Account", Name=f"R{i}") for i in range(3)]
    missing = "001000000000000AAA"
    by_url = admin.call("GET", "composite/sobjects/Account",
                        params={"ids": ",".join([*ids, missing]), "fields": "Id,Name"}).json()
    by_body = admin.call("POST", "composite/sobjects/Account",
                         json={"ids": [*ids, missing], "fields": ["Id", "Name"]})
    assert by_body.status_code == 200 and by_body.json() == by_url
    assert [r and r["Name"] for r in by_body.json()] == ["R0", "R1", "R2", None]
    too_many = admin.call("POST", "composite/sobjects/Account",
                          json={"ids": [missing] * 2001, "fields": ["Id"]})
    assert admin.error(too_many)["errorCode"] == "EXCEEDED_ID_LIMIT"
    bad = admin.call("POST", "composite/sobjects/Account", json={"ids": "x", "fields": ["Id"]})
    assert admin.error(bad)["errorCode"] == "JSON_PARSER_ERROR"


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", f"{V}/composite/sobjects", "PATCH,POST,DELETE"),
    ("DELETE", f"{V}/composite/sobjects/Account", "GET,HEAD,POST"),
    ("POST", f"{V}/sobjects/Account/describe", "GET,HEAD"),
    ("PUT", f"{V}/sobjects/Account/001000000000000AAA", "GET,HEAD,PATCH,DELETE"),
    ("POST", f"{V}/limits", "GET,HEAD"),
    ("GET", "/services/oauth2/token", "POST"),
    ("DELETE", "/test/services/oauth2/token", "POST"),
])
def test_405_names_the_methods_really_allowed(admin: Rest, method: str, path: str,
                                              allowed: str) -> None:
    r = admin.call(method, path)
    assert r.status_code == 405
    assert admin.error(r) == {"errorCode": "METHOD_NOT_ALLOWED", "fields": [],
                              "message": f"HTTP Method '{method}' not allowed. Allowed are "
                                         f"{allowed}"}
    assert r.headers["allow"] == allowed.replace(",", ", ")


# -- 5: doubled slashes, JSON 404s everywhere ---------------------------------------------------
def test_doubled_slash_is_the_same_resource(sfemu: Sfemu, admin: Rest) -> None:
    # An absolute URL: httpx would merge a relative "//…" onto the base URL as "/…".
    r = admin.client.get(f"{sfemu.base_url}/{V}/limits")
    assert r.request.url.raw_path == f"/{V}/limits".encode()
    assert r.status_code == 200 and "DailyApiRequests" in r.json()
    r = admin.client.get(f"{sfemu.base_url}/{V}//sobjects//Account/describe")
    assert r.status_code == 200 and r.json()["name"] == "Account"


@pytest.mark.parametrize("path", [
    "/nope", "/test/nope", "/services", "/services/data/v59.0/nope", "/services/data/v99.0/limits",
    "/services/data/v59.0/sobjects/Account/001000000000000AAA", "/__sfemu__/nope",
    "/services/oauth2/nope", "/test/services/Soap/c/59.0", "//nope//deeper",
])
def test_unknown_routes_answer_json_not_found(admin: Rest, path: str) -> None:
    r = admin.call("GET", path)
    assert r.status_code == 404 and r.json() == NOT_FOUND
    assert r.headers["content-type"].startswith("application/json")


# -- 6: recent, list views, compact layouts, HEAD -----------------------------------------------
def test_recent_items_follow_what_the_user_read_and_wrote(admin: Rest, rep: Rest) -> None:
    first = admin.create("Account", Name="First")
    second = admin.create("Contact", LastName="Second")
    admin.get("Account", first)  # viewed again: now the newest
    items = admin.call("GET", "recent").json()
    assert [(i["Id"], i["Name"]) for i in items[:2]] == [(first, "First"), (second, "Second")]
    assert items[0]["attributes"] == {"type": "Account", "url": f"{V}/sobjects/Account/{first}"}
    assert [i["Id"] for i in admin.call("GET", "recent", params={"limit": 1}).json()] == [first]
    assert admin.error(admin.call("GET", "recent", params={"limit": "x"}))["errorCode"] == \
        "INVALID_QUERY_PARAMETER_VALUE"
    info = admin.call("GET", "sobjects/Contact").json()
    assert [i["Id"] for i in info["recentItems"]] == [second]
    assert rep.call("GET", "recent").json() == []  # per user
    admin.call("DELETE", f"sobjects/Contact/{second}")
    assert [i["Id"] for i in admin.call("GET", "recent").json()] == [first]


def test_list_views(admin: Rest, rep: Rest) -> None:
    mine = admin.create("Account", Name="Mine")
    theirs = rep.create("Account", Name="Theirs")
    body = admin.call("GET", "sobjects/Account/listviews").json()
    assert body["done"] is True and body["sobjectType"] == "Account"
    assert body["size"] == len(body["listviews"]) == 3
    views = {v["developerName"]: v for v in body["listviews"]}
    assert set(views) == {"AllAccounts", "MyAccounts", "RecentlyViewedAccounts"}
    every = views["AllAccounts"]
    assert every["label"] == "All Accounts" and every["soqlCompatible"] is True
    assert every["url"] == f"{V}/sobjects/Account/listviews/{every['id']}"
    assert admin.call("GET", every["url"]).json() == every
    described = admin.call("GET", every["describeUrl"]).json()
    assert described["scope"] == "everything" and described["sobjectType"] == "Account"
    assert admin.query(described["query"])["totalSize"] == 2

    def names(view: str) -> list[str]:
        out = admin.call("GET", views[view]["resultsUrl"]).json()
        return [next(c["value"] for c in r["columns"] if c["fieldNameOrPath"] == "Name")
                for r in out["records"]]
    assert names("AllAccounts") == ["Mine", "Theirs"]
    assert names("MyAccounts") == ["Mine"]
    assert names("RecentlyViewedAccounts") == ["Mine"]
    page = admin.call("GET", every["resultsUrl"], params={"limit": 1, "offset": 1}).json()
    assert page["size"] == 1 and page["done"] is True
    assert admin.call("GET", every["resultsUrl"], params={"limit": 1}).json()["done"] is False
    assert page["records"][0]["columns"][-1] == {"fieldNameOrPath": "Id", "value": theirs}
    recent = admin.call("GET", "sobjects/Account/listviews/recent").json()
    assert [v["developerName"] for v in recent["listviews"]] == ["RecentlyViewedAccounts"]
    unowned = admin.call("GET", "sobjects/OpportunityContactRole/listviews").json()
    assert [v["developerName"][:3] for v in unowned["listviews"]] == ["All", "Rec"]  # no "My"
    assert admin.call("GET", f"{V}/sobjects/Account/listviews/00B000000000000AAA").json() == \
        NOT_FOUND
    assert [i["Id"] for i in admin.call("GET", "recent").json()] == [mine]


def test_compact_layouts(admin: Rest) -> None:
    body = admin.call("GET", "sobjects/Contact/describe/compactLayouts").json()
    (layout,) = body["compactLayouts"]
    assert layout["name"] == "SYSTEM" and layout["objectType"] == "Contact"
    fields = [i["layoutComponents"][0]["value"] for i in layout["fieldItems"]]
    assert fields == ["Name", "Title", "AccountId", "Phone", "Email"]
    (mapping,) = body["recordTypeCompactLayoutMappings"]
    assert mapping["recordTypeId"] == "012000000000000AAA"
    one = admin.call("GET", mapping["urls"]["compactLayout"]).json()
    assert one == layout
    task = admin.call("GET", "sobjects/Task/describe/compactLayouts").json()
    assert task["compactLayouts"][0]["fieldItems"][0]["label"] == "Subject"


def test_head_answers_as_get_without_a_body(admin: Rest) -> None:
    get = admin.call("GET", "limits")
    head = admin.call("HEAD", "limits")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["sforce-limit-info"].startswith("api-usage=")
    assert admin.call("HEAD", "sobjects/Account/001000000000000AAA").status_code == 404
    assert admin.call("HEAD", f"{V}").status_code == 200
    assert admin.call("HEAD", "/services/data/").status_code == 200


# -- 7: composite limits ------------------------------------------------------------------------
def _collection(n: int, tag: str) -> dict[str, Any]:
    return {"method": "POST", "url": f"{V}/composite/sobjects", "referenceId": tag,
            "body": {"allOrNone": True, "records": [
                {"attributes": {"type": "Account"}, "Name": f"{tag}-{i}"} for i in range(n)]}}


def test_composite_carries_five_collections_of_200_as_one_call(sfemu: Sfemu,
                                                              org: dict[str, str],
                                                              admin: Rest) -> None:
    before = sfemu.admin("GET", f"/orgs/{org['name']}/api-usage").json()["total"]
    body = {"allOrNone": True, "compositeRequest": [_collection(200, f"c{n}") for n in range(5)]}
    r = admin.call("POST", "composite", json=body)
    assert r.status_code == 200
    out = r.json()["compositeResponse"]
    assert [o["httpStatusCode"] for o in out] == [200] * 5
    assert all(rec["success"] for o in out for rec in o["body"])
    assert sfemu.admin("GET", f"/orgs/{org['name']}/api-usage").json()["total"] == before + 1
    assert admin.query("SELECT COUNT() FROM Account")["totalSize"] == 1000


def test_composite_refuses_a_sixth_collection_or_query(admin: Rest) -> None:
    query = {"method": "GET", "url": f"{V}/query?q=SELECT+Id+FROM+Account", "referenceId": "q"}
    for sixth in (_collection(1, "c5"), query,
                  {**query, "url": f"{V}/queryAll/?q=SELECT+Id+FROM+Account"},
                  {"method": "GET", "referenceId": "r",
                   "url": f"{V}/composite/sobjects/Account?ids=001000000000000AAA&fields=Id"}):
        body = {"compositeRequest": [*(_collection(1, f"c{n}") for n in range(5)), sixth]}
        r = admin.call("POST", "composite", json=body)
        assert r.status_code == 400
        assert r.json() == {"compositeResponse": [{
            "body": [{"errorCode": "LIMIT_EXCEEDED", "message": "The request can’t contain "  # noqa: RUF001
                      "more than 5 sObject Collections or query operations."}],
            "httpHeaders": {}, "httpStatusCode": 400, "referenceId": None}]}
    assert admin.query("SELECT COUNT() FROM Account")["totalSize"] == 0  # nothing ran
    ok = {"compositeRequest": [*(_collection(1, f"c{n}") for n in range(5)),
                               {"method": "GET", "url": f"{V}/limits", "referenceId": "l"}]}
    assert admin.call("POST", "composite", json=ok).status_code == 200
    many = {"compositeRequest": [{"method": "GET", "url": f"{V}/limits", "referenceId": f"r{i}"}
                                 for i in range(26)]}
    r = admin.call("POST", "composite", json=many)
    assert r.status_code == 400
    assert r.json()["compositeResponse"][0]["body"] == [{
        "errorCode": "LIMIT_EXCEEDED",
        "message": "The request can’t contain more than 25 operations."}]  # noqa: RUF001


# -- 8: seeding fires the real-time package -----------------------------------------------------
class _Hook(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        type(self).bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    _Hook.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_seeding_fires_the_package_200_records_at_a_time(sfemu: Sfemu, org: dict[str, str],
                                                         webhook: str) -> None:
    import json
    import time
    assert sfemu.admin("POST", f"/orgs/{org['name']}/package",
                       json={"webhook_url": webhook, "token": "t"}).status_code == 200
    seeded = sfemu.admin("POST", f"/orgs/{org['name']}/seed",
                         json={"accounts": 450, "contacts": 0, "leads": 0}).json()
    assert seeded["accounts"] == 450
    deadline = time.time() + 20
    while time.time() < deadline and sum(
            1 for b in _Hook.bodies if b'"Account"' in b) < 3:
        time.sleep(0.1)
    sizes = []
    for raw in _Hook.bodies:
        for change in json.loads(raw)["changes"]:
            if change["object"] == "Account":
                assert change["operation"] == "insert"
                sizes.append(len(change["records"]))
    assert sorted(sizes, reverse=True) == [200, 200, 50]

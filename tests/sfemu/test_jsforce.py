"""jsforce 3, unmodified, against a live sfemu over HTTPS (see jsforce_env for the install).

What jsforce sends, from its source (lib/connection.js, lib/query.js, lib/sobject.js):

- ``conn.login(user, password)`` without OAuth client settings is the SOAP partner ``login``
  at ``<loginUrl>/services/Soap/u/<version>``; the identity URL it keeps is built on the
  login host (``<loginUrl>/id/<org>/<user>``), so the sandbox host must serve it too.
  ``conn.logout()`` is the SOAP ``logout`` at ``<instanceUrl>/services/Soap/u/<version>``.
- A Connection made from ``accessToken`` + ``instanceUrl`` has no identity URL:
  ``identity()`` reads ``identity`` from the resource map, then GETs it with
  ``?format=json&oauth_token=…``.
- From API 42.0 several records go through sObject Collections; ``retrieve(ids)`` is
  ``POST composite/sobjects/{T}`` with ``{"ids","fields"}`` (all fields from describe).
- ``queryMore(url)`` and ``autoFetch`` follow ``nextRecordsUrl`` as ``query/<locator>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Sfemu
from tests.sfemu.jsforce_env import Jsforce, JsforceError, ensure_jsforce

VERSION = "59.0"


@pytest.fixture(scope="module")
def jsforce(sfemu: Sfemu) -> Iterator[Jsforce]:
    yield Jsforce(ensure_jsforce(), sfemu.base_url, sfemu.ca_file)


def _by_token(jsforce: Jsforce, sfemu: Sfemu, username: str, body: str,
              sandbox: bool = False, **params: Any) -> Any:
    """Run ``body`` with ``conn``: a Connection made from an access token and instance URL."""
    return jsforce.run(
        "const conn = new jsforce.Connection({instanceUrl: P.base, accessToken: P.token, "
        f"version: '{VERSION}'}});\n{body}",
        token=sfemu.token(username, sandbox=sandbox), **params)


def test_it_is_jsforce_3(jsforce: Jsforce) -> None:
    assert jsforce.version.split(".")[0] == "3"


@pytest.mark.parametrize("sandbox", [False, True], ids=["production", "sandbox"])
def test_soap_login_identity_and_logout(jsforce: Jsforce, sfemu: Sfemu,
                                        sandbox: bool) -> None:
    prod = sfemu.new_org()
    org = sfemu.new_org(sandbox_of=prod["name"]) if sandbox else prod
    login_url = sfemu.base_url + ("/test" if sandbox else "")
    out = jsforce.run(f"""
        const conn = new jsforce.Connection({{loginUrl: P.loginUrl, version: '{VERSION}'}});
        const info = await conn.login(P.username, 'tether-demo');
        const me = await conn.identity();
        const token = conn.accessToken, instanceUrl = conn.instanceUrl;
        const users = await conn.query("SELECT Id FROM User WHERE Username = '" + P.username
                                       + "'");
        await conn.logout();
        let after = 'still valid';
        try {{
          await new jsforce.Connection({{instanceUrl, accessToken: token,
                                         version: '{VERSION}'}}).query('SELECT Id FROM User');
        }} catch (e) {{ after = e.errorCode; }}
        return {{info, me: {{id: me.id, user_id: me.user_id, org: me.organization_id,
                             username: me.username}}, instanceUrl, users: users.records,
                after, cleared: conn.accessToken}};
    """, loginUrl=login_url, username=org["admin"])
    info = out["info"]
    assert info["organizationId"] == org["id"]
    assert info["url"] == f"{login_url}/id/{org['id']}/{info['id']}"
    assert out["me"] == {"id": info["url"], "user_id": info["id"], "org": org["id"],
                         "username": org["admin"]}
    assert out["instanceUrl"] == sfemu.base_url
    assert [u["Id"] for u in out["users"]] == [info["id"]]
    assert out["after"] == "INVALID_SESSION_ID" and out["cleared"] is None


def test_wrong_password_is_refused(jsforce: Jsforce, sfemu: Sfemu) -> None:
    with pytest.raises(JsforceError, match="INVALID_LOGIN"):
        jsforce.run(f"""
            const conn = new jsforce.Connection({{loginUrl: P.base, version: '{VERSION}'}});
            await conn.login('admin@acme.example', 'wrong');
        """)


@pytest.mark.parametrize("sandbox", [False, True], ids=["production", "sandbox"])
def test_identity_of_a_connection_made_from_a_token(jsforce: Jsforce, sfemu: Sfemu,
                                                    sandbox: bool) -> None:
    prod = sfemu.new_org()
    org = sfemu.new_org(sandbox_of=prod["name"]) if sandbox else prod
    me = _by_token(jsforce, sfemu, org["admin"], """
        const me = await conn.identity();
        return {id: me.id, org: me.organization_id, username: me.username,
                kept: conn.userInfo.url};
    """, sandbox=sandbox)
    host = sfemu.base_url + ("/test" if sandbox else "")
    assert me["id"].startswith(f"{host}/id/{org['id']}/") and me["kept"] == me["id"]
    assert me["org"] == org["id"] and me["username"] == org["admin"]


def test_query_query_more_and_auto_fetch(jsforce: Jsforce, sfemu: Sfemu,
                                         org: dict[str, str]) -> None:
    seeded = sfemu.admin("POST", f"/orgs/{org['name']}/seed", json={"contacts": 2500})
    assert seeded.status_code == 200, seeded.text
    out = _by_token(jsforce, sfemu, org["admin"], """
        const first = await conn.query('SELECT Id FROM Contact');
        const more = await conn.queryMore(first.nextRecordsUrl);
        const all = await conn.query('SELECT Id, LastName FROM Contact')
                              .execute({autoFetch: true, maxFetch: 10000});
        const capped = await conn.query('SELECT Id FROM Contact')
                                 .execute({autoFetch: true, maxFetch: 2100});
        return {first: [first.totalSize, first.done, first.records.length],
                more: [more.done, more.records.length],
                all: all.records.length, distinct: new Set(all.records.map(r => r.Id)).size,
                lastName: typeof all.records[0].LastName, capped: capped.records.length};
    """)
    assert out["first"] == [2500, False, 2000]
    assert out["more"] == [True, 500]
    assert out["all"] == out["distinct"] == 2500 and out["lastName"] == "string"
    assert out["capped"] == 2100


def test_create_retrieve_update_delete_one_and_many(jsforce: Jsforce, sfemu: Sfemu,
                                                    org: dict[str, str]) -> None:
    out = _by_token(jsforce, sfemu, org["admin"], """
        const accounts = conn.sobject('Account'), contacts = conn.sobject('Contact');
        const one = await accounts.create({Name: 'Solo'});
        const got = await accounts.retrieve(one.id);
        const updated = await accounts.update({Id: one.id, Name: 'Solo 2'});
        const renamed = (await accounts.retrieve(one.id, {fields: ['Name']})).Name;
        const records = Array.from({length: 250}, (_, i) => ({LastName: 'L' + i}));
        const made = await contacts.create(records, {allowRecursive: true});
        const ids = made.map(r => r.id);
        const fetched = await contacts.retrieve(ids);  // one POST composite/sobjects/Contact
        const changed = await contacts.update(ids.slice(0, 3).map((Id, i) => (
            {Id, FirstName: 'F' + i})));
        const again = await contacts.retrieve(ids.slice(0, 3), {fields: ['FirstName']});
        const removed = await contacts.destroy(ids, {allowRecursive: true});
        const gone = await contacts.retrieve(ids.slice(0, 2));
        const dropped = await accounts.destroy(one.id);
        let missing;
        try { await accounts.retrieve(one.id); } catch (e) { missing = e.errorCode; }
        return {one, name: got.Name, type: got.attributes.type, updated, renamed,
                made: [made.length, made.every(r => r.success)],
                fetched: [fetched.length, fetched[249].LastName, 'Email' in fetched[0]],
                changed: changed.map(r => r.success),
                again: again.map(r => r.FirstName), removed: removed.every(r => r.success),
                gone, dropped, missing};
    """)
    rid = out["one"]["id"]
    assert out["one"] == {"id": rid, "success": True, "errors": []}
    assert (out["name"], out["type"], out["renamed"]) == ("Solo", "Account", "Solo 2")
    assert out["updated"] == {"id": rid, "success": True, "errors": []}
    assert out["made"] == [250, True]
    assert out["fetched"] == [250, "L249", True]
    assert out["changed"] == [True, True, True]
    assert out["again"] == ["F0", "F1", "F2"]
    assert out["removed"] is True and out["gone"] == [None, None]
    assert out["dropped"] == {"id": rid, "success": True, "errors": []}
    assert out["missing"] == "NOT_FOUND"


def test_describe_limits_recent_listviews_and_layouts(jsforce: Jsforce, sfemu: Sfemu,
                                                      org: dict[str, str]) -> None:
    out = _by_token(jsforce, sfemu, org["admin"], """
        const d = await conn.describe('Account');
        const g = await conn.describeGlobal();
        const limits = await conn.limits();
        const a = await conn.sobject('Account').create({Name: 'Seen'});
        const c = await conn.sobject('Contact').create({LastName: 'Seen too'});
        const recent = await conn.recent(10);
        const recentAccounts = await conn.sobject('Account').recent();
        const views = await conn.sobject('Account').listviews();
        const every = views.listviews.find(v => v.developerName === 'AllAccounts');
        const results = await conn.sobject('Account').listview(every.id).results();
        const described = await conn.sobject('Account').listview(every.id).describe();
        const compact = await conn.sobject('Account').compactLayouts();
        const layouts = await conn.sobject('Account').layouts();
        return {name: d.name, fields: d.fields.length, objects: g.sobjects.map(s => s.name),
                limit: limits.DailyApiRequests.Max, used: conn.limitInfo.apiUsage.used,
                recent: recent.map(r => r.Id), recentAccounts: recentAccounts.map(r => r.Name),
                ids: [a.id, c.id], views: views.listviews.map(v => v.label),
                results: results.records.map(r => r.columns[0].value),
                query: described.query, compact: compact.compactLayouts[0].name,
                compactFields: compact.compactLayouts[0].fieldItems.map(i => i.label),
                layout: layouts.layouts[0].editLayoutSections.length};
    """)
    assert out["name"] == "Account" and out["fields"] > 10
    assert {"Account", "Contact", "Lead", "Task"} <= set(out["objects"])
    assert out["limit"] > 0 and out["used"] > 0
    assert out["recent"] == list(reversed(out["ids"]))
    assert out["recentAccounts"] == ["Seen"]
    assert out["views"] == ["All Accounts", "My Accounts", "Recently Viewed Accounts"]
    assert out["results"] == ["Seen"]
    assert out["query"].startswith("SELECT Name") and "FROM Account" in out["query"]
    assert out["compact"] == "SYSTEM" and out["compactFields"][0] == "Account Name"
    assert out["layout"] == 1


def test_composite_through_request_post(jsforce: Jsforce, sfemu: Sfemu,
                                        org: dict[str, str]) -> None:
    out = _by_token(jsforce, sfemu, org["admin"], f"""
        const collection = (tag, n) => ({{
          method: 'POST', url: '/services/data/v{VERSION}/composite/sobjects',
          referenceId: tag, body: {{allOrNone: true, records: Array.from({{length: n}},
            (_, i) => ({{attributes: {{type: 'Account'}}, Name: tag + '-' + i}}))}}}});
        await conn.limits();
        const before = conn.limitInfo.apiUsage.used;
        const five = await conn.requestPost('/composite', {{allOrNone: true,
          compositeRequest: [0, 1, 2, 3, 4].map(n => collection('c' + n, 200))}});
        const after = conn.limitInfo.apiUsage.used;
        const chained = await conn.requestPost('/composite', {{compositeRequest: [
          {{method: 'POST', url: '/services/data/v{VERSION}/sobjects/Account',
            referenceId: 'acct', body: {{Name: 'Parent'}}}},
          {{method: 'POST', url: '/services/data/v{VERSION}/sobjects/Contact',
            referenceId: 'ct', body: {{LastName: 'Child', AccountId: '@{{acct.id}}'}}}},
          {{method: 'GET', referenceId: 'q', url: '/services/data/v{VERSION}/query?q=' +
            // a reference is only read literally: encode around it
            encodeURIComponent("SELECT Account.Name FROM Contact WHERE Id = '") + '@{{ct.id}}' +
            encodeURIComponent("'")}}]}});
        let refused;
        try {{
          await conn.requestPost('/composite', {{compositeRequest:
            [0, 1, 2, 3, 4, 5].map(n => collection('x' + n, 1))}});
        }} catch (e) {{ refused = e.message; }}
        const count = await conn.query('SELECT COUNT() FROM Account');
        return {{five: five.compositeResponse.map(r => [r.httpStatusCode, r.body.length]),
                 calls: after - before,
                 chained: chained.compositeResponse.map(r => r.httpStatusCode),
                 parent: chained.compositeResponse[2].body.records[0].Account.Name,
                 refused, accounts: count.totalSize}};
    """)
    assert out["five"] == [[200, 200]] * 5
    assert out["calls"] == 1
    assert out["chained"] == [201, 201, 200] and out["parent"] == "Parent"
    assert "LIMIT_EXCEEDED" in out["refused"]
    assert out["accounts"] == 1001

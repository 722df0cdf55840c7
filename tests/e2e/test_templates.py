"""Email templates end to end, on SQLite and PostgreSQL: labels checked against the org's
fields (a real sfemu, over HTTP) when saved, rendered for Leads and Contacts from the mirror
without a Salesforce API call; the workspace's and a member's own templates."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.activity_env import connected_env
from tests.e2e.conftest import Tether

LEAD_EMAIL, CONTACT_EMAIL = "obrien@initech.example", "jane@globex.example"


def _call(tether: Tether, key: str, method: str, path: str, **kw: Any) -> httpx.Response:
    with tether.client(key) as c:
        return c.request(method, path, **kw)


def test_templates_render_leads_and_contacts_from_the_mirror(tether: Tether) -> None:
    env = connected_env(tether)
    account = env.create("Account", Name="Globex", Phone="+1 555 0199")
    contact = env.create("Contact", FirstName="Jane", LastName="Doe", Phone="+1 555 0100",
                         Email=CONTACT_EMAIL, AccountId=account)
    lead = env.create("Lead", LastName="<b>O'Brien & Co</b>", Company="Initech",
                      Phone="+1 555 0142", Email=LEAD_EMAIL)
    draft = {"name": "Intro", "subject": "Hello {{First Name|there}}",
             "body": "<p>Hi {{First Name|there}} {{Last Name}},</p>"
                     "<p>{{Phone}} {{Business Phone}} at {{Account Name}}</p>"}
    # Before any fields sync Tether knows no labels: it says what to do.
    early = _call(tether, env.key, "POST", "/api/v1/templates", json=draft)
    assert early.status_code == 409 and "fields sync" in early.json()["detail"], early.text
    env.sync("fields")
    env.sync("audit")

    made = env.api("POST", "/api/v1/templates", json=draft)
    assert made["scope"] == "personal"
    assert made["variables"] == ["First Name", "Last Name", "Phone", "Business Phone",
                                 "Account Name"]
    usage = env.act("GET", "/api-usage")["total"]

    # A Lead: its own Phone label, no FirstName (the fallback), its Company for Account
    # Name, and its LastName escaped in the body.
    out = env.api("POST", f"/api/v1/templates/{made['id']}/render", json={"to": LEAD_EMAIL})
    assert out["record"] == {"object": "Lead", "Id": lead}
    assert out["subject"] == "Hello there"
    assert out["body"] == ("<p>Hi there &lt;b&gt;O&#x27;Brien &amp; Co&lt;/b&gt;,</p>"
                           "<p>+1 555 0142  at Initech</p>")
    assert out["missing"] == ["Business Phone"]  # a Lead has no field with that label

    # A Contact: Business Phone is its Phone's label, Account Name its Account's.
    out = env.api("POST", f"/api/v1/templates/{made['id']}/render",
                  json={"to": CONTACT_EMAIL.upper()})
    assert out["record"] == {"object": "Contact", "Id": contact}
    assert out["subject"] == "Hello Jane"
    assert out["body"] == "<p>Hi Jane Doe,</p><p> +1 555 0100 at Globex</p>"
    assert out["missing"] == ["Phone"]

    # Nobody in Salesforce has the address: fallbacks only, the rest missing.
    out = env.api("POST", f"/api/v1/templates/{made['id']}/render",
                  json={"to": "nobody@nowhere.example"})
    assert out["record"] is None and out["subject"] == "Hello there"
    assert out["missing"] == ["Last Name", "Phone", "Business Phone", "Account Name"]
    assert env.act("GET", "/api-usage")["total"] == usage  # the mirror, not Salesforce

    # An unknown label is refused when saved, with the nearest real labels.
    bad = _call(tether, env.key, "POST", "/api/v1/templates",
                json={**draft, "body": "Hi {{Frist Name}}"})
    assert bad.status_code == 422, bad.text
    refusal = bad.json()
    assert refusal["field"] == "body" and refusal["label"] == "Frist Name"
    assert refusal["nearest"][0] == "First Name" and "Frist Name" in refusal["detail"]
    bad = _call(tether, env.key, "PATCH", f"/api/v1/templates/{made['id']}",
                json={"subject": "{{Acount Name}}"})
    assert bad.status_code == 422 and "Account Name" in bad.json()["nearest"], bad.text
    bad = _call(tether, env.key, "PATCH", f"/api/v1/templates/{made['id']}",
                json={"body": "Hi {{First Name"})
    assert bad.status_code == 422 and "character 4" in bad.json()["detail"], bad.text
    assert env.api("GET", f"/api/v1/templates/{made['id']}")["body"] == draft["body"]


def test_workspace_and_personal_templates_between_two_members(tether: Tether) -> None:
    ws_id, admin = tether.new_workspace("Acme", "admin@templates.example")
    rep = tether.add_member(ws_id, "rep@templates.example")
    plain = {"subject": "Hello", "body": "<p>Hello</p>"}  # no labels: no fields sync needed

    def call(key: str, method: str, path: str, **kw: Any) -> httpx.Response:
        return _call(tether, key, method, path, **kw)

    shared = call(admin, "POST", "/api/v1/templates",
                  json={"name": "Team intro", "scope": "workspace", **plain})
    assert shared.status_code == 201 and shared.json()["scope"] == "workspace", shared.text
    shared_id = shared.json()["id"]
    mine = call(rep, "POST", "/api/v1/templates", json={"name": "My intro", **plain})
    assert mine.status_code == 201, mine.text
    mine_id = mine.json()["id"]
    admins = call(admin, "POST", "/api/v1/templates", json={"name": "Admin's own", **plain})
    admins_id = admins.json()["id"]

    # Only an admin keeps the workspace's templates.
    assert call(rep, "POST", "/api/v1/templates",
                json={"name": "X", "scope": "workspace", **plain}).status_code == 403
    assert call(rep, "PATCH", f"/api/v1/templates/{shared_id}",
                json={"name": "Mine now"}).status_code == 403
    assert call(rep, "DELETE", f"/api/v1/templates/{shared_id}").status_code == 403
    assert call(rep, "PATCH", f"/api/v1/templates/{mine_id}",
                json={"scope": "workspace"}).status_code == 403

    # Each sees the workspace's and their own; another's own is not found, for anything.
    names = {k: [t["name"] for t in call(k, "GET", "/api/v1/templates").json()]
             for k in (admin, rep)}
    assert names == {admin: ["Admin's own", "Team intro"], rep: ["My intro", "Team intro"]}
    for method, path, body in [("GET", "", None), ("PATCH", "", {"name": "Taken"}),
                               ("DELETE", "", None), ("POST", "/render", {"to": "a@b.example"})]:
        r = call(admin, method, f"/api/v1/templates/{mine_id}{path}", json=body)
        assert r.status_code == 404, (method, path, r.text)
        r = call(rep, method, f"/api/v1/templates/{admins_id}{path}", json=body)
        assert r.status_code == 404, (method, path, r.text)
    assert call(rep, "GET", f"/api/v1/templates/{mine_id}").json()["name"] == "My intro"
    rendered = call(rep, "POST", f"/api/v1/templates/{shared_id}/render",
                    json={"to": "a@b.example"}).json()
    assert rendered["body"] == "<p>Hello</p>" and rendered["missing"] == []

    # Another workspace's admin sees none of them.
    _, other = tether.new_workspace("Other", "admin@other-templates.example")
    assert call(other, "GET", "/api/v1/templates").json() == []
    assert call(other, "GET", f"/api/v1/templates/{shared_id}").status_code == 404

    # Bounds and bad input name their field.
    for body, field in [({"name": " ", **plain}, "name"),
                        ({"name": "n" * 201, **plain}, "name"),
                        ({"name": "n", "subject": "s" * 999, "body": ""}, "subject"),
                        ({"name": "n", "subject": "a\r\nBcc: x@y.example", "body": ""},
                         "subject"),
                        ({"name": "n", "subject": "", "body": "b" * 200_001}, "body"),
                        ({"name": "n", "scope": "everyone", **plain}, "scope")]:
        r = call(admin, "POST", "/api/v1/templates", json=body)
        assert r.status_code == 422 and r.json()["field"] == field, (field, r.text)

    # An admin moves a template between the workspace's and their own, edits, deletes.
    moved = call(admin, "PATCH", f"/api/v1/templates/{shared_id}",
                 json={"scope": "personal", "name": "Now mine"})
    assert moved.status_code == 200 and moved.json()["scope"] == "personal", moved.text
    assert call(rep, "GET", f"/api/v1/templates/{shared_id}").status_code == 404
    assert call(admin, "DELETE", f"/api/v1/templates/{shared_id}").status_code == 204
    assert call(admin, "GET", f"/api/v1/templates/{shared_id}").status_code == 404
    assert call(rep, "DELETE", f"/api/v1/templates/{mine_id}").status_code == 204

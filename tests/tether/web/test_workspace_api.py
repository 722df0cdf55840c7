"""The workspace JSON API: roles, members, keys, exclusions, and who may do what."""

from __future__ import annotations

from pathlib import Path

from tests.tether.web.conftest import World, make_world


def test_health_and_auth(world: World) -> None:
    c = world.client
    assert c.get("/healthz").status_code == 200
    assert c.get("/api/v1/me").status_code == 401
    assert c.get("/api/v1/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    me = c.get("/api/v1/me", headers=world.as_admin()).json()
    assert me["admin"] is True and me["email"] == "admin@acme.example"
    assert me["salesforce_settings"]["source"] == "default_role"


def test_roles_and_effective_settings(world: World) -> None:
    c, admin, member = world.client, world.as_admin(), world.as_member()
    r = c.post("/api/v1/roles", headers=admin, json={
        "name": "SDR", "settings": {"activities": ["sent", "replied"],
                                    "log_to_opportunities": True,
                                    "opportunities_only_when_owner": True}})
    assert r.status_code == 201, r.text
    role = r.json()
    assert c.patch(f"/api/v1/members/{world.member_id}", headers=admin,
                   json={"role_id": role["id"]}).status_code == 200
    mine = c.get("/api/v1/me/salesforce-settings", headers=member).json()
    assert mine["source"] == "role" and mine["role"] == "SDR" and mine["editable"] is False
    assert mine["settings"]["activities"] == ["replied", "sent"]
    refused = c.put("/api/v1/me/salesforce-settings", headers=member, json={"first_only": True})
    assert refused.status_code == 403 and "administrator" in refused.json()["detail"]
    c.patch(f"/api/v1/roles/{role['id']}", headers=admin, json={"members_manage_own": True})
    saved = c.put("/api/v1/me/salesforce-settings", headers=member, json={"first_only": True})
    assert saved.status_code == 200 and saved.json()["source"] == "user"
    assert saved.json()["settings"]["first_only"] is True
    assert saved.json()["settings"]["activities"] == ["replied", "sent"]  # kept from the role


def test_members_cannot_administer(world: World) -> None:
    c, member = world.client, world.as_member()
    roles = c.get("/api/v1/roles", headers=member).json()
    default = next(r for r in roles if r["is_default"])
    assert c.patch(f"/api/v1/roles/{default['id']}", headers=member,
                   json={"name": "Mine"}).status_code == 403
    assert c.post("/api/v1/roles", headers=member, json={"name": "X"}).status_code == 403
    assert c.post("/api/v1/members", headers=member,
                  json={"email": "x@acme.example"}).status_code == 403
    assert c.post("/api/v1/exclusions", headers=member,
                  json={"kind": "domain", "value": "x.example"}).status_code == 403
    assert c.post("/api/v1/salesforce/realtime-token", headers=member).status_code == 403
    assert c.patch("/api/v1/workspace", headers=member, json={"name": "x"}).status_code == 403
    # Nothing changed.
    assert c.get(f"/api/v1/roles/{default['id']}", headers=member).json()["name"] == "Default"


def test_bad_input_names_the_field(world: World) -> None:
    c, admin = world.client, world.as_admin()
    bad = c.post("/api/v1/roles", headers=admin, json={"name": "R",
                                                       "settings": {"autocreate": "sometimes"}})
    assert bad.status_code == 422 and bad.json()["field"] == "settings"
    unknown_obj = c.post("/api/v1/roles", headers=admin, json={
        "name": "R", "settings": {"custom_objects": ["Nope__c"]}})
    assert unknown_obj.status_code == 422 and "Nope__c" in unknown_obj.json()["detail"]
    email = c.post("/api/v1/members", headers=admin, json={"email": "not-an-email"})
    assert email.status_code == 422 and email.json()["field"] == "email"
    extra = c.post("/api/v1/exclusions", headers=admin,
                   json={"kind": "domain", "value": "x.example", "oops": 1})
    assert extra.status_code == 422
    assert [r["name"] for r in c.get("/api/v1/roles", headers=admin).json()] == ["Default"]
    dup = c.post("/api/v1/roles", headers=admin, json={"name": "Default"})
    assert dup.status_code == 409
    default = c.get("/api/v1/roles", headers=admin).json()[0]
    assert c.delete(f"/api/v1/roles/{default['id']}", headers=admin).status_code == 422


def test_api_keys_are_shown_once_and_revocable(world: World) -> None:
    c, admin = world.client, world.as_admin()
    created = c.post("/api/v1/api-keys", headers=admin).json()["key"]
    listed = c.get("/api/v1/api-keys", headers=admin).json()
    assert all(created not in str(k) for k in listed)
    new_auth = {"Authorization": f"Bearer {created}"}
    assert c.get("/api/v1/me", headers=new_auth).status_code == 200
    key_id = next(k["id"] for k in listed if created.startswith(k["prefix"]))
    assert c.delete(f"/api/v1/api-keys/{key_id}", headers=admin).status_code == 204
    assert c.get("/api/v1/me", headers=new_auth).status_code == 401


def test_exclusions(world: World) -> None:
    c, admin = world.client, world.as_admin()
    assert c.post("/api/v1/exclusions", headers=admin,
                  json={"kind": "domain", "value": "@Partner.example"}).status_code == 201
    assert c.post("/api/v1/exclusions", headers=admin,
                  json={"kind": "address", "value": "Boss@x.example"}).status_code == 201
    listed = c.get("/api/v1/exclusions", headers=world.as_member()).json()
    assert [(e["kind"], e["value"]) for e in listed] == [("address", "boss@x.example"),
                                                         ("domain", "partner.example")]


def test_workspaces_are_isolated(world: World, tmp_path: Path) -> None:
    other, _ = make_world(world.url, tmp_path / "o", name="Globex")
    with other.client:
        theirs = other.client.get("/api/v1/roles", headers=other.as_admin()).json()
    c = world.client
    assert c.get(f"/api/v1/roles/{theirs[0]['id']}", headers=world.as_admin()).status_code == 404
    assert c.patch(f"/api/v1/roles/{theirs[0]['id']}", headers=world.as_admin(),
                   json={"name": "Hijack"}).status_code == 404
    emails = [m["email"] for m in c.get("/api/v1/members", headers=world.as_admin()).json()]
    assert emails == ["admin@acme.example", "rep@acme.example"]


def test_every_string_the_workspace_api_takes_has_a_bound(world: World) -> None:
    long = "x" * 5000
    admin = world.as_admin()
    r = world.client.patch("/api/v1/workspace", json={"name": long}, headers=admin)
    assert r.status_code == 422 and r.json()["field"] == "name"
    role = world.client.get("/api/v1/workspace", headers=admin).json()["default_role_id"]
    r = world.client.patch(f"/api/v1/roles/{role}", json={"name": long}, headers=admin)
    assert r.status_code == 422 and r.json()["field"] == "name"
    r = world.client.put("/api/v1/salesforce/sync-user", json={"membership_id": long},
                         headers=admin)
    assert r.status_code == 422
    r = world.client.post("/api/v1/salesforce/custom-objects",
                          json={"sobject": long, "relationship_fields": []}, headers=admin)
    assert r.status_code == 422
    assert world.client.get("/api/v1/workspace", headers=admin).json()["name"] == "Acme"

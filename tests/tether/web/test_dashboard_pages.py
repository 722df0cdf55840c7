"""Dashboard pages through the app (no browser), on SQLite and PostgreSQL: each form does what
the JSON API does, with the same refusals, said on the page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.tether.web.conftest import World, db_of
from tests.tether.web.test_dashboard_auth import ADMIN, REP, _csrf, sign_in
from tether.store.models import (
    ActivityRow,
    ActivityWrite,
    ActivityWriteRef,
    Job,
    Workspace,
    new_id,
    utcnow,
)


def post(client: TestClient, path: str, data: dict[str, str] | None = None,
         csrf_from: str = "/app/account") -> tuple[int, str, str]:
    """(status, final path, page) after posting a form with its CSRF token."""
    token = _csrf(client.get(csrf_from).text)
    r = client.post(path, data={**(data or {}), "csrf_token": token})
    return r.status_code, r.url.path, r.text


def test_roles_create_rename_default_and_delete(world: World) -> None:
    sign_in(world.client, ADMIN)
    status, path, page = post(world.client, "/app/roles", {"name": "Reps"})
    assert status == 200 and path.startswith("/app/roles/") and "Role created." in page
    role_id = path.rsplit("/", 1)[-1]
    status, _, page = post(world.client, f"/app/roles/{role_id}", {
        "name": "Field reps", "activities": "sent", "email_scope": "all",
        "log_to_opportunities": "on", "is_default": "on"})
    assert status == 200 and "Role saved." in page and "Role: Field reps" in page
    role = world.client.get(f"/api/v1/roles/{role_id}", headers=world.as_admin()).json()
    assert role["name"] == "Field reps" and role["is_default"]
    assert role["settings"]["activities"] == ["sent"]
    assert role["settings"]["email_scope"] == "all"
    assert role["settings"]["log_to_opportunities"] is True
    assert role["settings"]["log_to_accounts"] is False  # unticked boxes are off
    # The default role cannot be deleted: said on the page, nothing lost.
    status, _, page = post(world.client, f"/app/roles/{role_id}/delete")
    assert status in (409, 422) and 'role="alert"' in page
    status, _, _ = post(world.client, "/app/roles", {"name": "Field reps"})
    assert status == 409
    status, _, page = post(world.client, "/app/roles", {"name": "Spare"})
    spare = re.search(r'/app/roles/([0-9a-f]{32})/delete', page)
    assert spare is not None
    status, path, page = post(world.client, f"/app/roles/{spare.group(1)}/delete")
    assert path == "/app/members" and "Role deleted." in page and "Spare" not in page


def test_assigning_a_role_and_a_rep_managing_their_own_settings(world: World) -> None:
    sign_in(world.client, ADMIN)
    _, path, _ = post(world.client, "/app/roles", {"name": "Self-serve"})
    role_id = path.rsplit("/", 1)[-1]
    post(world.client, f"/app/roles/{role_id}", {
        "name": "Self-serve", "members_manage_own": "on", "activities": "sent"})
    status, _, page = post(world.client, f"/app/members/{world.member_id}",
                           {"role_id": role_id, "access": "member"})
    assert status == 200 and "Member saved." in page
    rep = TestClient(world.client.app)
    sign_in(rep, REP)
    page = rep.get("/app/settings").text
    assert "Save my settings" in page and "reach out" not in page
    status, _, page = post(rep, "/app/settings", {"activities": "opened", "first_only": "on"},
                           csrf_from="/app/settings")
    assert status == 200 and "Your settings are saved." in page
    mine = rep.get("/api/v1/me/salesforce-settings",
                   headers={"Authorization": f"Bearer {world.member_key}"}).json()
    assert mine["source"] == "user" and mine["settings"]["activities"] == ["opened"]
    assert mine["settings"]["first_only"] is True


def test_a_rep_whose_role_sets_the_settings_cannot_post_them(world: World) -> None:
    rep = world.client
    sign_in(rep, REP)
    page = rep.get("/app/settings").text
    assert "reach out to your administrator" in page and "Save my settings" not in page
    status, _, page = post(rep, "/app/settings", {"activities": "opened"},
                           csrf_from="/app/settings")
    assert status == 403 and "reach out to your administrator" in page


def test_exclusions_budget_and_sync_now(world: World) -> None:
    sign_in(world.client, ADMIN)
    status, _, page = post(world.client, "/app/settings/exclusions",
                           {"kind": "domain", "value": "not a domain"})
    assert status == 422 and "is not a domain" in page
    status, _, page = post(world.client, "/app/settings/exclusions",
                           {"kind": "domain", "value": "Rivals.example"})
    assert "Exclusion added." in page and "rivals.example" in page
    status, _, page = post(world.client, "/app/usage/budget", {"api_budget_percent": "95"})
    assert status == 422 and "the API budget must be a whole percentage from 10 to 90" in page
    status, _, page = post(world.client, "/app/usage/budget", {"api_budget_percent": "40"})
    assert status == 200 and "API budget saved." in page
    with db_of(world) as db:
        workspace = db.get(Workspace, world.workspace_id)
        assert workspace is not None and workspace.api_budget_percent == 40
    status, _, page = post(world.client, "/app/syncs", {"kind": "deletions"})
    assert status == 200 and "Sync queued" in page
    with db_of(world) as db:
        kinds = [j.payload.get("kind") for j in db.scalars(select(Job))]
    assert "deletions" in kinds


def test_api_keys_shown_once_and_revoked(world: World) -> None:
    sign_in(world.client, ADMIN)
    _, _, page = post(world.client, "/app/integrations/api-keys")
    key = re.search(r'id="new-key">([^<]+)<', page)
    assert key is not None
    headers = {"Authorization": f"Bearer {key.group(1)}"}
    assert world.client.get("/api/v1/workspace", headers=headers).status_code == 200
    assert key.group(1) not in world.client.get("/app/integrations").text
    key_id = world.client.get("/api/v1/api-keys", headers=headers).json()[-1]["id"]
    _, _, page = post(world.client, f"/app/integrations/api-keys/{key_id}/revoke")
    assert "API key revoked." in page
    assert world.client.get("/api/v1/workspace", headers=headers).status_code == 401


def test_connecting_starts_at_salesforce_and_refusals_are_said(world: World) -> None:
    sign_in(world.client, ADMIN)
    token = _csrf(world.client.get("/app/integrations").text)
    r = world.client.post("/app/integrations/connect", data={"csrf_token": token,
                                                             "sandbox": "on"},
                          follow_redirects=False)
    assert r.status_code == 303 and "/services/oauth2/authorize" in r.headers["location"]
    assert r.headers["location"].startswith(world.client.app.state.tether.settings
                                            .salesforce_sandbox_login_url)
    status, _, page = post(world.client, "/app/integrations/sync-user",
                           {"membership_id": world.member_id})
    assert status == 422 and "has no working Salesforce connection" in page
    status, _, page = post(world.client, "/app/integrations/custom-objects",
                           {"sobject": "Project__c", "relationship_fields": "Account__c"})
    assert status >= 400 and 'role="alert"' in page
    # A login another Tether user started is refused in this browser.
    r = world.client.get("/oauth/salesforce/callback", params={"state": "x", "code": "y"})
    assert r.status_code == 422 and "Start the connection again" in r.text


def test_retry_an_errored_activity_from_its_page(world: World) -> None:
    with db_of(world) as db:
        now = utcnow()
        activity = ActivityRow(id=new_id(), workspace_id=world.workspace_id, event_id="e1",
                               membership_id=world.member_id, recipient="jane@globex.example",
                               type="email.sent", status="errored", reason="refused",
                               error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
                               error_message="no", occurred_at=now, salesforce_ids=[],
                               attempts=3)
        db.add(activity)
        db.add(ActivityWrite(workspace_id=world.workspace_id, key="t1x",
                             membership_id=world.member_id, sobject="Task", op="upsert",
                             fields={"Subject": "Sent (New): x"}, status="errored",
                             attempts=3, next_attempt_at=now, log=[]))
        db.flush()
        db.add(ActivityWriteRef(activity_id=activity.id, workspace_id=world.workspace_id,
                                key="t1x"))
        db.commit()
        activity_id = activity.id
    sign_in(world.client, ADMIN)
    page = world.client.get(f"/app/activity/{activity_id}").text
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in page and ">Retry<" in page
    status, path, page = post(world.client, f"/app/activity/{activity_id}/retry")
    assert status == 200 and path == f"/app/activity/{activity_id}"
    assert "Queued again for Salesforce." in page
    with db_of(world) as db:
        write = db.get(ActivityWrite, (world.workspace_id, "t1x"))
        # Its three attempts stay counted; the writer's budget starts again from there.
        assert write is not None and write.status == "queued" and write.attempts == 3
        assert write.attempts_at_retry == 3
        row = db.get(ActivityRow, activity_id)
        assert row is not None and row.status == "pending"
    status, _, page = post(world.client, f"/app/activity/{activity_id}/retry")
    assert status == 422 and "only errored activities are retried" in page
    csv = world.client.get("/app/activity.csv")
    assert csv.status_code == 200 and csv.text.startswith("created_at,")
    assert "e1" in csv.text


def _errored(world: World, event_id: str, role_id: str | None) -> str:
    with db_of(world) as db:
        row = ActivityRow(id=new_id(), workspace_id=world.workspace_id, event_id=event_id,
                          membership_id=world.member_id, recipient="jane@globex.example",
                          type="email.sent", status="errored", reason="refused",
                          role_id=role_id, occurred_at=utcnow(), salesforce_ids=[],
                          attempts=1)
        db.add(row)
        db.commit()
        return row.id


def test_retry_all_keeps_the_pages_filters(world: World) -> None:
    sign_in(world.client, ADMIN)
    _, path, _ = post(world.client, "/app/roles", {"name": "Reps"})
    reps = path.rsplit("/", 1)[-1]
    mine, other = _errored(world, "r1", reps), _errored(world, "r2", None)
    page = world.client.get(f"/app/activity?role={reps}&user={REP}").text
    action = re.search(r'action="(/app/activity/retry\?[^"]+)"', page)
    assert action is not None
    status, _, _ = post(world.client, action.group(1).replace("&amp;", "&"))
    assert status == 200
    with db_of(world) as db:
        assert db.get(ActivityRow, mine).status == "pending"  # type: ignore[union-attr]
        assert db.get(ActivityRow, other).status == "errored"  # type: ignore[union-attr]


def test_bad_filters_are_said_never_a_500(world: World) -> None:
    sign_in(world.client, ADMIN)
    for path in ("/app/activity?since=nope", "/app/activity/rows?since=nope",
                 "/app/activity.csv?until=2026-13-01"):
        r = world.client.get(path)
        assert r.status_code == 422, path
        assert "is not a date" in r.text
    for kind in re.findall(r'<option value="([a-z._]+)"',
                           world.client.get("/app/activity").text.split('id="f-type"')[1]
                           .split("</select>")[0]):
        assert world.client.get(f"/app/activity?type={kind}").status_code == 200, kind


def test_signing_in_again_returns_to_the_page(world: World) -> None:
    r = world.client.get("/app/activity?status=errored", follow_redirects=False)
    assert r.headers["location"] == "/login?next=/app/activity%3Fstatus%3Derrored"
    form = world.client.get(r.headers["location"]).text
    assert 'name="next" value="/app/activity?status=errored"' in form
    failed = sign_in(world.client, ADMIN, "wrong-password", "/app/activity?status=errored")
    assert 'name="next" value="/app/activity?status=errored"' in failed.text
    # htmx polling after the session ended: the whole page goes to sign-in, not a fragment.
    r = world.client.get("/app/activity/rows", headers={
        "HX-Request": "true", "HX-Current-URL": "http://testserver/app/activity?type=email.sent"})
    assert r.headers["HX-Redirect"] == "/login?next=/app/activity%3Ftype%3Demail.sent"
    ok = sign_in(world.client, ADMIN, next_path="/app/activity?status=errored")
    assert ok.headers["location"] == "/app/activity?status=errored"


def test_a_refused_role_shows_what_was_typed(world: World) -> None:
    sign_in(world.client, ADMIN)
    post(world.client, "/app/roles", {"name": "Taken"})
    _, path, _ = post(world.client, "/app/roles", {"name": "Mine"})
    status, _, page = post(world.client, path, {"name": "Taken", "activities": "sent"})
    assert status == 409
    assert 'value="Taken"' in page and 'id="act-opened"' in page
    assert not re.search(r'id="act-opened"[^>]*checked', page)


def test_custom_objects_are_checked_before_salesforce(world: World) -> None:
    sign_in(world.client, ADMIN)
    status, _, page = post(world.client, "/app/integrations/custom-objects",
                           {"sobject": "Account", "relationship_fields": "AccountId"})
    assert status == 422 and "is not a custom object" in page
    status, _, page = post(world.client, "/app/integrations/custom-objects",
                           {"sobject": "Project__c", "relationship_fields": ""})
    assert status == 422 and "relationship fields" in page


def test_members_not_connected_setting(world: World) -> None:
    sign_in(world.client, ADMIN)
    page = world.client.get("/app/integrations").text
    assert "Members not connected yet" in page and 'value="30"' in page
    # No Sync User yet (nobody is connected): the Sync User cannot write for anyone.
    status, _, page = post(world.client, "/app/integrations/unconnected",
                           {"unconnected_activity": "sync_user",
                            "unconnected_pending_days": "30"})
    assert status == 422 and "choose a Sync User first" in page
    status, _, page = post(world.client, "/app/integrations/unconnected",
                           {"unconnected_activity": "wait", "unconnected_pending_days": "0"})
    assert status == 422 and "unconnected_pending_days must be from 1 to 365" in page
    status, _, page = post(world.client, "/app/integrations/unconnected",
                           {"unconnected_activity": "wait", "unconnected_pending_days": "10"})
    assert status == 200 and "Saved: what happens to the activity" in page
    with db_of(world) as db:
        workspace = db.get(Workspace, world.workspace_id)
        assert workspace is not None and workspace.unconnected_pending_days == 10
        assert workspace.unconnected_activity == "wait"

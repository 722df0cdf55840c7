"""The guide, walked in a real browser: an admin signs in, connects Salesforce through sfemu's
login page, picks the Sync User, creates the workspace API token and an API key, configures a
role (opens off, opportunities only when the rep owns them) and invites a rep in it, who
accepts with a password of their own; the rep's events show up in the activity log with the
right statuses and reasons; the rep sees the role's settings read-only and is refused the
admin pages; a form posted without its CSRF token is refused.  Every page is saved as a
screenshot in artifacts/screenshots/."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.e2e.conftest import Tether
from tether.services import accounts
from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory
from tether.store.models import Workspace

PASSWORD = "tether-demo"


def _first_admin(tether: Tether, email: str) -> None:
    """What `tether serve --admin-email … --admin-password …` does on a new install."""
    engine = make_engine(tether.settings.effective_database_url)
    with session_factory(engine)() as db:
        assert accounts.ensure_first_admin(db, email, PASSWORD, "Acme").startswith("created")
        db.commit()
    engine.dispose()


def _sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/app/activity")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/app/activity"))


def _connect_salesforce(page: Page, base: str, username: str) -> None:
    """Integrations → Connect → sfemu's login page → back on Integrations, connected."""
    page.goto(f"{base}/app/integrations")
    page.get_by_role("button", name="Connect Salesforce").click()
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#Login").click()
    expect(page.get_by_role("status").first).to_have_text("Salesforce connected.")
    expect(page.get_by_text(f"as {username}")).to_be_visible()


def _unlabelled(page: Page) -> list[str]:
    """Form controls a screen reader could not name (no <label>, no aria-label)."""
    return list(page.evaluate("""() => [...document.querySelectorAll(
        'input:not([type=hidden]), select, textarea')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
        .map(e => e.outerHTML.slice(0, 120))"""))


def test_the_forms_work_without_javascript(dashboard: Tether, browser: Browser,
                                           screenshots: Path) -> None:
    """Sign in, filter the activity log and create a role with JavaScript off."""
    org = dashboard.sfemu.new_org()
    _first_admin(dashboard, org["admin"])
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _sign_in(page, dashboard.base_url, org["admin"])
    page.get_by_label("Status").select_option("errored")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"status=errored"))
    page.goto(f"{dashboard.base_url}/app/members")
    page.get_by_label("New role").fill("No-JS role")
    page.get_by_role("button", name="Create role").click()
    expect(page.get_by_role("heading", name="Role: No-JS role")).to_be_visible()
    page.screenshot(path=screenshots / "role-created-without-javascript.png", full_page=True)
    context.close()


def _until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_admin_and_rep_walk_the_guide(dashboard: Tether, browser: Browser,
                                      screenshots: Path) -> None:
    tether, base = dashboard, dashboard.base_url
    org = tether.sfemu.new_org()
    sf = tether.sfemu

    def create(sobject: str, **fields: object) -> str:
        r = sf.admin("POST", f"/orgs/{org['name']}/records/{sobject}", json=fields)
        assert r.status_code < 300, r.text
        return str(r.json()["id"])

    def soql(q: str) -> list[dict[str, object]]:
        r = sf.admin("GET", f"/orgs/{org['name']}/query", params={"q": q})
        assert r.status_code == 200, r.text
        return list(r.json()["records"])

    rep_sf_id = str(soql(f"SELECT Id FROM User WHERE Username = '{org['rep']}'")[0]["Id"])
    account = create("Account", Name="Globex")
    jane = create("Contact", LastName="Doe", Email="jane@globex.example", AccountId=account)
    reps_deal = create("Opportunity", Name="Globex renewal", StageName="Prospecting",
                       CloseDate="2026-12-31", AccountId=account, OwnerId=rep_sf_id)
    others_deal = create("Opportunity", Name="Globex upsell", StageName="Prospecting",
                         CloseDate="2026-12-31", AccountId=account)
    for deal in (reps_deal, others_deal):  # Jane is on both deals; only one is the rep's
        create("OpportunityContactRole", OpportunityId=deal, ContactId=jane,
               Role="Decision Maker")
    _first_admin(tether, org["admin"])

    shots = iter(range(1, 100))

    def shot(page: Page, name: str) -> None:
        page.screenshot(path=screenshots / f"{next(shots):02d}-{name}.png", full_page=True)
        assert _unlabelled(page) == [], f"{name}: controls without a label"

    admin = browser.new_context(ignore_https_errors=True, viewport={"width": 1366, "height": 900})
    page = admin.new_page()
    page.goto(f"{base}/login")
    shot(page, "sign-in")
    _sign_in(page, base, org["admin"])

    # Integrations: connect, Sync User, the real-time token and an API key.
    page.goto(f"{base}/app/integrations")
    shot(page, "integrations-not-connected")
    _connect_salesforce(page, base, org["admin"])
    page.get_by_label("Sync User", exact=True).select_option(
        label=f"{org['admin']} ({org['admin']})")
    page.get_by_role("button", name="Save Sync User").click()
    expect(page.get_by_role("status").first).to_have_text("Sync User saved.")
    page.get_by_role("button", name="Create workspace API token").click()
    expect(page.locator("#new-token")).to_have_text(re.compile(r"\S{20,}"))
    page.get_by_role("button", name="Create API key").click()
    api_key = page.locator("#new-key").inner_text().strip()
    assert api_key.startswith("tk_")
    shot(page, "integrations-connected")
    page.get_by_role("button", name="Get latest fields").click()
    expect(page.get_by_role("status").first).to_contain_text("latest fields")

    # Sync runs: an audit fills the mirror (Jane, Globex and its opportunities).
    page.goto(f"{base}/app/syncs")
    page.get_by_label("Kind").select_option("audit")
    page.get_by_role("button", name="Sync now").click()

    def audited() -> bool:
        page.reload()
        return page.locator("tr", has_text="audit").filter(has_text="succeeded").count() > 0

    _until(audited, "the audit to succeed")
    shot(page, "sync-runs")

    # Members & Roles: a "Reps" role with opens off and opportunities only when owned.
    page.goto(f"{base}/app/members")
    page.get_by_label("New role").fill("Reps")
    page.get_by_role("button", name="Create role").click()
    expect(page.get_by_role("heading", name="Role: Reps")).to_be_visible()
    role_url = page.url.split("?")[0]
    page.get_by_label("Opens", exact=True).uncheck()
    page.get_by_label("Log activity to Opportunities").check()
    page.get_by_label("… only Opportunities I own").check()
    page.get_by_role("button", name="Save role").click()
    expect(page.get_by_role("status").first).to_have_text("Role saved.")
    expect(page.get_by_label("Opens", exact=True)).not_to_be_checked()
    expect(page.get_by_label("… only Opportunities I own")).to_be_checked()
    shot(page, "role-salesforce-settings")
    page.goto(f"{base}/app/members")
    page.get_by_label("Email").fill(org["rep"])
    page.locator("#new-role").select_option(label="Reps")
    page.get_by_role("button", name="Invite member").click()
    expect(page.get_by_role("status").first).to_contain_text("it is shown once")
    invite_url = page.locator("#invite-url").inner_text().strip()
    expect(page.locator("tr", has_text=org["rep"])).to_contain_text("Reps")  # pending
    shot(page, "members-and-roles")

    # The rep: accepts the invitation with a password of their own choosing, connects, sees
    # the role's settings read-only, is refused admin pages.
    rep = browser.new_context(ignore_https_errors=True, viewport={"width": 1366, "height": 900})
    rep_page = rep.new_page()
    rep_page.goto(invite_url)
    expect(rep_page.get_by_role("heading", name="Join Acme on Tether")).to_be_visible()
    rep_page.get_by_label("Your name").fill("Rep")
    rep_page.get_by_label(re.compile("^Password")).fill(PASSWORD)
    shot(rep_page, "invitation")
    rep_page.get_by_role("button", name="Create account and join").click()
    expect(rep_page.get_by_role("status").first).to_have_text(
        "Welcome: you joined the workspace.")
    _connect_salesforce(rep_page, base, org["rep"])
    rep_page.goto(f"{base}/app/settings")
    expect(rep_page.get_by_text("reach out to your administrator")).to_be_visible()
    expect(rep_page.get_by_label("Opens", exact=True)).to_be_disabled()
    expect(rep_page.get_by_label("Opens", exact=True)).not_to_be_checked()
    expect(rep_page.get_by_role("button", name="Save my settings")).to_have_count(0)
    shot(rep_page, "rep-crm-settings-read-only")
    response = rep_page.goto(role_url)
    assert response is not None and response.status == 403
    expect(rep_page.get_by_role("heading", name="Not allowed")).to_be_visible()
    shot(rep_page, "rep-refused-role-page")
    response = rep_page.goto(f"{base}/app/members")
    assert response is not None and response.status == 403

    # A form posted without its CSRF token is refused, and changes nothing.
    refused = page.request.post(f"{base}/app/roles", form={"name": "Sneaky"})
    assert refused.status == 403, refused.text()
    assert "CSRF" in refused.text()
    page.goto(f"{base}/app/members")
    expect(page.get_by_role("link", name="Sneaky")).to_have_count(0)

    # The rep's email and its open, posted with the admin's API key.
    event = {"occurred_at": "2026-11-28T10:00:00Z", "user": org["rep"],
             "message": {"id": "<m1@acme.example>", "subject": "Renewal",
                         "to": ["jane@globex.example"]}}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {api_key}"}) as c:
        r = c.post("/api/v1/events", json={"events": [
            {**event, "id": "ui-sent", "type": "email.sent"},
            {**event, "id": "ui-open", "type": "email.opened",
             "recipient": "jane@globex.example"}]})
        assert r.status_code == 202, r.text

    page.goto(f"{base}/app/activity")

    def logged() -> bool:
        page.reload()
        return (page.locator("tr", has_text="email.sent").filter(has_text="Synced").count() == 1
                and page.locator("tr", has_text="email.opened").filter(
                    has_text="Ignored").count() == 1)

    _until(logged, "the rep's activity in the log")
    expect(page.locator("tr", has_text="email.opened")).to_contain_text(
        "'opened' activities are switched off for the role Reps")
    shot(page, "activity-log")
    tasks = soql(f"SELECT Subject, WhoId, WhatId, OwnerId FROM Task WHERE WhoId = '{jane}'")
    assert {t["WhatId"] for t in tasks} == {account, reps_deal}, tasks
    assert all(t["Subject"] == "Sent (New): Renewal" and t["OwnerId"] == rep_sf_id
               for t in tasks)
    assert others_deal not in {t["WhatId"] for t in tasks}

    # Live refresh: a new email shows up in the open page, without reloading it.
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {api_key}"}) as c:
        r = c.post("/api/v1/events", json={**event, "id": "ui-sent-2", "type": "email.sent"})
        assert r.status_code == 202, r.text
    expect(page.locator("tr", has_text="email.sent").filter(has_text="Synced")).to_have_count(
        2, timeout=20_000)

    page.locator("tr", has_text="email.sent").first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="What was sent").first).to_be_visible()
    expect(page.get_by_text("Sent (New): Renewal").first).to_be_visible()
    shot(page, "activity-detail")

    # CRM & Live Feed and API usage, as the admin; the budget slider saves.
    page.goto(f"{base}/app/settings")
    shot(page, "crm-and-live-feed")
    page.goto(f"{base}/app/usage")
    page.get_by_label(re.compile("Budget")).fill("50")
    page.get_by_role("button", name="Save budget").click()
    expect(page.get_by_role("status").first).to_have_text("API budget saved.")
    expect(page.get_by_text("50 %").first).to_be_visible()
    shot(page, "api-usage")
    page.goto(f"{base}/app/account")
    shot(page, "account")
    admin.close()
    rep.close()


def test_a_refused_connection_says_why(dashboard: Tether, browser: Browser,
                                       screenshots: Path) -> None:
    """The workspace is connected to one org; a rep who signs in to another org on
    Salesforce's page is refused, in words, and is not connected."""
    base = dashboard.base_url
    acme, other = dashboard.sfemu.new_org(), dashboard.sfemu.new_org()
    _first_admin(dashboard, acme["admin"])
    engine = make_engine(dashboard.settings.effective_database_url)
    with session_factory(engine)() as db:
        workspace_id = db.scalars(select(Workspace.id)).one()
        ws.add_member(db, workspace_id, email=acme["rep"], password=PASSWORD)
        db.commit()
    engine.dispose()
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    _sign_in(page, base, acme["admin"])
    _connect_salesforce(page, base, acme["admin"])
    page.get_by_role("button", name="Sign out").click()
    _sign_in(page, base, acme["rep"])
    page.goto(f"{base}/app/integrations")
    page.get_by_role("button", name="Connect Salesforce").click()
    page.locator("#username").fill(other["admin"])
    page.locator("#password").fill(PASSWORD)
    page.locator("#Login").click()
    expect(page.get_by_role("heading", name="Salesforce connection refused")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(
        f"This workspace is connected to Salesforce org {acme['id'][:15]}")
    page.screenshot(path=screenshots / "connect-refused.png", full_page=True)
    page.get_by_role("link", name="Back to Integrations").click()
    expect(page.get_by_text("Not connected")).to_be_visible()
    context.close()

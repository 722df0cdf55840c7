"""The sidebar at 360 px in Debian's chromium, against Tether and sfemu over HTTP: a Contact's
view, an inline edit, a conflict shown side by side and saved, and a Lead created from an
address nobody has.  Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_dashboard import _connect_salesforce, _first_admin, _sign_in
from tests.e2e.conftest import Tether
from tether.services import accounts
from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory

WIDTH = 360


def _api_key(tether: Tether, email: str) -> str:
    engine = make_engine(tether.settings.effective_database_url)
    with session_factory(engine)() as db:
        user = ws.user_by_email(db, email)
        assert user is not None
        membership = accounts.workspaces_of(db, user.id)[0].membership_id
        key = ws.create_api_key(db, ws.actor_for_membership(db, membership))
        db.commit()
    engine.dispose()
    return key


def _no_sideways_scroll(page: Page) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= WIDTH, f"the sidebar is {wide} px wide in {WIDTH} px"


def test_sidebar_view_edit_conflict_and_create(dashboard: Tether, browser: Browser,
                                               screenshots: Path) -> None:
    tether, base, sf = dashboard, dashboard.base_url, dashboard.sfemu
    org = sf.new_org()

    def admin(method: str, path: str, **kw: Any) -> Any:
        r = sf.admin(method, f"/orgs/{org['name']}{path}", **kw)
        assert r.status_code < 300, r.text
        return r.json() if r.content else None

    account = admin("POST", "/records/Account", json={"Name": "Globex"})["id"]
    contact = admin("POST", "/records/Contact", json={
        "FirstName": "Jane", "LastName": "Doe", "Email": "jane@globex.example",
        "Title": "Engineer", "AccountId": account})["id"]
    admin("POST", "/records/Opportunity", json={
        "Name": "Globex deal", "StageName": "Prospecting", "CloseDate": "2026-12-31",
        "AccountId": account})
    admin("POST", "/records/Task", json={"Subject": "Call Jane", "WhoId": contact,
                                        "ActivityDate": "2026-11-20"})
    _first_admin(tether, org["admin"])
    context = browser.new_context(viewport={"width": WIDTH, "height": 800},
                                  ignore_https_errors=True)
    page = context.new_page()
    _sign_in(page, base, org["admin"])
    _connect_salesforce(page, base, org["admin"])
    key = _api_key(tether, org["admin"])
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"},
                      timeout=120) as api:
        r = api.post("/api/v1/salesforce/sync", json={"kind": "audit"})
        assert r.status_code == 200 and r.json()["outcome"] == "succeeded", r.text

    # The view: the Contact, its Account, its Opportunity, its Activity History.
    page.goto(f"{base}/app/sidebar?email=jane@globex.example")
    card = page.locator(f"#card-{contact}")
    expect(card.locator("header strong")).to_have_text("Jane Doe")
    opportunities = page.get_by_role("region", name="Opportunities")
    expect(opportunities.locator("header strong")).to_have_text("Globex deal")
    expect(page.get_by_text("Call Jane")).to_be_visible()
    _no_sideways_scroll(page)
    page.screenshot(path=str(screenshots / "1-view.png"), full_page=True)

    # Inline edit: the pencil, the input, saved in Salesforce and shown at once.
    card.get_by_role("button", name="Edit Title").click()
    card.get_by_label("Title", exact=True).fill("CTO")
    card.get_by_role("button", name="Save").click()
    expect(card.get_by_text("Saved in Salesforce.")).to_be_visible()
    expect(card.locator("[data-field=Title] .value")).to_have_text("CTO")
    [row] = admin("GET", "/query", params={
        "q": f"SELECT Title FROM Contact WHERE Id = '{contact}'"})["records"]
    assert row["Title"] == "CTO"
    page.screenshot(path=str(screenshots / "2-edited.png"), full_page=True)

    # Someone changes it in Salesforce meanwhile: both values side by side, then mine.
    admin("PATCH", f"/records/Contact/{contact}", json={"Title": "VP Sales"})
    card.get_by_role("button", name="Edit Title").click()
    card.get_by_label("Title", exact=True).fill("CEO")
    card.get_by_role("button", name="Save").click()
    conflict = card.locator(".conflict")
    expect(conflict).to_contain_text("Salesforce now has")
    expect(conflict).to_contain_text("VP Sales")
    expect(conflict).to_contain_text("CEO")
    _no_sideways_scroll(page)
    page.screenshot(path=str(screenshots / "3-conflict.png"), full_page=True)
    conflict.get_by_role("button", name="Save mine").click()
    expect(card.locator("[data-field=Title] .value")).to_have_text("CEO")
    [row] = admin("GET", "/query", params={
        "q": f"SELECT Title FROM Contact WHERE Id = '{contact}'"})["records"]
    assert row["Title"] == "CEO"

    # An address nobody has: create a Lead; the required fields are asked for first.
    page.goto(f"{base}/app/sidebar?email=newman@hooli.example")
    expect(page.get_by_text("Not in Salesforce")).to_be_visible()
    page.get_by_role("link", name="Create Lead").click()
    expect(page.get_by_label("Email", exact=True)).to_have_value("newman@hooli.example")
    page.get_by_role("button", name="Create Lead").click()
    expect(page.get_by_role("alert").first).to_contain_text("required fields are missing")
    page.screenshot(path=str(screenshots / "4-create-refused.png"), full_page=True)
    page.get_by_label("Last Name").fill("Newman")
    page.get_by_label("Company").fill("Hooli")
    page.get_by_role("button", name="Create Lead").click()
    expect(page.get_by_text("Created in Salesforce.")).to_be_visible()
    expect(page.get_by_text("Newman").first).to_be_visible()
    _no_sideways_scroll(page)
    page.screenshot(path=str(screenshots / "5-created.png"), full_page=True)
    leads = admin("GET", "/query", params={
        "q": "SELECT Id, Company FROM Lead WHERE Email = 'newman@hooli.example'"})["records"]
    assert [lead["Company"] for lead in leads] == ["Hooli"]
    context.close()

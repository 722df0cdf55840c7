"""Every dashboard page at a laptop's width (1,366 px) and a phone's (390 px), in Debian's
chromium: no page is wider than the window (a wide table scrolls in its own box), dates
stay on one line, a long id is shortened with the whole of it on hover and in a copy, the
navigation folds above the page on a phone; and the default role counts its members and
their activity.  Screenshots of every page at both widths go to artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.browser.test_dashboard import _connect_salesforce, _first_admin, _sign_in, _until
from tests.e2e.conftest import Tether
from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory
from tether.store.models import Membership, Workspace

PASSWORD = "tether-demo"
WIDTHS = {"laptop": (1366, 900), "phone": (390, 844)}
LONG = "procurement.vendor.management@subsidiary.globex-international.example"


def _in_db(tether: Tether, change: Callable[[Any], Any]) -> Any:
    engine = make_engine(tether.settings.effective_database_url)
    with session_factory(engine)() as db:
        result = change(db)
        db.commit()
    engine.dispose()
    return result


def _layout_problems(page: Page) -> list[str]:
    """What a reader would see wrong: the page wider than the window, a date on two lines,
    a shortened id without its whole value on hover."""
    return list(page.evaluate("""() => {
        const out = [], width = window.innerWidth;
        const wide = document.documentElement.scrollWidth;
        if (wide > width) out.push(`page ${wide} px wide in a ${width} px window`);
        for (const t of document.querySelectorAll('time')) {
            if (t.getClientRects().length !== 1 || t.getBoundingClientRect().height > 30)
                out.push(`date on two lines: ${t.textContent}`);
        }
        for (const c of document.querySelectorAll('code.id')) {
            const whole = c.textContent;
            if (c.querySelector('.cut') && c.title !== whole)
                out.push(`id ${whole} titled ${c.title}`);
            if (c.getClientRects().length !== 1) out.push(`id on two lines: ${whole}`);
        }
        return out;
    }"""))


def _copied(page: Page, selector: str) -> str:
    """What a click on a shortened id selects, which is what is copied."""
    page.locator(selector).first.click()
    return str(page.evaluate("() => window.getSelection().toString()"))


def test_pages_fit_a_laptop_and_a_phone(dashboard: Tether, browser: Browser,
                                        screenshots: Path) -> None:
    tether, base, sf = dashboard, dashboard.base_url, dashboard.sfemu
    org = sf.new_org()

    def create(sobject: str, **fields: object) -> str:
        r = sf.admin("POST", f"/orgs/{org['name']}/records/{sobject}", json=fields)
        assert r.status_code < 300, r.text
        return str(r.json()["id"])

    account = create("Account", Name="Globex International")
    jane = create("Contact", LastName="Doe", Email="jane@globex.example", AccountId=account)
    create("Contact", LastName="Procurement", Email=LONG, AccountId=account)
    for name in ("Globex renewal", "Globex upsell"):
        deal = create("Opportunity", Name=name, StageName="Prospecting", CloseDate="2026-12-31",
                      AccountId=account)
        create("OpportunityContactRole", OpportunityId=deal, ContactId=jane, Role="Buyer")
    _first_admin(tether, org["admin"])

    def members(db: Any) -> tuple[str, str]:
        workspace = db.scalars(select(Workspace)).one()
        ws.add_member(db, workspace.id, email=org["rep"], password=PASSWORD)
        admin = db.scalars(select(Membership).where(Membership.access == "admin")).one()
        key = ws.create_api_key(db, ws.actor_for_membership(db, admin.id))
        return key, ws.create_realtime_token(db, ws.actor_for_membership(db, admin.id))

    key, token = _in_db(tether, members)
    workspace_id = _in_db(tether, lambda db: db.scalars(select(Workspace.id)).one())
    # The real-time package: Tether's own writes come back through the webhook.
    r = sf.admin("POST", f"/orgs/{org['name']}/package", json={
        "webhook_url": f"{base}/webhooks/salesforce/{workspace_id}", "token": token})
    assert r.status_code < 300, r.text

    admin = browser.new_context(ignore_https_errors=True, viewport={"width": 1366, "height": 900},
                                permissions=["clipboard-read", "clipboard-write"])
    page = admin.new_page()
    _sign_in(page, base, org["admin"])
    _connect_salesforce(page, base, org["admin"])
    page.get_by_label("Sync User", exact=True).select_option(
        label=f"{org['admin']} ({org['admin']})")
    page.get_by_role("button", name="Save Sync User").click()
    page.goto(f"{base}/app/syncs")
    page.get_by_label("Kind").select_option("audit")
    page.get_by_role("button", name="Sync now").click()

    def audited() -> bool:
        page.reload()
        return page.locator("tr", has_text="audit").filter(has_text="succeeded").count() > 0

    _until(audited, "the audit")
    # The default role logs to the Account and Opportunities too: several ids an activity.
    page.goto(f"{base}/app/members")
    page.get_by_role("link", name="Default").click()
    page.get_by_label("Log activity to the Contact's Account").check()
    page.get_by_label("Log activity to Opportunities").check()
    page.get_by_role("button", name="Save role").click()
    expect(page.get_by_role("status").first).to_have_text("Role saved.")
    role_url = page.url.split("?")[0]

    # The admin's emails (three records each: Contact, Account, Opportunities), a long
    # address, and the rep's, who has not connected: it waits.
    events: list[dict[str, Any]] = []
    for n in range(4):
        to = [LONG] if n == 3 else ["jane@globex.example"]
        events.append({"id": f"resp-{n}-{'x' * 40}", "type": "email.sent",
                       "occurred_at": f"2026-11-2{n}T09:0{n}:00Z", "user": org["admin"],
                       "message": {"id": f"<m{n}@acme.example>", "subject": f"Renewal {n}",
                                   "to": to}})
    events.append({"id": "resp-rep", "type": "email.sent", "occurred_at": "2026-11-28T10:00:00Z",
                   "user": org["rep"], "message": {"id": "<rep@acme.example>",
                                                   "subject": "Hello", "to": [LONG]}})
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as c:
        assert c.post("/api/v1/events", json={"events": events}).status_code == 202

        def synced() -> bool:
            log = c.get(f"/api/v1/activity-log?user={org['admin']}").json()
            return bool(log["items"]) and log["counts"]["synced"] == len(log["items"])
        _until(synced, "the admin's activity to sync", timeout=60)
        items = c.get("/api/v1/activity-log").json()["items"]
    salesforce_ids = {i for item in items for i in item["salesforce_ids"]}
    assert all(len(i) == 18 for i in salesforce_ids) and len(salesforce_ids) >= 8

    # The default role counts both members and their activity.
    page.goto(f"{base}/app/members")
    default = page.locator("tr", has=page.get_by_role("link", name="Default"))
    expect(default.locator("td").nth(1)).to_have_text("2")
    page.goto(role_url)
    expect(page.locator(".stat", has_text="Members in this role").locator(".n")).to_have_text("2")
    expect(page.locator(".stat", has_text="Synced").locator(".n")).not_to_have_text("0")
    synced_in_role = int(page.locator(".stat", has_text="Synced").locator(".n").inner_text())
    assert synced_in_role == len([i for i in items if i["status"] == "synced"])

    # A shortened id: the whole of it on hover and in a copy.
    page.goto(f"{base}/app/activity")
    first = page.locator("td.ids code.id").first
    whole = str(first.get_attribute("title"))
    assert whole in salesforce_ids and "…" not in whole
    # Shortened on the page: its middle takes no room (but is there, to be copied).
    cut = first.locator(".cut")
    assert cut.evaluate("e => e.getBoundingClientRect().width") == 0
    assert cut.inner_text() in whole[5:] and len(cut.inner_text()) > 5
    assert _copied(page, "td.ids code.id") == whole
    page.keyboard.press("Control+C")
    assert page.evaluate("() => navigator.clipboard.readText()") == whole

    detail = page.locator("tr", has_text="Synced").first.get_by_role("link").get_attribute(
        "href")
    pages = {"activity": "/app/activity", "detail": str(detail), "syncs": "/app/syncs",
             "members": "/app/members", "role": role_url.replace(base, ""),
             "integrations": "/app/integrations", "settings": "/app/settings",
             "usage": "/app/usage", "account": "/app/account", "people": "/app/people?q=glo",
             "templates": "/app/templates", "sidebar": "/app/sidebar?email=jane@globex.example",
             "mailbox": "/app/mailbox", "compose": "/app/compose?to=jane@globex.example",
             "outbox": "/app/outbox"}
    for device, (width, height) in WIDTHS.items():
        context = browser.new_context(ignore_https_errors=True,
                                      viewport={"width": width, "height": height})
        context.add_cookies(admin.cookies())
        view = context.new_page()
        for name, path in pages.items():
            view.goto(f"{base}{path}")
            view.screenshot(path=screenshots / f"{device}-{name}.png", full_page=True)
            assert _layout_problems(view) == [], f"{name} at {width} px"
        if device == "phone":
            # The log's rows are stacked, each cell named; a wider table (what was sent)
            # scrolls in its own box; the navigation sits above the page.
            view.goto(f"{base}/app/activity")
            row = view.locator("#log tbody tr").nth(2)
            row.screenshot(path=screenshots / "phone-activity-row.png")
            box = row.bounding_box()
            assert box is not None and box["width"] <= width
            assert row.locator("td").first.evaluate(
                "e => getComputedStyle(e, '::before').content") == '"When (UTC)"'
            nav, main = (view.locator(s).bounding_box() for s in ("nav.side", "main"))
            assert nav is not None and main is not None
            assert nav["y"] + nav["height"] <= main["y"] + 1 and nav["width"] <= width
        context.close()
    page.goto(f"{base}/app/syncs")
    expect(page.locator("#folded")).to_contain_text("only echoed Tether's own")
    page.screenshot(path=screenshots / "laptop-syncs-folded.png", full_page=True)
    admin.close()

    # The rep's view at a phone's width: their own log, and no Members & Roles.
    rep = browser.new_context(ignore_https_errors=True, viewport={"width": 390, "height": 844})
    rep_page = rep.new_page()
    _sign_in(rep_page, base, org["rep"])
    nav = rep_page.locator("nav.side")
    expect(nav.get_by_role("link", name="Members & Roles")).to_have_count(0)
    expect(rep_page.locator("tr", has_text="Pending")).to_have_count(1)
    assert _layout_problems(rep_page) == []
    rep_page.screenshot(path=screenshots / "phone-rep-activity.png", full_page=True)
    assert re.search(r"has no Salesforce connection yet", rep_page.content())
    rep.close()

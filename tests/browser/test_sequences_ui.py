"""Sequences and Tasks in Debian's chromium, against Tether and sfemu over HTTP: a two-stage
sequence made through the editor (a stage added, a refusal said beside the window and the
typing kept), seen in the list and activated; two recipients added (a bad line refused
first), one stopped; a call task created, called by its tel: link, logged and done; and the
sidebar's Tasks tab (a task made and completed there) and Add to sequence.  Screenshots at
1,366 and 390 px go to artifacts/screenshots/."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.test_dashboard import _sign_in, _unlabelled
from tests.browser.test_mail_pages import _both_widths, _shot
from tests.browser.test_responsive import _layout_problems
from tests.e2e.activity_env import Env, make_env
from tests.e2e.conftest import Tether


def _signed_in(dashboard: Tether, browser: Browser) -> tuple[Env, BrowserContext, Page]:
    env = make_env(dashboard)
    context = browser.new_context(ignore_https_errors=True,
                                  viewport={"width": 1366, "height": 900})
    page = context.new_page()
    _sign_in(page, dashboard.base_url, env.org["admin"])
    return env, context, page


def _nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name=name).click()


def test_sequence_editor_list_and_recipients(dashboard: Tether, browser: Browser,
                                             screenshots: Path) -> None:
    env, context, page = _signed_in(dashboard, browser)
    base = dashboard.base_url
    _nav(page, "Sequences")
    expect(page.get_by_text("No sequences yet.")).to_be_visible()
    page.get_by_role("link", name="New sequence").click()
    page.get_by_label("Name").fill("Q4 Outreach")
    first = page.locator("#stage-0")
    first.get_by_label("Subject", exact=True).fill("Hello {{First Name|there}}")
    first.get_by_label("Body (HTML)").fill("<p>Hi {{First Name|there}}, a word about Q4.</p>")

    # A task stage added: nothing saved, the first stage's typing kept.
    page.get_by_role("button", name="Add a task stage").click()
    expect(page.locator("#stage-0").get_by_label("Subject", exact=True)).to_have_value(
        "Hello {{First Name|there}}")
    second = page.locator("#stage-1")
    expect(second.locator("legend")).to_have_text("Stage 2: Task")
    second.get_by_label("Task", exact=True).select_option("email")
    expect(second.get_by_label("Draft subject")).to_be_visible()  # only an email task's
    second.get_by_label("Task", exact=True).select_option("call")
    expect(second.get_by_label("Draft subject")).to_be_hidden()
    second.get_by_label("Days").fill("1")
    second.get_by_label("Subject", exact=True).fill("Call about the intro")
    second.get_by_label("Notes", exact=True).fill("Ask about Q1")
    second.get_by_label("Next stage").select_option("completed")
    page.get_by_label("Sat").check()
    # A window that ends before it starts: said beside the window, everything kept.
    page.get_by_label("End time").fill("08:00")
    page.get_by_role("button", name="Create sequence").click()
    window = page.locator("fieldset.window")
    expect(window.get_by_role("alert")).to_contain_text("send_window.end: 08:00 is not after")
    expect(page.locator("#stage-1").get_by_label("Notes", exact=True)).to_have_value("Ask about Q1")
    expect(page.get_by_label("Sat")).to_be_checked()
    _shot(page, screenshots, "sequence-refused")
    page.get_by_label("End time").fill("17:30")
    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_label("Add new records for emails that don't exist").select_option("Lead")
    page.get_by_role("button", name="Create sequence").click()
    expect(page.get_by_role("status").first).to_contain_text("Sequence created.")
    expect(page.locator("#status")).to_have_text("Draft")
    saved = env.api("GET", "/api/v1/sequences")["items"]
    assert [s["name"] for s in saved] == ["Q4 Outreach"]
    seq = saved[0]
    assert [s["kind"] for s in seq["stages"]] == ["email", "task"]
    assert seq["stages"][1]["task_kind"] == "call"
    assert seq["stages"][1]["delay"] == {"days": 1, "hours": 0, "minutes": 0}
    assert seq["send_window"] == {"days": ["mon", "tue", "wed", "thu", "fri", "sat"],
                                  "start": "09:00", "end": "17:30",
                                  "timezone": "Europe/Paris"}
    assert seq["create_records"] == "Lead"
    _both_widths(context, browser, page.url.split("?")[0], screenshots, "sequence-editor")

    # The list: its status and the counts of each stage.
    _nav(page, "Sequences")
    card = page.locator(f"section.sequence[data-id='{seq['id']}']")
    expect(card.get_by_role("heading", name="Q4 Outreach")).to_be_visible()
    expect(card.locator(".badge").first).to_have_text("Draft")
    expect(card.locator("tr[data-stage]")).to_have_count(2)
    expect(card.locator("tr[data-stage='2']")).to_contain_text("0 tasks created")

    card.get_by_role("link", name="Q4 Outreach").click()
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("status").first).to_contain_text("Sequence activated")
    expect(page.locator("#status")).to_have_text("Active")
    expect(page.get_by_role("button", name="Pause")).to_be_visible()

    # Recipients: a bad line is refused by its line, nothing added; then two are.
    page.get_by_role("link", name=re.compile(r"^Recipients")).click()
    page.get_by_label("Email addresses, one a line").fill(
        "jane@globex.example\nnot-an-address")
    page.get_by_role("button", name="Add recipients").click()
    expect(page.get_by_role("alert").first).to_contain_text(
        "line 2: 'not-an-address' is not an email address")
    expect(page.get_by_label("Email addresses, one a line")).to_have_value(
        "jane@globex.example\nnot-an-address")
    # Lee has a Lead; a Lead is created for no one (both exist in Salesforce).
    page.get_by_label("Email addresses, one a line").fill(
        "jane@globex.example\nlee@initech.example")
    page.get_by_role("button", name="Add recipients").click()
    expect(page.get_by_role("status").first).to_contain_text("Added 2.")
    for address in ("jane@globex.example", "lee@initech.example"):
        row = page.locator(f"tr[data-email='{address}']")
        expect(row.locator("td[data-label=State]")).to_have_text("Active")
        expect(row.locator("td[data-label=Stage]")).to_have_text("Stage 1 of 2")
        expect(row.locator("td[data-label='Next step']")).to_contain_text(
            "Email: Hello {{First Name|there}}")
    lee = page.locator("tr[data-email='lee@initech.example']")
    lee.get_by_role("button", name="Stop lee@initech.example").click()
    expect(page.get_by_role("status").first).to_contain_text("Stopped lee@initech.example")
    expect(lee.locator("td[data-label=State]")).to_have_text("Stopped")
    expect(lee.locator("td[data-label='Why stopped']")).to_have_text("stopped by hand")
    expect(lee.get_by_role("button")).to_have_count(0)
    jane = page.locator("tr[data-email='jane@globex.example']")
    expect(jane.get_by_role("button", name="Pause jane@globex.example")).to_be_visible()
    states = {r["email"]: r["state"] for r in env.api(
        "GET", f"/api/v1/sequences/{seq['id']}/recipients")["items"]}
    assert states == {"jane@globex.example": "active", "lee@initech.example": "stopped"}
    _both_widths(context, browser, page.url.split("?")[0], screenshots, "sequence-recipients")
    _both_widths(context, browser, f"{base}/app/sequences", screenshots, "sequences")
    context.close()


def test_tasks_page_call_logged_and_done(dashboard: Tether, browser: Browser,
                                         screenshots: Path) -> None:
    env, context, page = _signed_in(dashboard, browser)
    env.create("Contact", LastName="Caller", FirstName="Carla", Email="carla@globex.example",
               Phone="+1 (555) 010-0200", AccountId=env.records["account"])
    env.sync("audit")
    today = dt.datetime.now(dt.UTC).date()
    env.api("POST", "/api/v1/tasks", json={"kind": "todo", "subject": "Send the deck",
                                           "due": (today - dt.timedelta(days=2)).isoformat()})
    env.api("POST", "/api/v1/tasks", json={
        "kind": "email", "subject": "Follow up with Jane", "who": "jane@globex.example",
        "due": (today + dt.timedelta(days=3)).isoformat(),
        "draft": {"subject": "Our call", "body": "<p>Thanks for your time.</p>"}})
    _nav(page, "Tasks")
    expect(page.locator("#group-overdue")).to_contain_text("Send the deck")
    upcoming = page.locator("#group-upcoming article", has_text="Follow up with Jane")
    expect(upcoming.locator(".draft-subject")).to_have_text("Our call")
    expect(upcoming.get_by_role("button", name="Send the email of “Follow up with Jane”")
           ).to_be_visible()

    form = page.locator("form#new-task")
    form.get_by_label("Type").select_option("call")
    expect(form.get_by_label("Draft subject")).to_be_hidden()
    form.get_by_label("Subject", exact=True).fill("Call Carla")
    form.get_by_label("Person's email").fill("carla@globex.example")
    form.get_by_label("Notes", exact=True).fill("About the renewal")
    expect(form.get_by_label("Due")).to_have_value(today.isoformat())
    form.get_by_role("button", name="Create task").click()
    expect(page.get_by_role("status").first).to_have_text("Task created.")
    call = page.locator("#group-today article", has_text="Call Carla")
    expect(call.get_by_role("link", name="Call +1 (555) 010-0200")).to_have_attribute(
        "href", "tel:+15550100200")
    _both_widths(context, browser, f"{dashboard.base_url}/app/tasks", screenshots, "tasks")

    call.get_by_text("Log call", exact=True).click()
    call.get_by_label("Duration").fill("90000")  # over a day: the service refuses it
    call.get_by_label("In", exact=True).select_option("seconds")
    call.get_by_role("button", name="Log call and complete").click()
    expect(page.get_by_role("alert").first).to_contain_text(
        "call.duration_s: whole seconds from 0 to 86400")
    expect(page.locator("#group-today")).to_contain_text("Call Carla")  # still open
    call = page.locator("#group-today article", has_text="Call Carla")
    expect(call.get_by_label("Duration")).to_have_value("90000")  # open, as typed
    expect(call.get_by_label("In", exact=True)).to_have_value("seconds")
    _shot(page, screenshots, "tasks-call-refused")
    call.get_by_label("In", exact=True).select_option("minutes")
    call.get_by_label("Duration").fill("3.5")
    call.get_by_label("Disposition").fill("Connected")
    call.get_by_label("Call notes").fill("Renewal in January")
    call.get_by_role("button", name="Log call and complete").click()
    expect(page.get_by_role("status").first).to_contain_text("Call logged")
    done = page.locator("#group-done article", has_text="Call Carla")
    expect(done).to_contain_text("Call logged: 3 min 30 s · Connected · Renewal in January")
    expect(page.locator("#group-today")).to_contain_text("Nothing here.")
    [logged] = [t for t in env.api("GET", "/api/v1/tasks")["items"] if t["kind"] == "call"]
    assert logged["status"] == "completed"
    assert logged["call"] == {"duration_s": 210, "disposition": "Connected",
                              "notes": "Renewal in January"}

    # Skipped, and filtered by type.
    overdue = page.locator("#group-overdue article", has_text="Send the deck")
    overdue.get_by_role("button", name="Skip “Send the deck”").click()
    expect(page.get_by_role("status").first).to_have_text("Task skipped.")
    expect(page.locator("#group-done")).to_contain_text("Send the deck")
    page.get_by_role("link", name="Call", exact=True).click()
    expect(page).to_have_url(re.compile(r"kind=call"))
    expect(page.locator("article.task")).to_have_count(1)
    _shot(page, screenshots, "tasks-calls")
    context.close()


def test_sidebar_tasks_tab_and_add_to_sequence(dashboard: Tether, browser: Browser,
                                               screenshots: Path) -> None:
    env, context, page = _signed_in(dashboard, browser)
    seq = env.api("POST", "/api/v1/sequences", json={
        "name": "Nurture", "stages": [{"kind": "email", "subject": "Hi", "body": "<p>Hi</p>"}]})
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(f"{dashboard.base_url}/app/sidebar?email=jane@globex.example")
    page.get_by_role("navigation", name="Sidebar").get_by_role("link", name="Tasks").click()
    expect(page).to_have_url(re.compile(r"/app/sidebar/tasks\?email=jane%40globex.example"))
    expect(page.get_by_text("No open tasks with jane@globex.example.")).to_be_visible()
    expect(page.get_by_text("Not in any of your sequences.")).to_be_visible()

    page.get_by_text("New task", exact=True).click()
    page.get_by_label("Type").select_option("call")
    page.get_by_label("Subject", exact=True).fill("Call Jane back")
    expect(page.get_by_label("Sequence", exact=True)).to_be_visible()
    assert _layout_problems(page) == [] and _unlabelled(page) == []
    page.screenshot(path=screenshots / "sidebar-360-new-task.png", full_page=True)
    page.get_by_role("button", name="Create task").click()
    expect(page.get_by_role("status").first).to_have_text("Task created.")
    item = page.locator("ul.side-tasks li", has_text="Call Jane back")
    expect(item).to_contain_text("Call")
    [made] = env.api("GET", "/api/v1/tasks")["items"]
    assert made["who"] == "jane@globex.example" and made["kind"] == "call"

    page.get_by_label("Sequence", exact=True).select_option(label="Nurture (draft)")
    page.get_by_role("button", name="Add to sequence").click()
    expect(page.get_by_role("status").first).to_have_text("Added to the sequence.")
    expect(page.get_by_role("region", name="Sequences")).to_contain_text("Nurture")
    expect(page.get_by_role("region", name="Sequences")).to_contain_text("Pending")
    expect(page.get_by_role("button", name="Add to sequence")).to_have_count(0)
    [r] = env.api("GET", f"/api/v1/sequences/{seq['id']}/recipients")["items"]
    assert r["email"] == "jane@globex.example" and r["state"] == "pending"
    assert _layout_problems(page) == [] and _unlabelled(page) == []
    page.screenshot(path=screenshots / "sidebar-360-added.png", full_page=True)
    _shot(page, screenshots, "sidebar-tasks")

    item.get_by_role("button", name="Complete “Call Jane back”").click()
    expect(page.get_by_role("status").first).to_have_text("Task completed.")
    expect(page.get_by_text("No open tasks with jane@globex.example.")).to_be_visible()
    assert env.api("GET", f"/api/v1/tasks/{made['id']}")["status"] == "completed"
    context.close()

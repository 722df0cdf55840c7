"""The mail pages in Debian's chromium, against Tether, sfemu and a real local mail server
(aiosmtpd into Maildirs, IMAP by Dovecot or pymap): the Mailbox page checks both logins and
says which failed, in the server's words; a message composed from a template, previewed for
its first recipient and sent arrives and shows as sent in the outbox, a scheduled one is
cancelled; and the Auto-Create dialog in each of its ways (create a Lead and send, never for
an address, send without creating, skip one recipient and create for the other), with Back
keeping what was written.  Screenshots at 1,366 and 390 px go to artifacts/screenshots/."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, FilePayload, Page, expect

from tests.browser.test_dashboard import _sign_in, _unlabelled
from tests.browser.test_responsive import WIDTHS, _layout_problems
from tests.e2e.activity_env import Env, make_env
from tests.e2e.conftest import Tether
from tests.e2e.mail_env import PASSWORD, connect_mailbox, html_of
from tests.mail_fixtures import MakeLocalMail
from tether.calendar.local_server import LocalCalendarServer
from tether.mail.local_server import LocalMailServer


@pytest.fixture
def local_mail(make_local_mail: MakeLocalMail) -> LocalMailServer:
    """IMAP by pymap, in this process: Dovecot, run as the mail user when we are root, loses
    its way into the Maildirs whenever another pytest run on the machine makes
    /tmp/pytest-of-root 0700 again (pytest does, for its own base directory)."""
    return make_local_mail("pymap")


def _both_widths(context: BrowserContext, browser: Browser, url: str, folder: Path,
                 name: str) -> None:
    """The page at a laptop's and a phone's width, screenshotted, nothing wider than the
    window, every control labelled."""
    for device, (width, height) in WIDTHS.items():
        other = browser.new_context(ignore_https_errors=True,
                                    viewport={"width": width, "height": height})
        other.add_cookies(context.cookies())
        view = other.new_page()
        view.goto(url)
        view.wait_for_load_state("networkidle")
        view.screenshot(path=folder / f"{device}-{name}.png", full_page=True)
        assert _layout_problems(view) == [], f"{name} at {width} px"
        assert _unlabelled(view) == [], f"{name}: controls without a label"
        other.close()


def _shot(page: Page, folder: Path, name: str) -> None:
    """A page reached by a POST (the dialog): this page at both widths, as it stands."""
    for device, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=folder / f"{device}-{name}.png", full_page=True)
        assert _layout_problems(page) == [], f"{name} at {width} px"
    page.set_viewport_size({"width": 1366, "height": 900})


def _settled(page: Page) -> None:
    """htmx done: past the preview's 300 ms delay, and no request in flight."""
    page.wait_for_timeout(400)
    page.wait_for_function("() => !document.querySelector('.htmx-request')")


def _arrived(server: LocalMailServer, address: str, subject: str, timeout: float = 30.0
             ) -> str:
    """The HTML body of the message with this subject in the address's INBOX."""
    deadline = time.monotonic() + timeout
    while True:
        for message in server.messages(address):
            if message["Subject"] == subject:
                return html_of(message)
        assert time.monotonic() < deadline, f"{subject!r} did not reach {address}"
        time.sleep(0.2)


def _compose(page: Page, base: str, to: str, subject: str, body: str = "Hello there") -> None:
    page.goto(f"{base}/app/compose")
    page.get_by_label("To", exact=True).fill(to)
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Body").fill(body)
    page.get_by_role("button", name="Send now").click()


def _sent(page: Page, subject: str) -> None:
    """The outbox, once the message is sent (the list refreshes itself)."""
    expect(page).to_have_url(re.compile(r"/app/outbox\?sent="))
    row = page.locator("#outbox tr", has_text=subject)
    expect(row.locator(".badge")).to_have_text("Sent", timeout=30_000)


def test_mailbox_compose_send_and_outbox(dashboard: Tether, browser: Browser,
                                         local_mail: LocalMailServer, screenshots: Path
                                         ) -> None:
    env = make_env(dashboard)
    base, me = dashboard.base_url, env.org["admin"]
    local_mail.add_user(me, PASSWORD)
    context = browser.new_context(ignore_https_errors=True,
                                  viewport={"width": 1366, "height": 900})
    page = context.new_page()
    _sign_in(page, base, me)

    # The Mailbox page: a wrong password is refused by both servers, each said beside it.
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Mailbox").click()
    page.get_by_label("Email address").fill(me)
    page.get_by_label("Display name").fill("Ada Admin")
    for name, port in (("smtp", local_mail.smtp_port), ("imap", local_mail.imap_port)):
        box = page.locator(f"fieldset.server:has(#{name}-host)")
        box.get_by_label("Server").fill(local_mail.host)
        box.get_by_label("Port").fill(str(port))
        box.get_by_label("Security").select_option("none")
        box.get_by_label("Username").fill(me)
        box.get_by_label("Password or access token").fill("wrong-password")
    page.get_by_role("button", name="Check and save").click()
    expect(page.locator("#smtp-state")).to_contain_text("SMTP authentication failed")
    expect(page.locator("#imap-state")).to_contain_text("IMAP authentication failed")
    expect(page.get_by_role("alert").first).to_contain_text("Not saved")
    expect(page.get_by_label("Email address")).to_have_value(me)  # what was typed stays
    _shot(page, screenshots, "mailbox-refused")

    for name in ("smtp", "imap"):
        page.locator(f"#{name}-password").fill(PASSWORD)
    page.get_by_label("Daily cap").fill("200")
    page.get_by_role("button", name="Check and save").click()
    expect(page.get_by_role("status").first).to_contain_text("Mailbox saved")
    expect(page.locator("#smtp-password")).to_have_value("")  # never shown again
    assert PASSWORD not in page.content()
    expect(page.get_by_label("Daily cap")).to_have_value("200")
    _both_widths(context, browser, f"{base}/app/mailbox", screenshots, "mailbox")
    # Saved again with the password left empty: the saved one is kept.
    page.get_by_label("Display name").fill("Ada")
    page.get_by_role("button", name="Save mailbox").click()
    expect(page.get_by_role("status").first).to_contain_text("Mailbox saved")

    # A template with a variable, chosen on the compose page: its text, variables and all.
    env.api("POST", "/api/v1/templates", json={
        "name": "Intro", "subject": "Hello {{First Name|there}}",
        "body": "<p>Hi {{First Name|there}}, see <a href=\"https://example.com/deck\">the "
                "deck</a>.</p>"})
    page.get_by_role("link", name="Compose").first.click()
    page.get_by_label("To", exact=True).fill("jane@globex.example, nobody@else.example")
    page.get_by_label("To", exact=True).blur()
    badges = page.locator("#to-badges")
    expect(badges.locator("[data-email='jane@globex.example']")).to_contain_text(
        "Contact · Jane Doe")
    expect(badges.locator("[data-email='nobody@else.example']")).to_contain_text(
        "No Salesforce record")
    page.get_by_label("Template").select_option(label="Intro")
    expect(page.get_by_label("Subject")).to_have_value("Hello {{First Name|there}}")
    expect(page.get_by_label("Body")).to_contain_text("Hi {{First Name|there}}")
    expect(page.locator("#preview-subject")).to_have_text("Hello Jane")
    frame = page.frame_locator("#preview iframe")
    expect(frame.locator("p")).to_contain_text("Hi Jane, see the deck.")
    page.get_by_label("To", exact=True).fill("jane@globex.example")
    page.get_by_label("To", exact=True).blur()
    expect(badges.locator("[data-email='nobody@else.example']")).to_have_count(0)
    pricing: FilePayload = {"name": "pricing.txt", "mimeType": "text/plain",
                            "buffer": b"the price list"}
    page.locator("#file").set_input_files(files=pricing)
    _settled(page)
    expect(frame.locator("p")).to_contain_text("Hi Jane, see the deck.")
    _shot(page, screenshots, "compose")
    # Chromium leaves a sandboxed frame below the fold blank in a full-page screenshot.
    page.locator("#preview").screenshot(path=screenshots / "laptop-compose-preview.png")
    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_role("status").first).to_have_text(
        "Queued: “Hello {{First Name|there}}” to jane@globex.example.")
    _sent(page, "Hello {{First Name|there}}")
    html = _arrived(local_mail, "jane@globex.example", "Hello Jane")
    assert "Hi Jane" in html and "/t/d/" in html  # rendered for her; the file's link

    # The message's page: each recipient's state.
    page.get_by_role("link", name="Hello {{First Name|there}}").click()
    row = page.locator("tr[data-email='jane@globex.example']")
    expect(row).to_contain_text("Accepted by your mail server")
    _both_widths(context, browser, page.url, screenshots, "outbox-message")
    # A follow-up in its thread starts with its subject and recipients.
    page.get_by_role("link", name="Write a follow-up in this thread").click()
    expect(page.get_by_label("Subject")).to_have_value("Re: Hello {{First Name|there}}")
    expect(page.get_by_label("To", exact=True)).to_have_value("jane@globex.example")
    expect(page.get_by_text("A reply: it joins the thread")).to_be_visible()

    # Sent later: scheduled, said so, and cancelled before it goes.
    page.goto(f"{base}/app/compose")
    page.get_by_label("To", exact=True).fill("jane@globex.example")
    page.get_by_label("Subject").fill("Next week")
    page.get_by_label("Body").fill("Line one\nLine two")
    page.get_by_label("Send at (your local time)").fill("2030-06-01T09:30")
    expect(page.get_by_role("button", name="Schedule")).to_be_visible()
    page.get_by_role("button", name="Schedule").click()
    local = page.evaluate("() => new Date('2030-06-01T09:30').toISOString()")
    expected = time.strftime("%-d %b %Y %H:%M", time.strptime(local[:16], "%Y-%m-%dT%H:%M"))
    expect(page.get_by_role("status").first).to_contain_text(f"Scheduled for {expected}")
    row = page.locator("#outbox tr", has_text="Next week")
    expect(row.locator(".badge")).to_have_text("Scheduled")
    row.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("status").first).to_contain_text("Cancelled")
    expect(page.locator("#outbox tr", has_text="Next week").locator(".badge")).to_have_text(
        "Cancelled")
    _both_widths(context, browser, f"{base}/app/outbox", screenshots, "outbox")
    _both_widths(context, browser, f"{base}/app/compose", screenshots, "compose-empty")

    # Disconnected: the page offers to connect again.
    page.goto(f"{base}/app/mailbox")
    page.get_by_role("button", name="Disconnect mailbox").click()
    expect(page.get_by_role("status").first).to_contain_text("Mailbox disconnected")
    expect(page.get_by_role("button", name="Check and save")).to_be_visible()
    context.close()


def test_the_auto_create_dialog(dashboard: Tether, browser: Browser,
                                local_mail: LocalMailServer, screenshots: Path) -> None:
    env: Env = make_env(dashboard)
    env.sync("fields")
    env.set_role(autocreate="choice")
    connect_mailbox(env, local_mail)
    base = dashboard.base_url
    context = browser.new_context(ignore_https_errors=True,
                                  viewport={"width": 1366, "height": 900})
    page = context.new_page()
    _sign_in(page, base, env.org["admin"])

    # (1) A Lead created, then sent: the required fields asked for first.
    _compose(page, base, "newman@prospect.example", "Meet Tether", "Hi Newman")
    expect(page.get_by_role("heading", name="Create Salesforce records?")).to_be_visible()
    one = page.locator("fieldset.recipient[data-email='newman@prospect.example']")
    expect(one.get_by_label("Create a Lead")).to_be_checked()
    expect(one.get_by_label("Create a Contact")).to_be_visible()  # the role allows either
    lead = one.locator(".object-fields.Lead")
    expect(lead.get_by_label("Last Name")).to_be_visible()
    expect(one.locator(".object-fields.Contact")).to_be_hidden()
    assert _unlabelled(page) == []
    _shot(page, screenshots, "autocreate")
    page.get_by_role("button", name="Create record and send").click()
    expect(one.get_by_role("alert")).to_contain_text("required")
    _shot(page, screenshots, "autocreate-refused")
    # Back keeps what was written.
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_label("Subject")).to_have_value("Meet Tether")
    expect(page.get_by_label("Body")).to_have_value("Hi Newman")
    page.get_by_role("button", name="Send now").click()
    one = page.locator("fieldset.recipient[data-email='newman@prospect.example']")
    one.locator(".object-fields.Lead").get_by_label("Last Name").fill("Newman")
    one.locator(".object-fields.Lead").get_by_label("Company").fill("Prospect Inc")
    page.get_by_role("button", name="Create record and send").click()
    _sent(page, "Meet Tether")
    [made] = env.soql("SELECT Id, LastName, Company FROM Lead WHERE Email = "
                      "'newman@prospect.example'")
    assert (made["LastName"], made["Company"]) == ("Newman", "Prospect Inc")
    assert "Hi Newman" in _arrived(local_mail, "newman@prospect.example", "Meet Tether")

    # (2) Never for this address: sent, and not asked again.
    _compose(page, base, "never@prospect.example", "First note")
    page.get_by_role("button", name="Never create a record for this address").click()
    _sent(page, "First note")
    _compose(page, base, "never@prospect.example", "Second note")
    _sent(page, "Second note")  # straight to the outbox: no dialog
    assert len(local_mail.messages("never@prospect.example")) == 2
    assert env.soql("SELECT Id FROM Lead WHERE Email = 'never@prospect.example'") == []

    # (3) Sent without creating records: nothing in Salesforce, and asked again next time.
    _compose(page, base, "once@prospect.example", "Just once")
    page.get_by_role("button", name="Send email without creating records").click()
    _sent(page, "Just once")
    _arrived(local_mail, "once@prospect.example", "Just once")
    assert env.soql("SELECT Id FROM Lead WHERE Email = 'once@prospect.example'") == []
    assert env.soql("SELECT Id FROM Contact WHERE Email = 'once@prospect.example'") == []
    _compose(page, base, "once@prospect.example", "Again")
    expect(page.get_by_role("heading", name="Create Salesforce records?")).to_be_visible()

    # (4) Two without records: one skipped, a Contact created for the other.
    _compose(page, base, "skip@two.example, make@two.example", "Two of you")
    skip = page.locator("fieldset.recipient[data-email='skip@two.example']")
    make = page.locator("fieldset.recipient[data-email='make@two.example']")
    expect(page.get_by_role("button", name="Never create a record for this address")
           ).to_have_count(0)  # per recipient, with two
    skip.get_by_label("Skip: no record this time").check()
    make.get_by_label("Create a Contact").check()
    expect(make.locator(".object-fields.Lead")).to_be_hidden()
    make.locator(".object-fields.Contact").get_by_label("Last Name").fill("Maker")
    _shot(page, screenshots, "autocreate-two")
    page.get_by_role("button", name="Create record and send").click()
    _sent(page, "Two of you")
    [contact] = env.soql("SELECT LastName FROM Contact WHERE Email = 'make@two.example'")
    assert contact["LastName"] == "Maker"
    for sobject in ("Lead", "Contact"):
        assert env.soql(f"SELECT Id FROM {sobject} WHERE Email = 'skip@two.example'") == []
    for address in ("skip@two.example", "make@two.example"):
        _arrived(local_mail, address, "Two of you")
    context.close()


def test_the_primary_calendar_on_the_mailbox_page(dashboard: Tether, browser: Browser,
                                                  local_calendar: LocalCalendarServer,
                                                  screenshots: Path) -> None:
    env = make_env(dashboard)
    base, me = dashboard.base_url, env.org["admin"]
    url = local_calendar.add_user(me, "cal-secret-1")
    context = browser.new_context(ignore_https_errors=True,
                                  viewport={"width": 1366, "height": 900})
    page = context.new_page()
    _sign_in(page, base, me)
    page.goto(f"{base}/app/mailbox")
    card = page.locator("#calendar")
    card.get_by_label("Calendar URL (CalDAV)").fill(url)
    card.get_by_label("Username").fill(me)
    card.get_by_label("Password").fill("not-the-password")
    card.get_by_role("button", name="Connect calendar").click()
    expect(page.get_by_role("alert").first).to_contain_text("CalDAV authentication failed")
    expect(page.locator("#calendar").get_by_label("Calendar URL (CalDAV)")).to_have_value(url)
    card = page.locator("#calendar")
    card.get_by_label("Password").fill("cal-secret-1")
    card.get_by_role("button", name="Connect calendar").click()
    expect(page.get_by_role("status").first).to_contain_text("Calendar saved")
    card = page.locator("#calendar")
    expect(card).to_contain_text("Calendar")
    expect(card.get_by_label("Password")).to_have_value("")
    assert "cal-secret-1" not in page.content()
    _both_widths(context, browser, f"{base}/app/mailbox", screenshots, "mailbox-calendar")

"""The Templates page in Debian's chromium, against Tether and sfemu over HTTP: a template
written in the form, previewed for a Lead, its body in a sandboxed frame where the template's
own script does not run.  Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from tests.browser.test_dashboard import _connect_salesforce, _first_admin, _sign_in, _unlabelled
from tests.browser.test_sidebar import _api_key
from tests.e2e.conftest import Tether

BODY = ("<p>Hi {{First Name|there}} {{Last Name}} at {{Account Name}}</p>"
        "<script>parent.document.title = 'script ran'; document.body.append('script ran')"
        "</script><img src=x onerror=\"parent.document.title = 'handler ran'\">")


def test_write_and_preview_a_template(dashboard: Tether, browser: Browser,
                                      screenshots: Path) -> None:
    tether, base, sf = dashboard, dashboard.base_url, dashboard.sfemu
    org = sf.new_org()
    r = sf.admin("POST", f"/orgs/{org['name']}/records/Lead", json={
        "LastName": "<b>O'Brien & Co</b>", "Company": "Initech",
        "Email": "obrien@initech.example"})
    assert r.status_code < 300, r.text
    _first_admin(tether, org["admin"])
    page = browser.new_context(ignore_https_errors=True).new_page()
    _sign_in(page, base, org["admin"])
    _connect_salesforce(page, base, org["admin"])
    key = _api_key(tether, org["admin"])
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"},
                      timeout=120) as api:
        for kind in ("fields", "audit"):
            r = api.post("/api/v1/salesforce/sync", json={"kind": kind})
            assert r.status_code == 200 and r.json()["outcome"] == "succeeded", r.text

    page.goto(f"{base}/app/templates")
    expect(page.get_by_text("No templates yet.")).to_be_visible()
    assert _unlabelled(page) == []
    page.get_by_label("Name").fill("Intro")
    page.get_by_label("Subject").fill("Hello {{First Name|there}}")
    page.get_by_label("Body (HTML)").fill(BODY.replace("First Name|", "Frist Name|"))
    page.get_by_role("button", name="Create template").click()
    expect(page.get_by_role("alert")).to_contain_text("did you mean 'First Name',")
    page.get_by_label("Body (HTML)").fill(BODY)
    page.get_by_role("button", name="Create template").click()
    expect(page.get_by_role("status").first).to_have_text("Template created.")
    title = page.title()

    page.get_by_label("Recipient's email").fill("obrien@initech.example")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-subject")).to_have_text("Hello there")
    expect(page.locator("#preview-missing")).to_contain_text("Nothing")
    frame = page.frame_locator("iframe[sandbox]")
    expect(frame.locator("p")).to_have_text("Hi there <b>O'Brien & Co</b> at Initech")
    expect(frame.locator("b")).to_have_count(0)  # the value is text, not markup
    page.wait_for_timeout(300)  # time for a script or an onerror to have run, had they
    assert page.title() == title
    assert "script ran" not in frame.locator("body").inner_text()
    page.screenshot(path=str(screenshots / "preview.png"), full_page=True)
    page.locator("iframe[sandbox]").screenshot(path=str(screenshots / "frame.png"))

"""The Templates page through the app (no browser), on SQLite and PostgreSQL: create, edit,
preview and delete; the workspace's templates read-only for a member; the preview's body in a
sandboxed frame, escaped into its srcdoc."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from tests.tether.web.conftest import World, db_of
from tests.tether.web.test_dashboard_auth import ADMIN, REP, sign_in
from tests.tether.web.test_dashboard_pages import post
from tether.store.models import FieldMetadata

LABELS = {"Lead": {"FirstName": "First Name", "LastName": "Last Name", "Phone": "Phone",
                   "Company": "Company"},
          "Contact": {"FirstName": "First Name", "LastName": "Last Name",
                      "Phone": "Business Phone"},
          "Account": {"Name": "Account Name"}}


def _fields_synced(world: World) -> None:
    """What a fields sync leaves: describe's fields of Lead, Contact and Account."""
    with db_of(world) as db:
        for sobject, labels in LABELS.items():
            db.add(FieldMetadata(workspace_id=world.workspace_id, sobject=sobject,
                                 layout_required=[], fields=[
                                     {"name": n, "label": lb, "type": "string"}
                                     for n, lb in labels.items()]))
        db.commit()


def _id_of(path: str) -> str:
    found = re.fullmatch(r"/app/templates/([0-9a-f]{32})", path)
    assert found, path
    return found.group(1)


def test_templates_page_create_preview_edit_delete(world: World) -> None:
    _fields_synced(world)
    c = world.client
    sign_in(c, ADMIN)
    assert "No templates yet." in c.get("/app/templates").text
    body = '<p title="x">Hi {{First Name|there}}</p><script>alert(1)</script>{{Phone}}'
    status, path, page = post(c, "/app/templates", {
        "name": "Intro", "subject": "Hello {{First Name|there}}", "body": body,
        "scope": "workspace"}, csrf_from="/app/templates")
    assert status == 200 and "Template created." in page, page
    template_id = _id_of(path)
    assert "Variables: First Name, Phone" in page

    # Preview for an address no record has: the fallback, the rest missing; the body only in
    # the sandboxed frame's escaped srcdoc, never as markup of the page.
    page = c.get(f"/app/templates/{template_id}", params={"to": "nobody@x.example"}).text
    assert '<dd id="preview-subject">Hello there</dd>' in page
    assert "No value and no fallback for: Phone" in page
    frame = re.search(r'<iframe sandbox srcdoc="([^"]*)"', page)
    assert frame, page
    assert html.unescape(frame.group(1)) == (
        '<p title="x">Hi there</p><script>alert(1)</script>')
    assert "<script>alert" not in page
    bad = c.get(f"/app/templates/{template_id}", params={"to": "not an address"}).text
    assert "is not an email address" in bad and "<iframe" not in bad

    # An unknown label is refused on the page, with the nearest label; what was typed stays.
    status, _, page = post(c, f"/app/templates/{template_id}", {
        "name": "Intro", "subject": "Hi", "body": "{{Frist Name}}"},
        csrf_from=f"/app/templates/{template_id}")
    assert status == 422 and 'role="alert"' in page
    assert "did you mean &#39;First Name&#39;" in page and "{{Frist Name}}</textarea>" in page
    status, _, page = post(c, f"/app/templates/{template_id}", {
        "name": "Intro v2", "subject": "Hi {{Account Name}}", "body": "<p>Hello</p>"},
        csrf_from=f"/app/templates/{template_id}")
    assert status == 200 and "Template saved." in page and "Template: Intro v2" in page

    # A member sees the workspace's template, read-only, and cannot change it.
    rep = TestClient(c.app)
    sign_in(rep, REP)
    page = rep.get(f"/app/templates/{template_id}").text
    assert "kept by admins" in page and "Save template" not in page
    status, _, _ = post(rep, f"/app/templates/{template_id}/delete",
                        csrf_from="/app/templates")
    assert status == 403
    # Their own template is theirs alone.
    status, path, _ = post(rep, "/app/templates", {"name": "Mine", "subject": "s",
                                                   "body": "b"}, csrf_from="/app/templates")
    assert status == 200
    mine = _id_of(path)
    assert "Intro v2" in rep.get("/app/templates").text
    assert c.get(f"/app/templates/{mine}").status_code == 404
    assert "Mine" not in c.get("/app/templates").text

    status, path, page = post(c, f"/app/templates/{template_id}/delete",
                              csrf_from="/app/templates")
    assert path == "/app/templates" and "Template deleted." in page
    assert "Intro v2" not in page


def test_templates_page_refuses_bad_input_on_the_page(world: World) -> None:
    c = world.client
    sign_in(c, REP)
    page = c.get("/app/templates").text
    assert 'name="scope"' not in page  # a member makes only their own
    status, _, page = post(c, "/app/templates", {"name": "", "subject": "s", "body": "b"},
                           csrf_from="/app/templates")
    assert status == 422 and "name is required" in page
    status, _, page = post(c, "/app/templates", {"name": "n", "subject": "s",
                                                 "body": "Hi {{First Name}}"},
                           csrf_from="/app/templates")
    assert status == 409 and "fields sync" in page  # no labels known yet
    status, _, _ = post(c, "/app/templates", {"name": "n", "subject": "s", "body": "b",
                                              "scope": "workspace"},
                        csrf_from="/app/templates")
    assert status == 403

"""The Sequences and Tasks pages through the app (no browser), on SQLite and PostgreSQL: a
refusal is said beside the form with what was typed kept (the editor's stages, the
recipients by line and by CSV row, a task's fields), and the pages' changes are the
services' (seen through the JSON API)."""

from __future__ import annotations

import datetime as dt
import re

import httpx
from fastapi.testclient import TestClient

from tests.tether.web.conftest import World
from tests.tether.web.test_dashboard_auth import ADMIN, _csrf, sign_in
from tests.tether.web.test_dashboard_templates import _fields_synced


def _form(stages: list[dict[str, str]], **fields: str) -> dict[str, str | list[str]]:
    data: dict[str, str | list[str]] = {
        "name": "Q4 Outreach", "stage_count": str(len(stages)), "window_on": "on",
        "days": ["mon", "tue", "wed"], "start": "09:00", "end": "17:00",
        "timezone": "recipient", "create_records": "", "exit_on_colleague_reply": "on",
        **fields}
    for i, s in enumerate(stages):
        for key, value in s.items():
            data[f"stage-{i}-{key}"] = value
    return data


def _post(c: TestClient, path: str, data: dict[str, str | list[str]],
          csrf_from: str = "/app/sequences/new") -> httpx.Response:
    return c.post(path, data={**data, "csrf_token": _csrf(c.get(csrf_from).text)})


EMAIL = {"kind": "email", "days": "0", "hours": "0", "minutes": "0",
         "subject": "Hello {{First Name|there}}", "body": "<p>Hi</p>"}
CALL = {"kind": "task", "days": "1", "hours": "2", "minutes": "0", "task_kind": "call",
        "subject": "Call them", "notes": "Ask about Q1", "next_when": "completed"}


def test_the_editor_keeps_what_was_typed_and_says_why(world: World) -> None:
    _fields_synced(world)
    c = world.client
    sign_in(c, ADMIN)
    # The first email without a subject: refused beside its stage, everything kept.
    r = _post(c, "/app/sequences/new", _form([{**EMAIL, "subject": ""}, CALL]))
    assert r.status_code == 422, r.text
    assert "stages[0].subject: the first email needs a subject" in r.text
    stage0 = r.text.split('id="stage-0"')[1].split("</fieldset>")[0]
    assert 'role="alert"' in stage0 and 'aria-invalid="true"' in stage0
    assert 'value="Q4 Outreach"' in r.text and "Ask about Q1</textarea>" in r.text
    # A window ending before it starts, and a delay that is not a number.
    r = _post(c, "/app/sequences/new", _form([EMAIL, CALL], end="08:00"))
    assert r.status_code == 422 and "send_window.end: 08:00 is not after the start" in r.text
    r = _post(c, "/app/sequences/new", _form([EMAIL, {**CALL, "hours": "two"}]))
    assert r.status_code == 422 and "stages[1].delay.hours: &#39;two&#39; is not a whole" \
        in r.text
    # Adding a stage saves nothing and keeps the others.
    r = _post(c, "/app/sequences/new", _form([EMAIL], op="add_task"))
    assert r.status_code == 200 and 'id="stage-1"' in r.text and "Hello {{First Name|there}}" \
        in r.text
    assert c.get("/api/v1/sequences", headers=world.as_admin()).json()["items"] == []
    r = _post(c, "/app/sequences/new", _form([EMAIL, CALL, EMAIL], op="remove-0"))
    assert r.text.count('class="stage ') == 2 and 'id="stage-2"' not in r.text

    r = _post(c, "/app/sequences/new", _form([EMAIL, CALL]))
    assert r.status_code == 200 and "Sequence created." in r.text, r.text
    seq_id = r.url.path.rsplit("/", 1)[-1]
    seq = c.get(f"/api/v1/sequences/{seq_id}", headers=world.as_admin()).json()
    assert seq["stages"][1] == {"kind": "task", "task_kind": "call", "linkedin": None,
                                "subject": "Call them", "notes": "Ask about Q1",
                                "delay": {"days": 1, "hours": 2, "minutes": 0},
                                "next_when": "completed", "draft": None}
    assert seq["send_window"] == {"days": ["mon", "tue", "wed"], "start": "09:00",
                                  "end": "17:00", "timezone": "recipient"}
    assert seq["exit_on_colleague_reply"] and not seq["postpone_out_of_office"]
    assert "Q4 Outreach" in c.get("/app/sequences").text

    # Activated, then refused a second time (409), in words on the editor.
    editor = f"/app/sequences/{seq_id}"
    r = _post(c, f"{editor}/activate", {}, csrf_from=editor)
    assert "Sequence activated" in r.text and ">Pause</button>" in r.text
    r = _post(c, f"{editor}/activate", {}, csrf_from=editor)
    assert r.status_code == 409 and "only a draft is activated" in r.text


def test_recipients_refused_by_line_and_by_csv_row(world: World) -> None:
    c = world.client
    sign_in(c, ADMIN)
    seq = c.post("/api/v1/sequences", headers=world.as_admin(), json={
        "name": "S", "stages": [{"kind": "email", "subject": "Hi", "body": "<p>x</p>"}]}
    ).json()
    page = f"/app/sequences/{seq['id']}/recipients"
    r = _post(c, page, {"addresses": "a@x.example\n\nnope\n"}, csrf_from=page)
    assert r.status_code == 422 and "line 3: &#39;nope&#39; is not an email address" in r.text
    assert "a@x.example\n\nnope\n</textarea>" in r.text
    csv = b"Email,First Name\nok@x.example,Ann\nbad,Bob\n"
    r = c.post(page, data={"csrf_token": _csrf(c.get(page).text)},
               files={"csv": ("people.csv", csv, "text/csv")})
    assert r.status_code == 422, r.text
    problems = r.text.split('class="stack problems"')[1].split("</table>")[0]
    assert re.search(r'data-label="Row">3</td><td data-label="Column">Email</td>', problems), \
        problems
    r = _post(c, page, {"addresses": "a@x.example\nB@x.example"}, csrf_from=page)
    assert r.status_code == 200 and "Added 2." in r.text
    assert r.text.count("Stage 1 of 1") == 2
    r = _post(c, f"{page}/stop", {"email": "b@x.example"}, csrf_from=page)
    assert "Stopped b@x.example" in r.text and "stopped by hand" in r.text
    r = _post(c, f"{page}/stop", {"email": "b@x.example"}, csrf_from=page)
    assert r.status_code == 409 and "b@x.example is stopped already" in r.text


def test_tasks_refusals_beside_their_forms(world: World) -> None:
    c = world.client
    sign_in(c, ADMIN)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    r = _post(c, "/app/tasks", {"kind": "call", "subject": "Call Jane", "due": today,
                                "who": "not-an-address", "notes": "n"}, csrf_from="/app/tasks")
    assert r.status_code == 422 and "who: &#39;not-an-address&#39; is not an email" in r.text
    assert 'value="Call Jane"' in r.text
    r = _post(c, "/app/tasks", {"kind": "call", "subject": "Call Jane", "due": today,
                                "who": "jane@globex.example"}, csrf_from="/app/tasks")
    assert r.status_code == 200 and "Task created." in r.text
    task = c.get("/api/v1/tasks", headers=world.as_admin()).json()["items"][0]
    r = _post(c, f"/app/tasks/{task['id']}/call", {"duration": "-3", "unit": "seconds"},
              csrf_from="/app/tasks")
    assert r.status_code == 422 and "call.duration_s: whole seconds" in r.text
    item = r.text.split(f'data-id="{task["id"]}"')[1].split("</article>")[0]
    assert 'role="alert"' in item
    r = _post(c, f"/app/tasks/{task['id']}/call", {"duration": "1.5", "unit": "minutes",
                                                   "disposition": "Connected"},
              csrf_from="/app/tasks")
    assert "Call logged" in r.text
    done = c.get(f"/api/v1/tasks/{task['id']}", headers=world.as_admin()).json()
    assert done["status"] == "completed" and done["call"] == {
        "duration_s": 90, "disposition": "Connected"}
    # An email task without a mailbox: the send is refused in words, the task still open.
    r = _post(c, "/app/tasks", {"kind": "email", "subject": "Write", "due": today,
                                "who": "jane@globex.example", "draft_subject": "Hi",
                                "draft_body": "<p>x</p>"}, csrf_from="/app/tasks")
    email_task = next(t for t in c.get("/api/v1/tasks", headers=world.as_admin()).json()[
        "items"] if t["kind"] == "email")
    r = _post(c, f"/app/tasks/{email_task['id']}/send", {}, csrf_from="/app/tasks")
    assert r.status_code == 409, r.text[:300]
    item = r.text.split(f'data-id="{email_task["id"]}"')[1].split("</article>")[0]
    assert 'role="alert">connect a mailbox first' in item
    assert c.get(f"/api/v1/tasks/{email_task['id']}",
                 headers=world.as_admin()).json()["status"] == "open"

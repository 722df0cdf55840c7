"""Email from Tether end to end: the API, a real SMTP and IMAP server, tracking over HTTP,
and the Sent activity in sfemu (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import Sfemu
from tests.e2e.activity_env import Env, make_env
from tests.e2e.conftest import Tether, serve
from tests.e2e.mail_env import Mail, connect_mailbox, html_of, mailbox_body, text_of
from tether.mail.local_server import LocalMailServer
from tether.store.db import make_engine, session_factory
from tether.store.models import Mailbox, MessageDelivery, TrackingHit

TRACKED = re.compile(r'https?://127\.0\.0\.1:\d+/(t/[ocd]|u)/[A-Za-z0-9_\-]+(\.gif)?')


@pytest.fixture
def mail_tether(migrated_url: str, sfemu: Sfemu, tmp_path: Path) -> Iterator[Tether]:
    # Hits are judged 0.2 s after they arrive; a click within 10 s of delivery is a scanner's
    # (the default window), so a test standing for a person dates the delivery back instead
    # of waiting: timing on a loaded machine would decide it otherwise.
    with serve(migrated_url, sfemu, tmp_path, tracking_settle_seconds=0.2) as server:
        yield server


@pytest.fixture
def env(mail_tether: Tether) -> Env:
    return make_env(mail_tether)


@pytest.fixture
def mail(env: Env, local_mail: LocalMailServer) -> Mail:
    return connect_mailbox(env, local_mail)


def task_subjects(env: Env, event_id: str) -> list[str]:
    [item] = env.wait([event_id])[event_id]
    assert item["status"] == "synced", item
    ids = ", ".join(f"'{i}'" for i in item["salesforce_ids"])
    return [r["Subject"] for r in env.soql(f"SELECT Subject FROM Task WHERE Id IN ({ids})")]


def links_in(html: str) -> list[str]:
    return [m.group(0) for m in TRACKED.finditer(html)]


def test_mailbox_is_checked_by_logging_in_to_both_servers(env: Env,
                                                          local_mail: LocalMailServer) -> None:
    local_mail.add_user("rep@acme.example", "right-password")
    body = mailbox_body(local_mail, "rep@acme.example", "wrong-password")
    with env.tether.client(env.key) as c:
        r = c.put("/api/v1/mailbox", json=body)
        assert r.status_code == 422, r.text
        assert "SMTP authentication failed" in r.json()["detail"]
        assert "IMAP authentication failed" in r.json()["detail"]
        assert {f["service"] for f in r.json()["failed"]} == {"smtp", "imap"}
        assert c.get("/api/v1/mailbox").status_code == 404  # nothing saved
        body["imap"]["host"] = "no-such-host.invalid"
        r = c.put("/api/v1/mailbox", json=body)
        assert "IMAP name resolution failed" in r.json()["detail"], r.text
        r = c.put("/api/v1/mailbox", json=mailbox_body(local_mail, "rep@acme.example",
                                                       "right-password"))
        assert r.status_code == 200, r.text
        shown = c.get("/api/v1/mailbox").json()
    assert "right-password" not in str(shown) and "password" not in shown["smtp"]
    engine = make_engine(env.tether.settings.effective_database_url)
    with session_factory(engine)() as db:
        row = db.scalar(select(Mailbox))
        assert row is not None and b"right-password" not in row.smtp_secret
    engine.dispose()


def test_send_arrives_with_correct_mime_a_sent_copy_and_a_sent_task(mail: Mail) -> None:
    sent = mail.send(subject="Intro to Tether",
                     body_html='<p>Hi Jane, see <a href="https://example.com/deck">the deck'
                               "</a>.</p>")
    assert sent["status"] == "queued" and sent["message_id"].startswith("<")
    done = mail.wait(sent["id"])
    [got] = mail.inbox("jane@globex.example")
    assert got["Message-ID"] == sent["message_id"]
    assert got["Message-ID"].endswith("@tether.invalid>")
    assert got["Subject"] == "Intro to Tether" and got["Date"]
    assert got["From"].addresses[0].addr_spec == mail.address
    assert got.get_content_type() == "multipart/alternative"
    html, text = html_of(got), text_of(got)
    assert "https://example.com/deck" not in html  # rewritten to a tracked link
    assert any("/t/c/" in u for u in links_in(html)) and any("/t/o/" in u
                                                             for u in links_in(html))
    assert "/t/c/" in text and "Hi Jane" in text
    [copy] = mail.sent_folder()
    assert copy["Message-ID"] == sent["message_id"]
    assert "https://example.com/deck" in html_of(copy) and "/t/" not in html_of(copy)
    assert done["recipients"][0]["state"] == "accepted" and done["sent_copy"] == "appended"
    assert task_subjects(mail.env, f"sent-{sent['id']}") == ["Sent (New): Intro to Tether"]


def _hit(url: str, method: str = "GET", **headers: str) -> httpx.Response:
    ua = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                        "(KHTML, like Gecko) Chrome/130.0 Safari/537.36", **headers}
    return httpx.request(method, url, headers=ua, follow_redirects=False)


def test_open_click_and_download_are_logged(mail: Mail) -> None:
    with mail.env.tether.client(mail.env.key) as c:
        up = c.post("/api/v1/files",
                    files={"file": ("deck.pdf", b"%PDF-1.4 deck", "application/pdf")})
    assert up.status_code == 201, up.text
    sent = mail.send(subject="Deck", files=[up.json()["id"]],
                     body_html='<p><a href="https://example.com/pricing">Pricing</a> or '
                               '<a href="https://example.com/about">about us</a></p>')
    mail.wait(sent["id"])
    [got] = mail.inbox("jane@globex.example")
    urls = links_in(html_of(got))
    pixel = next(u for u in urls if "/t/o/" in u)
    click = next(u for u in urls if "/t/c/" in u)
    download = next(u for u in urls if "/t/d/" in u)
    _delivered_a_minute_ago(mail, sent["id"])  # a person reads it later, past the window
    assert _hit(pixel).status_code == 200
    r = _hit(click + "?url=https://evil.example/")
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/pricing"
    r = _hit(download)
    assert r.status_code == 200 and r.content == b"%PDF-1.4 deck"
    subjects: list[str] = []
    deadline = time.monotonic() + 30
    while len(subjects) < 3:
        assert time.monotonic() < deadline, subjects
        subjects = sorted(r["Subject"] for r in mail.env.soql(
            "SELECT Subject FROM Task WHERE Subject LIKE 'Opened%' OR Subject LIKE 'Clicked%'"
            " OR Subject LIKE 'Downloaded%'"))
        time.sleep(0.2)
    assert subjects == ["Clicked: Deck", "Downloaded: Deck", "Opened: Deck"], subjects
    counts = mail.message(sent["id"])["recipients"][0]
    assert (counts["opens"], counts["clicks"], counts["downloads"]) == (1, 1, 1)


def _delivered_a_minute_ago(mail: Mail, message_id: str) -> None:
    engine = make_engine(mail.env.tether.settings.effective_database_url)
    with session_factory(engine).begin() as db:
        for d in db.scalars(select(MessageDelivery)
                            .where(MessageDelivery.message_pk == message_id)):
            assert d.accepted_at is not None
            d.accepted_at -= dt.timedelta(minutes=1)
    engine.dispose()


def test_a_scanner_click_is_recorded_but_not_logged(mail: Mail) -> None:
    sent = mail.send(subject="Scan me",
                     body_html='<p><a href="https://example.com/a">A</a></p>')
    mail.wait(sent["id"])
    [got] = mail.inbox("jane@globex.example")
    click = next(u for u in links_in(html_of(got)) if "/t/c/" in u)
    assert _hit(click).status_code == 302  # at once: within the scanner window
    deadline = time.monotonic() + 20
    while True:
        items = mail.env.log(status="ignored")["items"]
        machine = [i for i in items if i["type"] == "email.clicked"]
        if machine:
            break
        assert time.monotonic() < deadline, items
        time.sleep(0.2)
    assert "machine" in machine[0]["reason"] and "after delivery" in machine[0]["reason"]
    engine = make_engine(mail.env.tether.settings.effective_database_url)
    with session_factory(engine)() as db:
        [hit] = db.scalars(select(TrackingHit)).all()
        assert hit.verdict == "machine" and hit.evidence
    engine.dispose()
    assert not mail.env.soql("SELECT Id FROM Task WHERE Subject LIKE 'Clicked%'")


def test_an_altered_token_is_a_404_and_records_nothing(mail: Mail) -> None:
    sent = mail.send(subject="Tamper")
    mail.wait(sent["id"])
    [got] = mail.inbox("jane@globex.example")
    pixel = next(u for u in links_in(html_of(got)) if "/t/o/" in u)
    token = pixel.rsplit("/", 1)[1].removesuffix(".gif")
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert _hit(pixel.replace(token, altered)).status_code == 404
    engine = make_engine(mail.env.tether.settings.effective_database_url)
    with session_factory(engine)() as db:
        assert db.scalars(select(TrackingHit)).all() == []
    engine.dispose()


def test_a_reply_threads_and_logs_sent_reply(mail: Mail) -> None:
    first = mail.send(subject="Intro")
    mail.wait(first["id"])
    reply = mail.send(subject="Re: Intro", in_reply_to=first["id"])
    mail.wait(reply["id"])
    got = next(m for m in mail.inbox("jane@globex.example")
               if m["Message-ID"] == reply["message_id"])
    assert got["In-Reply-To"] == first["message_id"]
    assert first["message_id"] in got["References"]
    assert task_subjects(mail.env, f"sent-{reply['id']}") == ["Sent (Reply): Re: Intro"]


def test_a_scheduled_send_goes_out_on_time(mail: Mail) -> None:
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=3)
    sent = mail.send(subject="Later", send_at=at.isoformat())
    assert sent["status"] == "scheduled"
    assert mail.inbox("jane@globex.example") == []
    done = mail.wait(sent["id"], timeout=20)
    sent_at = dt.datetime.fromisoformat(done["sent_at"])
    assert at <= sent_at < at + dt.timedelta(seconds=2), (at, sent_at)


def test_template_variable_missing_for_a_recipient_refuses_the_send(mail: Mail) -> None:
    r = mail.request("POST", "/api/v1/messages", json={
        "to": ["jane@globex.example", "nobody@nowhere.example"], "subject": "Hi",
        "body_html": "<p>Hi {{First Name}}</p>"})
    assert r.status_code == 422, r.text
    assert "nobody@nowhere.example" in r.json()["detail"]
    assert "{{First Name}}" in r.json()["detail"]
    assert mail.inbox("jane@globex.example") == []
    ok = mail.send(to=["jane@globex.example", "nobody@nowhere.example"], subject="Hi",
                   body_html="<p>Hi {{First Name|there}}</p>")
    mail.wait(ok["id"])
    assert "Hi Jane" in html_of(mail.inbox("jane@globex.example")[0])
    assert "Hi there" in html_of(mail.inbox("nobody@nowhere.example")[0])


def test_unsubscribe_headers_link_and_refusal(mail: Mail) -> None:
    mail.env.api("PATCH", "/api/v1/workspace", json={"unsubscribe_links": True})
    sent = mail.send(subject="News")
    mail.wait(sent["id"])
    [got] = mail.inbox("jane@globex.example")
    assert got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    target = got["List-Unsubscribe"].strip("<>")
    assert "/u/" in target and "Unsubscribe" in html_of(got)
    assert httpx.get(target).status_code == 200  # a page, not an unsubscribe
    r = mail.request("POST", "/api/v1/messages", json={"to": ["jane@globex.example"],
                                                       "subject": "x", "body_html": "y"})
    assert r.status_code == 202, r.text
    one_click = httpx.post(target, content=b"List-Unsubscribe=One-Click",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200, one_click.text
    r = mail.request("POST", "/api/v1/messages", json={"to": ["jane@globex.example"],
                                                       "subject": "x", "body_html": "y"})
    assert r.status_code == 422 and "unsubscribed" in r.json()["detail"], r.text


def test_auto_bcc_only_for_a_user_without_a_connection(mail: Mail,
                                                       local_mail: LocalMailServer) -> None:
    env = mail.env
    member_key = env.tether.add_member(env.ws_id, "rep@acme.example")
    rep = connect_mailbox(env, local_mail, "rep@acme.example", key=member_key,
                          salesforce_bcc="emailtosalesforce@sf.example")
    sent = rep.send(key=member_key, subject="From rep")
    rep.wait(sent["id"], key=member_key)
    [copy] = local_mail.messages("emailtosalesforce@sf.example")
    assert copy["Subject"] == "From rep" and "Bcc" not in copy
    assert "emailtosalesforce" not in str(mail.inbox("jane@globex.example")[0])
    # The connected admin with the same address set: no Auto-BCC.
    mail.env.api("PUT", "/api/v1/mailbox", json=mailbox_body(
        local_mail, mail.address, salesforce_bcc="emailtosalesforce@sf.example"))
    own = mail.send(subject="From admin")
    mail.wait(own["id"])
    assert len(local_mail.messages("emailtosalesforce@sf.example")) == 1


def test_faults_retry_transient_and_fail_permanent_with_the_reply(
        mail: Mail, local_mail: LocalMailServer) -> None:
    local_mail.faults.refuse["nobody@nowhere.example"] = "550 5.1.1 <nobody@nowhere.example>:" \
        " Recipient address rejected: User unknown"
    local_mail.faults.data_fail_rate = 1.0
    sent = mail.send(to=["jane@globex.example", "nobody@nowhere.example"], subject="Faulty")
    deadline = time.monotonic() + 20
    while mail.message(sent["id"])["attempts"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert mail.inbox("jane@globex.example") == []
    local_mail.faults.data_fail_rate = 0.0
    done = mail.wait(sent["id"], timeout=40)
    by = {r["email"]: r for r in done["recipients"]}
    assert by["jane@globex.example"]["state"] == "accepted"
    assert by["nobody@nowhere.example"]["state"] == "failed"
    assert "User unknown" in by["nobody@nowhere.example"]["reply"]
    assert "User unknown" in done["error"]
    assert len(mail.inbox("jane@globex.example")) == 1


def test_a_dropped_answer_is_settled_by_the_sent_folder(env: Env,
                                                        local_mail: LocalMailServer) -> None:
    mail = connect_mailbox(env, local_mail, saves_sent=True)
    local_mail.faults.drop_after_data_rate = 1.0
    sent = mail.send(subject="Dropped")
    deadline = time.monotonic() + 20
    while not mail.inbox("jane@globex.example"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    local_mail.faults.drop_after_data_rate = 0.0
    done = mail.wait(sent["id"], timeout=40)
    assert len(mail.inbox("jane@globex.example")) == 1  # not sent again
    assert "Sent folder" in done["recipients"][0]["reply"]
    assert done["sent_copy"] == "provider"


def test_needs_records_then_create_and_send(mail: Mail) -> None:
    mail.env.set_role(autocreate="leads_only")
    r = mail.request("POST", "/api/v1/messages", json={
        "to": ["new@prospect.example"], "subject": "Hello", "body_html": "<p>Hi</p>"})
    assert r.status_code == 409, r.text
    [need] = r.json()["needs_records"]
    assert need["email"] == "new@prospect.example" and need["allowed"] == ["Lead"]
    assert "Last Name" in need["required"] and "Company" in need["required"]
    sent = mail.send(to=["new@prospect.example"], subject="Hello", records={
        "new@prospect.example": {"create": "Lead",
                                 "fields": {"LastName": "Newman", "Company": "Prospect"}}})
    mail.wait(sent["id"])
    [lead] = mail.env.soql("SELECT Id, LastName FROM Lead WHERE Email = "
                           "'new@prospect.example'")
    assert lead["LastName"] == "Newman"
    assert task_subjects(mail.env, f"sent-{sent['id']}") == ["Sent (New): Hello"]
    never: dict[str, Any] = {"never@prospect.example": {"never": True}}
    mail.send(to=["never@prospect.example"], records=never)
    r = mail.request("POST", "/api/v1/messages", json={
        "to": ["never@prospect.example"], "subject": "Again", "body_html": "x"})
    assert r.status_code == 202, r.text  # remembered: not asked again

"""The public tracking endpoints and the processor behind them, on SQLite and PostgreSQL: a
bad token records nothing, every hit is stored before it is answered, a click goes only to
the stored URL, unsubscribing takes a POST, and the processor turns settled hits into events
with a verdict and its evidence."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.tether.web.conftest import World
from tether.config import Settings
from tether.domain import tracking as tr
from tether.domain.events import problems
from tether.services import events
from tether.services.tracking import TrackingProcessor, recipient_counts
from tether.store.db import make_engine, session_factory
from tether.store.models import (
    EventRow,
    Mailbox,
    MessageDelivery,
    OutboundMessage,
    TrackedFile,
    TrackedLink,
    TrackingHit,
    Unsubscribe,
    utcnow,
)
from tether.web import tracking as web_tracking

GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
URLS = ["https://globex.example/pricing?plan=team", "https://globex.example/café"]
FILE_NAME = 'Q4 "deck" \u2013 été.pdf'  # an en dash
FILE_BYTES = b"%PDF-1.7 not really a pdf\x00\x01"


@dataclass
class Sent:
    message_pk: str
    message_id: str
    deliveries: dict[str, int]  # recipient -> delivery id


@dataclass
class Env:
    world: World
    sessions: sessionmaker[Session]
    settings: Settings
    key: bytes
    sent: Sent

    def url(self, kind: tr.Kind, recipient: str, n: int = 0) -> str:
        token = tr.sign(self.key, kind, self.sent.deliveries[recipient], n)
        return {tr.Kind.OPEN: f"/t/o/{token}.gif", tr.Kind.CLICK: f"/t/c/{token}",
                tr.Kind.DOWNLOAD: f"/t/d/{token}", tr.Kind.UNSUBSCRIBE: f"/u/{token}"}[kind]

    def hits(self) -> list[TrackingHit]:
        with self.sessions() as db:
            return list(db.scalars(select(TrackingHit).order_by(TrackingHit.id)))

    def accepted(self, recipient: str, seconds_ago: float) -> None:
        with self.sessions() as db:
            db.execute(update(MessageDelivery).where(
                MessageDelivery.id == self.sent.deliveries[recipient]).values(
                accepted_at=utcnow() - dt.timedelta(seconds=seconds_ago)))
            db.commit()

    def judge_all(self) -> int:
        later = utcnow() + dt.timedelta(hours=1)
        return TrackingProcessor(self.sessions, self.settings).step(db_now=later)


def with_tracking(app: FastAPI) -> None:
    """The app with the tracking routes (once: create_app may already include them)."""
    if not any(getattr(r, "path", "").startswith("/t/o/") for r in app.routes):
        app.include_router(web_tracking.router)


def send(db: Session, workspace_id: str, membership_id: str, recipients: list[str]) -> Sent:
    """A message as the sender leaves it: one accepted delivery per recipient, each with the
    two URL links and the file link."""
    mailbox = Mailbox(workspace_id=workspace_id, membership_id=membership_id,
                      address="rep@acme.example", smtp={}, imap={}, smtp_secret=b"",
                      imap_secret=b"")
    db.add(mailbox)
    db.flush()
    message = OutboundMessage(workspace_id=workspace_id, membership_id=membership_id,
                              mailbox_id=mailbox.id, message_id="<m1@acme.example>",
                              thread_id="<m1@acme.example>", from_address=mailbox.address,
                              to=recipients, cc=[], bcc=[], subject="Hello {{First Name}}",
                              body_html="<p>hi</p>", status="sent")
    db.add(message)
    file = TrackedFile(workspace_id=workspace_id, membership_id=membership_id, name=FILE_NAME,
                       content_type="application/pdf", size=len(FILE_BYTES), sha256="0" * 64,
                       data=FILE_BYTES)
    db.add(file)
    db.flush()
    deliveries: dict[str, int] = {}
    for i, recipient in enumerate(recipients):
        delivery = MessageDelivery(workspace_id=workspace_id, message_pk=message.id,
                                   mailbox_id=mailbox.id, recipient=recipient, kind="to",
                                   delivery_message_id=f"<m1.{i}@acme.example>",
                                   state="accepted", subject=f"Hello {recipient[:4]}",
                                   body_html="<p>hi</p>",
                                   accepted_at=utcnow() - dt.timedelta(hours=1))
        db.add(delivery)
        db.flush()
        deliveries[recipient] = delivery.id
        db.add_all([TrackedLink(delivery_id=delivery.id, n=n, url=url)
                    for n, url in enumerate(URLS)])
        db.add(TrackedLink(delivery_id=delivery.id, n=len(URLS), file_id=file.id))
    db.commit()
    return Sent(message.id, message.message_id, deliveries)


@pytest.fixture
def env(world: World) -> Iterator[Env]:
    app = world.client.app
    assert isinstance(app, FastAPI)
    with_tracking(app)
    settings: Settings = app.state.tether.settings
    engine = make_engine(world.url)
    sessions = session_factory(engine)
    with sessions() as db:
        sent = send(db, world.workspace_id, world.member_id,
                    ["jane@globex.example", "joe@globex.example"])
    yield Env(world, sessions, settings, tr.tracking_key(settings.effective_secret_key()), sent)
    web_tracking.close(app)
    engine.dispose()


JANE, JOE = "jane@globex.example", "joe@globex.example"


def test_an_altered_or_misused_token_is_404_and_records_nothing(env: Env) -> None:
    c = env.world.client
    for kind in tr.Kind:
        good = env.url(kind, JANE)
        token = good.rsplit("/", 1)[1].removesuffix(".gif")
        altered = good.replace(token, token[:5] + ("B" if token[5] != "B" else "C") + token[6:])
        assert c.get(altered, follow_redirects=False).status_code == 404
    open_token = tr.sign(env.key, tr.Kind.OPEN, env.sent.deliveries[JANE], 0)
    assert c.get(f"/t/c/{open_token}", follow_redirects=False).status_code == 404
    assert c.post(f"/u/{open_token}").status_code == 404
    assert c.get("/t/o/not-a-token.gif").status_code == 404
    assert env.hits() == []
    with env.sessions() as db:
        assert db.scalars(select(Unsubscribe)).all() == []


def test_an_open_answers_the_pixel_after_storing_the_hit(env: Env) -> None:
    r = env.world.client.get(env.url(tr.Kind.OPEN, JANE), headers={"user-agent": GMAIL})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/gif"
    assert r.content == web_tracking.PIXEL and len(r.content) == 43
    assert r.headers["cache-control"] == "no-store, private"
    [hit] = env.hits()
    assert (hit.delivery_id, hit.kind, hit.method, hit.user_agent, hit.judged) == (
        env.sent.deliveries[JANE], "open", "GET", GMAIL, False)


def test_a_click_goes_only_to_the_stored_url(env: Env) -> None:
    c = env.world.client
    r = c.get(env.url(tr.Kind.CLICK, JANE, 0) + "?url=https://evil.example/",
              follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"] == URLS[0]
    assert r.headers["referrer-policy"] == "no-referrer"
    r = c.get(env.url(tr.Kind.CLICK, JOE, 1), follow_redirects=False)
    assert r.headers["location"] == "https://globex.example/caf%C3%A9"
    # A position the message does not have, and a file's position, lead nowhere.
    assert c.get(env.url(tr.Kind.CLICK, JANE, 7), follow_redirects=False).status_code == 404
    assert c.get(env.url(tr.Kind.CLICK, JANE, 2), follow_redirects=False).status_code == 404
    assert [(h.delivery_id, h.kind, h.link_n) for h in env.hits()] == [
        (env.sent.deliveries[JANE], "click", 0), (env.sent.deliveries[JOE], "click", 1)]


def test_head_requests_are_recorded_and_answered_without_a_body(env: Env) -> None:
    c = env.world.client
    opened = c.head(env.url(tr.Kind.OPEN, JANE))
    clicked = c.head(env.url(tr.Kind.CLICK, JANE, 0), follow_redirects=False)
    fetched = c.head(env.url(tr.Kind.DOWNLOAD, JANE, 2))
    assert (opened.status_code, clicked.status_code, fetched.status_code) == (200, 302, 200)
    assert opened.content == clicked.content == fetched.content == b""
    assert [(h.kind, h.method) for h in env.hits()] == [
        ("open", "HEAD"), ("click", "HEAD"), ("download", "HEAD")]


def test_a_download_serves_the_file_as_an_attachment(env: Env) -> None:
    r = env.world.client.get(env.url(tr.Kind.DOWNLOAD, JOE, 2))
    assert r.status_code == 200
    assert r.content == FILE_BYTES
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == (
        "attachment; filename=\"Q4 _deck_ _ _t_.pdf\"; "
        "filename*=UTF-8''Q4%20%22deck%22%20%E2%80%93%20%C3%A9t%C3%A9.pdf")
    # A URL link is not a download.
    assert env.world.client.get(env.url(tr.Kind.DOWNLOAD, JOE, 0)).status_code == 404
    assert [(h.kind, h.link_n) for h in env.hits()] == [("download", 2)]


def unsubscribes(env: Env) -> list[tuple[str, str | None, str]]:
    with env.sessions() as db:
        return [(u.email_lower, u.message_pk, u.how) for u in db.scalars(
            select(Unsubscribe).order_by(Unsubscribe.email_lower))]


def test_unsubscribing_takes_a_post(env: Env) -> None:
    c = env.world.client
    page = c.get(env.url(tr.Kind.UNSUBSCRIBE, JANE))
    assert page.status_code == 200
    assert '<form method="post">' in page.text and "Unsubscribe</button>" in page.text
    assert JANE in page.text
    assert unsubscribes(env) == []  # scanners follow GETs
    done = c.post(env.url(tr.Kind.UNSUBSCRIBE, JANE), data={"confirm": "1"})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert unsubscribes(env) == [(JANE, env.sent.message_pk, "link")]
    # Again, as the mail provider's one-click would: still one row, the first kept.
    again = c.post(env.url(tr.Kind.UNSUBSCRIBE, JANE),
                   data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert unsubscribes(env) == [(JANE, env.sent.message_pk, "link")]


def test_rfc_8058_one_click_unsubscribes(env: Env) -> None:
    r = env.world.client.post(env.url(tr.Kind.UNSUBSCRIBE, JOE),
                              content=b"List-Unsubscribe=One-Click",
                              headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200
    assert unsubscribes(env) == [(JOE, env.sent.message_pk, "one_click")]


def stored_events(env: Env) -> dict[str, dict[str, Any]]:
    with env.sessions() as db:
        return {row.id: row.payload for row in db.scalars(select(EventRow))}


def test_the_processor_turns_hits_into_events_with_verdicts(env: Env) -> None:
    c = env.world.client
    env.accepted(JOE, seconds_ago=2)
    assert c.get(env.url(tr.Kind.CLICK, JOE, 0), headers={"user-agent": FIREFOX},
                 follow_redirects=False).status_code == 302
    assert c.get(env.url(tr.Kind.OPEN, JANE), headers={"user-agent": GMAIL}).status_code == 200
    assert c.get(env.url(tr.Kind.DOWNLOAD, JANE, 2),
                 headers={"user-agent": FIREFOX}).status_code == 200
    # Not settled yet: nothing is judged.
    assert TrackingProcessor(env.sessions, env.settings).step() == 0
    assert env.judge_all() == 3
    click, opened, downloaded = env.hits()
    found = stored_events(env)
    assert set(found) == {f"hit-{h.id}" for h in (click, opened, downloaded)}
    for payload in found.values():
        assert problems(events.parse_event(payload)) == []

    scanner = found[f"hit-{click.id}"]
    assert scanner["type"] == "email.clicked" and scanner["url"] == URLS[0]
    assert scanner["recipient"] == JOE and scanner["user"] == "rep@acme.example"
    assert scanner["tracking"]["verdict"] == "machine"
    assert any("s after delivery" in e for e in scanner["tracking"]["evidence"])
    assert scanner["message"] == {
        "id": "<m1@acme.example>", "thread_id": "<m1@acme.example>", "subject": "Hello joe@",
        "to": [JANE, JOE], "cc": [], "bcc": [], "is_reply": False, "sent_via": "tether"}

    gmail = found[f"hit-{opened.id}"]
    assert gmail["type"] == "email.opened"
    assert gmail["tracking"] == {"verdict": "person",
                                 "evidence": ["an image proxy fetching for a person (Gmail)"]}
    assert found[f"hit-{downloaded.id}"]["file_name"] == FILE_NAME
    assert (click.judged, click.verdict, click.event_id) == (True, "machine", f"hit-{click.id}")

    assert env.judge_all() == 0  # judged once
    with env.sessions() as db:
        assert recipient_counts(db, env.world.workspace_id, env.sent.message_pk) == {
            JANE: {"opens": 1, "clicks": 0, "downloads": 1, "machine_hits": 0},
            JOE: {"opens": 0, "clicks": 0, "downloads": 0, "machine_hits": 1}}
        assert recipient_counts(db, "another workspace", env.sent.message_pk) == {}


def test_two_processors_at_once_store_each_event_once(env: Env) -> None:
    for _ in range(20):
        env.world.client.get(env.url(tr.Kind.OPEN, JANE), headers={"user-agent": FIREFOX})
    judged: list[int] = []
    workers = [threading.Thread(target=lambda: judged.append(env.judge_all()))
               for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    hits = env.hits()
    assert all(h.judged and h.event_id == f"hit-{h.id}" for h in hits)
    assert len(stored_events(env)) == 20
    assert sum(judged) >= 20  # every hit judged by one of them (on SQLite, perhaps both)


def test_a_message_to_more_addresses_than_an_event_holds_still_makes_events(env: Env) -> None:
    crowd = [f"p{i}@globex.example" for i in range(1100)] + [JOE]
    with env.sessions() as db:
        db.execute(update(OutboundMessage).where(OutboundMessage.id == env.sent.message_pk)
                   .values(to=crowd))
        db.commit()
    env.world.client.get(env.url(tr.Kind.OPEN, JOE), headers={"user-agent": FIREFOX})
    assert env.judge_all() == 1
    [payload] = stored_events(env).values()
    assert len(payload["message"]["to"]) == 1000 and JOE in payload["message"]["to"]
    assert problems(events.parse_event(payload)) == []

"""A delivery's copy: what tracking adds, only as the message asked, and nothing in the Sent
copy; the email.sent events a message gives."""

from __future__ import annotations

import datetime as dt

from tether.domain import tracking
from tether.domain.tracking import Kind
from tether.mail import mime
from tether.services import copies
from tether.services.sending import _Work, sent_events
from tether.store.models import MessageDelivery, OutboundMessage, TrackedLink

KEY = tracking.tracking_key("k")
LINKS = copies.Links("https://tether.example", KEY)


def message(**kw: object) -> OutboundMessage:
    values = {"id": "m1", "workspace_id": "w", "membership_id": "u", "message_id": "<a@x>",
              "thread_id": "<a@x>", "from_address": "rep@acme.example", "from_name": "Rep",
              "to": ["jane@globex.example"], "cc": [], "bcc": [], "subject": "Hi",
              "body_html": "", "track_opens": True, "track_clicks": True,
              "unsubscribe_link": False, "in_reply_to": None, "references": None, **kw}
    return OutboundMessage(**values)


def delivery(n: int = 7, recipient: str = "jane@globex.example", kind: str = "to",
             subject: str = "Hi") -> MessageDelivery:
    return MessageDelivery(id=n, recipient=recipient, kind=kind, subject=subject,
                           delivery_message_id=f"<d{n}@x>", state="accepted",
                           body_html='<p><a href="https://example.com/x">x</a></p>',
                           body_text=None)


def test_tracking_rewrites_links_adds_the_pixel_and_signs_per_delivery() -> None:
    d = delivery()
    html = copies.tracked_html(message(), d, [TrackedLink(delivery_id=7, n=0,
                                                          url="https://example.com/x")],
                               {}, LINKS)
    assert "https://example.com/x" not in html
    click = LINKS.url(Kind.CLICK, 7, 0)
    assert click in html and LINKS.url(Kind.OPEN, 7) in html
    token = click.rsplit("/", 1)[1]
    assert tracking.verify(KEY, Kind.CLICK, token) == (7, 0)
    assert LINKS.url(Kind.CLICK, 8, 0) != click  # each recipient their own


def test_untracked_message_is_left_as_written() -> None:
    d = delivery()
    html = copies.tracked_html(message(track_opens=False, track_clicks=False), d, [], {},
                               LINKS)
    assert html == d.body_html


def test_unsubscribe_footer_and_headers() -> None:
    raw = copies.outgoing(message(unsubscribe_link=True), delivery(), [], {}, LINKS)
    got = mime.parse(raw)
    assert got["List-Unsubscribe"] == f"<{LINKS.url(Kind.UNSUBSCRIBE, 7)}>"
    assert got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_sent_copy_has_no_tracking() -> None:
    d = delivery()
    d.delivery_message_id = "<a@x>"
    got = mime.parse(copies.sent_copy(message(), d))
    body = got.get_body(("html",))
    assert body is not None and "/t/" not in str(body.get_content())  # type: ignore[attr-defined]
    assert got["Message-ID"] == "<a@x>"


def test_sent_events_one_per_subject_naming_only_its_recipients() -> None:
    m = message(to=["a@x.example", "b@x.example"], bcc=["c@x.example"])
    ds = [delivery(1, "a@x.example", subject="Hi A"), delivery(2, "b@x.example", subject="Hi B"),
          delivery(3, "c@x.example", "bcc", subject="Hi A"),
          delivery(4, "sf@bcc.example", "salesforce_bcc", subject="Hi A")]
    work = _Work(m, None, ds, {}, {}, "rep@acme.example")
    rows = sent_events(work, ds, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    messages = [r["payload"]["message"] for r in rows]
    assert [(x["subject"], x["to"], x["bcc"]) for x in messages] == [
        ("Hi A", ["a@x.example"], ["c@x.example"]), ("Hi B", ["b@x.example"], [])]
    assert [r["id"] for r in rows] == ["sent-m1", "sent-m1-1"]
    assert all(r["payload"]["message"]["sent_via"] == "tether" for r in rows)

"""Watching the mailbox end to end: a real IMAP server (Dovecot where installed), messages
delivered into its Maildirs as a mail server would, the watcher in Tether's worker, and what
reaches sfemu (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from tests.e2e.activity_env import Env, make_env
from tests.e2e.conftest import Tether
from tests.e2e.mail_env import Mail, connect_mailbox
from tests.e2e.seq_env import until
from tether.mail.local_server import LocalMailServer
from tether.store.db import make_engine, session_factory
from tether.store.models import EventRow, utcnow
from tether.store.watch_models import InboundMessage

T = TypeVar("T")


@pytest.fixture
def env(watch_tether: Tether) -> Env:
    return make_env(watch_tether)


@pytest.fixture
def mail(env: Env, local_mail: LocalMailServer) -> Mail:
    return connect_mailbox(env, local_mail)


def eventually(probe: Callable[[], T | None], timeout: float = 30.0, what: str = "",
               env: Env | None = None) -> T:
    """``until``, saying what the watcher made of the mail it saw when it gives up."""
    return until(probe, timeout, what, said=None if env is None else lambda: (
        f"seen: {[(m.kind, m.reason) for m in inbound(env)]}; "
        f"log: {env.log()['items'][:5]}"))


def watching(mail: Mail) -> dict[str, Any]:
    """Waits until the mailbox is watched (so what is delivered next is new mail)."""
    def probe() -> dict[str, Any] | None:
        r = mail.request("GET", "/api/v1/mailbox")
        watch = r.json()["watch"]
        return watch if watch["state"] == "watching" else None
    return eventually(probe, what="the mailbox watched")


def deliver(mail: Mail, raw: EmailMessage | bytes, folder: str = "INBOX") -> None:
    """Into the user's folder, as their mail server would (Maildir; IDLE hears of it)."""
    data = raw if isinstance(raw, bytes) else bytes(raw)
    mail.server.store(mail.address, folder, data, seen=folder != "INBOX")


def reply(original: EmailMessage, sender: str, body: str = "Sounds good, let's talk.",
          **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(original["From"])
    msg["Subject"] = f"Re: {original['Subject']}"
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain=sender.partition("@")[2])
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["References"] = str(original["Message-ID"])
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(f"{body}\n\n> {original['Subject']}\n")
    return msg


def sent_to_jane(mail: Mail, subject: str) -> tuple[dict[str, Any], EmailMessage]:
    sent = mail.send(subject=subject)
    mail.wait(sent["id"])
    got = eventually(lambda: [m for m in mail.inbox("jane@globex.example")
                              if m["Subject"] == subject], what="the copy in Jane's inbox")
    return sent, got[0]


def tasks(env: Env, prefix: str) -> list[dict[str, Any]]:
    return env.soql("SELECT Subject, WhoId, Description FROM Task "
                    f"WHERE Subject LIKE '{prefix}%'")


def inbound(env: Env, **where: Any) -> list[InboundMessage]:
    engine = make_engine(env.tether.settings.effective_database_url)
    try:
        with session_factory(engine)() as db:
            query = select(InboundMessage)
            for name, value in where.items():
                query = query.where(getattr(InboundMessage, name) == value)
            return list(db.scalars(query))
    finally:
        engine.dispose()


def test_a_threaded_reply_is_logged_as_replied(mail: Mail) -> None:
    watching(mail)
    sent, got = sent_to_jane(mail, "Pricing question")
    deliver(mail, reply(got, "jane@globex.example"))
    [task] = eventually(lambda: tasks(mail.env, "Replied"), what="the Replied Task",
                        env=mail.env)
    assert task["Subject"] == "Replied: Pricing question"
    assert task["WhoId"] == mail.env.records["contact"]
    recipient = mail.message(sent["id"])["recipients"][0]
    assert recipient["replied"] is True and recipient["bounced"] is False


def test_a_colleague_reply_counts_for_the_thread_and_says_who(mail: Mail) -> None:
    watching(mail)
    _, got = sent_to_jane(mail, "Proposal")
    deliver(mail, reply(got, "Bob Ray <bob@globex.example>", "Jane is out; I can help."))
    [task] = eventually(lambda: tasks(mail.env, "Replied"), what="the Replied Task",
                        env=mail.env)
    assert task["Subject"] == "Replied: Proposal"
    assert task["WhoId"] == mail.env.records["contact"]  # the thread's person: Jane
    assert "bob@globex.example" in task["Description"]
    [seen] = inbound(mail.env, kind="colleague_reply")
    assert "colleague" in seen.reason


def test_an_out_of_office_answer_is_ignored_with_its_reason_and_return_date(
        mail: Mail) -> None:
    watching(mail)
    sent, got = sent_to_jane(mail, "Checking in")
    ooo = reply(got, "jane@globex.example", "I am out of the office until 2027-01-11.",
                Auto_Submitted="auto-replied")
    del ooo["Subject"]
    ooo["Subject"] = "Automatic reply: Checking in"
    deliver(mail, ooo)
    [seen] = eventually(lambda: inbound(mail.env, kind="auto_reply"), what="the auto-reply")
    assert "Auto-Submitted" in seen.reason and str(seen.return_date) == "2027-01-11"
    recipient = mail.message(sent["id"])["recipients"][0]
    assert recipient["replied"] is False and recipient["away_until"] == "2027-01-11"
    assert not tasks(mail.env, "Replied")
    recent = mail.request("GET", "/api/v1/mailbox").json()["watch"]["recent"]
    [shown] = [m for m in recent if m["kind"] == "auto_reply"]
    assert shown["return_date"] == "2027-01-11" and "automatic" in shown["reason"]


def dsn(original: EmailMessage, recipient: str, status: str = "5.1.1") -> bytes:
    """A Postfix delivery status notification (RFC 3464) for the original."""
    headers = "".join(f"{k}: {v}\r\n" for k, v in original.items())
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.globex.example>\r\n"
        f"To: {original['From']}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(utcnow())}\r\n"
        f"Message-ID: {make_msgid(domain='mx.globex.example')}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
        f"<{recipient}>: host mx.globex.example said: 550 {status} User unknown\r\n\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.globex.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected: "
        "User unknown\r\n\r\n"
        f"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n--b1--\r\n"
    ).encode()


def test_a_dsn_bounce_is_recorded_on_the_message_and_not_logged(mail: Mail) -> None:
    watching(mail)
    sent, got = sent_to_jane(mail, "Bouncing")
    deliver(mail, dsn(got, "jane@globex.example"))
    recipient = eventually(lambda: next(
        (r for r in mail.message(sent["id"])["recipients"] if r["bounced"]), None),
        what="the bounce on the message")
    assert recipient["bounce"]["status"] == "5.1.1" and recipient["bounce"]["hard"] is True
    items = eventually(lambda: [i for i in mail.env.log(status="ignored")["items"]
                                if i["type"] == "email.bounced"], what="the bounce's activity")
    assert "bounces are recorded" in items[0]["reason"]
    assert not tasks(mail.env, "Bounced") and not tasks(mail.env, "Replied")


def new_message(sender: str, to: str, subject: str, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain=sender.partition("@")[2])
    for name, value in headers.items():
        msg[name] = value
    msg.set_content("Hello there, a question about your product.\n")
    return msg


def test_an_inbound_email_from_a_contact_is_logged_and_from_a_stranger_is_not(
        mail: Mail) -> None:
    watching(mail)
    deliver(mail, new_message("stranger@nowhere.example", mail.address, "Buy my list"))
    deliver(mail, new_message("Jane Doe <jane@globex.example>", mail.address, "A question"))
    [task] = eventually(lambda: tasks(mail.env, "Replied (Inbound)"), what="the inbound Task")
    assert task["Subject"] == "Replied (Inbound): A question"
    assert task["WhoId"] == mail.env.records["contact"]
    [stranger] = inbound(mail.env, from_address="stranger@nowhere.example")
    assert stranger.kind == "ignored" and "no Lead or Contact" in stranger.reason


def test_mail_sent_outside_tether_is_logged_only_when_the_role_says_so(mail: Mail) -> None:
    watching(mail)
    deliver(mail, new_message(mail.address, "jane@globex.example", "From my phone"), "Sent")
    items = eventually(lambda: [i for i in mail.env.log(status="ignored")["items"]
                                if i["type"] == "email.sent"], what="the outside send")
    assert "outside Tether" in items[0]["reason"]
    mail.env.set_role(email_scope="all")
    deliver(mail, new_message(mail.address, "jane@globex.example", "From my laptop"), "Sent")
    [task] = eventually(lambda: tasks(mail.env, "Sent (New): From my laptop"),
                        what="the outside send logged")
    assert task["WhoId"] == mail.env.records["contact"]
    # A Tether send's Sent copy is not taken for one sent outside.
    sent_to_jane(mail, "With Tether")
    eventually(lambda: tasks(mail.env, "Sent (New): With Tether"), what="the Tether send")
    time.sleep(3)  # a poll of the Sent folder
    assert len(tasks(mail.env, "Sent (New): With Tether")) == 1


def test_the_watcher_recovers_when_the_imap_server_comes_back(mail: Mail) -> None:
    watching(mail)
    mail.server.stop_imap()
    try:
        eventually(lambda: mail.request("GET", "/api/v1/mailbox").json()["watch"][
            "last_error"], what="the error shown")
    finally:
        mail.server.start_imap()
    deliver(mail, new_message("Jane Doe <jane@globex.example>", mail.address, "Back online"))
    eventually(lambda: tasks(mail.env, "Replied (Inbound): Back online"), timeout=45,
               what="the message after the restart", env=mail.env)
    assert watching(mail)["last_error"] is None


def count_taken(env: Env) -> tuple[int, int]:
    engine = make_engine(env.tether.settings.effective_database_url)
    try:
        with session_factory(engine)() as db:
            rows = db.scalar(select(func.count()).select_from(InboundMessage)) or 0
            events = db.scalar(select(func.count()).select_from(EventRow).where(
                EventRow.type == "email.received")) or 0
            return int(rows), int(events)
    finally:
        engine.dispose()


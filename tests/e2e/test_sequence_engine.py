"""The exit check and the send, ordered (SQLite and PostgreSQL): a reply recorded before a
sequence email's send starts stops it; one recorded after cannot take back what went.

The web server runs without a worker; the test drives the sequencer and the sender itself,
in this process, and records replies as the mailbox watcher does (services.inbound), so
each interleaving is chosen: a reply before the sender claims the message, a reply after
it claimed the message but before the copy went, and a hammer of replies racing the sender,
where every send's start is timed against every reply's commit."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from tests.conftest import Sfemu
from tests.e2e.activity_env import make_env
from tests.e2e.conftest import WATCH, Tether, WorkerProcess, serve
from tests.e2e.mail_env import Mail, connect_mailbox
from tests.e2e.seq_env import add, api, email, people, received, recipients, sequence
from tests.e2e.test_watch_mail import reply
from tether.mail.local_server import LocalMailServer
from tether.security import Vault
from tether.services import inbound, sequencing
from tether.services.sending import Sender
from tether.services.sequencing import Sequencer
from tether.store.db import make_engine, session_factory
from tether.store.models import Mailbox, Membership, OutboundMessage, User, utcnow
from tether.store.sequence_models import SequenceRecipient


class Driven:
    """The sequencer and the sender, stepped by the test; replies recorded as the watcher
    records them."""

    def __init__(self, tether: Tether, mail: Mail, everyone: list[str]) -> None:
        s = tether.settings
        self.everyone = everyone
        self.engine = make_engine(s.effective_database_url)
        self.sessions = session_factory(self.engine)
        vault = Vault(s.effective_secret_key())
        self.sequencer = Sequencer(self.sessions, vault, s)
        self.sender = Sender(self.sessions, vault, s)
        self.mail = mail
        self.uid = 0
        self.lock = threading.Lock()
        with self.sessions() as db:
            row, user = db.execute(select(Mailbox, User.email).join(
                Membership, Membership.id == Mailbox.membership_id).join(
                User, User.id == Membership.user_id)).one()
            self.box = inbound.Box(row.id, row.workspace_id, row.membership_id,
                                   row.address.lower(), user)

    def send_all(self) -> None:
        while asyncio.run(self.sender.step()):
            pass

    def record_reply(self, original: EmailMessage, sender: str) -> float:
        """As the watcher does: taken and stored in one transaction.  Answers the monotonic
        time just after it committed."""
        with self.lock:
            self.uid += 1
            uid = self.uid
        raw = bytes(reply(original, sender))
        with self.sessions() as db:
            taken = inbound.take(db, self.box, "inbox", "INBOX", 1, [(uid, raw)], utcnow())
            inbound.store(db, taken)
            db.commit()
        return time.monotonic()

    def statuses(self, recipient_ids: list[str]) -> dict[str, list[str]]:
        with self.sessions() as db:
            out: dict[str, list[str]] = {rid: [] for rid in recipient_ids}
            for rid, status in db.execute(select(OutboundMessage.sequence_recipient_id,
                                                 OutboundMessage.status).where(
                    OutboundMessage.sequence_recipient_id.in_(recipient_ids))
                    .order_by(OutboundMessage.sequence_stage)):
                out[str(rid)].append(status)
            return out

    def recipient_ids(self) -> dict[str, str]:
        with self.sessions() as db:
            return dict(db.execute(select(SequenceRecipient.email, SequenceRecipient.id)).all())


@pytest.fixture
def driven(migrated_url: str, sfemu: Sfemu, tmp_path: Path, local_mail: LocalMailServer
           ) -> Iterator[Driven]:
    with serve(migrated_url, sfemu, tmp_path, embedded_worker=False, **WATCH) as server:
        worker = WorkerProcess(server, tmp_path / "worker.log",
                               TETHER_WATCH_LEASE_SECONDS="3")
        worker.start()  # for the audit sync that mirrors the people
        try:
            env = make_env(server)
            mail = connect_mailbox(env, local_mail)
            everyone = people(mail, 33, "r")  # mirrored by the worker's audit sync
        finally:
            worker.stop()
        d = Driven(server, mail, everyone)
        try:
            yield d
        finally:
            d.engine.dispose()


def two_stages(d: Driven, everyone: list[str]) -> dict[str, Any]:
    """People in a two-email sequence, the first stage sent and the second queued."""
    n = len(everyone)
    seq = sequence(d.mail, "Race", [email("Hello"), email("Second")])
    add(d.mail, seq["id"], everyone)
    api(d.mail, "POST", f"/api/v1/sequences/{seq['id']}/activate")
    assert d.sequencer.step() == n
    d.send_all()
    assert all(len(received(d.mail, a)) == 1 for a in everyone)
    assert d.sequencer.step() == n  # the second stage queued for each
    return seq


def test_a_reply_before_the_send_starts_stops_it(driven: Driven) -> None:
    d = driven
    early, late, control = d.everyone[:3]
    seq = two_stages(d, [early, late, control])
    ids = d.recipient_ids()
    # Before the sender claims the second stage: it is cancelled where it waits.
    d.record_reply(received(d.mail, early)[0], early)
    claimed = d.sender._claim()
    assert len(claimed) == 2  # the early replier's message is not among them
    # After the claim, before its copy went: the copy is not sent.
    d.record_reply(received(d.mail, late)[0], late)
    asyncio.run(d.sender._mailbox_batch(claimed))
    got = d.statuses([ids[early], ids[late], ids[control]])
    assert got[ids[early]] == ["sent", "cancelled"]
    assert got[ids[late]] == ["sent", "cancelled"]
    assert got[ids[control]] == ["sent", "sent"]
    assert [len(received(d.mail, a)) for a in (early, late, control)] == [1, 1, 2]
    states = recipients(d.mail, seq["id"])
    assert states[early]["stopped_reason"] == states[late]["stopped_reason"] == "replied"
    assert states[control]["state"] == "finished"
    d.send_all()  # and nothing is left to go later
    assert [len(received(d.mail, a)) for a in (early, late, control)] == [1, 1, 2]


def test_replies_racing_the_sender_never_follow_a_recorded_reply(
        driven: Driven, monkeypatch: pytest.MonkeyPatch) -> None:
    d = driven
    n = 30
    everyone = d.everyone[3:3 + n]
    two_stages(d, everyone)
    ids = d.recipient_ids()
    firsts = {a: received(d.mail, a)[0] for a in everyone}
    starts: dict[str, list[tuple[float, bool]]] = {}
    real = sequencing.still_on

    def timed(db: Any, rid: str, now: Any) -> str | None:
        started = time.monotonic()
        left = real(db, rid, now)
        starts.setdefault(rid, []).append((started, left is None))
        return left
    monkeypatch.setattr(sequencing, "still_on", timed)
    repliers = random.Random(7).sample(everyone, n // 2)
    replied_at: dict[str, float] = {}

    def replies() -> None:
        rng = random.Random(11)
        for a in repliers:
            time.sleep(rng.uniform(0, 0.03))
            replied_at[ids[a]] = d.record_reply(firsts[a], a)
    thread = threading.Thread(target=replies)
    thread.start()
    d.send_all()
    thread.join()
    d.send_all()
    for a in everyone:
        rid, count = ids[a], len(received(d.mail, a))
        went = [t for t, ok in starts.get(rid, []) if ok]
        if a not in repliers:
            assert count == 2 and len(went) == 1, (a, count, starts.get(rid))
            continue
        # A copy went only where its send started before the reply was recorded.
        assert count == 1 + len(went) and len(went) <= 1, (a, count, starts.get(rid))
        assert all(t < replied_at[rid] for t in went), (a, went, replied_at[rid])
        refused = [t for t, ok in starts.get(rid, []) if not ok]
        assert all(t > replied_at[rid] - 0.5 for t in refused)
    sent_after = sum(1 for a in repliers if len(received(d.mail, a)) == 2)
    stopped_in_time = len(repliers) - sent_after
    assert stopped_in_time > 0, "no reply came before its send: the race was not run"


def _set(d: Driven, model: Any, where: Any, **values: Any) -> None:
    with d.sessions() as db:
        db.execute(update(model).where(where).values(**values))
        db.commit()


def test_a_days_overflow_waits_for_the_next_day_in_the_stated_order(driven: Driven) -> None:
    """The mailbox may send 6 a day.  Three people get their first stage (3 used); then
    three more are added, one of them rescheduled by hand: the 3 left go to the one set by
    hand, then to later stages (the first three's second), then by who was added first."""
    d = driven
    first, later = d.everyone[:3], d.everyone[3:6]
    _set(d, Mailbox, Mailbox.id == d.box.id, daily_cap=6)
    seq = sequence(d.mail, "Capped", [email("One"), email("Two")])
    add(d.mail, seq["id"], first)
    api(d.mail, "POST", f"/api/v1/sequences/{seq['id']}/activate")
    assert d.sequencer.step() == 3
    d.send_all()
    add(d.mail, seq["id"], later)
    api(d.mail, "PATCH", f"/api/v1/sequences/{seq['id']}/recipients/{later[2]}",
        json={"next_at": "2026-01-01T00:00:00Z"})
    assert d.sequencer.step() == 6
    d.send_all()
    got = recipients(d.mail, seq["id"])
    assert got[later[2]]["stage"] == 2  # by hand: first
    assert [got[a]["stage"] for a in first] == [3, 3, 2]  # then later stages, first added
    assert [got[a]["stage"] for a in later[:2]] == [1, 1]
    for a in (first[2], *later[:2]):
        assert "daily cap of 6" in got[a]["waiting"], got[a]
        next_at = dt.datetime.fromisoformat(got[a]["next_at"])
        assert next_at.date() > utcnow().date()  # the next day (UTC: no window)
    assert sum(len(received(d.mail, a)) for a in d.everyone[:6]) == 6


def test_pausing_resuming_and_an_edited_stage(driven: Driven) -> None:
    d = driven
    a, b = d.everyone[:2]
    seq = sequence(d.mail, "Edited", [email("One"), email("Two", "<p>Old body</p>")])
    add(d.mail, seq["id"], [a, b])
    api(d.mail, "POST", f"/api/v1/sequences/{seq['id']}/activate")
    d.sequencer.step()
    d.send_all()
    stages = api(d.mail, "GET", f"/api/v1/sequences/{seq['id']}")["stages"]
    stages[1] = {**stages[1], "subject": "Two, edited", "body": "<p>New body</p>"}
    api(d.mail, "PATCH", f"/api/v1/sequences/{seq['id']}", json={"stages": stages})
    api(d.mail, "POST", f"/api/v1/sequences/{seq['id']}/pause")
    assert d.sequencer.step() == 0  # a paused sequence sends nothing
    api(d.mail, "POST", f"/api/v1/sequences/{seq['id']}/recipients/{b}/pause")
    api(d.mail, "POST", f"/api/v1/sequences/{seq['id']}/resume")
    d.sequencer.step()
    d.send_all()
    assert [str(m["Subject"]) for m in received(d.mail, a)] == ["One", "Two, edited"]
    assert "New body" in str(received(d.mail, a)[1])
    assert len(received(d.mail, b)) == 1  # paused on their own
    r = d.mail.request("POST", f"/api/v1/sequences/{seq['id']}/pause")
    assert r.status_code == 200
    r = d.mail.request("POST", f"/api/v1/sequences/{seq['id']}/pause")
    assert r.status_code == 409 and "only an active one" in r.json()["detail"]
    api(d.mail, "POST", f"/api/v1/sequences/{seq['id']}/resume")
    api(d.mail, "POST", f"/api/v1/sequences/{seq['id']}/recipients/{b}/resume")
    d.sequencer.step()
    d.send_all()
    assert [str(m["Subject"]) for m in received(d.mail, b)] == ["One", "Two, edited"]


def test_an_out_of_office_return_date_moves_the_next_stage_after_it(driven: Driven) -> None:
    d = driven
    away, here = d.everyone[:2]
    seq = sequence(d.mail, "Away", [email("One"), email("Two", delay={"days": 1})])
    add(d.mail, seq["id"], [away, here])
    api(d.mail, "POST", f"/api/v1/sequences/{seq['id']}/activate")
    d.sequencer.step()
    d.send_all()
    back = (utcnow() + dt.timedelta(days=12)).date()
    auto = reply(received(d.mail, away)[0], away, f"I am out of the office until {back}.",
                 Auto_Submitted="auto-replied")
    with d.sessions() as db:
        d.uid += 1
        inbound.store(db, inbound.take(db, d.box, "inbox", "INBOX", 1,
                                       [(d.uid, bytes(auto))], utcnow()))
        db.commit()
    got = recipients(d.mail, seq["id"])
    assert got[away]["state"] == "active"  # not an exit
    assert dt.datetime.fromisoformat(got[away]["next_at"]).date() == back
    assert got[away]["waiting"] == f"out of office until {back}"
    assert dt.datetime.fromisoformat(got[here]["next_at"]).date() < back


def test_a_meeting_with_the_recipient_stops_them(driven: Driven) -> None:
    d = driven
    met, other = d.everyone[:2]
    seq = sequence(d.mail, "Meet", [email("One"), email("Two", delay={"days": 1})])
    add(d.mail, seq["id"], [met, other])
    api(d.mail, "POST", f"/api/v1/sequences/{seq['id']}/activate")
    admin = d.mail.env.org["admin"]
    d.mail.env.post({"id": "meet-1", "type": "meeting.confirmed",
                     "occurred_at": utcnow().isoformat(), "user": admin,
                     "meeting": {"id": "m1", "title": "Intro call", "organizer": admin,
                                 "start": "2026-12-20T15:00:00Z",
                                 "end": "2026-12-20T15:30:00Z", "attendees": [admin, met]}})
    got = recipients(d.mail, seq["id"])
    assert got[met]["state"] == "stopped"
    assert got[met]["stopped_reason"] == "a meeting was confirmed"
    assert got[other]["state"] == "active"


def test_the_send_window_in_each_recipients_time_zone(driven: Driven) -> None:
    d = driven
    tokyo, new_york = d.everyone[:2]
    seq = sequence(d.mail, "Windows", [email("One")], send_window={
        "days": ["tue", "wed"], "start": "10:00", "end": "11:00", "timezone": "recipient"})
    api(d.mail, "POST", f"/api/v1/sequences/{seq['id']}/recipients", json={"recipients": [
        {"email": tokyo, "variables": {"Time Zone": "Asia/Tokyo"}},
        {"email": new_york, "variables": {"Time Zone": "America/New_York"}}]})
    api(d.mail, "POST", f"/api/v1/sequences/{seq['id']}/activate")
    got = recipients(d.mail, seq["id"])
    for address, zone in ((tokyo, "Asia/Tokyo"), (new_york, "America/New_York")):
        at = dt.datetime.fromisoformat(got[address]["next_at"])
        local = at.astimezone(ZoneInfo(zone))
        assert local.strftime("%a") in ("Tue", "Wed") and local.hour == 10, (address, local)
        assert at > utcnow()
    assert got[tokyo]["next_at"] != got[new_york]["next_at"]
    assert d.sequencer.step() == 0 or all(not received(d.mail, a) for a in (tokyo, new_york))
    r = d.mail.request("POST", "/api/v1/sequences", json={
        "name": "Bad", "stages": [email("x")],
        "send_window": {"days": ["funday"], "start": "09:00", "end": "17:00"}})
    assert r.status_code == 422 and r.json()["field"] == "send_window.days[0]", r.text

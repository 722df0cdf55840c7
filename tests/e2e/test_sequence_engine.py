"""The exit check and the send, ordered (SQLite and PostgreSQL): a reply recorded before a
sequence email's send starts stops it; one recorded after cannot take back what went.

The web server runs without a worker; the test drives the sequencer and the sender itself,
in this process, and records replies as the mailbox watcher does (services.inbound), so
each interleaving is chosen: a reply before the sender claims the message, a reply after
it claimed the message but before the copy went, and a hammer of replies racing the sender,
where every send's start is timed against every reply's commit."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

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

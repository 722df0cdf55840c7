"""Chaos: a two-stage sequence to 1,000 recipients while the SMTP server answers 10 % of
transactions with transient errors and drops 2 % of connections after DATA (the copy
delivered, its answer lost), a tenth of the recipients reply to the first stage, and the
worker is killed with SIGKILL three times.  Every due stage is delivered exactly once
(counted by subject and Message-ID in each recipient's mailbox), none after the recipient's
reply was recorded, none lost.

The second stage comes a minute after the first (a delay is whole minutes), so the run lasts
a few minutes; it is not in the default suite, nor yet in CI (its PostgreSQL run at 300
failed once, not yet understood): TETHER_SEQUENCE_CHAOS=300 uv run pytest
tests/e2e/test_sequence_chaos.py"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.e2e.activity_env import connected_env
from tests.e2e.conftest import Tether, WorkerProcess
from tests.e2e.mail_env import connect_mailbox
from tests.e2e.seq_env import add, api, email, recipients, sequence
from tests.e2e.test_watch_mail import deliver, reply
from tether.mail.local_server import LocalMailServer
from tether.store.db import make_engine, session_factory
from tether.store.sequence_models import SequenceStep
from tether.store.watch_models import InboundMessage

RECIPIENTS = int(os.environ.get("TETHER_SEQUENCE_CHAOS", "0"))
KILLS = 3
pytestmark = [pytest.mark.skipif(RECIPIENTS == 0, reason="set TETHER_SEQUENCE_CHAOS=300 "
                                 "to run it"),
              pytest.mark.timeout(900)]  # a minute's delay between the stages, and the kills


def _steps(url: str) -> Counter[int]:
    engine = make_engine(url)
    with session_factory(engine)() as db:
        found = Counter(dict(db.execute(select(SequenceStep.n, func.count())
                                        .group_by(SequenceStep.n)).all()))
    engine.dispose()
    return found


def _replies_seen(url: str) -> dict[str, float]:
    engine = make_engine(url)
    with session_factory(engine)() as db:
        found = {str(r): s.timestamp() for r, s in db.execute(
            select(InboundMessage.recipient, InboundMessage.seen_at).where(
                InboundMessage.kind == "reply"))}
    engine.dispose()
    return found


class Replier(threading.Thread):
    """A tenth of the recipients answer their first email as soon as it arrives."""

    def __init__(self, server: LocalMailServer, mail: object, who: list[str]) -> None:
        super().__init__(daemon=True)
        self.server, self.mail, self.who = server, mail, list(who)
        self.done: set[str] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and len(self.done) < len(self.who):
            for a in self.who:
                if a in self.done:
                    continue
                got = self.server.messages(a)
                if got:
                    deliver(self.mail, reply(got[0], a))  # type: ignore[arg-type]
                    self.done.add(a)
            self.stop.wait(0.2)


def test_every_due_stage_once_none_after_a_reply_none_lost(
        split_tether: Tether, local_mail: LocalMailServer, tmp_path: Path) -> None:
    tether = split_tether
    url = tether.settings.effective_database_url
    env = connected_env(tether)
    everyone = [f"person{i}@chaos{i % 97}.example" for i in range(RECIPIENTS)]
    repliers = sorted(random.Random(5).sample(everyone, RECIPIENTS // 10))
    worker = WorkerProcess(tether, tmp_path / "worker.log",
                           TETHER_SEND_LEASE_SECONDS="5", TETHER_SEND_RETRY_MAX_SECONDS="1",
                           TETHER_SEND_MAX_ATTEMPTS="50", TETHER_SMTP_TIMEOUT="5",
                           TETHER_WATCH_LEASE_SECONDS="3", TETHER_WATCH_POLL_SECONDS="2",
                           TETHER_WATCH_RETRY_MAX_SECONDS="2")
    worker.start()
    replier: Replier | None = None
    try:
        mail = connect_mailbox(env, local_mail, saves_sent=True)
        seq = sequence(mail, "Chaos", [email("Chaos first", "<p>One</p>"),
                                       email("Chaos second", "<p>Two</p>", new_thread=True,
                                             delay={"minutes": 1})])
        for i in range(0, RECIPIENTS, 500):
            add(mail, seq["id"], everyone[i:i + 500])
        faults = local_mail.faults
        faults.temp_fail_rate, faults.data_fail_rate = 0.05, 0.05
        faults.drop_after_data_rate = 0.02
        replier = Replier(local_mail, mail, repliers)
        replier.start()
        api(mail, "POST", f"/api/v1/sequences/{seq['id']}/activate")
        for kill in range(KILLS):
            goal = RECIPIENTS * (kill + 1) // (KILLS + 1)
            deadline = time.monotonic() + 180
            while _steps(url)[1] < goal:
                assert time.monotonic() < deadline, worker.log.read_text()[-3000:]
                time.sleep(0.05)
            worker.kill()
            worker.start()
        want = RECIPIENTS - len(repliers)
        deadline = time.monotonic() + 420
        while True:
            states = Counter(r["state"] for r in recipients(mail, seq["id"]).values())
            firsts = sum(1 for a in everyone if local_mail.messages(a))
            if states["finished"] == want and states["stopped"] == len(repliers) \
                    and firsts == RECIPIENTS:
                break
            assert time.monotonic() < deadline, (states, firsts, worker.log.read_text()[-3000:])
            time.sleep(1.0)
        # The last stage-two copies may still be going out: until every one has arrived.
        deadline = time.monotonic() + 120
        while sum(len(local_mail.messages(a)) for a in everyone) < RECIPIENTS + want:
            assert time.monotonic() < deadline, worker.log.read_text()[-3000:]
            time.sleep(0.5)
        time.sleep(3)  # anything sent twice would arrive meanwhile
        seen = _replies_seen(url)
        got: dict[str, list[EmailMessage]] = {a: local_mail.messages(a) for a in everyone}
        ids = Counter(str(m["Message-ID"]) for ms in got.values() for m in ms)
        assert [i for i, c in ids.items() if c > 1] == []
        for a in everyone:
            subjects = Counter(str(m["Subject"]) for m in got[a])
            expected = {"Chaos first": 1} if a in repliers else {"Chaos first": 1,
                                                                  "Chaos second": 1}
            assert dict(subjects) == expected, (a, subjects)
        assert set(seen) >= set(repliers), sorted(set(repliers) - set(seen))[:5]
        assert _steps(url) == Counter({1: RECIPIENTS, 2: want})
        assert faults.counts.get("dropped", 0) > 0, faults.counts
        assert faults.counts.get("temp_fail", 0) + faults.counts.get("data_fail", 0) > 0
    finally:
        if replier is not None:
            replier.stop.set()
        worker.stop()

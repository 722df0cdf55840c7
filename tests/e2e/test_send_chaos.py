"""Chaos: 1,000 sends while the SMTP server answers 10 % of transactions with transient
errors (421 at MAIL FROM, 451 after DATA) and drops 2 % of connections after DATA (the
message delivered, its answer lost), and the worker is killed with SIGKILL three times.
Every message is delivered exactly once (counted by Message-ID in the recipients'
mailboxes), none is lost, and each has its one Sent Task in sfemu.

The default run sends 100; CI's full-size run (`.ci/run`) sends 1,000:
TETHER_SEND_CHAOS=1000 uv run pytest tests/e2e/test_send_chaos.py"""

from __future__ import annotations

import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

from tests.e2e.activity_env import connected_env
from tests.e2e.conftest import Tether, WorkerProcess
from tests.e2e.mail_env import connect_mailbox
from tether.mail.local_server import LocalMailServer
from tether.store.db import make_engine, session_factory
from tether.store.models import OutboundMessage

SENDS = int(os.environ.get("TETHER_SEND_CHAOS", "100"))
RECIPIENTS = 50
KILLS = 3


def _statuses(url: str) -> Counter[str]:
    engine = make_engine(url)
    with session_factory(engine)() as db:
        found = Counter(dict(db.execute(select(OutboundMessage.status, func.count())
                                        .group_by(OutboundMessage.status)).all()))
    engine.dispose()
    return found


def test_every_send_delivered_exactly_once_under_faults_and_kills(
        split_tether: Tether, local_mail: LocalMailServer, tmp_path: Path) -> None:
    tether = split_tether
    env = connected_env(tether)
    emails = [f"person{i}@chaos.example" for i in range(RECIPIENTS)]
    for i, email in enumerate(emails):
        env.create("Contact", LastName=f"Person {i}", Email=email)
    worker = WorkerProcess(tether, tmp_path / "worker.log",
                           TETHER_SEND_LEASE_SECONDS="5", TETHER_SEND_RETRY_MAX_SECONDS="1",
                           TETHER_SEND_MAX_ATTEMPTS="50", TETHER_SMTP_TIMEOUT="5")
    worker.start()
    try:
        env.sync("audit")  # runs as a job on the worker
        mail = connect_mailbox(env, local_mail, saves_sent=True)
        faults = local_mail.faults
        faults.temp_fail_rate, faults.data_fail_rate = 0.05, 0.05
        faults.drop_after_data_rate = 0.02
        with ThreadPoolExecutor(8) as pool:
            sent = list(pool.map(lambda i: mail.send(
                to=[emails[i % RECIPIENTS]], subject=f"Chaos {i}",
                body_html=f"<p>Message {i}</p>"), range(SENDS)))
        for kill in range(KILLS):
            goal = SENDS * (kill + 1) // (KILLS + 1)
            deadline = time.monotonic() + 120
            while _statuses(tether.settings.effective_database_url)["sent"] < goal:
                assert time.monotonic() < deadline, worker.log.read_text()[-3000:]
                time.sleep(0.05)
            worker.kill()
            worker.start()
        deadline = time.monotonic() + 300
        while (found := _statuses(tether.settings.effective_database_url))["sent"] < SENDS:
            assert not found["failed"], found
            assert time.monotonic() < deadline, (found, worker.log.read_text()[-3000:])
            time.sleep(0.2)
        ids = [s["message_id"] for s in sent]
        delivered = Counter(m["Message-ID"] for e in emails for m in local_mail.messages(e))
        assert {i: delivered[i] for i in ids if delivered[i] != 1} == {}
        assert sum(delivered.values()) == SENDS
        assert faults.counts.get("dropped", 0) > 0, faults.counts
        assert faults.counts.get("temp_fail", 0) + faults.counts.get("data_fail", 0) > 0
        deadline = time.monotonic() + 180
        while True:
            tasks = Counter(r["Subject"] for r in env.soql(
                "SELECT Subject FROM Task WHERE Subject LIKE 'Sent (New): Chaos %'"))
            if len(tasks) == SENDS:
                break
            assert time.monotonic() < deadline, len(tasks)
            time.sleep(1)
        assert set(tasks.values()) == {1}
    finally:
        worker.stop()

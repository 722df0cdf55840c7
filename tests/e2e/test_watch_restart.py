"""Restarting the watcher mid-stream (SQLite and PostgreSQL): 500 messages delivered into a
watched mailbox a few milliseconds apart while the `tether worker` that watches it is killed
with SIGKILL twice, each time replaced by a new worker (a new owner, which takes the watch
once the dead one's lease lapses).  None is missed and none logged twice: one inbound row,
one email.received event, one activity row and one Salesforce Task per message.  And two
workers running side by side never both watch one mailbox."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

import psutil
import pytest
from sqlalchemy import func, select

from tests.conftest import Sfemu
from tests.e2e.activity_env import Env, make_env
from tests.e2e.conftest import WATCH, Tether, WorkerProcess, serve
from tests.e2e.mail_env import Mail, connect_mailbox
from tests.e2e.test_watch_mail import (
    count_taken,
    deliver,
    inbound,
    new_message,
    tasks,
    watching,
)
from tether.mail.local_server import LocalMailServer
from tether.store.db import make_engine, session_factory
from tether.store.models import ActivityRow, EventRow
from tether.store.watch_models import MailboxWatch

STREAM = 500
KILL_AT = (200, 350)  # messages taken when the worker is killed
INTERVAL = 0.02  # between two deliveries: the stream lasts about 10 s
# The worker's watch settings, as the web server's (WATCH): a lease of 3 s.
WORKER_WATCH = {"TETHER_WATCH_LEASE_SECONDS": "3", "TETHER_WATCH_POLL_SECONDS": "2",
                "TETHER_WATCH_RETRY_MAX_SECONDS": "2", "TETHER_TRACKING_SETTLE_SECONDS": "0.2"}


@pytest.fixture
def split_watch(migrated_url: str, sfemu: Sfemu, tmp_path: Path) -> Iterator[Tether]:
    """The web server without a worker (each test runs its own `tether worker`s)."""
    with serve(migrated_url, sfemu, tmp_path, embedded_worker=False, **WATCH) as server:
        yield server


class Stream(threading.Thread):
    """Delivers the messages into the mailbox's INBOX one by one, ``interval`` apart."""

    def __init__(self, mail: Mail, messages: list[EmailMessage], interval: float) -> None:
        super().__init__(name="delivery-stream", daemon=True)
        self.mail, self.messages, self.interval = mail, messages, interval
        self.delivered = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for message in self.messages:
                deliver(self.mail, message)
                self.delivered += 1
                time.sleep(self.interval)
        except BaseException as exc:
            self.error = exc

    def finish(self, timeout: float = 60.0) -> None:
        self.join(timeout)
        assert not self.is_alive(), f"the stream still delivering: {self.delivered}"
        if self.error is not None:
            raise self.error


def stream_of(mail: Mail, n: int, prefix: str) -> list[EmailMessage]:
    return [new_message("Jane Doe <jane@globex.example>", mail.address, f"{prefix} {i:03}")
            for i in range(n)]


def counts(env: Env, event_ids: set[str]) -> tuple[int, int]:
    """(email.received events stored, activity rows of these events)."""
    engine = make_engine(env.tether.settings.effective_database_url)
    try:
        with session_factory(engine)() as db:
            received = db.scalars(select(EventRow.id).where(
                EventRow.workspace_id == env.ws_id, EventRow.type == "email.received")).all()
            activity = db.scalar(select(func.count()).select_from(ActivityRow).where(
                ActivityRow.workspace_id == env.ws_id,
                ActivityRow.event_id.in_(sorted(event_ids)))) or 0
            assert len(received) == len(set(received))
            return len(received), int(activity)
    finally:
        engine.dispose()


def owner(env: Env) -> str | None:
    engine = make_engine(env.tether.settings.effective_database_url)
    try:
        with session_factory(engine)() as db:
            return db.scalar(select(MailboxWatch.owner))
    finally:
        engine.dispose()


def watch_row(env: Env) -> str:
    """The watch as the database has it: who holds it, until when, its cursors, its error."""
    engine = make_engine(env.tether.settings.effective_database_url)
    try:
        with session_factory(engine)() as db:
            row = db.scalar(select(MailboxWatch))
            if row is None:
                return "no watch row"
            return (f"watch: owner {row.owner}, lease until {row.lease_until}, mode {row.mode}, "
                    f"cursors {row.cursors}, last error {row.last_error!r}")
    finally:
        engine.dispose()


T = TypeVar("T")


def settle(probe: Callable[[], T], done: Callable[[T], bool], stall: float = 40.0,
           limit: float = 150.0, every: float = 0.1) -> T:
    """Polls ``probe`` until ``done`` says so, or until its answer has not changed for
    ``stall`` seconds (or ``limit`` passed); answers the last answer, for the caller to
    judge."""
    started = changed = time.monotonic()
    last = probe()
    while not done(last):
        now = time.monotonic()
        if now - changed > stall or now - started > limit:
            return last
        time.sleep(every)
        got = probe()
        if got != last:
            last, changed = got, time.monotonic()
    return last


def missed(env: Env, sent: list[EmailMessage]) -> str:
    ids = {r.message_id for r in inbound(env)}
    gone = [str(m["Subject"]) for m in sent if str(m["Message-ID"]) not in ids]
    return f"{len(gone)} of {len(sent)} delivered not taken (e.g. {gone[:3]})"


def wait_taken(env: Env, goal: int, stream: Stream, worker: WorkerProcess) -> int:
    taken = settle(lambda: count_taken(env)[0], lambda t: t >= goal, every=0.05)
    assert taken >= goal, (
        f"taken stalled at {taken}, {stream.delivered} delivered: "
        f"{missed(env, stream.messages[:stream.delivered])}; {watch_row(env)}; worker "
        f"log: {worker.stacks()}")
    return taken


def check_taken_once(env: Env, sent: list[EmailMessage], worker: WorkerProcess,
                     what: str) -> None:
    """Every message of the stream taken once: its inbound row, its email.received event,
    its activity row and its Task in Salesforce, none of them twice."""
    n = len(sent)
    taken = settle(lambda: count_taken(env), lambda t: t == (n, n), every=0.2)
    rows = inbound(env)
    kinds = Counter(r.kind for r in rows)
    ids = Counter(r.message_id for r in rows)
    twice = [i for i, c in ids.items() if c > 1]
    assert not twice, f"{what}: {len(twice)} taken twice, e.g. {twice[:5]}"
    wanted = {str(m["Message-ID"]) for m in sent}
    missing, extra = wanted - set(ids), set(ids) - wanted
    assert not missing and not extra, (
        f"{what}: {missed(env, sent)}; {len(extra)} taken that were not delivered; "
        f"worker log: {worker.log.read_text()[-3000:]}")
    assert taken == (n, n), f"{what}: (inbound rows, email.received events) = {taken}"
    assert kinds == {"received": n}, f"{what}: {kinds}"
    event_ids = {r.event_id for r in rows if r.event_id}
    assert len(event_ids) == n, f"{what}: {len(event_ids)} distinct event ids for {n} rows"
    received, activity = settle(lambda: counts(env, event_ids), lambda c: c[1] >= n)
    assert (received, activity) == (n, n), (
        f"{what}: {received} email.received events and {activity} activity rows for {n} "
        f"messages; worker log: {worker.log.read_text()[-3000:]}")
    prefix = str(sent[0]["Subject"]).rsplit(" ", 1)[0]
    found = settle(lambda: tasks(env, f"Replied (Inbound): {prefix} "),
                   lambda f: len(f) >= n, stall=30.0, every=1.0)
    subjects = Counter(t["Subject"] for t in found)
    assert len(found) == n and set(subjects.values()) == {1}, (
        f"{what}: {len(found)} Tasks in Salesforce for {len(subjects)} of {n} messages; "
        f"twice: {[s for s, c in subjects.items() if c > 1][:5]}; activity: "
        f"{Counter(i['status'] for i in env.log()['items'])}")


def test_a_watcher_killed_mid_stream_misses_none_and_logs_none_twice(
        split_watch: Tether, local_mail: LocalMailServer, tmp_path: Path) -> None:
    worker = WorkerProcess(split_watch, tmp_path / "worker.log", **WORKER_WATCH)
    worker.start()
    try:
        env = make_env(split_watch)  # its audit sync runs on the worker
        mail = connect_mailbox(env, local_mail)
        watching(mail)
        messages = stream_of(mail, STREAM, "Stream")
        stream = Stream(mail, messages, INTERVAL)
        stream.start()
        kills = []
        for goal in KILL_AT:
            taken = wait_taken(env, goal, stream, worker)
            before = owner(env)
            worker.kill()
            kills.append((taken, stream.delivered))
            worker.start()  # a new owner: it takes the watch once the lease lapses
            assert owner(env) == before  # the dead worker's lease still holds, for now
        assert kills[0][1] < STREAM, f"the first kill came after the stream ended: {kills}"
        stream.finish()
        check_taken_once(env, messages, worker, f"killed at (taken, delivered) {kills}")
        assert owner(env) not in (None, before)
    finally:
        worker.stop()


def _watching_pids(port: int, pids: list[int]) -> list[int]:
    """The workers with a connection open to the IMAP server."""
    found = []
    for pid in pids:
        try:
            conns = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        if any(c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
               for c in conns):
            found.append(pid)
    return found


def test_two_workers_never_both_watch_one_mailbox(
        split_watch: Tether, local_mail: LocalMailServer, tmp_path: Path) -> None:
    workers = [WorkerProcess(split_watch, tmp_path / f"worker{i}.log", **WORKER_WATCH)
               for i in range(2)]
    for w in workers:
        w.start()
    try:
        pids = [w.proc.pid for w in workers if w.proc is not None]
        env = make_env(split_watch)
        mail = connect_mailbox(env, local_mail)
        watching(mail)
        messages = stream_of(mail, 50, "Pair")
        stream = Stream(mail, messages, INTERVAL)
        stream.start()
        owners: Counter[str | None] = Counter()
        holders: Counter[tuple[int, ...]] = Counter()
        # Through the stream and two poll rounds after it (5 s: more than a lease).
        deadline = None
        while deadline is None or time.monotonic() < deadline:
            now_owner = owner(env)
            owners[now_owner] += 1
            holders[tuple(_watching_pids(local_mail.imap_port, pids))] += 1
            if deadline is None and not stream.is_alive():
                deadline = time.monotonic() + 5
            time.sleep(0.1)
        stream.finish()
        assert len(owners) == 1, f"the watch changed hands with both workers alive: {owners}"
        [held_by] = owners
        assert held_by is not None and int(held_by.split(":")[1]) in pids, (held_by, pids)
        assert all(len(h) <= 1 for h in holders), f"both workers connected at once: {holders}"
        connected = {h[0] for h in holders if h}
        assert connected == {int(held_by.split(":")[1])}, (
            f"connected to IMAP: {connected}; the watch's owner: {held_by}")
        check_taken_once(env, messages, workers[0], "two workers")
    finally:
        for w in workers:
            w.stop()

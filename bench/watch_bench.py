"""Watch benchmark: how long from a reply appended to the inbox to its Salesforce Task in
sfemu, with the watcher on IMAP IDLE and with it polling, side by side in one run.

    uv run python bench/watch_bench.py [--replies 50] [--poll-seconds 10] [--interval 1]
                                       [--meetings 20] [--calendar-poll-seconds 15]
                                       [--db sqlite|postgresql] [--measure reply,calendar]

Each mode gets its own database, a local mail server (aiosmtpd + Dovecot) and Tether in this
process (the e2e tests' helpers: uvicorn in a thread with its embedded worker, against one
sfemu over HTTPS).  The admin sends --replies emails to Jane (a Contact) with Tether; then
Jane's replies (In-Reply-To the Message-ID of her copy) are appended to the admin's INBOX as
an MTA would, one at a time, --interval apart on average (jittered, so they fall at every
phase of a poll).  Meanwhile sfemu is asked every 0.1 s for the 'Replied: ...' Tasks; a
reply's latency is its Task's CreatedDate (milliseconds, this machine's clock) minus the
moment it was appended.

Polling: Dovecot offers IDLE and LocalMailServer has no setting to hide it (nor does its pymap
backend, which offers IDLE too), so the poll mode makes tether.mail.imap_watch.Connection see
no IDLE in this process; the watcher then polls every --poll-seconds, as on a server without
IDLE, and says "poll" on the Mailbox page.

Targets (issue: Watching mailboxes): p99 <= 10 s with IDLE; within the poll interval + 10 s
when polling.  Figures are printed, never asserted.

The calendar's latency is measured alongside: --meetings events put on the admin's primary
calendar (a local Radicale) with Jane attending, then each moved a day; a change's latency is
its Salesforce Event's CreatedDate (LastModifiedDate for a move) minus the PUT.  Target: 60 s.

Measurements are a list (MEASUREMENTS): each answers rows of one table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# The e2e tests' helpers (sfemu, Tether in-process, a connected workspace and mailbox).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.calendar_fixtures import event_ics
from tests.conftest import Sfemu, start_sfemu
from tests.e2e.activity_env import Env, make_env
from tests.e2e.conftest import serve
from tests.e2e.mail_env import Mail, connect_mailbox
from tests.e2e.test_watch_mail import deliver, reply, watching

from mail_bench_setup import database, mail_server  # type: ignore[import-not-found]
from tether.calendar.local_server import LocalCalendarServer
from tether.mail import imap_watch

JANE = "jane@globex.example"
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


@dataclass
class Row:
    """One line of the table: a measurement in one mode."""

    measurement: str
    mode: str
    wait: str  # how the watcher waits for news
    target: str
    expected: int
    latencies: list[float] = field(default_factory=list)  # seconds
    note: str = ""


Measurement = Callable[[argparse.Namespace, Sfemu, Path], list[Row]]


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: with 50 values, p99 is the largest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# -- setting up one mode --------------------------------------------------------------------------
@contextlib.contextmanager
def without_idle() -> Iterator[None]:
    """The watcher's connections see no IDLE capability (in this process), so it polls."""
    original = imap_watch.Connection.__init__

    def init(self: imap_watch.Connection, *args: Any, **kw: Any) -> None:
        original(self, *args, **kw)
        self.idle = False

    imap_watch.Connection.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        imap_watch.Connection.__init__ = original  # type: ignore[method-assign]


@contextlib.contextmanager
def watched_mailbox(args: argparse.Namespace, sfemu: Sfemu, work: Path, name: str
                    ) -> Iterator[Mail]:
    """A fresh database, mail server and Tether (embedded worker); the admin's mailbox
    connected and watched."""
    with database(args.db, work, name) as url, mail_server() as server, serve(
            url, sfemu, work / name, watch_poll_seconds=args.poll_seconds,
            # The supervisor's round (a third of the lease) starts the watcher.
            watch_lease_seconds=9.0, watch_retry_max_seconds=5.0) as tether:
        env = make_env(tether)
        mail = connect_mailbox(env, server)
        watching(mail)
        yield mail


# -- reply -> Task --------------------------------------------------------------------------------
def sent_copies(mail: Mail, tag: str, n: int) -> list[Any]:
    """n emails to Jane sent with Tether; answers Jane's copies (their own Message-IDs)."""
    subjects = [f"{tag} {i:03}" for i in range(n)]
    sent = [mail.send(subject=s) for s in subjects]
    for s in sent:
        mail.wait(s["id"], timeout=120)
    deadline = time.monotonic() + 60
    while True:
        copies = {str(m["Subject"]): m for m in mail.inbox(JANE)}
        if all(s in copies for s in subjects) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return [copies[s] for s in subjects]


def settle_sends(env: Env, n: int, timeout: float = 120.0) -> None:
    """Until the sends' own Tasks are written: the replies' are then not queued behind."""
    deadline = time.monotonic() + timeout
    while len(env.soql("SELECT Id FROM Task WHERE Subject LIKE 'Sent%'")) < n:
        if time.monotonic() > deadline:
            return
        time.sleep(0.5)


class TaskWatch(threading.Thread):
    """Asks sfemu every 0.1 s for the Tasks whose Subject starts with ``prefix``; keeps the
    CreatedDate of each by Subject."""

    def __init__(self, env: Env, prefix: str) -> None:
        super().__init__(name="task-watch", daemon=True)
        self.env, self.prefix = env, prefix
        self.created: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for record in self.env.soql("SELECT Id, Subject, CreatedDate FROM Task "
                                        f"WHERE Subject LIKE '{self.prefix}%'"):
                self.created.setdefault(record["Subject"], dt.datetime.strptime(
                    record["CreatedDate"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp())
            self.stop.wait(0.1)


def reply_mode(args: argparse.Namespace, sfemu: Sfemu, work: Path, *, idle: bool) -> Row:
    name = "idle" if idle else "poll"
    tag = f"Bench {name}"
    n = args.replies
    with (contextlib.nullcontext() if idle else without_idle()), \
            watched_mailbox(args, sfemu, work, name) as mail:
        mode = watching(mail)["mode"]
        copies = sent_copies(mail, tag, n)
        settle_sends(mail.env, n)
        watch = TaskWatch(mail.env, f"Replied: {tag} ")
        watch.start()
        appended: dict[str, float] = {}
        rng = random.Random(7)
        try:
            for copy in copies:
                answer = reply(copy, f"Jane Doe <{JANE}>")
                deliver(mail, answer)
                appended[f"Replied: {copy['Subject']}"] = time.time()
                time.sleep(args.interval * rng.uniform(0.5, 1.5))
            deadline = time.monotonic() + args.poll_seconds + 60
            while len(watch.created) < n and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            watch.stop.set()
            watch.join(10)
    wait = (f"IDLE (Tether says {mode!r})" if idle
            else f"poll every {args.poll_seconds:g} s (Tether says {mode!r})")
    target = "p99 <= 10 s" if idle else f"p99 <= {args.poll_seconds + 10:g} s (poll + 10)"
    row = Row("reply -> Task", "IDLE" if idle else "poll", wait, target, n,
              [watch.created[s] - t for s, t in appended.items() if s in watch.created])
    if not idle:
        row.note = "IDLE hidden from the watcher in-process (Dovecot offers it)"
    return row


def reply_latency(args: argparse.Namespace, sfemu: Sfemu, work: Path) -> list[Row]:
    return [reply_mode(args, sfemu, work, idle=True),
            reply_mode(args, sfemu, work, idle=False)]


# -- calendar change -> Event --------------------------------------------------------------------
def calendar_latency(args: argparse.Namespace, sfemu: Sfemu, work: Path) -> list[Row]:
    """--meetings events put on the admin's primary calendar (Radicale), organized by them
    with Jane attending, --interval apart on average; then each moved by a day.  Latency: the
    Salesforce Event's CreatedDate (or LastModifiedDate, for a move) minus the PUT."""
    n = args.meetings
    with database(args.db, work, "calendar") as url, serve(
            url, sfemu, work / "calendar", calendar_poll_seconds=args.calendar_poll_seconds,
            watch_lease_seconds=9.0) as tether, LocalCalendarServer() as server:
        env = make_env(tether)
        user = env.org["admin"]
        cal_url = server.add_user(user, "bench-secret")
        with tether.client(env.key) as c:
            r = c.put("/api/v1/calendar", json={"url": cal_url, "username": user,
                                                "password": "bench-secret"})
            assert r.status_code == 200, r.text
        base = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(microsecond=0)
        rng = random.Random(11)
        rows = []
        for what, shift in (("created", 0), ("moved", 1)):
            put_at: dict[str, float] = {}
            for i in range(n):
                start = base + dt.timedelta(hours=i, days=shift)
                server.put_event(user, f"bench-{i}", event_ics(
                    f"bench-{i}", f"Bench meeting {i:03}", start,
                    start + dt.timedelta(minutes=30), organizer=user, attendees=[JANE],
                    sequence=shift))
                put_at[f"Meeting Confirmed: Bench meeting {i:03}"] = time.time()
                time.sleep(args.interval * rng.uniform(0.5, 1.5))
            seen = _events_seen(env, put_at, moved=bool(shift),
                                timeout=args.calendar_poll_seconds + 60)
            rows.append(Row(f"calendar {what} -> Event", "CalDAV sync",
                            f"asked every {args.calendar_poll_seconds:g} s", "p99 <= 60 s", n,
                            [seen[s] - t for s, t in put_at.items() if s in seen]))
        return rows


def _events_seen(env: Env, put_at: dict[str, float], *, moved: bool, timeout: float
                 ) -> dict[str, float]:
    """When each Event was created (or moved to its new day), from sfemu's own stamps."""
    stamp = "LastModifiedDate" if moved else "CreatedDate"
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < len(put_at) and time.monotonic() < deadline:
        for record in env.soql(f"SELECT Subject, {stamp}, StartDateTime FROM Event "
                               "WHERE Subject LIKE 'Meeting Confirmed: Bench meeting%'"):
            subject = record["Subject"]
            at = dt.datetime.strptime(record[stamp], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
            if subject in put_at and subject not in seen and at >= put_at[subject] - 1:
                seen[subject] = at
        time.sleep(0.2)
    return seen


# Each measurement answers its rows; all are printed in one table.
MEASUREMENTS: dict[str, Measurement] = {"reply": reply_latency, "calendar": calendar_latency}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replies", type=int, default=50)
    parser.add_argument("--poll-seconds", type=float, default=10.0,
                        help="the watcher's poll interval (TETHER_WATCH_POLL_SECONDS)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="mean seconds between two replies appended")
    parser.add_argument("--meetings", type=int, default=20)
    parser.add_argument("--calendar-poll-seconds", type=float, default=15.0,
                        help="how often the calendar is asked for changes (the default's)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--measure", default=",".join(MEASUREMENTS),
                        help=f"which, comma-separated: {', '.join(MEASUREMENTS)}")
    args = parser.parse_args()
    wanted = [m.strip() for m in args.measure.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in MEASUREMENTS]
    if unknown:
        parser.error(f"unknown measurement {unknown}; known: {list(MEASUREMENTS)}")
    rows: list[Row] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="watch-bench-") as tmp:
        work = Path(tmp)
        sfemu = start_sfemu(work / "sfemu-certs")
        try:
            for name in wanted:
                rows += MEASUREMENTS[name](args, sfemu, work)
        finally:
            sfemu.stop()
    table = Table(title=f"Watch latency ({args.db}; replies --interval {args.interval:g} s "
                        f"apart on average; {time.monotonic() - started:.0f} s in all)")
    for column in ("measurement", "mode", "waits by", "found", "p50 s", "p90 s", "p99 s",
                   "max s", "target"):
        table.add_column(column, justify="left" if column in (
            "measurement", "mode", "waits by", "target") else "right")
    for r in rows:
        got = r.latencies
        figures = ([f"{percentile(got, p):.2f}" for p in (50, 90, 99)] + [f"{max(got):.2f}"]
                   if got else ["-"] * 4)
        table.add_row(r.measurement, r.mode, r.wait, f"{len(got)}/{r.expected}", *figures,
                      r.target)
    console.print(table)
    for r in rows:
        if r.note:
            console.print(f"{r.measurement}, {r.mode}: {r.note}")
    console.print("Percentiles by nearest rank; latency = sfemu's stamp of the Task (or Event) "
                  "minus when the reply was appended to the INBOX (or the event PUT).")


if __name__ == "__main__":
    main()

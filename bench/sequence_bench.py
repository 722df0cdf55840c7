"""Sequence benchmark: does a due stage go out on time?  The issue's target: "a due stage goes
out within 5 s of its time at p99 with 10,000 stages due in an hour, across restarts".

    uv run python bench/sequence_bench.py [--recipients 10000] [--over 600] [--restarts 2]
                                          [--drain 180] [--db sqlite|postgresql|both]

For each database (a fresh SQLite file; a fresh PostgreSQL database on 127.0.0.1:5432, as the
tests' fixtures make one): one workspace connected to sfemu, its admin's mailbox on the local
mail server (aiosmtpd + Dovecot; Tether appends the Sent copies) with the API's highest caps
(100,000 a day, 10,000 a minute: nothing is held back), and a one-stage email sequence whose
subject and body use a variable with a fallback (nothing needs the mirror).  --recipients are
added through the API and the sequence activated; then, for speed, each recipient's
``sequence_recipient.next_at`` is set directly in the database (the sequence active, the
recipients active at stage 1), spread evenly over --over seconds from a few seconds on.  The
default (10,000 over 600 s) is six times the issue's rate; --over 3600 is its exact statement.

The real worker (`python -m tether worker`, configured as tests/e2e/conftest.py's
WorkerProcess configures it) runs in a child process and is SIGKILLed and started again
--restarts times at even intervals during the run; the bench then waits up to --drain seconds
for every delivery to settle.  The web server (for the API calls of the setup) and the mail
server run in this process.

Figures per recipient, from the database: queued lateness (``sequence_step.created_at`` -
``due_at``; created_at is the sequencer's round start, so it is also shown as the email's
``outbound_message.created_at``, when its transaction ran) and sent lateness (its delivery's
``accepted_at`` - ``due_at``), p50/p90/p99/max.  Counts: due, sent, failed, unsent when the
drain ended, sent twice (more than one copy, by Message-ID, in the recipient's mailbox at the
mail server: must be 0) and missing (no copy there when the bench ends: must be 0).  Where
the time goes: the sequencer's rounds (how many recipients each took, ms per recipient's
transaction) and the sender's wait (accepted - recorded; its p99 for the first and the last
tenth due).  The machine's load average is sampled throughout.  Exits 1 if a copy is missing
or went twice.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select, update

# The e2e tests' helpers (sfemu, Tether in-process, a connected workspace, the worker process).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import Sfemu, start_sfemu
from tests.e2e.activity_env import connected_env
from tests.e2e.conftest import WorkerProcess, serve
from tests.e2e.mail_env import Mail, connect_mailbox

from mail_bench_setup import database, mail_server  # type: ignore[import-not-found]
from tether.mail.local_server import LocalMailServer
from tether.store.db import make_engine, session_factory
from tether.store.models import MessageDelivery, OutboundMessage, as_utc, utcnow
from tether.store.sequence_models import SequenceRecipient, SequenceStep

TARGET_S = 5.0
LEAD_S = 15.0  # from setting next_at to the first due stage: the worker starts meanwhile
CHUNK = 2_000  # recipients per API call
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Result:
    database: str
    due: int
    queued: list[float] = field(default_factory=list)  # step.created_at - due_at, s
    recorded: list[float] = field(default_factory=list)  # message.created_at - due_at
    sent: list[float] = field(default_factory=list)  # accepted_at - due_at
    send_wait: list[float] = field(default_factory=list)  # accepted_at - message.created_at
    send_wait_tenths: tuple[float, float] = (0.0, 0.0)  # its p99: first and last tenth due
    steps: int = 0
    accepted: int = 0
    failed: int = 0
    unsettled: int = 0  # still queued or sending when the bench stopped waiting
    at_server: int = 0
    twice: int = 0
    missing: int = 0
    restarts: list[float] = field(default_factory=list)  # s from SIGKILL to running again
    rounds: int = 0
    round_max: int = 0
    ms_per_recipient: float = 0.0
    load: list[float] = field(default_factory=list)
    worker_cpu_s: float = 0.0
    wall_s: float = 0.0
    errors: int = 0
    notes: list[str] = field(default_factory=list)


# -- setting up ----------------------------------------------------------------------------------
def address(i: int) -> str:
    return f"p{i}@co{i}.example"  # a domain each: no one is another's colleague


def api(mail: Mail, method: str, path: str, **kw: Any) -> Any:
    r = mail.request(method, path, **kw)
    assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text[:500]}"
    return r.json() if r.content else None


def make_sequence(mail: Mail, n: int) -> str:
    seq = api(mail, "POST", "/api/v1/sequences", json={"name": "Bench", "stages": [{
        "kind": "email", "subject": "Hello {{First Name|there}}",
        "body": "<p>Hello {{First Name|there}}, a word from the bench.</p>"}]})
    for start in range(0, n, CHUNK):
        got = api(mail, "POST", f"/api/v1/sequences/{seq['id']}/recipients", json={
            "recipients": [{"email": address(i), "variables": {"First Name": f"P{i}"}}
                           for i in range(start, min(n, start + CHUNK))]})
        assert got["added"] == min(CHUNK, n - start), got
    return str(seq["id"])  # a draft: activated once the setup's worker is gone


def schedule(url: str, sequence_id: str, n: int, over: float) -> dt.datetime:
    """Each recipient's first stage due, evenly over ``over`` seconds from LEAD_S on (set in
    the database); answers the first one's time."""
    first = utcnow() + dt.timedelta(seconds=LEAD_S)
    engine = make_engine(url)
    with session_factory(engine)() as db:
        rows = db.execute(select(SequenceRecipient.id, SequenceRecipient.state,
                                 SequenceRecipient.stage).where(
            SequenceRecipient.sequence_id == sequence_id)
            .order_by(SequenceRecipient.added_n)).all()
        assert len(rows) == n and all(r.state == "active" and r.stage == 1 for r in rows)
        db.execute(update(SequenceRecipient), [
            {"id": r.id, "next_at": first + dt.timedelta(seconds=over * i / n)}
            for i, r in enumerate(rows)])
        db.commit()
    engine.dispose()
    return first


# -- watching the run ----------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """A live process's user + system CPU time."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def running_count(log: Path) -> int:
    return log.read_text(errors="replace").count("Tether worker running") if log.exists() else 0


def wait_running(log: Path, times: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while running_count(log) < times:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not start: {log.read_text()[-3000:]}")
        time.sleep(0.05)


def settled(url: str, sequence_id: str) -> tuple[int, int]:
    """(stages run, their deliveries settled: accepted or failed)."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            states = db.execute(select(MessageDelivery.state).join(
                SequenceStep, SequenceStep.message_pk == MessageDelivery.message_pk).where(
                SequenceStep.sequence_id == sequence_id, MessageDelivery.kind == "to")
            ).scalars().all()
        return len(states), sum(1 for s in states if s in ("accepted", "failed"))
    finally:
        engine.dispose()


class Clock:
    """Sleeps in short steps, sampling the load average."""

    def __init__(self, result: Result) -> None:
        self.result, self.next_sample = result, 0.0

    def until(self, moment: float) -> None:
        while (left := moment - time.monotonic()) > 0:
            self.sample()
            time.sleep(min(left, 0.5))

    def sample(self) -> None:
        if time.monotonic() >= self.next_sample:
            self.result.load.append(os.getloadavg()[0])
            self.next_sample = time.monotonic() + 5.0


def drive(args: argparse.Namespace, worker: WorkerProcess, log: Path, url: str,
          sequence_id: str, first: dt.datetime, result: Result) -> None:
    """The worker started, killed and started again --restarts times over the run; then the
    drain, until every stage's delivery settled."""
    clock = Clock(result)
    t0 = time.monotonic() + (first - utcnow()).total_seconds()
    worker.start()
    wait_running(log, 1)
    started_at = time.monotonic()
    if started_at > t0:
        result.notes.append(f"the worker was ready {started_at - t0:.1f} s after the first due")
    cpu = 0.0
    for k in range(1, args.restarts + 1):
        clock.until(t0 + args.over * k / (args.restarts + 1))
        assert worker.proc is not None
        cpu += cpu_seconds(worker.proc.pid)
        killed = time.monotonic()
        worker.kill()
        worker.start()
        wait_running(log, k + 1)
        result.restarts.append(time.monotonic() - killed)
        console.print(f"  {result.database}: worker SIGKILLed and restarted "
                      f"({result.restarts[-1]:.1f} s down) at "
                      f"{killed - t0:.0f} s of {args.over:g}")
    clock.until(t0 + args.over)
    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline:
        steps, done = settled(url, sequence_id)
        if steps >= result.due and done >= steps:
            break
        clock.until(time.monotonic() + 1.0)
    else:
        result.notes.append(f"not all settled {args.drain:g} s after the last due stage")
    assert worker.proc is not None
    cpu += cpu_seconds(worker.proc.pid)
    worker.stop()
    result.worker_cpu_s = cpu
    result.wall_s = time.monotonic() - started_at
    text = log.read_text(errors="replace")
    result.errors = text.count("Traceback")


# -- measuring -----------------------------------------------------------------------------------
def measure(url: str, sequence_id: str, server: LocalMailServer, n: int, result: Result
            ) -> None:
    engine = make_engine(url)
    with session_factory(engine)() as db:
        rows = db.execute(select(
            SequenceStep.due_at, SequenceStep.created_at, OutboundMessage.created_at,
            MessageDelivery.state, MessageDelivery.accepted_at, MessageDelivery.recipient,
            MessageDelivery.delivery_message_id, MessageDelivery.smtp_reply).join(
            OutboundMessage, OutboundMessage.id == SequenceStep.message_pk).join(
            MessageDelivery, (MessageDelivery.message_pk == OutboundMessage.id)
            & (MessageDelivery.kind == "to")).where(
            SequenceStep.sequence_id == sequence_id)).all()
    engine.dispose()
    result.steps = len(rows)
    rounds: dict[dt.datetime, list[float]] = defaultdict(list)
    by_due: list[tuple[dt.datetime, float]] = []
    for due_at, step_at, recorded_at, state, accepted_at, who, _, reply in rows:
        assert due_at is not None  # an email stage's step always says when it was due
        due, step, recorded = as_utc(due_at), as_utc(step_at), as_utc(recorded_at)
        result.queued.append((step - due).total_seconds())
        result.recorded.append((recorded - due).total_seconds())
        rounds[step].append((recorded - step).total_seconds())
        if state == "accepted" and accepted_at is not None:
            result.accepted += 1
            result.sent.append((as_utc(accepted_at) - due).total_seconds())
            result.send_wait.append((as_utc(accepted_at) - recorded).total_seconds())
            by_due.append((due, result.send_wait[-1]))
        elif state == "failed":
            result.failed += 1
            result.notes.append(f"{who}: failed, {reply}")
        else:
            result.unsettled += 1
    by_due.sort()
    tenth = max(1, len(by_due) // 10)
    if by_due:  # does the sender slow down as the day's sent mail grows?
        result.send_wait_tenths = (percentile([w for _, w in by_due[:tenth]], 99),
                                   percentile([w for _, w in by_due[-tenth:]], 99))
    # A round's recipients run one after the other from its start: the last one's recording
    # time over the round's size is the time of one recipient's transaction.
    result.rounds = len(rounds)
    result.round_max = max((len(v) for v in rounds.values()), default=0)
    big = [(max(v), len(v)) for v in rounds.values() if len(v) >= 5]
    if big:
        result.ms_per_recipient = 1000 * sum(t for t, _ in big) / sum(c for _, c in big)
    expected = {r.recipient: r.delivery_message_id for r in rows}
    for i in range(n):
        ids = Counter(str(m["Message-ID"]) for m in server.messages(address(i)))
        if ids:
            result.at_server += 1
        if len(ids) > 1 or any(c > 1 for c in ids.values()):
            result.twice += 1
        if not ids:
            result.missing += 1
        elif address(i) in expected and expected[address(i)] not in ids:
            result.notes.append(f"{address(i)} got {sorted(ids)}, not "
                                f"{expected[address(i)]}")


def run(kind: str, args: argparse.Namespace, sfemu: Sfemu, work: Path) -> Result:
    result = Result(kind, args.recipients)
    data = work / kind
    data.mkdir()
    console.print(f"{kind}: setting up {args.recipients:,} recipients")
    with database(kind, data, "sequence") as url, mail_server() as server, serve(
            url, sfemu, data / "tether", embedded_worker=False) as tether:
        env = connected_env(tether)
        # The sync runs through the job queue: a worker of its own for the setup, stopped
        # before the sequence is activated (nothing is due while it runs).
        setup = WorkerProcess(tether, data / "setup-worker.log")
        setup.start()
        try:
            env.sync("audit")  # the field labels a sequence's templates are checked against
            mail = connect_mailbox(env, server)
            sequence_id = make_sequence(mail, args.recipients)
        finally:
            setup.stop()
        api(mail, "POST", f"/api/v1/sequences/{sequence_id}/activate")
        log = data / "worker.log"
        worker = WorkerProcess(tether, log)
        try:
            first = schedule(url, sequence_id, args.recipients, args.over)
            console.print(f"{kind}: {args.recipients:,} stages due over {args.over:g} s; "
                          f"{args.restarts} restarts")
            drive(args, worker, log, url, sequence_id, first, result)
        finally:
            worker.stop()
        measure(url, sequence_id, server, args.recipients, result)
    if result.errors:
        result.notes.append(f"{result.errors} tracebacks in the worker's log")
    return result


# -- printing ------------------------------------------------------------------------------------
def figures(values: list[float]) -> list[str]:
    if not values:
        return ["-"] * 4
    return [f"{percentile(values, p):.2f}" for p in (50, 90, 99)] + [f"{max(values):.2f}"]


def report(args: argparse.Namespace, results: list[Result]) -> None:
    rate = args.recipients / args.over * 3600
    late = Table(title=f"Sequence stages: lateness after their due time, s ({args.recipients:,} "
                       f"due over {args.over:g} s = {rate:,.0f}/h; {args.restarts} worker "
                       "SIGKILLs)")
    for column in ("database", "measure", "n", "p50", "p90", "p99", "max"):
        late.add_column(column, justify="left" if column in ("database", "measure")
                        else "right")
    for r in results:
        for name, values in (("queued (step.created_at)", r.queued),
                             ("recorded (message.created_at)", r.recorded),
                             ("sent (accepted_at)", r.sent),
                             ("  of which the sender (accepted - recorded)", r.send_wait)):
            late.add_row(r.database, name, f"{len(values):,}", *figures(values))
    console.print(late)
    counts = Table(title="Counts (by the database; copies by Message-ID in each recipient's "
                         "mailbox at the mail server) and the target")
    for column in ("database", "due", "stages run", "sent", "failed", "unsent at the end",
                   "at the server",
                   "sent twice", "missing", f"p99 sent <= {TARGET_S:g} s, none lost"):
        counts.add_column(column, justify="right")
    where = Table(title="Where the time goes")
    for column in ("database", "sequencer rounds", "largest", "ms/recipient's txn",
                   "sender p99 s: first/last tenth", "restarts: s down", "worker CPU",
                   "load avg mean/max"):
        where.add_column(column, justify="right")
    for r in results:
        p99 = percentile(r.sent, 99) if r.sent else math.inf
        met = p99 <= TARGET_S and r.accepted == r.due and not r.twice and not r.missing
        counts.add_row(
            r.database, f"{r.due:,}", f"{r.steps:,}", f"{r.accepted:,}", str(r.failed),
            str(r.unsettled),
            f"{r.at_server:,}", str(r.twice), str(r.missing),
            ("met" if met else "NOT MET") + f" (p99 {p99:.2f} s)")
        where.add_row(
            r.database, f"{r.rounds:,}", str(r.round_max), f"{r.ms_per_recipient:.1f}",
            "{:.2f}/{:.2f}".format(*r.send_wait_tenths),
            ", ".join(f"{s:.1f}" for s in r.restarts) or "-",
            f"{100 * r.worker_cpu_s / r.wall_s:.0f}%" if r.wall_s else "-",
            f"{sum(r.load) / len(r.load):.2f}/{max(r.load):.2f}" if r.load else "-")
    console.print(counts)
    console.print(where)
    console.print(f"{os.cpu_count()} CPUs; load average now {os.getloadavg()[0]:.2f}")
    for r in results:
        for note in r.notes[:20]:
            console.print(f"{r.database}: {note}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--over", type=float, default=600.0,
                        help="seconds over which the first stages fall due (3600: the issue)")
    parser.add_argument("--restarts", type=int, default=2,
                        help="worker SIGKILLs (each followed by a start) during the run")
    parser.add_argument("--drain", type=float, default=180.0,
                        help="seconds after the last due stage to wait for every send "
                             "(a killed sender's claim is taken up after its 120 s lease)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="sequence-bench-") as tmp:
        work = Path(tmp)
        sfemu = start_sfemu(work / "sfemu-certs")
        try:
            for kind in kinds:
                results.append(run(kind, args, sfemu, work))
        finally:
            sfemu.stop()
    report(args, results)
    if any(r.missing or r.twice for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()

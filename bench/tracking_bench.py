"""Tracking benchmark: opens and clicks fired at Tether's public endpoints over real HTTP, on
SQLite and on PostgreSQL, from a load generator in another process (raw HTTP/1.1 keep-alive
connections on asyncio + uvloop).  Two runs per database:

- flat out: every connection sends its next request as soon as the last is answered
  (the most hits/s, and latency under that queue);
- steady: a fixed rate (--rate hits/s) spread over the connections, latency measured from
  each request's scheduled time, so a stall is not hidden by the requests it delays.

Afterwards every hit answered 200/302 is looked for in tracking_hit (each request carries
its own User-Agent): none may be missing.  Then the tracking processor judges them all, and
its rate is printed too.  Each run also prints the CPU time Tether's process (and
PostgreSQL's, on PostgreSQL) spent per hit: on a machine busy with other work, the rate
falls but that figure holds, and one core's worth is 1,000,000 / (µs a hit) hits/s.

    uv run python bench/tracking_bench.py [--db sqlite,postgresql] [--seconds 10]
                                          [--connections 32] [--rate 2000] [--no-worker]

--no-worker: the web process alone (`tether serve --no-worker`, the tracking processor and
the activity pipeline in a `tether worker` of their own); without it, the embedded default,
where the worker shares the web process's core.

Target (issue: Tracking): >= 2,000 hits/s on 2 cores with p99 <= 50 ms.  Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import psycopg
from cryptography.fernet import Fernet
from sqlalchemy import delete, func, insert, select, update

from tether.config import Settings
from tether.domain import tracking as tr
from tether.services import workspaces as ws
from tether.services.tracking import BATCH, TrackingProcessor
from tether.store.db import make_engine, session_factory
from tether.store.migrate import upgrade
from tether.store.models import (
    EventRow,
    Mailbox,
    MessageDelivery,
    OutboundMessage,
    TrackedLink,
    TrackingHit,
    utcnow,
)

PG_ADMIN = os.environ.get("TETHER_TEST_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/postgres")
DELIVERIES, LINKS = 2000, 3
CLICK_SHARE = 0.3  # of requests; the rest are opens


# -- the server (a child process) ---------------------------------------------------------------
def serve_child() -> None:
    """Tether's app as `tether serve` runs it (uvicorn, httptools and uvloop, no access log),
    as create_app wires it (opens and clicks ahead of the middleware stack), on a free port;
    prints where it listens."""
    import uvicorn

    from tether.net import listen
    from tether.web.app import create_app

    settings = Settings()
    app = create_app(settings, embedded_worker=os.environ.get("BENCH_WORKER") == "1")
    sock = listen("127.0.0.1", 0)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, loop="uvloop",
                                  http="httptools")).run(sockets=[sock])


def start(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = ""
    while "listening on" not in line:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the server exited before listening")
        if "listening on" not in line:
            print("  server:", line, end="", flush=True)
    out = proc.stdout
    threading.Thread(target=lambda: [print("  server:", x, end="", flush=True) for x in out],
                     daemon=True).start()
    return proc, line.strip().rsplit(" ", 1)[-1]


# -- the load generator (a child process) --------------------------------------------------------
async def _connection(host: str, port: int, paths: dict[str, list[str]], tag: str,
                      stop_at: float, interval: float | None, offset: float,
                      out: dict[str, Any]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    rng = random.Random(tag)
    i, start = 0, time.perf_counter() + offset
    while True:
        due = start + i * interval if interval else time.perf_counter()
        if due >= stop_at:
            break
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        path = rng.choice(paths["clicks" if rng.random() < CLICK_SHARE else "opens"])
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench/{tag}/{i}\r\n"
                     "\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await reader.readexactly(length)
        out["latencies"].append((time.perf_counter() - due) * 1000)
        out["statuses"][status] = out["statuses"].get(status, 0) + 1
        if status in (200, 302):
            out["ok"].append(f"bench/{tag}/{i}")
        i += 1
    writer.close()


async def _load(base: str, paths: dict[str, list[str]], connections: int, seconds: float,
                rate: float | None) -> dict[str, Any]:
    parts = urlsplit(base)
    out: dict[str, Any] = {"latencies": [], "statuses": {}, "ok": []}
    run = uuid.uuid4().hex[:6]
    t0 = time.perf_counter()
    interval = connections / rate if rate else None
    stop_at = t0 + 0.05 + seconds
    await asyncio.gather(*(
        _connection(parts.hostname or "127.0.0.1", parts.port or 80, paths, f"{run}.{c}",
                    stop_at, interval, 0.05 + (c * interval / connections if interval else 0),
                    out) for c in range(connections)))
    out["seconds"] = time.perf_counter() - t0 - 0.05
    return out


def load_child() -> None:
    import uvloop
    spec = json.loads(sys.stdin.read())
    result = uvloop.run(_load(spec["base"], spec["paths"], spec["connections"],
                              spec["seconds"], spec["rate"]))
    json.dump(result, sys.stdout)


def fire(base: str, paths: dict[str, list[str]], connections: int, seconds: float,
         rate: float | None) -> dict[str, Any]:
    spec = {"base": base, "paths": paths, "connections": connections, "seconds": seconds,
            "rate": rate}
    done = subprocess.run([sys.executable, __file__, "--load"], input=json.dumps(spec),
                          capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# -- the data -----------------------------------------------------------------------------------
def seed(url: str, secret: str) -> dict[str, list[str]]:
    """DELIVERIES messages, one recipient each (as a rep's emails are), with LINKS links
    each; answers the open and click paths."""
    engine = make_engine(url)
    with session_factory(engine)() as db:
        actor = ws.create_workspace(db, name="Bench", admin_email="admin@bench.example",
                                    admin_password="tether-demo")
        mailbox = Mailbox(workspace_id=actor.workspace_id, membership_id=actor.membership_id,
                          address="admin@bench.example", smtp={}, imap={}, smtp_secret=b"",
                          imap_secret=b"")
        db.add(mailbox)
        db.flush()
        common = {"workspace_id": actor.workspace_id, "mailbox_id": mailbox.id}
        to = [f"p{i}@globex.example" for i in range(DELIVERIES)]
        pks = [uuid.uuid4().hex for _ in to]
        db.execute(insert(OutboundMessage), [
            {**common, "id": pk, "membership_id": actor.membership_id,
             "message_id": f"<bench.{i}@bench.example>", "thread_id": f"<bench.{i}>",
             "from_address": mailbox.address, "to": [r], "cc": [], "bcc": [],
             "subject": "Hello", "body_html": "<p>hi</p>", "status": "sent"}
            for i, (pk, r) in enumerate(zip(pks, to, strict=True))])
        accepted = utcnow() - dt.timedelta(hours=1)
        db.execute(insert(MessageDelivery), [
            {**common, "message_pk": pk, "recipient": r, "kind": "to",
             "delivery_message_id": f"<bench.{i}.0@bench.example>", "state": "accepted",
             "accepted_at": accepted, "subject": "Hello", "body_html": "<p>hi</p>"}
            for i, (pk, r) in enumerate(zip(pks, to, strict=True))])
        ids = list(db.scalars(select(MessageDelivery.id).where(
            MessageDelivery.workspace_id == actor.workspace_id)))
        db.execute(insert(TrackedLink), [
            {"delivery_id": d, "n": n, "url": f"https://globex.example/page/{n}"}
            for d in ids for n in range(LINKS)])
        db.commit()
    engine.dispose()
    key = tr.tracking_key(secret)
    return {"opens": [f"/t/o/{tr.sign(key, tr.Kind.OPEN, d)}.gif" for d in ids],
            "clicks": [f"/t/c/{tr.sign(key, tr.Kind.CLICK, d, n)}" for d in ids
                       for n in range(LINKS)]}


def lost(url: str, answered: list[str]) -> int:
    """How many answered hits are not in tracking_hit."""
    engine = make_engine(url)
    with session_factory(engine)() as db:
        stored = set(db.scalars(select(TrackingHit.user_agent).where(
            TrackingHit.user_agent.like("bench/%"))))
    engine.dispose()
    return sum(1 for a in answered if a not in stored)


def judge_all(url: str) -> tuple[int, float]:
    """Every hit judged again from scratch (the embedded worker may have judged some during
    the runs): the processor's own rate."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as db:
        db.execute(update(TrackingHit).values(judged=False, verdict=None, evidence=None,
                                              event_id=None))
        db.execute(delete(EventRow).where(EventRow.id.like("hit-%")))
        db.commit()
    processor = TrackingProcessor(sessions, Settings(database_url=url))
    later = utcnow() + dt.timedelta(hours=1)
    total, t0 = 0, time.perf_counter()
    while True:
        n = processor.step(db_now=later)
        total += n
        if n < BATCH:
            break
    elapsed = time.perf_counter() - t0
    with sessions() as db:
        left = db.scalar(select(func.count()).select_from(TrackingHit).where(
            TrackingHit.judged.is_(False)))
    engine.dispose()
    assert not left, f"{left} hits left unjudged"
    return total, elapsed


# -- one database ---------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def report(name: str, result: dict[str, Any], missing: int, cpu: float) -> None:
    lat = result["latencies"]
    print(f"  {name:<24} {len(lat) / result['seconds']:>7,.0f} hits/s  "
          f"p50 {pct(lat, .5):6.1f} ms  p99 {pct(lat, .99):6.1f} ms  "
          f"max {max(lat, default=0):6.1f} ms  server CPU {cpu / max(len(lat), 1) * 1e6:4.0f} µs "
          f"a hit  statuses {result['statuses']}  answered but not stored: {missing}",
          flush=True)


def cpu_seconds(pid: int) -> float:
    """CPU time of the server and the database server (PostgreSQL's backends) so far."""
    procs = [psutil.Process(pid)]
    procs += [p for p in psutil.process_iter(["name"]) if p.info["name"] in
              ("postgres", "postgresql")]
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def run(base: str, pid: int, url: str, name: str, paths: dict[str, list[str]],
        connections: int, seconds: float, rate: float | None) -> None:
    before = cpu_seconds(pid)
    result = fire(base, paths, connections, seconds, rate)
    report(name, result, lost(url, result["ok"]), cpu_seconds(pid) - before)


def bench(kind: str, args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tracking-bench-"))
    pg_name = None
    if kind == "sqlite":
        url = f"sqlite:///{tmp / 'tether.db'}"
    else:
        pg_name = f"tether_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{pg_name}"')
        url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") \
            + f"/{pg_name}"
    try:
        upgrade(url)
        secret = Fernet.generate_key().decode()
        paths = seed(url, secret)
        env = {**os.environ, "TETHER_DATABASE_URL": url, "TETHER_SECRET_KEY": secret,
               "TETHER_DATA_DIR": str(tmp), "TETHER_SCHEDULE_SYNCS": "false",
               "BENCH_WORKER": "0" if args.no_worker else "1"}
        proc, base = start(env)
        print(f"{kind}: {DELIVERIES:,} messages, {LINKS} links each; {args.connections} "
              f"connections, {args.seconds:g} s a run", flush=True)
        try:
            fire(base, paths, 4, 1.0, None)  # warm up: connections, caches
            run(base, proc.pid, url, "flat out", paths, args.connections, args.seconds, None)
            run(base, proc.pid, url, f"steady {args.rate:,.0f} hits/s", paths,
                args.connections, args.seconds, args.rate)
        finally:
            proc.terminate()
            proc.wait()
        judged, elapsed = judge_all(url)
        print(f"  processor: judged {judged:,} hits into events in {elapsed:.1f} s "
              f"({judged / elapsed:,.0f} hits/s)", flush=True)
    finally:
        if pg_name is not None:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def main() -> None:
    if sys.argv[1:] == ["--serve"]:
        serve_child()
        return
    if sys.argv[1:] == ["--load"]:
        load_child()
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--no-worker", action="store_true",
                        help="Serve without the embedded worker (`tether serve --no-worker`)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs", flush=True)
    for kind in args.db.split(","):
        bench(kind, args)


if __name__ == "__main__":
    main()

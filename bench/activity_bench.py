"""Activity benchmark: Tether's writer, packing five sObject Collections calls in one composite
call, beside the same writer sending each collection on its own and a naive
one-call-per-activity writer, on the same kind of events; ingest rates (single and
batched), and latency from ingest to the Task being readable in sfemu at a steady 200
events/s — one run, one sfemu, `tether serve --no-worker` and
`tether worker` (the split layout) over real HTTP, on SQLite.

    uv run python bench/activity_bench.py [--events 5000] [--rate 200] [--seconds 10]
                                          [--embedded]

Targets: <= 1.2 API calls per 1,000 logged activities (issue: Fidelity and quota; <= 6 before
packing); ingest >= 1,000 events/s single and >= 10,000 events/s batched; p99
ingest-to-readable <= 3 s at 200 events/s (issue: Activity sync).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.fernet import Fernet

from serving import start_serve  # type: ignore[import-not-found]
from sfemu import launch
from tether.config import Settings
from tether.salesforce import auth
from tether.security import Vault
from tether.services import connection
from tether.services import sync as sync_service
from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory
from tether.store.migrate import upgrade

ORG = "bench"
ADMIN = f"admin@{ORG}.example"


def event(i: str, to: str, subject: str) -> dict[str, Any]:
    return {"id": i, "type": "email.sent", "occurred_at": "2026-11-28T10:00:00Z",
            "user": ADMIN, "message": {"id": f"<{i}@bench>", "subject": subject, "to": [to]}}


class Bench:
    def __init__(self, sf: str, tether: str, key: str) -> None:
        self.sf, self.tether = sf, tether
        self.admin = httpx.Client(base_url=f"{sf}/__sfemu__/orgs/{ORG}", timeout=120)
        self.headers = {"Authorization": f"Bearer {key}"}
        self.settled = 0  # events posted so far, each to be logged once

    def usage(self) -> int:
        return int(self.admin.get("/api-usage").json()["total"])

    def soql(self, q: str) -> list[dict[str, Any]]:
        r = self.admin.get("/query", params={"q": q})
        r.raise_for_status()
        return list(r.json()["records"])

    def post(self, client: httpx.Client, body: Any) -> None:
        r = client.post("/api/v1/events", json=body)
        assert r.status_code == 202, r.text

    def settle(self, expected: int) -> None:
        with httpx.Client(base_url=self.tether, headers=self.headers, timeout=60) as c:
            while True:
                counts = c.get("/api/v1/activity-log", params={"limit": 1}).json()["counts"]
                if counts["synced"] + counts["ignored"] + counts["errored"] >= expected:
                    return
                time.sleep(0.2)


def naive_writer(sf: str, token: str, events: list[dict[str, Any]]) -> int:
    """One lookup and one create per activity, as the peers' per-event sync does."""
    calls = 0
    base = f"{sf}/services/data/v59.0"
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        for e in events:
            to = e["message"]["to"][0]
            found = c.get(f"{base}/query", params={
                "q": f"SELECT Id FROM Contact WHERE Email = '{to}' LIMIT 1"}).json()
            calls += 1
            who = found["records"][0]["Id"] if found["records"] else None
            c.post(f"{base}/sobjects/Task", json={
                "Subject": f"Sent (New): {e['message']['subject']}", "WhoId": who,
                "Status": "Completed"}).raise_for_status()
            calls += 1
    return calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--embedded", action="store_true",
                        help="one `tether serve` with its worker inside (the default layout)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="activity-bench-"))
    sf_proc, sf = launch.start("--port", "0", "--db", str(tmp / "sfemu.db"))
    layout = Layout(args.embedded)
    try:
        httpx.post(f"{sf}/__sfemu__/orgs", json={"name": ORG}).raise_for_status()
        httpx.post(f"{sf}/__sfemu__/orgs/{ORG}/seed", json={"contacts": 2000, "accounts": 200,
                                                           "seed": 3}, timeout=120)
        settings = Settings(data_dir=tmp, secret_key=Fernet.generate_key().decode(),
                            salesforce_login_url=sf, salesforce_sandbox_login_url=f"{sf}/test",
                            schedule_syncs=False)
        url = settings.effective_database_url
        upgrade(url)
        sessions = session_factory(make_engine(url))
        vault = Vault(str(settings.secret_key))
        with sessions() as db:
            actor = ws.create_workspace(db, name="Bench", admin_email=ADMIN,
                                        admin_password="tether-demo", plan="enterprise")
            key = ws.create_api_key(db, actor)
            ws.add_exclusion(db, actor, "domain", "ignored.example")
            db.commit()

        async def connect() -> str:
            async with httpx.AsyncClient() as http:
                creds = await auth.password_login(
                    http, connection.oauth_app(settings, False), username=ADMIN,
                    password="tether-demo")
            with sessions() as db:
                connection.save_credentials(db, vault, actor, creds, ADMIN, False)
                db.commit()
            await sync_service.run_sync(sessions, vault, settings, actor.workspace_id, "audit")
            return creds.access_token

        token = asyncio.run(connect())
        layout.env = {**os.environ, "TETHER_DATABASE_URL": url,
                      "TETHER_SECRET_KEY": str(settings.secret_key),
                      "TETHER_DATA_DIR": str(tmp), "TETHER_SALESFORCE_LOGIN_URL": sf,
                      "TETHER_SCHEDULE_SYNCS": "false"}
        bench = Bench(sf, layout.start(packed=False), key)
        emails = sorted(r["Email"] for r in bench.soql(
            "SELECT Email FROM Contact WHERE AccountId != null") if r.get("Email"))
        report(bench, layout, sf, token, emails, args)
    finally:
        layout.stop()
        launch.stop(sf_proc)


class Layout:
    """The split layout (web server and worker in their own processes, so that the ingest
    figures are the web server's and planning does not share its interpreter), or with
    ``embedded`` one `tether serve` with its worker inside.  ``start`` (re)starts the
    process that writes, packing collections in composite calls or not."""

    def __init__(self, embedded: bool) -> None:
        self.env: dict[str, str] = {}
        self.embedded = embedded
        self.serve: subprocess.Popen[str] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, *, packed: bool) -> str:
        env = {**self.env, "TETHER_ACTIVITY_COLLECTIONS_PER_CALL": "5" if packed else "1"}
        if self.embedded or self.serve is None:
            if self.serve is not None:
                _end(self.serve)
            self.serve, self.url = start_serve(
                ["--worker" if self.embedded else "--no-worker"], env)
        if not self.embedded:
            if self.worker is not None:
                _end(self.worker)
            self.worker = subprocess.Popen([sys.executable, "-m", "tether", "worker"],
                                           env=env, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.STDOUT)
        return self.url

    def stop(self) -> None:
        for proc in (self.serve, self.worker):
            if proc is not None:
                _end(proc)


def _end(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    proc.wait()


def calls_per_thousand(bench: Bench, events: list[dict[str, Any]]) -> tuple[float, int, int]:
    """Post ``events`` in requests of 1,000, wait until all are logged: (API calls per 1,000
    Tasks, calls, Tasks)."""
    before, tasks_before = bench.usage(), len(bench.soql("SELECT Id FROM Task"))
    with httpx.Client(base_url=bench.tether, headers=bench.headers, timeout=120) as c:
        for start in range(0, len(events), 1000):
            bench.post(c, {"events": events[start:start + 1000]})
    bench.settled += len(events)
    bench.settle(bench.settled)
    calls = bench.usage() - before
    tasks = len(bench.soql("SELECT Id FROM Task")) - tasks_before
    return calls * 1000 / tasks, calls, tasks


def report(bench: Bench, layout: Layout, sf: str, token: str, emails: list[str],
           args: argparse.Namespace) -> None:
    n = args.events
    # -- 1. API calls per 1,000 activities: collections, packed, naive -------------------
    def batch(prefix: str) -> list[dict[str, Any]]:
        return [event(f"{prefix}{i}", emails[i % len(emails)], f"{prefix}{i}")
                for i in range(n)]

    single_k, single_calls, single_tasks = calls_per_thousand(bench, batch("c"))
    bench.tether = layout.start(packed=True)
    packed_k, packed_calls, packed_tasks = calls_per_thousand(bench, batch("w"))
    naive_events = batch("n")[:1000]
    before = bench.usage()
    naive_calls = naive_writer(sf, token, naive_events)
    assert bench.usage() - before == naive_calls
    naive_k = naive_calls * 1000 / len(naive_events)
    print(f"API calls per 1,000 activities, {n} events each: packed in composite calls "
          f"{packed_k:.2f} ({packed_calls} calls, {packed_tasks} Tasks); one collection a "
          f"call {single_k:.2f} ({single_calls} calls, {single_tasks} Tasks); naive writer "
          f"{naive_k:.0f} ({naive_calls} calls for {len(naive_events)}); packed "
          f"{naive_k / packed_k:.0f}x fewer than naive (target <= 1.2)")
    # -- 2. Ingest rates ----------------------------------------------------------------
    single = [event(f"s{i}", f"p{i}@ignored.example", "s") for i in range(4000)]

    def post_range(chunk: list[dict[str, Any]]) -> None:
        # http.client (keep-alive), lighter than httpx: the client shares the 2 cores.
        url = urlsplit(bench.tether)
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
        headers = {**bench.headers, "Content-Type": "application/json"}
        for e in chunk:
            conn.request("POST", "/api/v1/events", json.dumps(e), headers)
            r = conn.getresponse()
            assert r.status == 202, r.read()
            r.read()
        conn.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post_range, [single[i::8] for i in range(8)]))
    single_rate = len(single) / (time.perf_counter() - t0)
    batched = [event(f"b{i}", f"p{i}@ignored.example", "b") for i in range(20_000)]
    t0 = time.perf_counter()

    def post_batches(chunks: list[list[dict[str, Any]]]) -> None:
        with httpx.Client(base_url=bench.tether, headers=bench.headers, timeout=60) as c:
            for chunk in chunks:
                bench.post(c, {"events": chunk})

    groups = [batched[i:i + 1000] for i in range(0, len(batched), 1000)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(post_batches, [groups[0::2], groups[1::2]]))
    batched_rate = len(batched) / (time.perf_counter() - t0)
    print(f"Ingest: {single_rate:,.0f} events/s one per request (8 clients; target >= 1,000); "
          f"{batched_rate:,.0f} events/s in requests of 1,000 (2 clients; target >= 10,000)")
    bench.settled += len(single) + len(batched)
    bench.settle(bench.settled)
    # -- 3. Latency from ingest to readable in sfemu at a steady rate -------------------
    total = args.rate * args.seconds
    sent_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    done = threading.Event()
    stop = float("inf")

    def watch() -> None:
        while not done.is_set() or len(seen_at) < total:
            for r in bench.soql("SELECT Subject FROM Task WHERE Subject LIKE 'Sent (New): l%'"):
                name = r["Subject"].rsplit(" ", 1)[-1]
                seen_at.setdefault(name, time.perf_counter())
            if done.is_set() and time.perf_counter() - stop > 30:
                break
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    begin = time.perf_counter()
    with httpx.Client(base_url=bench.tether, headers=bench.headers, timeout=60) as c:
        for i in range(total):
            due = begin + i / args.rate
            while (now := time.perf_counter()) < due:
                time.sleep(min(0.002, due - now))
            name = f"l{i}"
            sent_at[name] = time.perf_counter()
            bench.post(c, event(name, emails[i % len(emails)], name))
    stop = time.perf_counter()
    done.set()
    watcher.join()
    lat = sorted(seen_at[k] - sent_at[k] for k in sent_at if k in seen_at)
    missing = total - len(lat)
    p50 = statistics.median(lat)
    p99 = lat[max(0, int(len(lat) * 0.99) - 1)]
    print(f"Latency ingest -> Task readable in sfemu at {args.rate} events/s "
          f"({total} events, polled every 50 ms): p50 {p50:.2f} s, p99 {p99:.2f} s, "
          f"max {lat[-1]:.2f} s, not seen {missing} (target p99 <= 3 s)")


if __name__ == "__main__":
    main()

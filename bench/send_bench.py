"""Send benchmark: POST /api/v1/messages to a real `tether serve` (embedded worker) whose
admin's mailbox is on the local mail server (aiosmtpd + Dovecot or pymap), then how fast the
sender delivers them, each recipient's copy tracked, recorded before SMTP and settled after,
with its Sent copy appended by IMAP.  SQLite and PostgreSQL side by side in one run.

    uv run python bench/send_bench.py [--messages 1000] [--clients 8] [--sqlite-only]

Figures: accepted messages/s and POST p50/p99 (ms); delivered messages/s (first POST to the
last message sent); every message counted once in its recipient's mailbox.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
from cryptography.fernet import Fernet
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from serving import start_serve  # type: ignore[import-not-found]
from tether.mail.local_server import LocalMailServer
from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory
from tether.store.migrate import upgrade
from tether.store.models import OutboundMessage

ADMIN, PASSWORD = "admin@bench.example", "bench-password"
RECIPIENTS = 100
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


def _pg_database() -> str:
    name = f"tether_send_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop(name: str) -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres",
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sent(url: str) -> int:
    engine = make_engine(url)
    with session_factory(engine)() as db:
        n = db.scalar(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.status == "sent")) or 0
    engine.dispose()
    return int(n)


def run(name: str, url: str, messages: int, clients: int, work: Path) -> dict[str, Any]:
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as db:
        actor = ws.create_workspace(db, name="Bench", admin_email=ADMIN,
                                    admin_password=PASSWORD)
        key = ws.create_api_key(db, actor)
        db.commit()
    engine.dispose()
    mail = LocalMailServer(root=work / f"mail-{name}")
    mail.start()
    mail.add_user(ADMIN, PASSWORD)
    env = {**os.environ, "TETHER_DATABASE_URL": url, "TETHER_DATA_DIR": str(work / name),
           "TETHER_SECRET_KEY": Fernet.generate_key().decode(),
           "TETHER_SCHEDULE_SYNCS": "false"}
    proc, base = start_serve([], env)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        endpoint = {"host": mail.host, "security": "none", "username": ADMIN,
                    "password": PASSWORD}
        r = httpx.put(f"{base}/api/v1/mailbox", headers=headers, timeout=60, json={
            "address": ADMIN, "smtp": {**endpoint, "port": mail.smtp_port},
            "imap": {**endpoint, "port": mail.imap_port}, "daily_cap": 100_000,
            "per_minute": 10_000})
        r.raise_for_status()
        latencies: list[float] = []
        ids: list[str] = []

        def post(i: int, client: httpx.Client) -> None:
            started = time.perf_counter()
            r = client.post("/api/v1/messages", json={
                "to": [f"person{i % RECIPIENTS}@bench.example"], "subject": f"Bench {i}",
                "body_html": f'<p>Hello {i}, <a href="https://example.com/{i}">a link</a></p>'})
            latencies.append((time.perf_counter() - started) * 1000)
            r.raise_for_status()
            ids.append(r.json()["message_id"])

        def batch(offset: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                for i in range(offset, messages, clients):
                    post(i, client)

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(batch, range(clients)))
        accepted = time.perf_counter() - started
        while _sent(url) < messages:
            time.sleep(0.05)
        delivered = time.perf_counter() - started
        counted = Counter(m["Message-ID"] for i in range(RECIPIENTS)
                          for m in mail.messages(f"person{i}@bench.example"))
        once = sum(1 for i in ids if counted[i] == 1)
        q = statistics.quantiles(latencies, n=100)
        return {"database": name, "messages": messages, "accepted_per_s": messages / accepted,
                "post_p50": q[49], "post_p99": q[98], "delivered_per_s": messages / delivered,
                "delivered_once": once}
    finally:
        proc.terminate()
        proc.wait()
        mail.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows.append(run("sqlite", f"sqlite:///{work / 'send.db'}", args.messages,
                        args.clients, work))
        if not args.sqlite_only:
            db = _pg_database()
            try:
                rows.append(run("postgresql",
                                f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}",
                                args.messages, args.clients, work))
            finally:
                _drop(db)
    table = Table(title=f"Sends through the local mail server ({args.clients} clients)")
    for column in ("database", "messages", "accepted/s", "POST p50 ms", "POST p99 ms",
                   "delivered/s", "delivered once"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r["database"], str(r["messages"]), f"{r['accepted_per_s']:.0f}",
                      f"{r['post_p50']:.1f}", f"{r['post_p99']:.1f}",
                      f"{r['delivered_per_s']:.0f}", f"{r['delivered_once']}/{r['messages']}")
    console.print(table)


if __name__ == "__main__":
    main()

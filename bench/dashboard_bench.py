"""Dashboard benchmark: how long each page takes with 10,000 and with 100,000 activity-log
rows, side by side in one run — `tether serve` over real HTTP, signed in as the admin, on
SQLite (the embedded default).

    uv run python bench/dashboard_bench.py [--sizes 10000,100000] [--repeat 7]

Target (issue: The dashboard): every page well under a second with 10,000 rows; the
activity-log page's time with 100,000 rows is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import insert

from serving import start_serve  # type: ignore[import-not-found]
from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory
from tether.store.migrate import upgrade
from tether.store.models import ActivityRow, new_id

ADMIN, PASSWORD = "admin@bench.example", "tether-demo"
TYPES = ["email.sent", "email.opened", "email.clicked", "email.replied", "meeting.confirmed"]
STATUSES = ["synced"] * 6 + ["ignored"] * 2 + ["pending", "errored"]


def seed(url: str, rows: int) -> dict[str, str]:
    """A workspace with 10 members in 2 roles and ``rows`` activities over 30 days."""
    sessions = session_factory(make_engine(url))
    with sessions() as db:
        admin = ws.create_workspace(db, name="Bench", admin_email=ADMIN,
                                    admin_password=PASSWORD)
        role = ws.create_role(db, admin, "Reps")
        members = [ws.add_member(db, admin.workspace_id, email=f"rep{i}@bench.example",
                                 password=PASSWORD, role_id=role["id"]).membership_id
                   for i in range(10)]
        db.commit()
        now = dt.datetime.now(dt.UTC)
        batch: list[dict[str, Any]] = []
        for i in range(rows):
            when = now - dt.timedelta(seconds=i * 30 * 86400 // rows)
            status = STATUSES[i % len(STATUSES)]
            batch.append({
                "id": new_id(), "workspace_id": admin.workspace_id, "event_id": f"e{i}",
                "membership_id": members[i % 10], "role_id": role["id"],
                "type": TYPES[i % len(TYPES)], "recipient": f"p{i % 5000}@globex.example",
                "message_id": f"<m{i}@bench>", "status": status,
                "reason": "logged on Contact 003000000000001AAA" if status == "synced"
                else "'opened' activities are switched off for the role Reps",
                "priority": 0, "salesforce_ids": ["00T000000000001AAA"], "attempts": 1,
                "error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION" if status == "errored"
                else None, "occurred_at": when, "created_at": when, "updated_at": when})
            if len(batch) == 5000:
                db.execute(insert(ActivityRow), batch)
                batch = []
        if batch:
            db.execute(insert(ActivityRow), batch)
        db.commit()
    return {"role": role["id"], "member": "rep3@bench.example"}


def serve(data_dir: Path, url: str) -> tuple[subprocess.Popen[str], str]:
    return start_serve([], {**os.environ, "TETHER_DATABASE_URL": url,
                            "TETHER_DATA_DIR": str(data_dir),
                            "TETHER_SECRET_KEY": Fernet.generate_key().decode(),
                            "TETHER_SCHEDULE_SYNCS": "false"})


def signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=True, timeout=60)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    r = client.post("/login", data={"email": ADMIN, "password": PASSWORD,
                                    "csrf_token": token.group(1), "next": "/app/activity"})
    assert r.status_code == 200 and "Activity log" in r.text, r.text[:300]
    return client


def timed(client: httpx.Client, path: str, repeat: int) -> float:
    """Median milliseconds for the whole page (server and transfer), after one warm-up."""
    client.get(path).raise_for_status()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def pages(client: httpx.Client, ids: dict[str, str]) -> dict[str, str]:
    first = client.get("/app/activity").text
    older = re.search(r'href="(/app/activity\?[^"]*cursor=[^"]+)"', first)
    assert older is not None, "no next page"
    deep = older.group(1).replace("&amp;", "&")
    for _ in range(20):  # 20 pages further back
        found = re.search(r'href="(/app/activity\?[^"]*cursor=[^"]+)"', client.get(deep).text)
        assert found is not None
        deep = found.group(1).replace("&amp;", "&")
    detail = re.search(r'href="(/app/activity/[0-9a-f]{32})"', first)
    assert detail is not None
    return {
        "activity log, first page": "/app/activity",
        "activity log, errored only": "/app/activity?status=errored",
        "activity log, one rep's opens": f"/app/activity?type=email.opened&user={ids['member']}",
        "activity log, last 2 days": f"/app/activity?since={dt.date.today().isoformat()}",
        "activity log, 21 pages back": deep,
        "activity log, live refresh": "/app/activity/rows",
        "activity detail": detail.group(1),
        "role page (7-day summary)": f"/app/roles/{ids['role']}",
        "members & roles": "/app/members",
        "integrations": "/app/integrations",
        "crm & live feed": "/app/settings",
        "api usage": "/app/usage",
        "sync runs": "/app/syncs",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, dict[str, float]] = {}
    for size in sizes:
        tmp = Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
        url = f"sqlite:///{tmp / 'tether.db'}"
        upgrade(url)
        t0 = time.perf_counter()
        ids = seed(url, size)
        print(f"seeded {size:,} activity rows in {time.perf_counter() - t0:.1f} s",
              flush=True)
        proc, base = serve(tmp, url)
        try:
            client = signed_in(base)
            results[size] = {name: timed(client, path, args.repeat)
                             for name, path in pages(client, ids).items()}
            client.close()
        finally:
            proc.terminate()
            proc.wait()
    names = list(next(iter(results.values())))
    header = "page".ljust(32) + "".join(f"{s:>14,} rows" for s in sizes)
    print(header)
    for name in names:
        print(name.ljust(32) + "".join(f"{results[s][name]:>14.1f} ms  " for s in sizes))
    worst = max(results[sizes[0]].values())
    print(f"slowest page with {sizes[0]:,} rows: {worst:.1f} ms (target: well under 1,000 ms)")


if __name__ == "__main__":
    main()

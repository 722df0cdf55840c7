"""sfemu benchmark: seed rate, indexed email lookups, Bulk 2.0 export rate, peak memory.

Prints figures measured side by side in one run; never part of the pass/fail suite.

    uv run python bench/sfemu_bench.py [--contacts 200000] [--lookups 300]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from sfemu import launch


class PeakRss:
    """Samples a process's resident memory every 20 ms while active."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def latency(client: httpx.Client, soql: str) -> float:
    started = time.perf_counter()
    r = client.get("/services/data/v59.0/query", params={"q": soql})
    elapsed = time.perf_counter() - started
    r.raise_for_status()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--lookups", type=int, default=300)
    args = parser.parse_args()
    n = args.contacts
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = launch.start("--port", "0", "--db", str(Path(tmp) / "bench.db"))
        try:
            run(base, proc.pid, n, args.lookups)
        finally:
            launch.stop(proc, timeout=30)


def run(base: str, pid: int, n: int, lookups: int) -> None:
    admin = httpx.Client(base_url=base, timeout=3600)
    started = time.perf_counter()
    counts = admin.post("/__sfemu__/orgs/acme/seed",
                        json={"accounts": max(1, n // 20), "contacts": n, "seed": 1}).json()
    seed_s = time.perf_counter() - started
    rows = counts["accounts"] + counts["contacts"]
    print(f"seed: {counts['contacts']:,} contacts (+{counts['accounts']:,} accounts) in "
          f"{seed_s:.1f} s = {counts['contacts'] / seed_s:,.0f} contacts/s "
          f"({rows / seed_s:,.0f} rows/s)")

    token = admin.post("/services/oauth2/token", data={
        "grant_type": "password", "client_id": "tether", "client_secret": "tether-secret",
        "username": "admin@acme.example", "password": "tether-demo"}).json()["access_token"]
    api = httpx.Client(base_url=base, timeout=600,
                       headers={"Authorization": f"Bearer {token}"})

    # Emails and phones to look up, sampled from the data itself.
    sample = api.get("/services/data/v59.0/query", params={
        "q": "SELECT Email, Phone FROM Contact"}).json()["records"]
    rng = random.Random(7)
    picks = [rng.choice(sample) for _ in range(lookups)]
    indexed = [latency(api, f"SELECT Id, Name, AccountId FROM Contact WHERE Email = "
                            f"'{p['Email'].upper()}'") for p in picks]
    scans = [latency(api, f"SELECT Id, Name, AccountId FROM Contact WHERE Phone = "
                          f"'{p['Phone']}'") for p in picks[:5]]
    p50, p95 = statistics.median(indexed), statistics.quantiles(indexed, n=20)[18]
    scan50 = statistics.median(scans)
    print(f"email lookup over {n:,} contacts (REST query, {lookups} lookups): "
          f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")
    print(f"  side by side, unindexed Phone equality (full scan, 5 lookups): p50 "
          f"{scan50 * 1000:.0f} ms; the email index is {scan50 / p50:,.0f}x faster")

    rss_before = psutil.Process(pid).memory_info().rss
    with PeakRss(pid) as peak:
        started = time.perf_counter()
        job = api.post("/services/data/v59.0/jobs/query", json={
            "operation": "query",
            "query": "SELECT Id, FirstName, LastName, Email, Phone, Title, AccountId, "
                     "CreatedDate FROM Contact"}).json()
        while api.get(f"/services/data/v59.0/jobs/query/{job['id']}").json()[
                "state"] != "JobComplete":
            time.sleep(0.05)
        processed_s = time.perf_counter() - started
        exported, locator, pages, total_bytes = 0, "", 0, 0
        while locator != "null":
            params = {"maxRecords": "50000", **({"locator": locator} if locator else {})}
            with api.stream("GET", f"/services/data/v59.0/jobs/query/{job['id']}/results",
                            params=params) as r:
                newlines = 0
                for chunk in r.iter_bytes():
                    newlines += chunk.count(b"\n")
                    total_bytes += len(chunk)
                exported += newlines - 1  # header line
                locator = r.headers["Sforce-Locator"]
                assert int(r.headers["Sforce-NumberOfRecords"]) == newlines - 1
                pages += 1
        export_s = time.perf_counter() - started
    assert exported == n, (exported, n)
    print(f"bulk 2.0 export: {exported:,} rows, {total_bytes / 1e6:.1f} MB CSV in {pages} "
          f"pages, {export_s:.1f} s = {exported / export_s:,.0f} rows/s "
          f"(job {processed_s:.1f} s, download {export_s - processed_s:.1f} s)")
    print(f"sfemu RSS: {rss_before / 2**20:.0f} MiB before the export, peak "
          f"{peak.peak / 2**20:.0f} MiB during it (+{(peak.peak - rss_before) / 2**20:.0f} MiB "
          f"for a {total_bytes / 2**20:.0f} MiB export)")


if __name__ == "__main__":
    main()

"""Audit benchmark: Tether's Bulk 2.0 audit into the mirror beside simple-salesforce's bulk2
download of the same rows, measured in one run against one sfemu.

    uv run python bench/audit_bench.py [--contacts 200000] [--leads 200000]

Each side runs in its own process so its peak memory is its own.  Prints records/s, peak RSS
and the ratio.  Targets (issue: Tether core): >= 20,000 records/s and <= 250 MB peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from sfemu import launch

OBJECTS = ["Contact", "Lead"]


def sample_peak(proc: subprocess.Popen[str]) -> int:
    peak = 0
    p = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, p.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    return peak


def run_child(args: list[str], env: dict[str, str]) -> tuple[dict[str, float], int]:
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
    peak = sample_peak(proc)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(err)
    return json.loads(out.strip().splitlines()[-1]), peak


# -- children ---------------------------------------------------------------------------------
async def tether_child(db_url: str, base: str, ca: str, key: str) -> dict[str, float]:
    from tether.config import Settings
    from tether.salesforce import auth
    from tether.security import Vault
    from tether.services import connection
    from tether.services import workspaces as ws
    from tether.store.db import make_engine, session_factory
    from tether.store.migrate import upgrade
    from tether.sync import pull

    upgrade(db_url)
    settings = Settings(database_url=db_url, secret_key=key, salesforce_login_url=base,
                        salesforce_verify=ca, data_dir=Path(tempfile.mkdtemp()))
    sessions = session_factory(make_engine(db_url))
    vault = Vault(key)
    async with connection.http_client(settings) as http:
        creds = await auth.password_login(http, connection.oauth_app(settings, False),
                                          username="admin@acme.example", password="tether-demo")
    with sessions() as db:
        actor = ws.create_workspace(db, name="Bench", admin_email="admin@acme.example",
                                    admin_password=None)
        connection.save_credentials(db, vault, actor, creds, "admin@acme.example", False)
        db.commit()
    counter = pull.CallCounter()
    async with connection.sync_user_client(sessions, vault, settings, actor.workspace_id,
                                           on_usage=counter) as client:
        ctx = pull.PullContext(sessions, client, actor.workspace_id, counter)
        await pull.sync_fields(ctx)
        started = time.perf_counter()
        records = await pull.audit(ctx, OBJECTS)
        elapsed = time.perf_counter() - started
    return {"records": records, "seconds": elapsed, "api_calls": counter.calls}


def simple_salesforce_child(base: str, ca: str, out_dir: str) -> dict[str, float]:
    import requests
    from simple_salesforce import Salesforce, SalesforceLogin

    session = requests.Session()
    session.verify, session.trust_env = ca, False
    session_id, instance = SalesforceLogin(username="admin@acme.example",
                                           password="tether-demo", security_token="",
                                           scratch_url=base, session=session)
    sf = Salesforce(session_id=session_id, instance=instance, session=session)
    records = 0
    started = time.perf_counter()
    for sobject in OBJECTS:
        described = sf.restful(f"sobjects/{sobject}/describe")
        fields = [f["name"] for f in described["fields"]
                  if f["type"] not in ("address", "location", "base64")]
        results = getattr(sf.bulk2, sobject).download(
            f"SELECT {', '.join(fields)} FROM {sobject}", path=out_dir, max_records=50_000,
            wait=0.2)
        records += sum(r["number_of_records"] for r in results)
    return {"records": records, "seconds": time.perf_counter() - started}


# -- the run ----------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--child", choices=["tether", "simple-salesforce"])
    parser.add_argument("--db-url")
    parser.add_argument("--base")
    parser.add_argument("--ca")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child == "tether":
        result = asyncio.run(tether_child(args.db_url, args.base, args.ca,
                                          os.environ["BENCH_KEY"]))
        print(json.dumps(result))
        return
    if args.child == "simple-salesforce":
        print(json.dumps(simple_salesforce_child(args.base, args.ca, args.out)))
        return

    from cryptography.fernet import Fernet
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        emu, base = launch.start("--port", "0", "--db", f"{tmp}/sfemu.db", "--tls",
                                 "--cert-dir", str(certs))
        ca = str(certs / "ca.pem")
        try:
            import ssl

            import httpx
            with httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=ca),
                              timeout=3600) as admin:
                counts = admin.post("/__sfemu__/orgs/acme/seed", json={
                    "accounts": max(1, args.contacts // 20), "contacts": args.contacts,
                    "leads": args.leads, "seed": 1}).json()
            print(f"sfemu seeded: {counts['contacts']:,} contacts, {counts['leads']:,} leads")
            theirs, their_peak = run_child(
                ["--child", "simple-salesforce", "--base", base, "--ca", ca, "--out", tmp], {})
            ours, our_peak = run_child(
                ["--child", "tether", "--db-url", f"sqlite:///{tmp}/tether.db", "--base", base,
                 "--ca", ca], {"BENCH_KEY": Fernet.generate_key().decode()})
        finally:
            launch.stop(emu, timeout=30)
    our_rate = ours["records"] / ours["seconds"]
    their_rate = theirs["records"] / theirs["seconds"]
    print(f"Tether audit into the mirror (SQLite): {ours['records']:,.0f} records in "
          f"{ours['seconds']:.1f} s = {our_rate:,.0f} records/s, peak RSS "
          f"{our_peak / 2**20:.0f} MiB, {ours['api_calls']:.0f} API calls")
    print(f"simple-salesforce bulk2 download to CSV files: {theirs['records']:,.0f} records in "
          f"{theirs['seconds']:.1f} s = {their_rate:,.0f} records/s, peak RSS "
          f"{their_peak / 2**20:.0f} MiB")
    print(f"ratio Tether / simple-salesforce: {our_rate / their_rate:.2f}x the rate, "
          f"{our_peak / their_peak:.2f}x the memory")
    print(f"targets: >= 20,000 records/s: {'met' if our_rate >= 20_000 else 'NOT met'}; "
          f"<= 250 MB peak RSS: {'met' if our_peak <= 250e6 else 'NOT met'}")


if __name__ == "__main__":
    main()

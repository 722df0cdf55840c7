"""People benchmark: the people view (the sidebar: an address's Leads and Contacts with their
Account, Opportunities and Activity History) and people search, p50 / p99 / max, over a mirror
of 400,000 people with their Accounts, Opportunities, contact roles, Tasks and Events —
`tether.services.people` called in one Session a call, as a request is, and then
GET /api/v1/people and GET /api/v1/people/search over real HTTP (`tether serve`), side by side
in one run, on SQLite (a file in a temp dir) or on a PostgreSQL database it creates and drops.

    uv run python bench/people_bench.py [--contacts 200000] [--leads 200000] [--views 2000]
        [--searches 1000] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/NEW_DB]
        [--no-http] [--profile]

Target: the people view's p50 <= 15 ms.  ``--profile`` adds where a view's
time goes: each SQL statement's share (total, per view) and the rest (Python).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import psycopg
from cryptography.fernet import Fernet
from faker import Faker
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, event, insert, make_url
from sqlalchemy.orm import Session, sessionmaker

from serving import start_serve  # type: ignore[import-not-found]
from sfemu.api.describe import describe_field
from sfemu.core import Session as SfSession
from sfemu.org.ids import KEY_PREFIXES, make_id
from sfemu.org.model import Org, ProfilePerms
from sfemu.schema import FieldDef
from sfemu.schema.standard import OPPORTUNITY_STAGES, TASK_STATUSES, standard_objects
from tether.services import people
from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory
from tether.store.migrate import upgrade
from tether.store.models import (
    ActivityWrite,
    FieldMetadata,
    SalesforceConnection,
    Workspace,
)
from tether.sync import mirror
from tether.sync.push import KEY_FIELD

INSTANCE = "https://bench.my.salesforce.com"
POD = "5g"
ADMIN = "admin@bench.example"
CHUNK = 5000
DESCRIBED = ("Lead", "Contact", "Account", "Opportunity", "Task", "Event")
TARGET_MS = 15.0
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


def sf_id(sobject: str, n: int) -> str:
    return make_id(KEY_PREFIXES[sobject], POD, n)


def stamp(day: dt.date, n: int = 0) -> str:
    return f"{day.isoformat()}T{n % 24:02d}:{n % 60:02d}:00.000+0000"


# -- the database -----------------------------------------------------------------------------
@contextlib.contextmanager
def fresh_database(url: str | None) -> Iterator[str]:
    """A new, migrated database: a SQLite file in a temp dir, or the PostgreSQL database the
    URL names, created here (it must not exist) and dropped afterwards."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix="people-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'tether.db'}"
            upgrade(url)
            yield url
        return
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "postgresql" or not name:
        raise SystemExit("--database-url: postgresql+psycopg://user@host:port/<new database>")
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def field_metadata(workspace_id: str) -> list[FieldMetadata]:
    """Describe's fields (as sfemu answers them, so labels are real) and the layout-required
    ones, as a fields sync stores them; Tasks and Events carry Tether's activity key."""
    admin = ProfilePerms("System Administrator", {"*": "CRED"}, modify_all_data=True)
    session = SfSession(org=Org(id=make_id("00D", POD, 1), name="bench"), user_id="",
                        username=ADMIN, profile=admin)
    objects = standard_objects()
    key = FieldDef(KEY_FIELD, "string", label="Tether Activity Key", length=80,
                   external_id=True, unique=True, custom=True)
    rows = []
    for sobject in DESCRIBED:
        obj = objects[sobject]
        fields = [describe_field(obj, f, session) for f in obj.fields.values()]
        if sobject in ("Task", "Event"):
            fields.append(describe_field(obj, key, session))
        rows.append(FieldMetadata(workspace_id=workspace_id, sobject=sobject, fields=fields,
                                  layout_required=list(obj.layout_required)))
    return rows


# -- the records ------------------------------------------------------------------------------
class World:
    """The org's records, made one object at a time as they are loaded (never all in memory),
    and what the measured calls ask for: addresses by kind, search text by kind.

    Accounts (contacts / 5) hold 92% of the Contacts and the Opportunities (1.5 an Account);
    60% of the Opportunities have contact roles; Tasks and Events (people / 2) point at
    Contacts and Leads, skewed: a few people have hundreds, most have none."""

    def __init__(self, contacts: int, leads: int, seed: int = 7) -> None:
        self.contacts, self.leads = contacts, leads
        self.rng = random.Random(seed)
        fake = Faker()
        fake.seed_instance(seed)
        self.first = [fake.first_name() for _ in range(500)]
        self.last = [fake.last_name() for _ in range(500)]
        self.companies = [fake.company() for _ in range(500)]
        self.words = [fake.word().capitalize() for _ in range(300)]
        self.titles = [fake.job()[:80] for _ in range(100)]
        self.cities = [fake.city() for _ in range(100)]
        self.accounts = max(1, contacts // 5)
        self.opportunities = self.accounts * 3 // 2
        self.activities = (contacts + leads) // 2
        self.owners = [sf_id("User", i) for i in range(1, 9)]
        self.today = dt.date(2026, 11, 28)
        self.addresses: dict[str, list[str]] = defaultdict(list)
        self.queries: dict[str, list[str]] = defaultdict(list)
        self.contact_email: list[str] = []
        self.contact_account: list[int | None] = []
        self.lead_email: list[str] = []
        self.opportunity_account: list[int] = []
        self.tether_writes: list[tuple[str, str, str, str]] = []  # key, sobject, Id, to
        self.popularity = list(range(contacts + leads))  # people, busiest first
        self.rng.shuffle(self.popularity)

    def objects(self) -> list[tuple[str, Callable[[], Iterator[dict[str, Any]]]]]:
        return [("User", self.user_records), ("Account", self.account_records),
                ("Contact", self.contact_records),
                ("Lead", self.lead_records), ("Opportunity", self.opportunity_records),
                ("OpportunityContactRole", self.role_records),
                ("Task", lambda: self.activity_records("Task")),
                ("Event", lambda: self.activity_records("Event"))]

    def day(self, span: int = 730) -> dt.date:
        return self.today - dt.timedelta(days=self.rng.randrange(span))

    def account_name(self, i: int) -> str:
        return f"{self.companies[i % 500]} {self.words[i // 500 % 300]}"

    def domain(self, i: int) -> str:
        return f"{re.sub(r'[^a-z0-9]+', '', self.account_name(i).lower())[:24]}{i}.example"

    def phone(self) -> str:
        return f"(555) {self.rng.randrange(100, 999)}-{self.rng.randrange(1000, 9999)}"

    def base(self, sobject: str, n: int, created: dt.date | None = None) -> dict[str, Any]:
        return {"Id": sf_id(sobject, n), "IsDeleted": False,
                "CreatedDate": stamp(created or self.day(), n),
                "LastModifiedDate": stamp(self.today, n), "SystemModstamp": stamp(self.today, n),
                "OwnerId": self.rng.choice(self.owners)}

    def user_records(self) -> Iterator[dict[str, Any]]:
        """The owners (the people view names a record's owner from the mirror)."""
        for i, owner in enumerate(self.owners):
            first, last = self.first[i], self.last[i]
            yield {"Id": owner, "IsDeleted": False, "SystemModstamp": stamp(self.today, i),
                   "FirstName": first, "LastName": last, "Name": f"{first} {last}",
                   "Email": f"{first}.{last}@bench.example".lower(), "IsActive": True,
                   "Username": f"{first}.{last}@bench.example".lower()}

    def account_records(self) -> Iterator[dict[str, Any]]:
        for i in range(self.accounts):
            name = self.account_name(i)
            if i % 20 == 0:
                self.queries["company prefix"].append(name[:self.rng.randint(3, 6)])
            yield {**self.base("Account", i + 1), "Name": name,
                   "Industry": self.rng.choice(("Technology", "Banking", "Retail", "Energy")),
                   "Website": f"https://www.{self.domain(i)}", "Phone": self.phone(),
                   "BillingCity": self.rng.choice(self.cities), "Type": "Customer"}

    def contact_records(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for i in range(self.contacts):
            first, last = rng.choice(self.first), rng.choice(self.last)
            account = rng.randrange(self.accounts) if rng.random() < 0.92 else None
            host = self.domain(account) if account is not None else "gmail.example"
            email = f"{first}.{last}{i}@{host}"  # as typed: mixed case
            self.contact_email.append(email.lower())
            self.contact_account.append(account)
            if i % 20 == 0:
                self.addresses["Contact"].append(email.lower())
            if i % 50 == 0:
                self.queries["name prefix"].append(
                    f"{first} {last[0]}" if i % 100 == 0 else first[:rng.randint(2, 4)])
                self.queries["last name"].append(last)
                self.queries["email prefix"].append(email[:rng.randint(3, 8)])
            yield {**self.base("Contact", i + 1), "FirstName": first, "LastName": last,
                   "Name": f"{first} {last}", "Email": email, "Title": rng.choice(self.titles),
                   "Phone": self.phone(), "MobilePhone": self.phone(),
                   "AccountId": sf_id("Account", account + 1) if account is not None else None,
                   "MailingCity": rng.choice(self.cities), "LeadSource": "Web"}

    def lead_records(self) -> Iterator[dict[str, Any]]:
        """10% converted (their Contact's address; 1 in 20 of them converted to a Contact not
        mirrored yet), 5% sharing a Contact's address unconverted, the rest their own."""
        rng = self.rng
        for i in range(self.leads):
            first, last = rng.choice(self.first), rng.choice(self.last)
            company = rng.choice(self.companies)
            record = {**self.base("Lead", i + 1), "FirstName": first, "LastName": last,
                      "Name": f"{first} {last}", "Company": company,
                      "Title": rng.choice(self.titles), "Phone": self.phone(),
                      "Status": "Open - Not Contacted", "IsConverted": False,
                      "ConvertedContactId": None, "ConvertedAccountId": None,
                      "LeadSource": rng.choice(("Web", "Phone Inquiry", "Purchased List"))}
            r, c = rng.random(), rng.randrange(self.contacts)
            if r < 0.10:
                account = self.contact_account[c]
                missing = r < 0.005
                record.update(
                    Email=self.contact_email[c], IsConverted=True, Status="Closed - Converted",
                    ConvertedContactId=sf_id("Contact", (self.contacts + i if missing else c)
                                             + 1),
                    ConvertedAccountId=sf_id("Account", account + 1) if account is not None
                    else None, ConvertedDate=self.day().isoformat())
                kind = "converted, no Contact" if missing else "converted Lead"
            elif r < 0.15:
                record["Email"] = self.contact_email[c].upper()  # as typed
                kind = "Lead + Contact"
            else:
                slug = re.sub(r"[^a-z]+", "", company.split()[0].lower())
                record["Email"] = f"{first}.{last}{i}@{slug}.example"
                kind = "Lead"
            self.lead_email.append(record["Email"].lower())
            if kind != "Lead" or i % 20 == 0:
                self.addresses[kind].append(record["Email"].lower())
            if i % 100 == 0:
                self.queries["company prefix"].append(company[:rng.randint(3, 6)])
            yield record

    def opportunity_records(self) -> Iterator[dict[str, Any]]:
        stages = list(OPPORTUNITY_STAGES)
        for i in range(self.opportunities):
            account = self.rng.randrange(self.accounts)
            self.opportunity_account.append(account)
            stage = self.rng.choice(stages)
            probability, closed, won, forecast = OPPORTUNITY_STAGES[stage]
            close = self.today + dt.timedelta(days=self.rng.randrange(-400, 300))
            yield {**self.base("Opportunity", i + 1),
                   "Name": f"{self.account_name(account)} - {self.rng.choice(self.words)}",
                   "AccountId": sf_id("Account", account + 1), "StageName": stage,
                   "IsClosed": closed, "IsWon": won, "Probability": probability,
                   "ForecastCategoryName": forecast, "CloseDate": close.isoformat(),
                   "Amount": float(self.rng.randrange(5, 500) * 1000), "Type": "New Business"}

    def role_records(self) -> Iterator[dict[str, Any]]:
        by_account: dict[int, list[int]] = defaultdict(list)
        for c, account in enumerate(self.contact_account):
            if account is not None:
                by_account[account].append(c)
        n = 0
        for i, account in enumerate(self.opportunity_account):
            contacts = by_account.get(account)
            if not contacts or self.rng.random() >= 0.6:
                continue
            for c in self.rng.sample(contacts, min(len(contacts), self.rng.choice((1, 1, 2)))):
                n += 1
                yield {"Id": sf_id("OpportunityContactRole", n), "IsDeleted": False,
                       "SystemModstamp": stamp(self.today, n),
                       "OpportunityId": sf_id("Opportunity", i + 1),
                       "ContactId": sf_id("Contact", c + 1), "IsPrimary": n % 2 == 0,
                       "Role": self.rng.choice(("Decision Maker", "Evaluator", "Influencer"))}

    def activity_records(self, sobject: str) -> Iterator[dict[str, Any]]:
        """Tasks (3 in 4) or Events; 1 in 5 written by Tether (its activity key)."""
        rng = self.rng
        people = self.contacts + self.leads
        count = self.activities * 3 // 4 if sobject == "Task" else self.activities // 4
        offset = 0 if sobject == "Task" else self.activities
        for i in range(count):
            n = offset + i + 1
            who_index = self.popularity[int(people * rng.random() ** 2)]
            if who_index < self.contacts:
                who, to = sf_id("Contact", who_index + 1), self.contact_email[who_index]
                account = self.contact_account[who_index]
                what = sf_id("Account", account + 1) if account is not None else None
                if n % 40 == 0:
                    self.addresses["Contact, busy"].append(to)
            else:
                lead = who_index - self.contacts
                who, to, what = sf_id("Lead", lead + 1), self.lead_email[lead], None
            day = self.day(365)
            record = {**self.base(sobject, n, day), "WhoId": who, "WhatId": what,
                      "Subject": f"{rng.choice(('Email', 'Call', 'Meeting'))}: "
                                 f"{rng.choice(self.words)} {rng.choice(self.words)}",
                      "Description": "Followed up on the proposal.", KEY_FIELD: None}
            if sobject == "Task":
                status = rng.choice(list(TASK_STATUSES))
                record.update(ActivityDate=day.isoformat(), Status=status,
                              IsClosed=TASK_STATUSES[status], Priority="Normal",
                              TaskSubtype="Email")
            else:
                start = f"{day.isoformat()}T{rng.randrange(8, 18):02d}:00:00.000+0000"
                record.update(StartDateTime=start, EndDateTime=start, ActivityDateTime=start,
                              DurationInMinutes=30, Location="Zoom")
            if n % 5 == 0:
                record[KEY_FIELD] = f"tether-{uuid.UUID(int=n).hex}"
                self.tether_writes.append((record[KEY_FIELD], sobject, record["Id"], to))
            yield record


def chunks(records: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def load(sessions: sessionmaker[Session], actor: ws.Actor, world: World) -> dict[str, int]:
    """The mirror through its bulk path (the audit's), CHUNK records a commit; then Tether's
    own Tasks and Events in activity_write, as the writer leaves them."""
    counts: dict[str, int] = {}
    with sessions() as db:
        for sobject, records in world.objects():
            t0 = time.perf_counter()
            n = 0
            for chunk in chunks(records(), CHUNK):
                n += mirror.upsert(db, actor.workspace_id, sobject, chunk, count=False)
                db.commit()
            counts[sobject] = n
            console.print(f"  {sobject:<24} {n:>9,} in {time.perf_counter() - t0:5.1f} s")
        now = dt.datetime.now(dt.UTC)
        rows = [{"workspace_id": actor.workspace_id, "key": key,
                 "membership_id": actor.membership_id, "sobject": sobject,
                 "fields": {"Subject": "Sent", KEY_FIELD: key}, "recipient": to,
                 "status": "done", "version": 1, "sent_version": 1, "sf_id": record_id,
                 "attempts": 1, "log": [], "next_attempt_at": now, "created_at": now,
                 "updated_at": now} for key, sobject, record_id, to in world.tether_writes]
        for start in range(0, len(rows), CHUNK):
            db.execute(insert(ActivityWrite), rows[start:start + CHUNK])
        db.commit()
        counts["activity_write"] = len(rows)
    return counts


def setup(sessions: sessionmaker[Session]) -> tuple[ws.Actor, str]:
    """A workspace with its admin (connected to Salesforce as one of the owners), its
    instance URL, the field catalogs; and an API key for the HTTP side."""
    with sessions() as db:
        actor = ws.create_workspace(db, name="Bench", admin_email=ADMIN,
                                    admin_password="tether-demo", plan="enterprise")
        workspace = db.get(Workspace, actor.workspace_id)
        assert workspace is not None
        workspace.salesforce_instance_url = INSTANCE
        workspace.salesforce_org_id = make_id("00D", POD, 1)
        db.add(SalesforceConnection(
            workspace_id=actor.workspace_id, membership_id=actor.membership_id,
            login_url="https://login.salesforce.com", instance_url=INSTANCE,
            org_id=make_id("00D", POD, 1), salesforce_user_id=sf_id("User", 1),
            salesforce_username=ADMIN, access_token_enc=b"-", refresh_token_enc=None))
        db.add_all(field_metadata(actor.workspace_id))
        key = ws.create_api_key(db, actor)
        db.commit()
    return actor, key


def analyze(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


# -- the measurements -------------------------------------------------------------------------
VIEW_MIX = {"Contact, busy": 30, "Contact": 20, "Lead": 15, "Lead + Contact": 10,
            "converted Lead": 10, "converted, no Contact": 2, "unknown": 13}
SEARCH_MIX = {"name prefix": 1, "last name": 1, "company prefix": 1, "email prefix": 1}


def draw(rng: random.Random, pools: dict[str, list[str]], mix: dict[str, int], n: int
         ) -> list[tuple[str, str]]:
    kinds = rng.choices(list(mix), weights=list(mix.values()), k=n)
    return [(k, rng.choice(pools[k]) if k != "unknown" else f"nobody{i}@nowhere.example")
            for i, k in enumerate(kinds)]


@dataclass
class Timing:
    ms: list[float] = field(default_factory=list)
    records: list[int] = field(default_factory=list)
    related: list[int] = field(default_factory=list)  # an Account, Opportunities, history


def view_counts(answer: dict[str, Any]) -> tuple[int, int]:
    recs = answer["records"]
    return len(recs), sum((r.get("account") is not None) + len(r.get("opportunities", []))
                          + len(r.get("activity_history", [])) for r in recs)


def search_counts(answer: Any) -> tuple[int, int]:
    items = answer["items"] if isinstance(answer, dict) else answer
    return len(items), 0


def run_service(sessions: sessionmaker[Session], actor: ws.Actor,
                calls: list[tuple[str, str, str]]) -> dict[str, dict[str, Timing]]:
    """(operation, kind, argument) each in a Session of its own, opened and closed inside the
    time, as a request's."""
    out: dict[str, dict[str, Timing]] = defaultdict(lambda: defaultdict(Timing))
    for op, kind, arg in calls:
        t0 = time.perf_counter()
        with sessions() as db:
            answer: Any = (people.view(db, actor, arg) if op == "view"
                           else people.search(db, actor, arg))
        ms = (time.perf_counter() - t0) * 1000
        n, related = view_counts(answer) if op == "view" else search_counts(answer)
        for t in (out[op][kind], out[op]["all"]):
            t.ms.append(ms)
            t.records.append(n)
            t.related.append(related)
    return out


def run_http(base: str, key: str, calls: list[tuple[str, str, str]]
             ) -> dict[str, dict[str, Timing]]:
    """The same calls as GET requests on one keep-alive connection (server and transfer)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
    headers = {"Authorization": f"Bearer {key}"}
    out: dict[str, dict[str, Timing]] = defaultdict(lambda: defaultdict(Timing))
    for op, kind, arg in calls:
        path = (f"/api/v1/people?{urlencode({'email': arg})}" if op == "view"
                else f"/api/v1/people/search?{urlencode({'q': arg})}")
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        ms = (time.perf_counter() - t0) * 1000
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status} {body[:300]!r}")
        answer = json.loads(body)
        n, related = view_counts(answer) if op == "view" else search_counts(answer)
        for t in (out[op][kind], out[op]["all"]):
            t.ms.append(ms)
            t.records.append(n)
            t.related.append(related)
    conn.close()
    return out


def http_probe(base: str, key: str, email: str) -> str | None:
    """None if GET /api/v1/people answers; else why not (a stub answers 404)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
    conn.request("GET", f"/api/v1/people?{urlencode({'email': email})}",
                 headers={"Authorization": f"Bearer {key}"})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return None if r.status == 200 else f"GET /api/v1/people answered {r.status}: {body[:120]!r}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q + 0.5) - 1))]


def table(title: str, results: dict[str, dict[str, dict[str, Timing]]]) -> Table:
    t = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for name, justify in (("operation", "left"), ("addresses / text", "left"),
                          ("calls", "right"), ("p50 ms", "right"), ("p99 ms", "right"),
                          ("max ms", "right"), ("records", "right"), ("related", "right")):
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    for side, by_op in results.items():
        for op, by_kind in by_op.items():
            order = VIEW_MIX if op == "view" else SEARCH_MIX
            for kind in ["all", *(k for k in order if k in by_kind)]:
                tm = by_kind[kind]
                bold = kind == "all"
                t.add_row(f"[b]{side} {op}[/b]" if bold else "",
                          f"[b]{kind}[/b]" if bold else f"  {kind}",
                          f"{len(tm.ms):,}", f"{pct(tm.ms, 0.5):.2f}", f"{pct(tm.ms, 0.99):.2f}",
                          f"{max(tm.ms):.2f}", f"{sum(tm.records) / len(tm.records):.1f}",
                          f"{sum(tm.related) / len(tm.related):.1f}" if op == "view" else "")
            t.add_section()
    return t


# -- profiling --------------------------------------------------------------------------------
_PARAM = r"(?:\?|%s|%\(\w+\)s)(?:::\w+)?"  # a bound parameter (PostgreSQL's cast)
_LIST = re.compile(rf"\({_PARAM}(?:, {_PARAM})*\)")
STEPS = ("candidates", "_reader", "_rows", "_account", "_opportunities", "_history")


def profile(engine: Engine, sessions: sessionmaker[Session], actor: ws.Actor,
            calls: list[tuple[str, str, str]]) -> None:
    """Where a view's time goes: each step of people.view (inclusive), then each SQL
    statement, replayed on the driver alone (execute and fetch all rows) with its plan."""
    views = [c for c in calls if c[0] == "view"]
    steps: dict[str, float] = defaultdict(float)
    originals = {name: getattr(people, name) for name in STEPS}
    build = people.mirror_view.build

    def timer(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                steps[name] += time.perf_counter() - t0
        return wrapped

    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any,
                _many: bool) -> None:
        captured.append((statement, params))

    for name, fn in originals.items():
        setattr(people, name, timer(name, fn))
    people.mirror_view.build = timer("  mirror_view.build", build)
    event.listen(engine, "before_cursor_execute", capture)
    t0 = time.perf_counter()
    try:
        run_service(sessions, actor, views)
    finally:
        total = time.perf_counter() - t0
        event.remove(engine, "before_cursor_execute", capture)
        for name, fn in originals.items():
            setattr(people, name, fn)
        people.mirror_view.build = build
    n = len(views)
    steps_table = Table(title=f"people.view by step ({n} views; inclusive, ms a view)",
                        title_justify="left", box=None, pad_edge=False)
    steps_table.add_column("step")
    steps_table.add_column("ms", justify="right")
    steps_table.add_row("whole view (session included)", f"{total * 1000 / n:.2f}")
    for name in ("candidates", "  mirror_view.build", *STEPS[1:]):
        steps_table.add_row(name, f"{steps[name] * 1000 / n:.2f}")
    console.print(steps_table)
    # Replay each statement on the raw driver: its cost without the ORM.
    shapes: dict[str, list[float]] = defaultdict(list)
    first: dict[str, tuple[str, Any]] = {}
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, params in captured:
            shape = " ".join(_LIST.sub("(…)", statement).split())
            t0 = time.perf_counter()
            cur.execute(statement, params)
            if cur.description is not None:
                cur.fetchall()
            shapes[shape].append((time.perf_counter() - t0) * 1000)
            first.setdefault(shape, (statement, params))
        sql_table = Table(title="SQL statements of those views, replayed on the driver "
                          "(execute + fetch all)", title_justify="left", box=None,
                          pad_edge=False)
        for name in ("ms a view", "calls a view", "mean ms", "max ms", "statement", "plan"):
            sql_table.add_column(name, justify="right" if "ms" in name or "calls" in name
                                 else "left", overflow="fold")
        sqlite = engine.dialect.name == "sqlite"
        for shape, times in sorted(shapes.items(), key=lambda kv: -sum(kv[1])):
            statement, params = first[shape]
            cur.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, params)
            plan = "; ".join(str(r[-1] if sqlite else r[0]).strip() for r in cur.fetchall())
            short = re.sub(r"SELECT .*? FROM", "SELECT … FROM", shape)
            sql_table.add_row(f"{sum(times) / n:.2f}", f"{len(times) / n:.1f}",
                              f"{sum(times) / len(times):.3f}", f"{max(times):.2f}",
                              short[:110], plan[:110])
        console.print(sql_table)
        replayed = sum(sum(t) for t in shapes.values())
        statements = sum(len(t) for t in shapes.values())
        console.print(f"{statements / n:.1f} statements a view, replayed in {replayed / n:.2f} "
                      f"ms of the view's {total * 1000 / n:.2f} ms; the rest is Python (the "
                      "ORM building, compiling and loading each statement, JSON, the view)")
    finally:
        raw.close()


# -- the run ----------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--views", type=int, default=2000)
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--database-url",
                        help="postgresql+psycopg://postgres@127.0.0.1:5432/<new db>: created "
                        "and dropped here (default: SQLite in a temp dir)")
    parser.add_argument("--no-http", action="store_true", help="the service functions only")
    parser.add_argument("--profile", action="store_true",
                        help="also: the view's time by step and by SQL statement")
    args = parser.parse_args()
    with fresh_database(args.database_url) as url:
        engine = make_engine(url)
        sessions = session_factory(engine)
        actor, key = setup(sessions)
        world = World(args.contacts, args.leads)
        backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        console.print(f"[b]People benchmark[/b] on {backend}: loading the mirror "
                      f"(mirror.upsert bulk path, {CHUNK:,} records a commit)")
        t0 = time.perf_counter()
        counts = load(sessions, actor, world)
        loaded = time.perf_counter() - t0
        t1 = time.perf_counter()
        analyze(engine)
        engine.dispose()
        mirrored = sum(v for k, v in counts.items() if k != "activity_write")
        console.print(f"loaded {mirrored:,} mirrored records ({counts['Contact']:,} Contacts, "
                      f"{counts['Lead']:,} Leads) and {counts['activity_write']:,} "
                      f"activity_write rows in {loaded:.1f} s = {mirrored / loaded:,.0f} "
                      f"records/s; ANALYZE {time.perf_counter() - t1:.1f} s")
        # Measured on a new engine (SQLite reads ANALYZE's statistics as a connection opens).
        engine = make_engine(url)
        sessions = session_factory(engine)
        rng = random.Random(11)
        addresses = {k: v for k, v in world.addresses.items() if v}
        mix = {k: w for k, w in VIEW_MIX.items() if k in addresses or k == "unknown"}

        def calls(views: int, searches: int) -> list[tuple[str, str, str]]:
            out = [("view", k, a) for k, a in draw(rng, addresses, mix, views)]
            out += [("search", k, q) for k, q in draw(rng, world.queries, SEARCH_MIX, searches)]
            rng.shuffle(out)
            return out

        run_service(sessions, actor, calls(200, 100))  # warm-up
        measured = calls(args.views, args.searches)
        load_before = os.getloadavg()[0]
        results = {"service": run_service(sessions, actor, measured)}
        http_note = "not measured (--no-http)"
        if not args.no_http:
            http_note = measure_http(url, key, measured, addresses, results)
        console.print(table(f"people view and search, {mirrored:,} records in the mirror, "
                            f"{backend} (ms; records: a call's Leads/Contacts or hits; "
                            "related: Account + Opportunities + history items)", results))
        console.print(f"HTTP: {http_note}")
        console.print(f"load average (1 min) {load_before:.1f} as measuring began, "
                      f"{os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} CPUs")
        p50 = pct(results["service"]["view"]["all"].ms, 0.5)
        console.print(f"people view p50 {p50:.2f} ms (service): target p50 ≤ {TARGET_MS:g} ms: "
                      f"{'met' if p50 <= TARGET_MS else 'missed'}")
        if args.profile:
            profile(engine, sessions, actor, measured)
        engine.dispose()


def measure_http(url: str, key: str, measured: list[tuple[str, str, str]],
                 addresses: dict[str, list[str]],
                 results: dict[str, dict[str, dict[str, Timing]]]) -> str:
    """`tether serve --no-worker` on the same database, the same calls over HTTP (after a
    warm-up); what was measured, or why not."""
    with tempfile.TemporaryDirectory(prefix="people-bench-serve-") as data_dir:
        env = {**os.environ, "TETHER_DATABASE_URL": url, "TETHER_DATA_DIR": data_dir,
               "TETHER_SECRET_KEY": Fernet.generate_key().decode(),
               "TETHER_SCHEDULE_SYNCS": "false"}
        try:
            proc, base = start_serve(["--no-worker"], env)
        except RuntimeError as exc:
            return f"not measured: tether serve did not start ({exc})"
        try:
            why = http_probe(base, key, addresses["Contact"][0])
            if why is not None:
                return f"not measured: {why} (the endpoint is a stub?); service functions only"
            run_http(base, key, measured[:300])  # warm-up
            results["HTTP"] = run_http(base, key, measured)
            return ("GET /api/v1/people and /api/v1/people/search on `tether serve "
                    "--no-worker`, one keep-alive connection, server and transfer")
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            return f"failed: {exc}"
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()

"""Realistic sample data: accounts with contacts, leads (some converted), opportunities with
contact roles, owners spread over several users.

Seeding writes straight to the store, without the per-record checks of the API, so that
hundreds of thousands of rows take seconds.  It is a data load all the same: as Salesforce fires
triggers for a load 200 records at a time, each 200 rows are one transaction whose changes the
real-time package posts (one delivery each), exactly as it does for an API transaction.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from faker import Faker

from sfemu.behaviour import derived
from sfemu.core import DEMO_PASSWORD, Emulator
from sfemu.dml import Change, Dml
from sfemu.org.model import Org
from sfemu.schema.standard import LEAD_STATUSES, OPPORTUNITY_STAGES
from sfemu.store import Row

BATCH = 5000  # rows built before they are written
TRIGGER_BATCH = 200  # rows a trigger sees at once in a data load, so rows a transaction writes
_POOL = 400


class _Pools:
    """Faker is slow per call; draw from pools it filled once, combined at random."""

    def __init__(self, seed: int) -> None:
        fake = Faker()
        fake.seed_instance(seed)
        self.first = [fake.first_name() for _ in range(_POOL)]
        self.last = [fake.last_name() for _ in range(_POOL)]
        self.companies = [fake.company() for _ in range(_POOL)]
        self.cities = [fake.city() for _ in range(60)]
        self.states = [fake.state_abbr() for _ in range(30)]
        self.titles = [fake.job()[:120] for _ in range(80)]
        self.streets = [fake.street_address() for _ in range(_POOL)]
        self.words = [fake.word().capitalize() for _ in range(200)]


def _seed_users(emu: Emulator, org: Org) -> list[str]:
    users = [row.id for row in emu.store.scan("User", org.id)]
    if len(users) >= 4:
        return users
    profile = next(row.id for row in emu.store.scan("Profile", org.id)
                   if row.data["Name"] == "Standard User")
    suffix = ".sandbox" if org.is_sandbox else ""
    for i, (first, last) in enumerate([("Sam", "Seller"), ("Lee", "Closer"),
                                       ("Kim", "Hunter")], start=1):
        username = f"sales{i}@{org.name.removesuffix('-sandbox')}.example{suffix}"
        if emu.user_by_username(org, username) is None:
            emu.create_user(org, username, last, profile, DEMO_PASSWORD, first_name=first)
    return [row.id for row in emu.store.scan("User", org.id)]


def seed_org(emu: Emulator, org: Org, *, accounts: int = 0, contacts: int = 0, leads: int = 0,
             opportunities: int = 0, seed: int = 0) -> dict[str, int]:
    for name, n in (("accounts", accounts), ("contacts", contacts), ("leads", leads),
                    ("opportunities", opportunities)):
        if not isinstance(n, int) or n < 0 or n > 2_000_000:
            raise ValueError(f"{name} must be an integer from 0 to 2000000")
    if (contacts or opportunities) and not accounts:
        accounts = max(1, (contacts + opportunities) // 10)
    rng = random.Random(seed)
    pools = _Pools(seed)
    schema = emu.schema(org)
    with emu.store.transaction():
        owners = _seed_users(emu, org)
    session = emu.session_for(org, owners[0])
    dml = Dml(emu, session, system=True)
    domain_of: dict[str, str] = {}
    run = emu.store.next_counter(f"seed:{org.id}")
    today = emu.now().date()

    def make(sobject: str, values: dict[str, Any], rid: str) -> dict[str, Any]:
        obj = schema.objects[sobject]
        stamp = emu.stamp()
        data = {f.name: f.default if f.defaulted_on_create else None
                for f in obj.fields.values()}
        owner = rng.choice(owners)
        data.update({"Id": rid, "IsDeleted": False, "CreatedDate": stamp,
                     "CreatedById": owners[0], "LastModifiedDate": stamp,
                     "LastModifiedById": owners[0], "SystemModstamp": stamp})
        if obj.owned:
            data["OwnerId"] = owner
        data.update(values)
        derived.apply(dml, obj, data, None)
        return data

    def flush(sobject: str, rows: list[Row]) -> None:
        for start in range(0, len(rows), TRIGGER_BATCH):
            chunk = rows[start:start + TRIGGER_BATCH]
            with emu.store.transaction():
                emu.store.insert(sobject, chunk)
                for row in chunk:
                    emu.store.record_change(Change(org.id, sobject, "insert", row.data))
        rows.clear()

    account_ids = emu.new_ids(org, "Account", accounts) if accounts else []
    rows: list[Row] = []
    for i, rid in enumerate(account_ids):
        company = f"{rng.choice(pools.companies)}"
        slug = "".join(ch for ch in company.lower() if ch.isalnum())[:20] or "company"
        domain_of[rid] = f"{slug}{run}x{i}.example"
        rows.append(Row(rid, org.id, False, make("Account", {
            "Name": company, "Type": rng.choice(["Prospect", "Customer - Direct", "Partner"]),
            "BillingCity": rng.choice(pools.cities), "BillingState": rng.choice(pools.states),
            "BillingCountry": "USA", "Phone": f"+1 555 {rng.randrange(1000000):07d}",
            "Website": f"https://{domain_of[rid]}",
            "Industry": rng.choice(["Technology", "Finance", "Healthcare", "Retail",
                                    "Manufacturing", "Media"]),
            "NumberOfEmployees": rng.randrange(5, 20000),
            "AnnualRevenue": float(rng.randrange(1, 500) * 100000)}, rid)))
        if len(rows) >= BATCH:
            flush("Account", rows)
    flush("Account", rows)

    contact_ids = emu.new_ids(org, "Contact", contacts) if contacts else []
    contacts_of: dict[str, list[str]] = {}
    contact_people: list[tuple[str, dict[str, Any]]] = []
    for i, rid in enumerate(contact_ids):
        account = account_ids[i % len(account_ids)]
        first, last = rng.choice(pools.first), rng.choice(pools.last)
        email = f"{first}.{last}.{i}@{domain_of[account]}".lower().replace("'", "")
        values = {"AccountId": account, "FirstName": first, "LastName": last, "Email": email,
                  "Title": rng.choice(pools.titles), "Phone": f"+1 555 {rng.randrange(10**7):07d}",
                  "MailingCity": rng.choice(pools.cities), "LeadSource": rng.choice(
                      ["Web", "Phone Inquiry", "Partner Referral", "Other"])}
        rows.append(Row(rid, org.id, False, make("Contact", values, rid)))
        contacts_of.setdefault(account, []).append(rid)
        if i % 20 == 0:
            contact_people.append((rid, values))
        if len(rows) >= BATCH:
            flush("Contact", rows)
    flush("Contact", rows)

    lead_ids = emu.new_ids(org, "Lead", leads) if leads else []
    converted = 0
    for i, rid in enumerate(lead_ids):
        first, last = rng.choice(pools.first), rng.choice(pools.last)
        company = rng.choice(pools.companies)
        lead: dict[str, Any] = {
            "FirstName": first, "LastName": last, "Company": company,
            "Email": f"{first}.{last}.l{i}.{run}@lead-{rng.randrange(10**6)}.example".lower()
            .replace("'", ""),
            "Title": rng.choice(pools.titles), "City": rng.choice(pools.cities),
            "Status": rng.choice(LEAD_STATUSES[:2]),
            "LeadSource": rng.choice(["Web", "Purchased List", "Other"])}
        # One lead in ten was converted into one of the seeded contacts (same person).
        if contact_people and i % 10 == 9:
            contact_id, person = contact_people[converted % len(contact_people)]
            lead.update({"FirstName": person["FirstName"], "LastName": person["LastName"],
                           "Email": person["Email"], "IsConverted": True,
                           "Status": "Closed - Converted",
                           "ConvertedDate": (today - dt.timedelta(days=rng.randrange(1, 90)))
                           .isoformat(), "ConvertedContactId": contact_id,
                           "ConvertedAccountId": person["AccountId"]})
            converted += 1
        rows.append(Row(rid, org.id, False, make("Lead", lead, rid)))
        if len(rows) >= BATCH:
            flush("Lead", rows)
    flush("Lead", rows)

    opp_ids = emu.new_ids(org, "Opportunity", opportunities) if opportunities else []
    role_rows: list[Row] = []
    roles = 0
    stages = list(OPPORTUNITY_STAGES)
    for i, rid in enumerate(opp_ids):
        account = account_ids[i % len(account_ids)]
        close = today + dt.timedelta(days=rng.randrange(-120, 180))
        stage = rng.choice(stages)
        rows.append(Row(rid, org.id, False, make("Opportunity", {
            "AccountId": account, "Name": f"{rng.choice(pools.words)} "
                                          f"{rng.choice(['Renewal', 'Expansion', 'Pilot'])}",
            "StageName": stage, "CloseDate": close.isoformat(),
            "Amount": float(rng.randrange(5, 500) * 1000), "Type": "New Customer"}, rid)))
        people = contacts_of.get(account, [])
        for n, contact in enumerate(rng.sample(people, min(len(people), rng.choice([1, 2])))):
            ocr_id = emu.new_id(org, "OpportunityContactRole")
            role_rows.append(Row(ocr_id, org.id, False, make("OpportunityContactRole", {
                "OpportunityId": rid, "ContactId": contact, "IsPrimary": n == 0,
                "Role": rng.choice(["Decision Maker", "Evaluator", "Economic Buyer"])},
                ocr_id)))
            roles += 1
        if len(rows) >= BATCH:
            flush("Opportunity", rows)
            flush("OpportunityContactRole", role_rows)
    flush("Opportunity", rows)
    flush("OpportunityContactRole", role_rows)
    return {"accounts": len(account_ids), "contacts": len(contact_ids), "leads": len(lead_ids),
            "converted_leads": converted, "opportunities": len(opp_ids),
            "opportunity_contact_roles": roles, "users": len(owners)}

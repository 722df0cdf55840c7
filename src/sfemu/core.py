"""The emulator's state: the store, the orgs, their schemas and users, sessions and tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sfemu.behaviour.values import format_datetime, parse_datetime
from sfemu.errors import invalid_session
from sfemu.org.ids import KEY_PREFIXES, make_id
from sfemu.org.model import DEFAULT_DAILY_LIMIT, Org, ProfilePerms
from sfemu.schema import FieldDef, ObjectDef, OrgSchema, standard_objects
from sfemu.schema.model import PicklistValue
from sfemu.schema.standard import system_fields
from sfemu.store import Row, Store

DEMO_PASSWORD = "tether-demo"  # noqa: S105 - the documented password of the built-in users


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def hash_password(password: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 50_000).hex()
    return f"{salt}${digest}"


def check_password(password: str, stored: str) -> bool:
    salt, _, _ = stored.partition("$")
    return hmac.compare_digest(hash_password(password, salt), stored)


@dataclass
class Session:
    """Who is calling: an org and one of its users, with the user's profile."""

    org: Org
    user_id: str
    username: str
    profile: ProfilePerms
    token_hash: str = ""


class Emulator:
    def __init__(self, store: Store, *, base_url: str = "http://127.0.0.1:8765",
                 token_ttl: float = 7200.0, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.base_url = base_url
        self.token_ttl = token_ttl
        self.clock = clock
        self._orgs: dict[str, Org] = {}
        self._schemas: dict[str, OrgSchema] = {}
        self.usage_by_user: Counter[str] = Counter()
        self.usage_total = 0
        self.listeners: list[Callable[[], None]] = []
        for (data,) in store.execute("SELECT data FROM org").fetchall():
            org = Org.from_json(json.loads(data))
            self._orgs[org.id] = org
        for obj in standard_objects().values():
            store.ensure_table(obj.name, [f.name for f in obj.fields.values() if f.indexed])

    # -- time ---------------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def stamp(self, previous: str | None = None) -> str:
        """A SystemModstamp: now, at Salesforce's millisecond resolution.  A record's next
        stamp is always later than its ``previous`` one, so two changes within a millisecond
        stay ordered (without letting the clock run ahead for everyone else)."""
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        if previous is not None:
            floor = parse_datetime(previous) + dt.timedelta(milliseconds=1)
            now = max(now, floor)
        return format_datetime(now)

    # -- orgs ---------------------------------------------------------------------------------
    def orgs(self) -> list[Org]:
        return list(self._orgs.values())

    def org_by_name(self, name: str) -> Org:
        for org in self._orgs.values():
            if org.name == name or org.id == name or org.id[:15] == name:
                return org
        raise KeyError(name)

    def org(self, org_id: str) -> Org:
        return self._orgs[org_id]

    def save_org(self, org: Org) -> None:
        self._orgs[org.id] = org
        self.store.put_doc("org", org.id, org.to_json(), name=org.name)
        self._schemas.pop(org.id, None)
        record = self.store.get_many("Organization", org.id, [org.id]).get(org.id)
        if record is not None and record.data["OrganizationType"] != f"{org.edition} Edition":
            record.data["OrganizationType"] = f"{org.edition} Edition"
            record.data["SystemModstamp"] = self.stamp(record.data["SystemModstamp"])
            self.store.update("Organization", [record])

    def create_org(self, name: str, *, edition: str = "Enterprise", sandbox_of: str | None = None,
                   daily_limit: int | None = None, admin_username: str | None = None,
                   standard_username: str | None = None) -> Org:
        n = self.store.next_counter("org")
        org_id = make_id(KEY_PREFIXES["Organization"], "5g", n)
        org = Org(id=org_id, name=name, edition=edition, is_sandbox=sandbox_of is not None,
                  sandbox_of=sandbox_of,
                  daily_limit=daily_limit or DEFAULT_DAILY_LIMIT.get(edition, 100_000))
        with self.store.transaction():
            self.save_org(org)
            self.store.insert("Organization", [Row(org.id, org.id, False, self._system_record(
                org, "Organization", org.id, None, {
                    "Name": name, "OrganizationType": f"{edition} Edition",
                    "IsSandbox": org.is_sandbox, "InstanceName": "EMU1",
                    "LanguageLocaleKey": "en_US", "TimeZoneSidKey": "America/Los_Angeles",
                    "Country": "US"}))])
            profiles = {}
            for pname in org.profiles:
                pid = self.new_id(org, "Profile")
                profiles[pname] = pid
                self.store.insert("Profile", [Row(pid, org.id, False, self._system_record(
                    org, "Profile", pid, None, {"Name": pname}))])
            if admin_username:
                self.create_user(org, admin_username, "Admin", profiles["System Administrator"],
                                 DEMO_PASSWORD, first_name="Ada")
            if standard_username:
                self.create_user(org, standard_username, "Rep", profiles["Standard User"],
                                 DEMO_PASSWORD, first_name="Ravi")
        return org

    def ensure_builtin_orgs(self) -> None:
        names = {o.name for o in self._orgs.values()}
        if "acme" not in names:
            self.create_org("acme", admin_username="admin@acme.example",
                            standard_username="rep@acme.example")
        if "acme-sandbox" not in names:
            self.create_org("acme-sandbox", sandbox_of="acme",
                            admin_username="admin@acme.example.sandbox",
                            standard_username="rep@acme.example.sandbox")

    # -- schema -------------------------------------------------------------------------------
    def schema(self, org: Org) -> OrgSchema:
        cached = self._schemas.get(org.id)
        if cached is not None:
            return cached
        objects = standard_objects()
        for spec in org.custom_objects:
            obj = custom_object_def(spec)
            objects[obj.name] = obj
        for spec in org.custom_fields:
            target = objects.get(spec["object"])
            if target is not None:
                fdef = custom_field_def(spec)
                target.fields[fdef.name] = fdef
        activity_targets = [o.name for o in objects.values()
                            if o.allow_activities and o.name not in ("Contact",)]
        for act in ("Task", "Event"):
            objects[act].fields["WhatId"].reference_to = sorted(
                set(activity_targets) - {"Lead"})
        schema = OrgSchema(objects)
        schema.link_children()
        for obj in objects.values():
            self.store.ensure_table(obj.name, [f.name for f in obj.fields.values() if f.indexed])
        self._schemas[org.id] = schema
        return schema

    def new_id(self, org: Org, sobject: str) -> str:
        return self.new_ids(org, sobject, 1)[0]

    def new_ids(self, org: Org, sobject: str, count: int) -> list[str]:
        obj = self.schema(org).objects.get(sobject)
        prefix = obj.key_prefix if obj is not None else KEY_PREFIXES[sobject]
        first = self.store.next_counter(f"id:{prefix}", count)
        return [make_id(prefix, org.pod, first + i) for i in range(count)]

    def _system_record(self, org: Org, sobject: str, rid: str, user_id: str | None,
                       values: dict[str, Any]) -> dict[str, Any]:
        stamp = self.stamp()
        data = {"Id": rid, "IsDeleted": False, "CreatedDate": stamp, "CreatedById": user_id,
                "LastModifiedDate": stamp, "LastModifiedById": user_id, "SystemModstamp": stamp}
        data.update(values)
        return data

    # -- users --------------------------------------------------------------------------------
    def create_user(self, org: Org, username: str, last_name: str, profile_id: str,
                    password: str, first_name: str = "") -> str:
        uid = self.new_id(org, "User")
        name = f"{first_name} {last_name}".strip()
        values = {"Username": username, "LastName": last_name, "FirstName": first_name or None,
                  "Name": name, "Email": username.removesuffix(".sandbox"),
                  "Alias": (first_name[:1] + last_name)[:8].lower(), "IsActive": True,
                  "ProfileId": profile_id, "TimeZoneSidKey": "America/Los_Angeles",
                  "Title": None, "CompanyName": org.name, "Department": None, "Phone": None}
        data = self._system_record(org, "User", uid, uid, values)
        self.store.insert("User", [Row(uid, org.id, False, data)])
        self.store.execute(
            "INSERT INTO credential(user_id, org_id, username, password_hash) VALUES (?,?,?,?)",
            [uid, org.id, username.lower(), hash_password(password)])
        return uid

    def authenticate(self, username: str, password: str) -> tuple[Org, str] | None:
        row = self.store.execute(
            "SELECT user_id, org_id, password_hash FROM credential WHERE username = ?",
            [username.strip().lower()]).fetchone()
        if row is None or not check_password(password, row[2]):
            return None
        return self._orgs[row[1]], row[0]

    def authenticate_exists(self, username: str) -> bool:
        return self.store.execute("SELECT 1 FROM credential WHERE username = ?",
                                  [username.strip().lower()]).fetchone() is not None

    def session_for(self, org: Org, user_id: str, token_hash: str = "") -> Session:
        user = self.store.get_many("User", org.id, [user_id])[user_id].data
        profile_name = self.store.get_many("Profile", org.id, [user["ProfileId"]])[
            user["ProfileId"]].data["Name"]
        return Session(org, user_id, user["Username"], org.profiles[profile_name], token_hash)

    def user(self, org: Org, user_id: str) -> dict[str, Any]:
        return self.store.get_many("User", org.id, [user_id])[user_id].data

    def user_by_username(self, org: Org, username: str) -> dict[str, Any] | None:
        for row in self.store.scan("User", org.id, lookups={"Username": [username]}):
            return row.data
        return None

    # -- tokens -------------------------------------------------------------------------------
    def issue_token(self, org: Org, user_id: str, kind: str, *, ttl: float | None = None,
                    data: dict[str, Any] | None = None) -> str:
        if kind == "access":
            token = f"{org.id[:15]}!AQ{secrets.token_urlsafe(48)}"
        else:
            token = f"5Aep{secrets.token_urlsafe(60)}"
        expires = None if ttl is None else self.clock() + ttl
        self.store.execute(
            "INSERT INTO token(token_hash, kind, org_id, user_id, expires_at, data) "
            "VALUES (?,?,?,?,?,?)",
            [hash_secret(token), kind, org.id, user_id, expires, json.dumps(data or {})])
        return token

    def token_record(self, token: str, kind: str) -> dict[str, Any] | None:
        row = self.store.execute(
            "SELECT org_id, user_id, expires_at, revoked, data FROM token "
            "WHERE token_hash = ? AND kind = ?", [hash_secret(token), kind]).fetchone()
        if row is None or row[3] or (row[2] is not None and row[2] < self.clock()):
            return None
        return {"org_id": row[0], "user_id": row[1], "data": json.loads(row[4]),
                "token_hash": hash_secret(token)}

    def revoke_token(self, token: str) -> bool:
        h = hash_secret(token)
        cur = self.store.execute(
            "UPDATE token SET revoked = 1 WHERE token_hash = ? AND revoked = 0", [h])
        # Revoking a refresh token also ends the access tokens issued from it.
        self.store.execute(
            "UPDATE token SET revoked = 1 WHERE kind = 'access' AND "
            "json_extract(data, '$.refresh_hash') = ?", [h])
        return cur.rowcount > 0

    def session_from_bearer(self, token: str) -> Session:
        rec = self.token_record(token, "access")
        if rec is None:
            raise invalid_session()
        org = self._orgs[rec["org_id"]]
        return self.session_for(org, rec["user_id"], rec["token_hash"])

    # -- API usage ----------------------------------------------------------------------------
    def count_call(self, session: Session) -> tuple[int, int]:
        """Count one API call against the org's daily limit; returns (used, max)."""
        org = session.org
        today = self.now().date().isoformat()
        if org.api_usage_day != today:
            org.api_usage_day, org.api_usage = today, 0
        org.api_usage += 1
        self.usage_total += 1
        self.usage_by_user[session.username] += 1
        self.store.put_doc("org", org.id, org.to_json(), name=org.name)
        return org.api_usage, org.daily_limit


def custom_field_def(spec: dict[str, Any]) -> FieldDef:
    name = spec["name"]
    if not name.endswith("__c"):
        raise ValueError(f"custom field names end with __c: {name}")
    ftype = spec.get("type", "string")
    kw: dict[str, Any] = {
        "label": spec.get("label", ""), "custom": True,
        "external_id": bool(spec.get("externalId", False)),
        "unique": bool(spec.get("unique", False)),
        # Salesforce offers case sensitivity only with uniqueness.
        "case_sensitive": bool(spec.get("unique", False)) and bool(
            spec.get("caseSensitive", False)),
        "nillable": not spec.get("required", False),
    }
    if ftype in ("string", "textarea", "email", "phone", "url") and spec.get("length"):
        kw["length"] = int(spec["length"])
    if ftype in ("picklist", "multipicklist"):
        kw["picklist"] = [PicklistValue(v) for v in spec.get("values", [])]
        kw["restricted_picklist"] = bool(spec.get("restricted", False))
    if ftype == "reference":
        kw["reference_to"] = list(spec["referenceTo"])
        kw["relationship_name"] = spec.get("relationshipName") or name[:-3] + "__r"
    if ftype == "boolean":
        kw.update(nillable=False, defaulted_on_create=True, default=bool(spec.get("default")))
    return FieldDef(name=name, type=ftype, **kw)


def custom_object_def(spec: dict[str, Any]) -> ObjectDef:
    name = spec["name"]
    fields = system_fields(owned=True)
    fields.append(FieldDef("Name", "string", label=f"{spec.get('label', name)} Name", length=80,
                           nillable=False))
    fields.extend(custom_field_def(f) for f in spec.get("fields", []))
    return ObjectDef(name=name, label=spec.get("label", name[:-3]),
                     label_plural=spec.get("labelPlural", spec.get("label", name[:-3]) + "s"),
                     key_prefix=spec["keyPrefix"], fields={f.name: f for f in fields},
                     custom=True, allow_activities=bool(spec.get("allowActivities", False)),
                     layout_required=["Name"])

"""The admin side of the connection: Sync User, custom objects, disconnect; and an audit that
resumes after an interruption; and `tether sync` from the command line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.conftest import Sfemu
from tests.e2e.conftest import Tether
from tether.config import Settings
from tether.salesforce import auth
from tether.security import Vault
from tether.services import connection
from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory
from tether.store.models import MirrorRecord, SyncState
from tether.sync import pull


def test_sync_user_custom_objects_and_disconnect(tether: Tether) -> None:
    sf = tether.sfemu
    org = sf.new_org()
    for name, activities in (("Project__c", True), ("Invoice__c", False)):
        r = sf.admin("POST", f"/orgs/{org['name']}/objects", json={
            "name": name, "label": name[:-3], "allowActivities": activities,
            "fields": [{"name": "Account__c", "type": "reference", "referenceTo": ["Account"]},
                       {"name": "Note__c", "type": "string"}]})
        assert r.status_code == 201
    ws_id, admin_key = tether.new_workspace("Acme", org["admin"])
    rep_key = tether.add_member(ws_id, org["rep"])
    assert "Salesforce connected" in tether.connect(admin_key, org["admin"]).text
    with tether.client(admin_key) as c:
        members = {m["email"]: m for m in c.get("/api/v1/members").json()}
        rep_id = members[org["rep"]]["id"]
        # The Sync User must have a working connection.
        refused = c.put("/api/v1/salesforce/sync-user", json={"membership_id": rep_id})
        assert refused.status_code == 422 and "connect first" in refused.json()["detail"]
        assert "Salesforce connected" in tether.connect(rep_key, org["rep"]).text
        chosen = c.put("/api/v1/salesforce/sync-user", json={"membership_id": rep_id})
        assert chosen.status_code == 200 and chosen.json()["salesforce_username"] == org["rep"]
        assert c.get("/api/v1/workspace").json()["salesforce"][
            "sync_user_membership_id"] == rep_id

        # Custom objects: only activity-enabled ones, with lookups to the four objects.
        no_acts = c.post("/api/v1/salesforce/custom-objects",
                         json={"sobject": "Invoice__c", "relationship_fields": ["Account__c"]})
        assert no_acts.status_code == 422 and "Allow Activities" in no_acts.json()["detail"]
        not_lookup = c.post("/api/v1/salesforce/custom-objects",
                            json={"sobject": "Project__c", "relationship_fields": ["Note__c"]})
        assert not_lookup.status_code == 422 and "not a lookup" in not_lookup.json()["detail"]
        missing = c.post("/api/v1/salesforce/custom-objects",
                         json={"sobject": "Nope__c", "relationship_fields": ["Account__c"]})
        assert missing.status_code == 422
        added = c.post("/api/v1/salesforce/custom-objects",
                       json={"sobject": "Project__c", "relationship_fields": ["Account__c"]})
        assert added.status_code == 201, added.text
        assert added.json()["relationship_fields"] == {"Account__c": "Account"}
        with tether.client(rep_key) as member:
            assert member.post("/api/v1/salesforce/custom-objects", json={
                "sobject": "Project__c", "relationship_fields": ["Account__c"]}
                ).status_code == 403
        # A role may now log to it; the audit mirrors it.
        role = c.post("/api/v1/roles", json={"name": "AE", "settings": {
            "custom_objects": ["Project__c"]}})
        assert role.status_code == 201
        acct = sf.admin("POST", f"/orgs/{org['name']}/records/Account",
                        json={"Name": "Globex"}).json()["id"]
        sf.admin("POST", f"/orgs/{org['name']}/records/Project__c",
                 json={"Name": "Rollout", "Account__c": acct})
        audit = c.post("/api/v1/salesforce/sync", json={"kind": "audit"}).json()
        assert audit["outcome"] == "succeeded"

        # Disconnecting revokes the tokens in Salesforce and clears the Sync User.
        assert c.delete("/api/v1/salesforce/connection").status_code == 204
        assert c.get("/api/v1/salesforce/connection").json() == {"connected": False}
    with tether.client(rep_key) as member:
        assert member.delete("/api/v1/salesforce/connection").status_code == 204
    with tether.client(admin_key) as c:
        ws_json = c.get("/api/v1/workspace").json()
        assert ws_json["salesforce"]["sync_user_membership_id"] is None
        again = c.post("/api/v1/salesforce/sync", json={"kind": "interval"}).json()
        assert again["outcome"] == "failed" and "Sync User" in again["error"]
    engine = make_engine(tether.settings.effective_database_url)
    with session_factory(engine)() as db:
        projects = db.query(MirrorRecord).filter_by(workspace_id=ws_id,
                                                    sobject="Project__c").all()
        assert [p.data["Name"] for p in projects] == ["Rollout"]
    engine.dispose()


def _connected_context(sfemu: Sfemu, url: str, tmp: Path) -> tuple[Any, Settings, str, str]:
    key = Fernet.generate_key().decode()
    settings = Settings(database_url=url, secret_key=key, salesforce_login_url=sfemu.base_url,
                        salesforce_verify=sfemu.ca_file, data_dir=tmp)
    sessions = session_factory(make_engine(url))
    org = sfemu.new_org()

    async def login() -> auth.Credentials:
        async with connection.http_client(settings) as http:
            return await auth.password_login(http, connection.oauth_app(settings, False),
                                             username=org["admin"], password="tether-demo")
    creds = asyncio.run(login())
    with sessions() as db:
        actor = ws.create_workspace(db, name="Acme", admin_email=org["admin"],
                                    admin_password=None)
        connection.save_credentials(db, Vault(key), actor, creds, org["admin"], False)
        db.commit()
    return sessions, settings, actor.workspace_id, org["name"]


def test_an_interrupted_audit_resumes_its_bulk_job(sfemu: Sfemu, migrated_url: str,
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    sessions, settings, ws_id, org = _connected_context(sfemu, migrated_url, tmp_path)
    sfemu.admin("POST", f"/orgs/{org}/seed", json={"accounts": 10, "contacts": 3000})
    monkeypatch.setattr(pull, "AUDIT_BATCH", 500)
    vault = Vault(settings.effective_secret_key())

    class Stop(Exception):
        pass

    def stop_after_1000(sobject: str, done: int, total: int | None) -> None:
        if done >= 1000:
            raise Stop

    async def audit(progress: Any) -> int:
        counter = pull.CallCounter()
        async with connection.sync_user_client(sessions, vault, settings, ws_id,
                                               on_usage=counter) as client:
            ctx = pull.PullContext(sessions, client, ws_id, counter, progress)
            return await pull.audit(ctx, ["Contact"])

    with pytest.raises(Stop):
        asyncio.run(audit(stop_after_1000))
    with sessions() as db:
        state = db.get(SyncState, (ws_id, "Contact"))
        assert state is not None and state.audit_job_id and state.needs_audit
        job_id = state.audit_job_id
        assert db.query(MirrorRecord).filter_by(workspace_id=ws_id).count() == 1000
    assert asyncio.run(audit(None)) == 3000  # the same job, read again from its page
    with sessions() as db:
        state = db.get(SyncState, (ws_id, "Contact"))
        assert state is not None and state.audit_job_id is None and not state.needs_audit
        assert db.query(MirrorRecord).filter_by(workspace_id=ws_id).count() == 3000
    token = sfemu.token(f"admin@{org}.example")
    with sfemu.client(headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.get(f"/services/data/v59.0/jobs/query/{job_id}").status_code == 404  # done


def test_tether_sync_command(sfemu: Sfemu, migrated_url: str, tmp_path: Path) -> None:
    _, settings, _, org = _connected_context(sfemu, migrated_url, tmp_path)
    sfemu.admin("POST", f"/orgs/{org}/seed", json={"accounts": 5, "contacts": 40})
    env = {**os.environ, "TETHER_DATABASE_URL": migrated_url,
           "TETHER_SECRET_KEY": settings.secret_key or "",
           "TETHER_SALESFORCE_LOGIN_URL": sfemu.base_url,
           "TETHER_SALESFORCE_VERIFY": sfemu.ca_file}
    out = subprocess.run([sys.executable, "-m", "tether", "sync", "audit"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "audit succeeded: " in out.stdout and "Contact" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "tether", "sync", "everything"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0


def test_an_audit_whose_job_is_gone_starts_afresh(sfemu: Sfemu, migrated_url: str,
                                                  tmp_path: Path) -> None:
    sessions, settings, ws_id, org = _connected_context(sfemu, migrated_url, tmp_path)
    sfemu.admin("POST", f"/orgs/{org}/seed", json={"accounts": 2, "contacts": 30})
    with sessions() as db:  # as if a job older than Salesforce's seven days was pending
        db.merge(SyncState(workspace_id=ws_id, sobject="Contact", needs_audit=True,
                           audit_job_id="7505g0000000099AAA", audit_locator="MTAwMA"))
        db.commit()
    vault = Vault(settings.effective_secret_key())

    async def audit() -> int:
        counter = pull.CallCounter()
        async with connection.sync_user_client(sessions, vault, settings, ws_id,
                                               on_usage=counter) as client:
            return await pull.audit(pull.PullContext(sessions, client, ws_id, counter),
                                    ["Contact"])
    assert asyncio.run(audit()) == 30
    with sessions() as db:
        state = db.get(SyncState, (ws_id, "Contact"))
        assert state is not None and not state.needs_audit and state.audit_job_id is None

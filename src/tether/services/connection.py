"""Each member's Salesforce connection (C3, C4): the OAuth web-server flow with state and
PKCE, production or sandbox, the checks the guide's Requirements and Authorization sections
ask for, tokens encrypted at rest, disconnect with revoke, and clients for the sync."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tether.config import Settings
from tether.salesforce import auth
from tether.salesforce.auth import Credentials, OAuthApp
from tether.salesforce.client import SalesforceClient
from tether.salesforce.errors import SalesforceError
from tether.security import Vault, hash_secret
from tether.services.errors import Conflict, Invalid, NotFound
from tether.services.workspaces import Actor, actor_for_membership
from tether.store.models import (
    OAuthAttempt,
    SalesforceConnection,
    Workspace,
    as_utc,
    iso,
    utcnow,
)
from tether.sync import quota

ATTEMPT_TTL = dt.timedelta(minutes=15)
REQUIRED_OBJECTS = ("Account", "Contact", "Event", "Lead", "Opportunity", "Task")
API_EDITIONS_MESSAGE = ("API access comes with Salesforce Enterprise, Unlimited, Developer and "
                        "Performance editions; Professional and Essentials editions need the "
                        "API add-on")


def oauth_app(settings: Settings, sandbox: bool) -> OAuthApp:
    login = settings.salesforce_sandbox_login_url if sandbox else settings.salesforce_login_url
    return OAuthApp(settings.salesforce_client_id, settings.salesforce_client_secret,
                    login_url=login.rstrip("/"))


def http_client(settings: Settings, timeout: float = 60.0) -> httpx.AsyncClient:
    verify: Any = True
    if settings.salesforce_verify:
        verify = ssl.create_default_context(cafile=settings.salesforce_verify)
    return httpx.AsyncClient(timeout=timeout, verify=verify)


def redirect_uri(settings: Settings) -> str:
    return f"{settings.base_url}/oauth/salesforce/callback"


def start_connect(db: Session, vault: Vault, settings: Settings, actor: Actor,
                  sandbox: bool) -> str:
    """Remember a new attempt (state hashed, verifier encrypted); answer the authorize URL."""
    state = auth.new_state()
    verifier, challenge = auth.new_pkce()
    db.add(OAuthAttempt(state_hash=hash_secret(state), membership_id=actor.membership_id,
                        verifier_enc=vault.encrypt(verifier), sandbox=sandbox,
                        redirect_uri=redirect_uri(settings)))
    db.flush()
    # prompt=login: Salesforce always asks for the password, so nobody is connected silently
    # by following a link while already logged in to Salesforce.
    return auth.authorize_url(oauth_app(settings, sandbox), redirect_uri(settings), state,
                              challenge, prompt="login")


async def access_problem(client: SalesforceClient) -> str | None:
    """What stops Tether from working with this user and org, in words an admin can act on."""
    try:
        described = await client.describe_global()
    except SalesforceError as exc:
        if exc.error_code == "API_DISABLED_FOR_ORG":
            return f"This Salesforce org has no API access. {API_EDITIONS_MESSAGE}."
        raise
    flags = {o["name"]: o for o in described.get("sobjects", [])}
    missing: list[str] = []
    for name in REQUIRED_OBJECTS:
        entry = flags.get(name, {})
        lacks = [verb for verb, key in (("read", "queryable"), ("create", "createable"),
                                        ("edit", "updateable")) if not entry.get(key)]
        if lacks:
            missing.append(f"{' and '.join(lacks)} on {name}s")
    if missing:
        return ("Your Salesforce user lacks " + "; ".join(missing) + ". Tether needs read, "
                "create and edit on Accounts, Contacts, Events, Leads, Opportunities and "
                "Tasks: ask your Salesforce administrator to grant them to your profile or a "
                "permission set.")
    return None


async def finish_connect(sessions: sessionmaker[Session], vault: Vault, settings: Settings,
                         state: str, code: str, signed_in: str | None = None
                         ) -> dict[str, Any]:
    """The callback: check the state, exchange the code, check the org and user, save.
    ``signed_in`` is the membership the browser's dashboard session signs in, if any: a
    login started by someone else is refused (the state is bound to who started it)."""
    with sessions() as db:
        attempt = db.get(OAuthAttempt, hash_secret(state or ""))
        if attempt is None:
            raise Invalid("This sign-in link is unknown or was already used (OAuth state "
                          "mismatch). Start the connection again.", "state")
        db.delete(attempt)
        db.commit()
        if utcnow() - as_utc(attempt.created_at) > ATTEMPT_TTL:
            raise Invalid("This sign-in took too long. Start the connection again.", "state")
        if signed_in is not None and signed_in != attempt.membership_id:
            raise Invalid("This Salesforce sign-in was started by another Tether user, not "
                          "the one signed in to this browser. Start the connection again "
                          "from your Integrations page.", "state")
        actor = actor_for_membership(db, attempt.membership_id)
        workspace = db.get(Workspace, actor.workspace_id)
        assert workspace is not None
        bound_org = workspace.salesforce_org_id
    app = oauth_app(settings, attempt.sandbox)
    async with http_client(settings) as http:
        credentials = await auth.exchange_code(
            http, app, code=code, redirect_uri=attempt.redirect_uri,
            code_verifier=vault.decrypt(attempt.verifier_enc))
        identity = await auth.identity(http, credentials)
        async with SalesforceClient(credentials, app, http=http) as client:
            problem = await access_problem(client)
        if problem is None and bound_org and bound_org[:15] != credentials.org_id[:15]:
            problem = (f"This workspace is connected to Salesforce org {bound_org}; you "
                       f"signed in to org {credentials.org_id}. Sign in with your user of the "
                       "workspace's org.")
        if problem is not None:
            await _revoke_quietly(http, credentials)
            raise Invalid(problem, "salesforce")
    with sessions() as db:
        save_credentials(db, vault, actor, credentials, identity.username, attempt.sandbox)
        db.commit()
    return {"connected": True, "salesforce_username": identity.username,
            "org_id": credentials.org_id, "sandbox": attempt.sandbox}


async def _revoke_quietly(http: httpx.AsyncClient, credentials: Credentials) -> None:
    # Nothing is stored either way; a token that survives expires on its own.
    with contextlib.suppress(SalesforceError):
        await auth.revoke(http, credentials.refresh_token or credentials.access_token,
                          login_url=credentials.login_url)


def save_credentials(db: Session, vault: Vault, actor: Actor, credentials: Credentials,
                     username: str, sandbox: bool) -> None:
    """Store a member's tokens (encrypted) and bind the workspace to the org if unbound."""
    workspace = db.get(Workspace, actor.workspace_id)
    assert workspace is not None
    if workspace.salesforce_org_id is None:
        workspace.salesforce_org_id = credentials.org_id
        workspace.salesforce_instance_url = credentials.instance_url
        workspace.salesforce_is_sandbox = sandbox
    elif workspace.salesforce_org_id[:15] != credentials.org_id[:15]:
        raise Conflict("another member bound this workspace to a different org meanwhile")
    row = db.scalar(select(SalesforceConnection).where(
        SalesforceConnection.membership_id == actor.membership_id))
    if row is None:
        row = SalesforceConnection(workspace_id=actor.workspace_id,
                                   membership_id=actor.membership_id)
        db.add(row)
    row.login_url, row.instance_url = credentials.login_url, credentials.instance_url
    row.sandbox = sandbox
    row.org_id, row.salesforce_user_id = credentials.org_id, credentials.user_id
    row.salesforce_username = username
    row.access_token_enc = vault.encrypt(credentials.access_token)
    row.refresh_token_enc = vault.encrypt(credentials.refresh_token) \
        if credentials.refresh_token else None
    row.status, row.last_error, row.connected_at = "connected", None, utcnow()
    if workspace.sync_user_membership_id is None:
        workspace.sync_user_membership_id = actor.membership_id


def connection_json(row: SalesforceConnection | None) -> dict[str, Any]:
    if row is None:
        return {"connected": False}
    return {"connected": row.status == "connected", "status": row.status,
            "salesforce_username": row.salesforce_username,
            "salesforce_user_id": row.salesforce_user_id, "org_id": row.org_id,
            "instance_url": row.instance_url, "sandbox": row.sandbox,
            "last_error": row.last_error,
            "connected_at": iso(row.connected_at)}


def get_connection(db: Session, membership_id: str) -> SalesforceConnection | None:
    return db.scalar(select(SalesforceConnection).where(
        SalesforceConnection.membership_id == membership_id))


def _credentials(vault: Vault, row: SalesforceConnection) -> Credentials:
    return Credentials(
        instance_url=row.instance_url, access_token=vault.decrypt(row.access_token_enc),
        refresh_token=vault.decrypt(row.refresh_token_enc) if row.refresh_token_enc else None,
        identity_url=f"{row.login_url}/id/{row.org_id}/{row.salesforce_user_id}",
        issued_at=row.connected_at, org_id=row.org_id, user_id=row.salesforce_user_id,
        login_url=row.login_url)


async def disconnect(sessions: sessionmaker[Session], vault: Vault, settings: Settings,
                     actor: Actor) -> None:
    with sessions() as db:
        row = get_connection(db, actor.membership_id)
        if row is None:
            raise NotFound("you have no Salesforce connection")
        credentials = _credentials(vault, row)
        db.delete(row)
        workspace = db.get(Workspace, actor.workspace_id)
        if workspace is not None and workspace.sync_user_membership_id == actor.membership_id:
            workspace.sync_user_membership_id = None
        db.commit()
    async with http_client(settings) as http:
        await _revoke_quietly(http, credentials)


def client_for(sessions: sessionmaker[Session], vault: Vault, settings: Settings,
               membership_id: str, *, on_usage: Callable[[str, int, int], None] | None = None,
               http: httpx.AsyncClient | None = None, max_retries: int = 4
               ) -> SalesforceClient:
    """A client acting as this member; refreshed tokens are saved, usage goes to the ledger."""
    with sessions() as db:
        row = get_connection(db, membership_id)
        if row is None or row.status != "connected":
            raise Invalid("no working Salesforce connection for this member", "salesforce")
        credentials, workspace_id = _credentials(vault, row), row.workspace_id
        sandbox = row.sandbox

    # The callbacks write off the event loop: a write waiting for SQLite's lock must not
    # stall the loop, or the request holding that lock can never commit (a 30 s stall).
    def store_tokens(new: Credentials) -> None:
        with sessions() as db:
            current = get_connection(db, membership_id)
            if current is not None:
                current.access_token_enc = vault.encrypt(new.access_token)
                if new.refresh_token:
                    current.refresh_token_enc = vault.encrypt(new.refresh_token)
                db.commit()

    async def save_refresh(new: Credentials) -> None:
        await asyncio.to_thread(store_tokens, new)

    async def record_usage(org_id: str, used: int, maximum: int) -> None:
        await asyncio.to_thread(record_api_usage, sessions, workspace_id, used, maximum)
        if on_usage is not None:
            on_usage(org_id, used, maximum)

    # An http client made here is the Salesforce client's to close (one passed in is not).
    return SalesforceClient(credentials, oauth_app(settings, sandbox),
                            http=http or http_client(settings, settings.salesforce_timeout),
                            owns_http=http is None, on_refresh=save_refresh,
                            on_usage=record_usage, api_version=settings.salesforce_api_version,
                            max_retries=max_retries)


def record_api_usage(sessions: sessionmaker[Session], workspace_id: str, used: int,
                     maximum: int) -> None:
    """The usage ledger: Tether's calls today, and the org's usage as Salesforce last said."""
    with sessions() as db:
        row = quota.ledger_row(db, workspace_id)
        row.tether_calls += 1
        hour = str(utcnow().hour)
        row.hours = {**(row.hours or {}), hour: int((row.hours or {}).get(hour, 0)) + 1}
        row.org_used, row.org_max, row.updated_at = used, maximum, utcnow()
        db.commit()


def sync_user_client(sessions: sessionmaker[Session], vault: Vault, settings: Settings,
                     workspace_id: str, **kw: Any) -> SalesforceClient:
    with sessions() as db:
        workspace = db.get(Workspace, workspace_id)
        if workspace is None:
            raise NotFound("no such workspace")
        if workspace.sync_user_membership_id is None:
            raise Invalid("the workspace has no Sync User: an admin picks one among the "
                          "connected members", "sync_user")
        member = workspace.sync_user_membership_id
    return client_for(sessions, vault, settings, member, **kw)



def set_sync_user(db: Session, actor: Actor, membership_id: str) -> dict[str, str]:
    """The Sync User's connection is used for bulk reads (audit, interval, deletions); it must
    be a member of this workspace with a working connection."""
    actor.require_admin()
    member = actor_for_membership(db, membership_id)
    if member.workspace_id != actor.workspace_id:
        raise Invalid("no such member", "membership_id")
    row = db.scalar(select(SalesforceConnection).where(
        SalesforceConnection.membership_id == membership_id,
        SalesforceConnection.workspace_id == actor.workspace_id))
    if row is None or row.status != "connected":
        raise Invalid(f"{member.email} has no working Salesforce connection; they connect "
                      "first", "membership_id")
    workspace = db.get(Workspace, actor.workspace_id)
    assert workspace is not None
    workspace.sync_user_membership_id = membership_id
    return {"membership_id": membership_id, "salesforce_username": row.salesforce_username}

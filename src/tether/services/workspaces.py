"""Workspaces, members and invitations, API keys, roles, exclusions and effective settings
(C1, C2, C5)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tether.domain.exclusions import exclusion_reason, normalize_email
from tether.domain.matching import DEFAULT_TIE_BREAK, TieBreak
from tether.domain.settings import (
    EffectiveSettings,
    Plan,
    Role,
    SalesforceSettings,
    effective_settings,
)
from tether.security import hash_password, hash_secret, new_secret, secret_matches
from tether.services.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from tether.store.models import (
    ApiKey,
    CustomObjectConfig,
    Exclusion,
    Invitation,
    Membership,
    RoleRow,
    User,
    Workspace,
    as_utc,
    iso,
    utcnow,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8
INVITATION_LIFETIME = dt.timedelta(days=7)


R = TypeVar("R")


@dataclass(frozen=True)
class Actor:
    """Who is calling: a member of one workspace."""

    workspace_id: str
    membership_id: str
    user_id: str
    email: str
    is_admin: bool

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("only a workspace admin can do this")


def _check_email(email: str, field: str = "email") -> str:
    value = normalize_email(email)
    if not _EMAIL.match(value):
        raise Invalid(f"'{email}' is not an email address", field)
    return value


def _plan(value: str) -> Plan:
    try:
        return Plan(value)
    except ValueError:
        raise Invalid(f"plan must be one of {', '.join(p.value for p in Plan)}",
                      "plan") from None


def create_workspace(db: Session, *, name: str, admin_email: str, admin_password: str | None,
                     plan: str = "growth", admin_name: str = "") -> Actor:
    """A workspace with its first admin, made by the system itself (a new install, the demo,
    test set-up): see add_member for what happens to an existing user."""
    if not name.strip():
        raise Invalid("name is required", "name")
    workspace = Workspace(name=name.strip(), plan=_plan(plan).value)
    db.add(workspace)
    db.flush()
    role = RoleRow(workspace_id=workspace.id, name="Default",
                   settings=SalesforceSettings().to_json())
    db.add(role)
    db.flush()
    workspace.default_role_id = role.id
    return add_member(db, workspace.id, email=admin_email, password=admin_password,
                      access="admin", name=admin_name)


def user_by_email(db: Session, email: str) -> User | None:
    """The account of an address (addresses are kept normalized: one account each)."""
    return db.scalar(select(User).where(User.email == normalize_email(email)))


def add_member(db: Session, workspace_id: str, *, email: str, password: str | None,
               access: str = "member", name: str = "", role_id: str | None = None) -> Actor:
    """A membership made by the system, not by an admin: a first admin, the demo, test
    set-up.  Neither the API nor the dashboard reaches it (admins invite; see invite_member).
    A new address becomes a user with this password; an existing user joins as they are:
    their password and name are never set or changed here."""
    email = _check_email(email)
    user = user_by_email(db, email)
    if user is None:
        user = new_user(db, email=email, password=password, name=name)
    return join(db, workspace_id, user, access=access, role_id=role_id)


def new_user(db: Session, *, email: str, password: str | None, name: str = "") -> User:
    """A new account; the flush fails (IntegrityError) if the address has one already."""
    if password is not None and len(password) < MIN_PASSWORD:
        raise Invalid(f"the password needs at least {MIN_PASSWORD} characters", "password")
    user = User(email=_check_email(email), name=name.strip(),
                password_hash=hash_password(password) if password else None)
    db.add(user)
    db.flush()
    return user


def join(db: Session, workspace_id: str, user: User, *, access: str = "member",
         role_id: str | None = None) -> Actor:
    """The user becomes a member of the workspace."""
    _check_access(access)
    if db.scalar(select(Membership).where(Membership.workspace_id == workspace_id,
                                          Membership.user_id == user.id)):
        raise Conflict(f"{user.email} is already a member", "email")
    if role_id is not None:
        get_role_row(db, workspace_id, role_id)
    membership = Membership(workspace_id=workspace_id, user_id=user.id, access=access,
                            role_id=role_id)
    db.add(membership)
    db.flush()
    return Actor(workspace_id, membership.id, user.id, user.email, access == "admin")


def _check_access(access: str) -> None:
    if access not in ("admin", "member"):
        raise Invalid("access must be admin or member", "access")


# -- invitations ------------------------------------------------------------------------------
# An admin adds a member by inviting them: a single-use link shown once to the admin, whose
# token only the link holds (the table keeps its hash).  The invitee sets their own password,
# or signs in to their existing account, to accept (services/accounts.py); until then there is
# no membership, so an invitation grants nothing and touches nobody's account.
def invite_member(db: Session, actor: Actor, *, email: str, access: str = "member",
                  role_id: str | None = None) -> tuple[Invitation, str]:
    """A new invitation and its token (returned this once).  Inviting an address again
    revokes its earlier pending invitation: a lost link is replaced, never duplicated."""
    actor.require_admin()
    email = _check_email(email)
    _check_access(access)
    if role_id is not None:
        get_role_row(db, actor.workspace_id, role_id)
    if db.scalar(select(Membership.id).join(User, User.id == Membership.user_id).where(
            Membership.workspace_id == actor.workspace_id, User.email == email)):
        raise Conflict(f"{email} is already a member", "email")
    now = utcnow()
    for earlier in db.scalars(_pending(actor.workspace_id, now)
                              .where(Invitation.email == email)):
        earlier.revoked_at = now
    token = new_secret("ti")
    row = Invitation(workspace_id=actor.workspace_id, email=email, access=access,
                     role_id=role_id, token_hash=hash_secret(token),
                     invited_by=actor.membership_id, created_at=now,
                     expires_at=now + INVITATION_LIFETIME)
    db.add(row)
    db.flush()
    return row, token


def _pending(workspace_id: str, now: dt.datetime) -> Select[Invitation]:
    return select(Invitation).where(Invitation.workspace_id == workspace_id,
                                    Invitation.accepted_at.is_(None),
                                    Invitation.revoked_at.is_(None),
                                    Invitation.expires_at > now)


def invitation_json(row: Invitation) -> dict[str, Any]:
    return {"id": row.id, "email": row.email, "access": row.access, "role_id": row.role_id,
            "created_at": iso(row.created_at), "expires_at": iso(row.expires_at)}


def new_invitation_json(row: Invitation, token: str, base_url: str) -> dict[str, Any]:
    """What the admin is shown once: the link to hand to the invitee."""
    return {"id": row.id, "email": row.email, "access": row.access,
            "invite_url": f"{base_url}/invite/{token}",
            "expires_at": iso(row.expires_at)}


def list_invitations(db: Session, actor: Actor) -> list[dict[str, Any]]:
    """The workspace's pending invitations (not accepted, revoked or expired)."""
    actor.require_admin()
    rows = db.scalars(_pending(actor.workspace_id, utcnow()).order_by(Invitation.created_at))
    return [invitation_json(r) for r in rows]


def revoke_invitation(db: Session, actor: Actor, invitation_id: str) -> None:
    actor.require_admin()
    row = db.scalar(select(Invitation).where(Invitation.id == invitation_id,
                                             Invitation.workspace_id == actor.workspace_id))
    if row is None:
        raise NotFound("no such invitation")
    if row.accepted_at is not None:
        raise Conflict(f"this invitation was accepted: {row.email} is a member now")
    row.revoked_at = row.revoked_at or utcnow()


def owned_row(db: Session, actor: Actor, model: type[R], row_id: str, what: str) -> R:
    """A member's own row (a message, a task, a sequence), or any of the workspace's for an
    admin; another workspace's is not found, whoever asks."""
    row: Any = db.get(model, row_id)
    if row is None or row.workspace_id != actor.workspace_id or (
            row.membership_id != actor.membership_id and not actor.is_admin):
        raise NotFound(f"no {what} {row_id}")
    return cast(R, row)


def actor_for_membership(db: Session, membership_id: str) -> Actor:
    row = db.execute(select(Membership, User).join(User, User.id == Membership.user_id)
                     .where(Membership.id == membership_id)).first()
    if row is None:
        raise NotFound("no such member")
    m, u = row
    return Actor(m.workspace_id, m.id, u.id, u.email, m.access == "admin")


def member_by_email(db: Session, workspace_id: str, email: str) -> Actor:
    row = db.execute(select(Membership, User).join(User, User.id == Membership.user_id)
                     .where(Membership.workspace_id == workspace_id,
                            User.email == normalize_email(email))).first()
    if row is None:
        raise NotFound(f"{email} is not a member of this workspace")
    m, u = row
    return Actor(m.workspace_id, m.id, u.id, u.email, m.access == "admin")


# -- API keys ---------------------------------------------------------------------------------
def create_api_key(db: Session, actor: Actor) -> str:
    """A new key for the caller; only its hash is stored, so this is the one time it shows."""
    key = new_secret("tk")
    db.add(ApiKey(workspace_id=actor.workspace_id, membership_id=actor.membership_id,
                  prefix=key[:10], key_hash=hash_secret(key)))
    db.flush()
    return key


def authenticate_api_key(db: Session, key: str) -> Actor:
    row = db.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(key),
                                         ApiKey.revoked_at.is_(None)))
    # The lookup is by hash; compare again in constant time so timing tells nothing.
    if row is None or not secret_matches(key, row.key_hash):
        raise Unauthorized("invalid or revoked API key")
    # A write per request would serialize every API call on SQLite: once a minute is enough.
    now = utcnow()
    if row.last_used_at is None or as_utc(row.last_used_at) < now - dt.timedelta(minutes=1):
        row.last_used_at = now
    return actor_for_membership(db, row.membership_id)


def list_api_keys(db: Session, actor: Actor) -> list[dict[str, Any]]:
    rows = db.scalars(select(ApiKey).where(ApiKey.membership_id == actor.membership_id,
                                           ApiKey.workspace_id == actor.workspace_id))
    return [{"id": k.id, "prefix": k.prefix, "created_at": iso(k.created_at),
             "revoked": k.revoked_at is not None} for k in rows]


def revoke_api_key(db: Session, actor: Actor, key_id: str) -> None:
    row = db.scalar(select(ApiKey).where(ApiKey.id == key_id,
                                         ApiKey.workspace_id == actor.workspace_id))
    if row is None or (row.membership_id != actor.membership_id and not actor.is_admin):
        raise NotFound("no such API key")
    row.revoked_at = row.revoked_at or utcnow()


# -- members ----------------------------------------------------------------------------------
def list_members(db: Session, actor: Actor) -> list[dict[str, Any]]:
    from tether.store.models import SalesforceConnection
    rows = db.execute(
        select(Membership, User, SalesforceConnection)
        .join(User, User.id == Membership.user_id)
        .outerjoin(SalesforceConnection, SalesforceConnection.membership_id == Membership.id)
        .where(Membership.workspace_id == actor.workspace_id).order_by(User.email)).all()
    return [{"id": m.id, "email": u.email, "name": u.name, "access": m.access,
             "role_id": m.role_id,
             "salesforce": None if c is None else {"status": c.status,
                                                   "username": c.salesforce_username}}
            for m, u, c in rows]


def update_member(db: Session, actor: Actor, membership_id: str, changes: dict[str, Any]
                  ) -> None:
    actor.require_admin()
    m = db.scalar(select(Membership).where(Membership.id == membership_id,
                                           Membership.workspace_id == actor.workspace_id))
    if m is None:
        raise NotFound("no such member")
    for key, value in changes.items():
        if key == "access":
            _check_access(value)
            if value == "member" and m.access == "admin" and _admin_count(db, m) == 1:
                raise Invalid("a workspace keeps at least one admin", "access")
            m.access = value
        elif key == "role_id":
            if value is not None:
                get_role_row(db, actor.workspace_id, str(value))
            m.role_id = value
        else:
            raise Invalid(f"unknown member setting: {key}", key)


def _admin_count(db: Session, m: Membership) -> int:
    return len(db.scalars(select(Membership.id).where(
        Membership.workspace_id == m.workspace_id, Membership.access == "admin")).all())


# -- roles ------------------------------------------------------------------------------------
def get_role_row(db: Session, workspace_id: str, role_id: str) -> RoleRow:
    row = db.scalar(select(RoleRow).where(RoleRow.id == role_id,
                                          RoleRow.workspace_id == workspace_id))
    if row is None:
        raise NotFound("no such role", "role_id")
    return row


def role_json(row: RoleRow, default_role_id: str | None) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "settings": row.settings,
            "members_manage_own": row.members_manage_own,
            "is_default": row.id == default_role_id}


def _settings_from(body: Any) -> SalesforceSettings:
    if not isinstance(body, dict):
        raise Invalid("settings must be an object", "settings")
    try:
        return SalesforceSettings.from_json(body)
    except ValueError as exc:
        raise Invalid(f"settings: {exc}", "settings") from None


def list_roles(db: Session, actor: Actor) -> list[dict[str, Any]]:
    ws = get_workspace(db, actor)
    rows = db.scalars(select(RoleRow).where(RoleRow.workspace_id == actor.workspace_id)
                      .order_by(RoleRow.name))
    return [role_json(r, ws.default_role_id) for r in rows]


def create_role(db: Session, actor: Actor, name: str, settings: Any = None,
                members_manage_own: bool = False) -> dict[str, Any]:
    actor.require_admin()
    name = (name or "").strip()
    if not name:
        raise Invalid("name is required", "name")
    if db.scalar(select(RoleRow).where(RoleRow.workspace_id == actor.workspace_id,
                                       RoleRow.name == name)):
        raise Conflict(f"a role named {name} exists", "name")
    parsed = _settings_from(settings or {})
    _check_settings(db, actor.workspace_id, parsed)
    row = RoleRow(workspace_id=actor.workspace_id, name=name, settings=parsed.to_json(),
                  members_manage_own=bool(members_manage_own))
    db.add(row)
    db.flush()
    return role_json(row, get_workspace(db, actor).default_role_id)


def update_role(db: Session, actor: Actor, role_id: str, changes: dict[str, Any]
                ) -> dict[str, Any]:
    actor.require_admin()
    row = get_role_row(db, actor.workspace_id, role_id)
    ws = get_workspace(db, actor)
    for key, value in changes.items():
        if key == "name":
            name = str(value or "").strip()
            if not name:
                raise Invalid("name is required", "name")
            if len(name) > 100:
                raise Invalid("name must be at most 100 characters", "name")
            if name != row.name and db.scalar(select(RoleRow).where(
                    RoleRow.workspace_id == actor.workspace_id, RoleRow.name == name)):
                raise Conflict(f"a role named {name} exists", "name")
            row.name = name
        elif key == "settings":
            merged = {**row.settings, **(value if isinstance(value, dict) else {})}
            if not isinstance(value, dict):
                raise Invalid("settings must be an object", "settings")
            parsed = _settings_from(merged)
            _check_settings(db, actor.workspace_id, parsed)
            row.settings = parsed.to_json()
        elif key == "members_manage_own":
            row.members_manage_own = bool(value)
        elif key == "is_default":
            if value:
                ws.default_role_id = row.id
        else:
            raise Invalid(f"unknown role setting: {key}", key)
    return role_json(row, ws.default_role_id)


def delete_role(db: Session, actor: Actor, role_id: str) -> None:
    actor.require_admin()
    row = get_role_row(db, actor.workspace_id, role_id)
    ws = get_workspace(db, actor)
    if ws.default_role_id == row.id:
        raise Invalid("the default role cannot be deleted; make another role the default "
                      "first", "role_id")
    for m in db.scalars(select(Membership).where(Membership.role_id == row.id)):
        m.role_id = None  # they fall back to the default role
    db.delete(row)


def _check_settings(db: Session, workspace_id: str, settings: SalesforceSettings) -> None:
    """What settings name must exist: custom objects configured, Task fields settable."""
    from tether.services import tasks  # tasks read the effective settings from here

    configured = set(configured_custom_objects(db, workspace_id))
    unknown = sorted(settings.custom_objects - configured)
    if unknown:
        raise Invalid(f"custom objects not configured for this workspace: {', '.join(unknown)}",
                      "custom_objects")
    tasks.check_role_fields(db, workspace_id, settings.task_fields)


def configured_custom_objects(db: Session, workspace_id: str) -> list[str]:
    return list(db.scalars(select(CustomObjectConfig.sobject).where(
        CustomObjectConfig.workspace_id == workspace_id)))


# -- settings ---------------------------------------------------------------------------------
def get_workspace(db: Session, actor: Actor) -> Workspace:
    ws = db.get(Workspace, actor.workspace_id)
    if ws is None:
        raise NotFound("no such workspace")
    return ws


def _domain_role(row: RoleRow | None) -> Role | None:
    if row is None:
        return None
    return Role(row.id, row.name, SalesforceSettings.from_json(row.settings),
                row.members_manage_own)


def effective_for(db: Session, workspace_id: str, membership_id: str) -> EffectiveSettings:
    ws = db.get(Workspace, workspace_id)
    m = db.get(Membership, membership_id)
    if ws is None or m is None or m.workspace_id != workspace_id:
        raise NotFound("no such member")
    role = db.get(RoleRow, m.role_id) if m.role_id else None
    default = db.get(RoleRow, ws.default_role_id) if ws.default_role_id else None
    own = SalesforceSettings.from_json(m.own_settings) if m.own_settings else None
    return effective_settings(plan=_plan(ws.plan), role=_domain_role(role),
                              default_role=_domain_role(default), user_settings=own,
                              configured_custom_objects=configured_custom_objects(
                                  db, workspace_id))


def effective_json(eff: EffectiveSettings) -> dict[str, Any]:
    return {"settings": eff.settings.to_json(), "source": eff.source.value,
            "role": eff.role_name, "editable": eff.editable_by_user,
            "salesforce_enabled": eff.salesforce_enabled}


def save_own_settings(db: Session, actor: Actor, body: Any) -> EffectiveSettings:
    eff = effective_for(db, actor.workspace_id, actor.membership_id)
    if not eff.editable_by_user:
        raise Forbidden(f"your role ({eff.role_name}) sets your Salesforce settings; reach out "
                        "to your administrator to change them")
    parsed = _settings_from({**eff.settings.to_json(), **(body if isinstance(body, dict)
                                                          else {})})
    _check_settings(db, actor.workspace_id, parsed)
    m = db.get(Membership, actor.membership_id)
    assert m is not None
    m.own_settings = parsed.to_json()
    db.flush()
    return effective_for(db, actor.workspace_id, actor.membership_id)


def update_workspace(db: Session, actor: Actor, changes: dict[str, Any]) -> Workspace:
    actor.require_admin()
    ws = get_workspace(db, actor)
    for key, value in changes.items():
        if key == "name":
            if not isinstance(value, str) or not value.strip():
                raise Invalid("name is required", "name")
            if len(value.strip()) > 200:
                raise Invalid("name must be at most 200 characters", "name")
            ws.name = value.strip()
        elif key == "plan":
            ws.plan = _plan(str(value)).value
        elif key == "default_role_id":
            ws.default_role_id = get_role_row(db, ws.id, str(value)).id
        elif key == "interval_minutes":
            ws.interval_minutes = _whole(value, 5, 1440, key,
                                         "interval_minutes must be from 5 to 1440")
        elif key == "api_budget_percent":
            ws.api_budget_percent = _whole(
                value, 10, 90, key, "the API budget must be a whole percentage from 10 to 90")
            ws.writes_paused_until = None  # the writer checks the new budget at once
            ws.writes_paused_reason = None
        elif key == "pending_window_hours":
            ws.pending_window_hours = _whole(value, 1, 720, key,
                                             "pending_window_hours must be from 1 to 720")
        elif key == "unconnected_activity":
            ws.unconnected_activity = _unconnected_activity(ws, value)
        elif key == "unconnected_pending_days":
            ws.unconnected_pending_days = _whole(
                value, 1, 365, key, "unconnected_pending_days must be from 1 to 365")
        elif key == "tie_break":
            ws.tie_break = _tie_break(value)
        elif key == "unsubscribe_links":
            if not isinstance(value, bool):
                raise Invalid("unsubscribe_links must be true or false", key)
            ws.unsubscribe_links = value
        else:
            raise Invalid(f"unknown workspace setting: {key}", key)
    return ws


def _whole(value: Any, low: int, high: int, field: str, message: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise Invalid(message, field)
    return value


def _unconnected_activity(ws: Workspace, value: Any) -> str:
    """What happens to the activity of a member without a Salesforce connection: it waits
    until they connect ("wait"), or the Sync User writes it for them ("sync_user")."""
    if value not in ("wait", "sync_user"):
        raise Invalid("unconnected_activity must be wait or sync_user", "unconnected_activity")
    if value == "sync_user" and not ws.sync_user_membership_id:
        raise Invalid("choose a Sync User first: it writes the activity of members who are "
                      "not connected", "unconnected_activity")
    return str(value)


def _tie_break(value: Any) -> list[str]:
    allowed = [t.value for t in TieBreak]
    if not isinstance(value, list) or not value or not all(v in allowed for v in value):
        raise Invalid(f"tie_break must be a list of: {', '.join(allowed)}", "tie_break")
    if len(set(value)) != len(value):
        raise Invalid("tie_break names a criterion twice", "tie_break")
    if {"contact_first", "lead_first"} <= set(value):
        raise Invalid("tie_break cannot put both Contacts and Leads first", "tie_break")
    return [str(v) for v in value]


def workspace_json(ws: Workspace) -> dict[str, Any]:
    return {"id": ws.id, "name": ws.name, "plan": ws.plan, "default_role_id": ws.default_role_id,
            "interval_minutes": ws.interval_minutes,
            "api_budget_percent": ws.api_budget_percent,
            "pending_window_hours": ws.pending_window_hours,
            "unconnected_activity": ws.unconnected_activity,
            "unconnected_pending_days": ws.unconnected_pending_days,
            "tie_break": ws.tie_break or [t.value for t in DEFAULT_TIE_BREAK],
            "unsubscribe_links": ws.unsubscribe_links,
            "salesforce": {"org_id": ws.salesforce_org_id,
                           "instance_url": ws.salesforce_instance_url,
                           "sandbox": ws.salesforce_is_sandbox,
                           "sync_user_membership_id": ws.sync_user_membership_id,
                           "realtime_token": ws.realtime_token_hash is not None,
                           "last_webhook_at": iso(ws.last_webhook_at)
                           if ws.last_webhook_at else None}}


# -- exclusions -------------------------------------------------------------------------------
def list_exclusions(db: Session, actor: Actor) -> list[dict[str, str]]:
    rows = db.scalars(select(Exclusion).where(Exclusion.workspace_id == actor.workspace_id)
                      .order_by(Exclusion.kind, Exclusion.value))
    return [{"id": e.id, "kind": e.kind, "value": e.value} for e in rows]


def add_exclusion(db: Session, actor: Actor, kind: str, value: str) -> dict[str, str]:
    actor.require_admin()
    if kind == "address":
        clean = _check_email(value, "value")
    elif kind == "domain":
        clean = value.strip().lower().lstrip("@")
        if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", clean):
            raise Invalid(f"'{value}' is not a domain", "value")
    else:
        raise Invalid("kind must be address or domain", "kind")
    if db.scalar(select(Exclusion).where(Exclusion.workspace_id == actor.workspace_id,
                                         Exclusion.kind == kind, Exclusion.value == clean)):
        raise Conflict(f"{clean} is already excluded", "value")
    row = Exclusion(workspace_id=actor.workspace_id, kind=kind, value=clean)
    db.add(row)
    db.flush()
    return {"id": row.id, "kind": kind, "value": clean}


def delete_exclusion(db: Session, actor: Actor, exclusion_id: str) -> None:
    actor.require_admin()
    row = db.scalar(select(Exclusion).where(Exclusion.id == exclusion_id,
                                            Exclusion.workspace_id == actor.workspace_id))
    if row is None:
        raise NotFound("no such exclusion")
    db.delete(row)


def exclusion_lists(db: Session, workspace_id: str) -> tuple[frozenset[str], frozenset[str]]:
    """The workspace's excluded addresses and domains."""
    rows = db.scalars(select(Exclusion).where(Exclusion.workspace_id == workspace_id)).all()
    return (frozenset(r.value for r in rows if r.kind == "address"),
            frozenset(r.value for r in rows if r.kind == "domain"))


def excluded(db: Session, workspace_id: str, email: str) -> str | None:
    return exclusion_reason(email, *exclusion_lists(db, workspace_id))


# -- the real-time token ----------------------------------------------------------------------
def create_realtime_token(db: Session, actor: Actor) -> str:
    """A new workspace API token for the real-time package; shown once, replaces the old."""
    actor.require_admin()
    ws = get_workspace(db, actor)
    token = new_secret("twh")
    ws.realtime_token_hash = hash_secret(token)
    ws.realtime_token_created_at = dt.datetime.now(dt.UTC)
    return token


def revoke_realtime_token(db: Session, actor: Actor) -> None:
    actor.require_admin()
    ws = get_workspace(db, actor)
    ws.realtime_token_hash = None
    ws.realtime_token_created_at = None

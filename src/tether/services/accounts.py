"""Dashboard accounts: signing in and out (sessions whose token only the browser holds; the
database keeps its hash), choosing and switching the workspace, accepting an invitation,
changing one's password, and the first admin of a new install."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from tether.domain.exclusions import normalize_email
from tether.security import hash_password, hash_secret, new_secret, secret_matches, verify_password
from tether.services.errors import Conflict, Gone, Invalid, NotFound, Unauthorized
from tether.services.workspaces import (
    MIN_PASSWORD,
    Actor,
    actor_for_membership,
    create_workspace,
    join,
    new_user,
    user_by_email,
)
from tether.store.models import (
    Invitation,
    Membership,
    User,
    WebSession,
    Workspace,
    as_utc,
    utcnow,
)

SESSION_LIFETIME = dt.timedelta(days=14)
_DUMMY_HASH = hash_password("not any user's password")

__all__ = ["MIN_PASSWORD", "SESSION_LIFETIME"]


@dataclass(frozen=True)
class SignedIn:
    """A live session: the member it signs in, and what every page's header says of it."""

    actor: Actor
    workspace_name: str
    workspace_count: int  # the user's memberships: more than one, and they may switch


@dataclass(frozen=True)
class WorkspaceChoice:
    membership_id: str
    name: str
    is_admin: bool


def sign_in(db: Session, email: str, password: str) -> tuple[str, Actor]:
    """A new session token for this user's (first) workspace; one message for a wrong email
    or a wrong password, so the answer does not tell which addresses have accounts.  A user
    of several workspaces then chooses one (switch_workspace)."""
    user = user_by_email(db, email)
    stored = user.password_hash if user is not None else None
    # An unknown address costs the same hash as a known one: timing tells nothing either.
    if not verify_password(password, stored or _DUMMY_HASH) or user is None or not stored:
        raise Unauthorized("wrong email or password")
    membership = db.scalar(select(Membership).where(Membership.user_id == user.id)
                           .order_by(Membership.created_at).limit(1))
    if membership is None:
        raise Unauthorized("this account belongs to no workspace")
    return _start_session(db, membership.id), actor_for_membership(db, membership.id)


def _start_session(db: Session, membership_id: str, expires_at: dt.datetime | None = None
                   ) -> str:
    token = new_secret("ts")
    db.add(WebSession(token_hash=hash_secret(token), membership_id=membership_id,
                      expires_at=expires_at or utcnow() + SESSION_LIFETIME))
    return token


def _live_session(db: Session, token: str) -> WebSession | None:
    """The lookup is by hash (an index seek, nothing compared byte by byte in Python)."""
    row = db.get(WebSession, hash_secret(token))
    return row if row is not None and as_utc(row.expires_at) > utcnow() else None


def signed_in(db: Session, token: str) -> SignedIn | None:
    """The member a session token signs in, if it is live, with its workspace's name and how
    many workspaces the user belongs to (one query after the session's)."""
    row = _live_session(db, token)
    if row is None:
        return None
    other = aliased(Membership)
    count = (select(func.count()).select_from(other).where(other.user_id == User.id)
             .correlate(User).scalar_subquery())
    found = db.execute(
        select(Membership, User, Workspace.name, count)
        .join(User, User.id == Membership.user_id)
        .join(Workspace, Workspace.id == Membership.workspace_id)
        .where(Membership.id == row.membership_id)).first()
    if found is None:
        return None
    m, u, name, memberships = found
    return SignedIn(Actor(m.workspace_id, m.id, u.id, u.email, m.access == "admin"), name,
                    int(memberships))


def session_actor(db: Session, token: str) -> Actor | None:
    """The member a session token signs in, if it is live."""
    found = signed_in(db, token)
    return found.actor if found is not None else None


def sign_out(db: Session, token: str) -> None:
    db.execute(delete(WebSession).where(WebSession.token_hash == hash_secret(token)))


def workspaces_of(db: Session, user_id: str) -> list[WorkspaceChoice]:
    """The workspaces a user belongs to, by name (the chooser after sign-in)."""
    rows = db.execute(select(Membership.id, Workspace.name, Membership.access)
                      .join(Workspace, Workspace.id == Membership.workspace_id)
                      .where(Membership.user_id == user_id).order_by(Workspace.name))
    return [WorkspaceChoice(m_id, name, access == "admin") for m_id, name, access in rows]


def switch_workspace(db: Session, token: str, membership_id: str) -> str:
    """A session for another of the user's memberships, in place of this one (which ends);
    it ends when this one would have, so switching never extends a sign-in."""
    current = _live_session(db, token)
    if current is None:
        raise Unauthorized("your session has ended: sign in again")
    user_id = select(Membership.user_id).where(Membership.id == current.membership_id)
    target = db.scalar(select(Membership.id).where(Membership.id == membership_id,
                                                   Membership.user_id.in_(user_id)))
    if target is None:
        raise NotFound("you are not a member of that workspace")
    new_token = _start_session(db, target, as_utc(current.expires_at))
    db.delete(current)
    return new_token


def change_password(db: Session, actor: Actor, current: str, new: str, keep_token: str
                    ) -> None:
    """After checking the current password; every other session of the user ends."""
    user = db.get(User, actor.user_id)
    if user is None or not verify_password(current, user.password_hash):
        raise Invalid("the current password is wrong", "current_password")
    if len(new) < MIN_PASSWORD:
        raise Invalid(f"the new password needs at least {MIN_PASSWORD} characters",
                      "new_password")
    user.password_hash = hash_password(new)
    memberships = select(Membership.id).where(Membership.user_id == user.id)
    db.execute(delete(WebSession).where(WebSession.membership_id.in_(memberships),
                                        WebSession.token_hash != hash_secret(keep_token)))


# -- invitations: the invitee's side (the admin's is in services/workspaces.py) -------------
@dataclass(frozen=True)
class InvitationView:
    """What the invitation page shows its holder."""

    workspace_name: str
    email: str
    access: str
    has_account: bool  # then they sign in to accept; else they choose a name and password


def _usable_invitation(db: Session, token: str) -> Invitation:
    row = db.scalar(select(Invitation).where(Invitation.token_hash == hash_secret(token)))
    # The lookup is by hash; compare again in constant time, as for API keys.
    if row is None or not secret_matches(token, row.token_hash):
        raise NotFound("this invitation link is not valid: check that it was copied whole, "
                       "or ask your admin for a new one")
    if row.accepted_at is not None:
        raise Gone("this invitation was already used: each link works once. Sign in instead, "
                   "or ask your admin for a new one")
    if row.revoked_at is not None:
        raise Gone("this invitation was revoked: ask your admin for a new one")
    if as_utc(row.expires_at) <= utcnow():
        raise Gone(f"this invitation expired on {as_utc(row.expires_at):%Y-%m-%d %H:%M} UTC: "
                   "ask your admin for a new one")
    return row


def open_invitation(db: Session, token: str) -> InvitationView:
    row = _usable_invitation(db, token)
    workspace = db.get(Workspace, row.workspace_id)
    assert workspace is not None  # the invitation goes with its workspace (cascade)
    return InvitationView(workspace.name, row.email, row.access,
                          user_by_email(db, row.email) is not None)


def accept_invitation(db: Session, token: str, *, password: str, name: str = ""
                      ) -> tuple[str, Actor]:
    """Joins the invitation's workspace and answers a session there.  An address without an
    account gets one, with the name and password its holder chooses here; an existing account
    must give its own password (nobody joins someone else's account to a workspace).  Single
    use: the invitation is claimed by a conditional update in the caller's transaction, the
    one that creates the membership, so a replayed or concurrent accept finds nothing left."""
    invitation = _usable_invitation(db, token)
    user = user_by_email(db, invitation.email)
    if user is not None:
        if not verify_password(password, user.password_hash):
            raise Unauthorized(f"wrong password for {user.email}")
    elif not name.strip():
        raise Invalid("your name is required", "name")
    now = utcnow()
    claimed = db.scalar(
        update(Invitation).where(Invitation.id == invitation.id,
                                 Invitation.accepted_at.is_(None),
                                 Invitation.revoked_at.is_(None),
                                 Invitation.expires_at > now)
        .values(accepted_at=now).returning(Invitation.id)
        .execution_options(synchronize_session=False))
    if claimed is None:
        raise Gone("this invitation was already used: each link works once")
    if user is None:
        try:  # never an account made meanwhile: the unique address refuses a second
            user = new_user(db, email=invitation.email, password=password, name=name)
        except IntegrityError:
            raise Conflict("an account for this address was just created: open the link "
                           "again to sign in with it") from None
    actor = join(db, invitation.workspace_id, user, access=invitation.access,
                 role_id=invitation.role_id)
    return _start_session(db, actor.membership_id), actor


def ensure_first_admin(db: Session, email: str | None, password: str | None,
                       workspace_name: str = "Tether") -> str:
    """On a new install (no workspace yet) create one with this admin; answers what was done,
    for the console."""
    if db.scalar(select(func.count()).select_from(Workspace)):
        return "existing workspaces kept"
    if not email or not password:
        return ("no workspace yet: set TETHER_ADMIN_EMAIL and TETHER_ADMIN_PASSWORD (or pass "
                "--admin-email and --admin-password) to create the first admin")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"the admin password needs at least {MIN_PASSWORD} characters",
                      "admin_password")
    create_workspace(db, name=workspace_name, admin_email=email, admin_password=password)
    return f"created workspace {workspace_name} with admin {normalize_email(email)}"

"""Dashboard accounts: signing in and out (sessions whose token only the browser holds; the
database keeps its hash), changing one's password, and the first admin of a new install."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tether.domain.exclusions import normalize_email
from tether.security import hash_password, hash_secret, new_secret, verify_password
from tether.services.errors import Invalid, Unauthorized
from tether.services.workspaces import Actor, actor_for_membership, create_workspace
from tether.store.models import Membership, User, WebSession, Workspace, as_utc, utcnow

SESSION_LIFETIME = dt.timedelta(days=14)
_DUMMY_HASH = hash_password("not any user's password")
MIN_PASSWORD = 8


def sign_in(db: Session, email: str, password: str) -> tuple[str, Actor]:
    """A new session token for this user's (first) workspace; one message for a wrong email
    or a wrong password, so the answer does not tell which addresses have accounts."""
    user = db.scalar(select(User).where(User.email == normalize_email(email)))
    stored = user.password_hash if user is not None else None
    # An unknown address costs the same hash as a known one: timing tells nothing either.
    if not verify_password(password, stored or _DUMMY_HASH) or user is None or not stored:
        raise Unauthorized("wrong email or password")
    membership = db.scalar(select(Membership).where(Membership.user_id == user.id)
                           .order_by(Membership.created_at).limit(1))
    if membership is None:
        raise Unauthorized("this account belongs to no workspace")
    token = new_secret("ts")
    db.add(WebSession(token_hash=hash_secret(token), membership_id=membership.id,
                      expires_at=utcnow() + SESSION_LIFETIME))
    return token, actor_for_membership(db, membership.id)


def session_actor(db: Session, token: str) -> Actor | None:
    """The member a session token signs in, if it is live.  The lookup is by hash (an index
    seek, nothing compared byte by byte in Python)."""
    row = db.get(WebSession, hash_secret(token))
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    return actor_for_membership(db, row.membership_id)


def sign_out(db: Session, token: str) -> None:
    db.execute(delete(WebSession).where(WebSession.token_hash == hash_secret(token)))


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

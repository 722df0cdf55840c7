"""Which role a member is in: their own, or the workspace's default role when they have none
(C2: "a default role").  Planning stamps each activity with it, and the dashboard counts
members and activity by it, so a member without an explicit role counts in the default one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tether.store.models import Membership, Workspace


def role_of(role_id: str | None, default_role_id: str | None) -> str | None:
    """A member's role: the one they were given, else the default role."""
    return role_id or default_role_id


def members_in(members: Iterable[Mapping[str, Any]], role_id: str,
               default_role_id: str | None) -> list[Mapping[str, Any]]:
    """The members (as ``list_members`` gives them) who are in ``role_id``."""
    return [m for m in members if role_of(m["role_id"], default_role_id) == role_id]


def member_counts(members: Iterable[Mapping[str, Any]], default_role_id: str | None
                  ) -> dict[str | None, int]:
    counts: dict[str | None, int] = {}
    for m in members:
        role = role_of(m["role_id"], default_role_id)
        counts[role] = counts.get(role, 0) + 1
    return counts


def memberships_in(workspace_id: str, role_id: str) -> Select[str]:
    """The ids of the workspace's members who are in ``role_id`` (for an ``IN``)."""
    default = select(Workspace.default_role_id).where(
        Workspace.id == workspace_id).scalar_subquery()
    return select(Membership.id).where(
        Membership.workspace_id == workspace_id,
        func.coalesce(Membership.role_id, default) == role_id)


def role_id_of(db: Session, workspace_id: str, membership_id: str) -> str | None:
    """The role a member is in now, or None if the workspace has no default role."""
    row = db.execute(select(Membership.role_id, Workspace.default_role_id).join(
        Workspace, Workspace.id == Membership.workspace_id).where(
        Membership.id == membership_id, Membership.workspace_id == workspace_id)).first()
    return role_of(*row) if row is not None else None

"""Each member's primary calendar over CalDAV (CONTRACTS: "Calendar"): saved after a PROPFIND
shows it is a calendar the login can read (422 naming the stage otherwise, nothing saved),
the password encrypted like every other secret, and what the calendar watcher made of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from tether.calendar import caldav_client
from tether.security import Vault
from tether.services.errors import Invalid, NotFound
from tether.services.records import Deps
from tether.services.workspaces import Actor
from tether.store.models import iso, utcnow
from tether.store.watch_models import CalendarConnection, CalendarObject


@dataclass(frozen=True)
class CalendarIn:
    url: str
    username: str
    password: str | None  # None: keep the saved one (same URL and username)


def connection_of(db: Session, actor: Actor) -> CalendarConnection | None:
    return db.scalar(select(CalendarConnection).where(
        CalendarConnection.workspace_id == actor.workspace_id,
        CalendarConnection.membership_id == actor.membership_id))


def account(vault: Vault, row: CalendarConnection, ca_file: str | None = None
            ) -> caldav_client.Account:
    return caldav_client.Account(row.url, row.username, vault.decrypt(row.secret), ca_file)


def calendar_json(row: CalendarConnection) -> dict[str, Any]:
    failing = row.last_error is not None
    return {"url": row.url, "username": row.username, "display_name": row.display_name,
            "checked_at": iso(row.checked_at),
            "watch": {"state": "failing" if failing else
                      "watching" if row.watching_since else "starting",
                      "watching_since": iso(row.watching_since) if row.watching_since
                      else None,
                      "last_change_at": iso(row.last_change_at) if row.last_change_at
                      else None,
                      "last_error": row.last_error}}


def get(db: Session, actor: Actor) -> dict[str, Any]:
    row = connection_of(db, actor)
    if row is None:
        raise NotFound("no calendar is connected: PUT /api/v1/calendar")
    return calendar_json(row)


def delete(db: Session, actor: Actor) -> None:
    row = connection_of(db, actor)
    if row is None:
        raise NotFound("no calendar is connected")
    db.delete(row)


async def save(deps: Deps, actor: Actor, data: CalendarIn) -> dict[str, Any]:
    url, username = data.url.strip(), data.username.strip()
    if not url.startswith(("https://", "http://")):
        raise Invalid(f"url: '{url}' is not an http(s) URL of a CalDAV calendar", "url")
    with deps.sessions() as db:
        saved = connection_of(db, actor)
        password = data.password
        if not password:
            if saved is None or saved.url != url or saved.username != username:
                raise Invalid("password: the calendar's password is required", "password")
            password = deps.vault.decrypt(saved.secret)
    try:
        name = await caldav_client.acheck(caldav_client.Account(
            url, username, password, deps.settings.mail_tls_verify))
    except caldav_client.CalendarCheckError as exc:
        raise Invalid(str(exc), "url", extra={"failed": [
            {"service": "calendar", "stage": exc.stage, "detail": exc.detail}]}) from exc
    now = utcnow()
    with deps.sessions() as db:
        row = connection_of(db, actor)
        if row is None:
            row = CalendarConnection(workspace_id=actor.workspace_id,
                                     membership_id=actor.membership_id, created_at=now)
            db.add(row)
        elif row.url != url:  # another calendar: what was made of the old one starts over
            row.sync_state = None
            db.execute(sql_delete(CalendarObject).where(CalendarObject.connection_id == row.id))
        row.url, row.username = url, username
        row.secret = deps.vault.encrypt(password)
        row.display_name = name[:200]
        row.checked_at = now
        row.last_error = None
        row.next_check_at = now
        db.commit()
        return calendar_json(row)

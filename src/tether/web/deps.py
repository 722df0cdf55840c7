"""Request dependencies: one database session per request (committed on success) and the
calling member, from a Bearer API key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session, sessionmaker

from tether.config import Settings
from tether.security import Vault
from tether.services.errors import Unauthorized
from tether.services.workspaces import Actor, authenticate_api_key
from tether.web.event_sink import EventSink


@dataclass
class AppState:
    settings: Settings
    sessions: sessionmaker[Session]
    vault: Vault
    event_sink: EventSink  # POST /api/v1/events' group commit
    # Set when the worker runs in this process; safe to call from any thread.
    wake: Callable[[], None] | None = None  # nudges the job runner (syncs)
    wake_activity: Callable[[], None] | None = None  # nudges the activity pipeline
    wake_sender: Callable[[], None] | None = None  # nudges the mail sender
    wake_watchers: Callable[[], None] | None = None  # nudges the mailbox and calendar watchers
    wake_sequencer: Callable[[], None] | None = None  # nudges the sequence engine

    def nudge_worker(self) -> None:
        """New jobs were queued: the embedded worker looks now, not at its next poll."""
        if self.wake is not None:
            self.wake()

    def nudge_pipeline(self) -> None:
        """New events or retries: the embedded activity pipeline looks now."""
        if self.wake_activity is not None:
            self.wake_activity()

    def nudge_sender(self) -> None:
        """A message was queued: the embedded sender looks now."""
        if self.wake_sender is not None:
            self.wake_sender()

    def nudge_sequencer(self) -> None:
        """Recipients became due (activated, added, a task done): the sequencer looks now."""
        if self.wake_sequencer is not None:
            self.wake_sequencer()

    def nudge_watchers(self) -> None:
        """A mailbox or calendar was saved: the embedded watchers take it now."""
        if self.wake_watchers is not None:
            self.wake_watchers()


async def state(request: Request) -> AppState:
    """Async: FastAPI runs a plain `def` dependency in its threadpool, a hand-off per request."""
    value: AppState = request.app.state.tether
    return value


def db_session(app: Annotated[AppState, Depends(state)]) -> Iterator[Session]:
    with app.sessions() as db:
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise


def actor(app: Annotated[AppState, Depends(state)],
          authorization: Annotated[str | None, Header()] = None) -> Actor:
    """The caller, in a short transaction of its own: the request's session (and, on SQLite,
    its write lock) must not be held through a long request just for last_used_at."""
    key = bearer_key(authorization)
    with app.sessions() as db:
        found = authenticate_api_key(db, key)
        db.commit()
    return found


def bearer_key(authorization: str | None) -> str:
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("send Authorization: Bearer <API key>")
    return key.strip()


# scope="function": committed when the endpoint returns, before the response is sent (FastAPI's
# default for a yield dependency ends after it is sent).  A client that acts on an answer
# (follows an authorize URL whose OAuth state was just stored, say) must find it committed,
# and a commit that fails must not follow a success already sent.
Db = Annotated[Session, Depends(db_session, scope="function")]
Me = Annotated[Actor, Depends(actor)]
State = Annotated[AppState, Depends(state)]

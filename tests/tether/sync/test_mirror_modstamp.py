"""The mirror compares SystemModstamps as moments, whatever form they came in, on both write
paths (per row and the audit's bulk path), in deletions and in the interval watermark; a
stamp stored before that in no datetime form no longer pins its record."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory
from tether.store.models import MirrorRecord, SyncState
from tether.sync import mirror, pull

ID = "0035g0000000001AAA"


@pytest.fixture
def db(migrated_url: str) -> Iterator[tuple[Session, str]]:
    engine = make_engine(migrated_url)
    with session_factory(engine)() as session:
        actor = ws.create_workspace(session, name="Acme", admin_email="a@acme.example",
                                    admin_password=None)
        session.commit()
        yield session, actor.workspace_id
    engine.dispose()


def _write(session: Session, workspace_id: str, stamp: str, title: str, *, count: bool) -> int:
    n = mirror.upsert(session, workspace_id, "Contact", [
        {"Id": ID, "SystemModstamp": stamp, "Title": title}], count=count)
    session.commit()
    return n


def _held(session: Session, workspace_id: str) -> tuple[str, Any]:
    session.expire_all()
    row = mirror.get(session, workspace_id, ID)
    assert row is not None
    return row.system_modstamp, row.data["Title"]


@pytest.mark.parametrize("count", [True, False], ids=["per-row", "bulk"])
def test_offsets_and_forms_compare_as_moments(db: tuple[Session, str], count: bool) -> None:
    session, wid = db
    _write(session, wid, "2026-11-28T10:00:05.000+0000", "CEO", count=count)
    # Earlier moments whose text sorts later: an hour east of UTC, and Bulk 2.0's Z form.
    _write(session, wid, "2026-11-28T11:00:01.000+0100", "Intern", count=count)
    _write(session, wid, "2026-11-28T10:00:05.000Z", "Same moment", count=count)
    assert _held(session, wid) == ("2026-11-28T10:00:05.000+0000", "CEO")
    # A later one written with an offset west of UTC ("09:…" sorts first as text).
    _write(session, wid, "2026-11-28T09:00:06.000-0100", "CFO", count=count)
    assert _held(session, wid) == ("2026-11-28T10:00:06.000+0000", "CFO")


@pytest.mark.parametrize("count", [True, False], ids=["per-row", "bulk"])
def test_a_stamp_that_is_no_datetime_does_not_pin(db: tuple[Session, str],
                                                  count: bool) -> None:
    """As an unchecked webhook could store before: "zzzz" sorted after every real stamp."""
    session, wid = db
    _write(session, wid, "2026-11-28T10:00:00.000+0000", "First", count=count)
    session.execute(update(MirrorRecord).values(system_modstamp="zzzz"))
    session.commit()
    assert _write(session, wid, "2026-11-28T10:00:01.000Z", "Genuine", count=True) == 1
    assert _held(session, wid) == ("2026-11-28T10:00:01.000+0000", "Genuine")


def test_garbage_never_reaches_the_column(db: tuple[Session, str]) -> None:
    session, wid = db
    for stamp in ("zzzz", "2026-13-01T00:00:00.000+0000", ""):
        with pytest.raises(ValueError):
            _write(session, wid, stamp, "x", count=True)
        session.rollback()


def test_deletions_compare_as_moments(db: tuple[Session, str]) -> None:
    session, wid = db
    _write(session, wid, "2026-11-28T10:00:05.000+0000", "CEO", count=True)
    assert mirror.mark_deleted(session, wid, [(ID, "2026-11-28T11:00:01.000+0100")]) == 0
    assert mirror.mark_deleted(session, wid, [(ID, "2026-11-28T10:00:06.000Z")]) == 1
    session.commit()
    row = mirror.get(session, wid, ID)
    assert row is not None and row.is_deleted
    assert row.system_modstamp == "2026-11-28T10:00:06.000+0000"


def test_the_interval_watermark_is_the_latest_moment(migrated_url: str,
                                                     db: tuple[Session, str]) -> None:
    session, wid = db
    session.add(SyncState(workspace_id=wid, sobject="Contact", needs_audit=False,
                          watermark="2026-11-28T10:00:00.000+0000"))
    session.commit()
    engine = make_engine(migrated_url)
    ctx = pull.PullContext(session_factory(engine), None, wid,  # type: ignore[arg-type]
                           pull.CallCounter())
    page = {"done": True, "records": [
        {"Id": ID, "SystemModstamp": "2026-11-28T10:30:00.000+0000"},
        # Later than the first, though "09:…" sorts before "10:…" as text.
        {"Id": "0035g0000000002AAA", "SystemModstamp": "2026-11-28T09:45:00.000-0100"}]}
    asyncio.run(pull._apply_pages(ctx, "Contact", page, None))
    engine.dispose()
    session.expire_all()
    state = session.get(SyncState, (wid, "Contact"))
    assert state is not None and state.watermark == "2026-11-28T10:45:00.000+0000"

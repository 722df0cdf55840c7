"""What a sync run counts as changed, on SQLite and PostgreSQL, on both write paths (per row
and the audit's bulk path): records created, edited or deleted in the mirror, never a record
read again, nor a later copy whose values are the mirror's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tether.services import workspaces as ws
from tether.store.db import make_engine, session_factory
from tether.sync import mirror

ID = "0035g0000000001AAA"
T1, T2, T3 = ("2026-11-28T10:00:00.000+0000", "2026-11-28T10:05:00.000+0000",
              "2026-11-28T10:09:00.000+0000")
PATHS = pytest.mark.parametrize("bulk", [False, True], ids=["per-row", "bulk"])


@pytest.fixture
def db(migrated_url: str) -> Iterator[tuple[Session, str]]:
    engine = make_engine(migrated_url)
    with session_factory(engine)() as session:
        actor = ws.create_workspace(session, name="Acme", admin_email="a@acme.example",
                                    admin_password=None)
        session.commit()
        yield session, actor.workspace_id
    engine.dispose()


def contact(stamp: str, sf_id: str = ID, **fields: Any) -> dict[str, Any]:
    return {"Id": sf_id, "SystemModstamp": stamp, "LastModifiedDate": stamp,
            "LastName": "Doe", "Title": "CEO", "CreatedDate": "2026-11-01T09:00:00.000+0000",
            "IsDeleted": False, **fields}


def write(db: tuple[Session, str], *records: dict[str, Any], bulk: bool) -> mirror.Tally:
    session, workspace_id = db
    tally = mirror.apply(session, workspace_id, "Contact", list(records), bulk=bulk)
    session.commit()
    return tally


def counts(t: mirror.Tally) -> tuple[int, int, int, int, int]:
    return t.read, t.created, t.updated, t.deleted, t.changed


@PATHS
def test_reading_again_changes_nothing(db: tuple[Session, str], bulk: bool) -> None:
    records = [contact(T1, f"0035g00000000{n:02d}AAA") for n in range(5)]
    assert counts(write(db, *records, bulk=bulk)) == (5, 5, 0, 0, 5)
    # An audit of an org where nothing changed: every record read, none changed.
    assert counts(write(db, *records, bulk=bulk)) == (5, 0, 0, 0, 0)


@PATHS
def test_a_later_copy_with_the_same_values_is_no_change(db: tuple[Session, str],
                                                        bulk: bool) -> None:
    write(db, contact(T1), bulk=bulk)
    # Saved again in Salesforce with nothing changed (or a field Tether does not read).
    same = write(db, contact(T2, LastModifiedById="0055g0000000002AAA"), bulk=bulk)
    assert counts(same) == (1, 0, 0, 0, 0) and same.rewritten == 1
    # The same moment in Bulk 2.0's form of a datetime is the same value.
    assert write(db, contact(T3, CreatedDate="2026-11-01T09:00:00.000Z"), bulk=bulk).changed == 0
    session, workspace_id = db
    row = mirror.get(session, workspace_id, ID)
    assert row is not None and row.system_modstamp == T3  # still written: newer wins


@PATHS
def test_edits_and_deletions_are_changes(db: tuple[Session, str], bulk: bool) -> None:
    write(db, contact(T1), bulk=bulk)
    assert counts(write(db, contact(T2, Title="CFO"), bulk=bulk)) == (1, 0, 1, 0, 1)
    assert counts(write(db, contact(T2, Title="Intern"), bulk=bulk)) == (1, 0, 0, 0, 0)  # not newer
    assert counts(write(db, contact(T3, Title="CFO", IsDeleted=True), bulk=bulk)) == (
        1, 0, 0, 1, 1)
    # A record first seen deleted (queryAll) is its deletion, not a creation.
    gone = write(db, contact(T1, "0035g0000000009AAA", IsDeleted=True), bulk=bulk)
    assert counts(gone) == (1, 0, 0, 1, 1)


def test_a_field_a_copy_does_not_carry_is_not_changed(db: tuple[Session, str]) -> None:
    """Bulk 2.0 exports no compound address: an audit's copy lacks what REST sent."""
    address = {"city": "Paris", "street": "1 rue de la Paix"}
    write(db, contact(T1, MailingAddress=address, MailingCity="Paris"), bulk=False)
    assert write(db, contact(T2, MailingCity="Paris"), bulk=True).changed == 0
    assert write(db, contact(T3, MailingCity="Lyon"), bulk=True).updated == 1


def test_a_record_twice_in_one_batch_counts_each_change(db: tuple[Session, str]) -> None:
    """A real-time document may carry an insert and an update of the same record."""
    tally = write(db, contact(T1), contact(T2, Title="CFO"), contact(T2, Title="CFO"),
                  bulk=False)
    assert counts(tally) == (3, 1, 1, 0, 2)


def test_an_interval_page_is_tallied_for_its_run(migrated_url: str,
                                                 db: tuple[Session, str]) -> None:
    from tether.sync import pull
    workspace_id = db[1]
    write(db, contact(T1), bulk=False)
    engine = make_engine(migrated_url)
    ctx = pull.PullContext(session_factory(engine), None, workspace_id,  # type: ignore[arg-type]
                           pull.CallCounter())
    page = {"done": True, "records": [contact(T1), contact(T2, "0035g0000000002AAA")]}
    asyncio.run(pull._apply_pages(ctx, "Contact", page, None))
    engine.dispose()
    assert counts(ctx.tally) == (2, 1, 0, 0, 1)

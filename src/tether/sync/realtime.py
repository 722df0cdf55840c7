"""Real-time sync: applying a document the real-time package posted (docs/realtime-webhook.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from tether.store.models import CustomObjectConfig, Workspace, utcnow
from tether.sync import mirror
from tether.sync.runs import finish_run, start_run


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")
    object: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    operation: Literal["insert", "update", "delete", "undelete"]
    records: list[dict[str, Any]] = Field(max_length=10_000)

    @field_validator("records")
    @classmethod
    def _records_have_keys(cls, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, record in enumerate(records):
            for key in ("Id", "SystemModstamp"):
                if not isinstance(record.get(key), str) or not record[key]:
                    raise ValueError(f"records[{i}] has no {key}")
        return records


class RealtimeDocument(BaseModel):
    model_config = ConfigDict(extra="ignore")
    schema_: Literal["tether.realtime.v1"] = Field(alias="schema")
    delivery_id: str = Field(min_length=1, max_length=100)
    org_id: str = Field(min_length=15, max_length=18)
    committed_at: str | None = None
    changes: list[Change] = Field(max_length=100)


def apply_document(db: Session, workspace: Workspace, doc: RealtimeDocument) -> dict[str, int]:
    """Apply every change of a mirrored object; others are counted as ignored."""
    mirrored = set(mirror.MIRRORED) | set(db.scalars(
        select(CustomObjectConfig.sobject).where(
            CustomObjectConfig.workspace_id == workspace.id)))
    run = start_run(db, workspace.id, "realtime")
    applied = ignored = 0
    for change in doc.changes:
        if change.object not in mirrored:
            ignored += len(change.records)
            continue
        # Only a delete leaves the record deleted; an undelete brings it back.
        records = [{**r, "IsDeleted": change.operation == "delete"} for r in change.records]
        applied += mirror.upsert(db, workspace.id, change.object, records)
    workspace.last_webhook_at = utcnow()
    finish_run(db, run, "succeeded", records_changed=applied, api_calls=0)
    return {"applied": applied, "ignored": ignored}

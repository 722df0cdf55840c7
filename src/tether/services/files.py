"""Files for tracked downloads (CONTRACTS: POST /api/v1/files, and the compose page's upload):
checked once here, so the API and the dashboard refuse the same files in the same words."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from tether.services.errors import Invalid
from tether.services.workspaces import Actor
from tether.store.models import TrackedFile, iso

DEFAULT_TYPE = "application/octet-stream"


def clean_name(filename: str | None) -> str:
    """The file's own name, without the folders a browser or client may send with it."""
    name = (filename or "file").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255]
    if not name or any(ord(c) < 32 for c in name):
        raise Invalid("file: a file name without control characters", "file")
    return name


def file_json(row: TrackedFile) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "size": row.size,
            "content_type": row.content_type, "created_at": iso(row.created_at)}


def store(db: Session, actor: Actor, *, filename: str | None, content_type: str | None,
          data: bytes, limit: int) -> dict[str, Any]:
    """Keep an uploaded file (the caller commits).  ``data`` is what was read, up to
    ``limit`` + 1 bytes: one byte more than the limit refuses it, without reading it all."""
    if len(data) > limit:
        raise Invalid(f"file: at most {limit:,} bytes", "file")
    if not data:
        raise Invalid("file: the file is empty", "file")
    row = TrackedFile(workspace_id=actor.workspace_id, membership_id=actor.membership_id,
                      name=clean_name(filename),
                      content_type=(content_type or DEFAULT_TYPE)[:100], size=len(data),
                      sha256=hashlib.sha256(data).hexdigest(), data=data)
    db.add(row)
    db.flush()
    return file_json(row)


def described(db: Session, actor: Actor, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The caller's workspace's files of these ids, in their order (unknown ones left out)."""
    if not ids:
        return []
    found = {row.id: row for row in db.scalars(select(TrackedFile).where(
        TrackedFile.workspace_id == actor.workspace_id, TrackedFile.id.in_(list(ids)))
        .options(defer(TrackedFile.data)))}  # the names, not the files
    return [file_json(found[i]) for i in ids if i in found]

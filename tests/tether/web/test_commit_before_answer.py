"""An API answer is sent only once the request's transaction is committed: a client that acts
on it at once (follows the authorize URL whose OAuth state was just stored) finds it there.
With FastAPI's default scope for a yield dependency, the commit ran after the answer went
out, and a fast client met "OAuth state mismatch"."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.tether.web.live_server import serving
from tether.store.db import make_engine, session_factory
from tether.store.models import OAuthAttempt


def test_the_answer_follows_the_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_commit = Session.commit

    def slow_commit(self: Session) -> Any:
        time.sleep(0.5)  # a busy database: every commit takes a while
        return real_commit(self)

    with serving(tmp_path) as (world, base):
        monkeypatch.setattr(Session, "commit", slow_commit)
        r = httpx.post(f"{base}/api/v1/salesforce/connect", json={"sandbox": False},
                       headers=world.as_admin(), timeout=30)
        assert r.status_code == 200, r.text
        engine = make_engine(world.url)
        try:
            with session_factory(engine)() as db:
                stored = db.scalar(select(func.count()).select_from(OAuthAttempt))
        finally:
            engine.dispose()
        monkeypatch.undo()
    assert stored == 1

"""JSON API v1: people (being written)."""

from __future__ import annotations

from fastapi import APIRouter

from tether.web.strict import StrictRoute

router = APIRouter(prefix="/api/v1", route_class=StrictRoute)

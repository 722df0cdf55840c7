"""Fixtures for REST behaviour tests: a fresh org per test and its users' REST callers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Sfemu
from tests.sfemu.rest_helpers import Rest


@pytest.fixture
def org(sfemu: Sfemu) -> dict[str, str]:
    return sfemu.new_org()


@pytest.fixture
def admin(sfemu: Sfemu, org: dict[str, str]) -> Iterator[Rest]:
    with Rest(sfemu, org["admin"]) as rest:
        yield rest


@pytest.fixture
def rep(sfemu: Sfemu, org: dict[str, str]) -> Iterator[Rest]:
    with Rest(sfemu, org["rep"]) as rest:
        yield rest

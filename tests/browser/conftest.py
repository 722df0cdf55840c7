"""Browser tests: Debian's chromium (never a downloaded browser) driven by Playwright, against
Tether's real server and sfemu over HTTP.  Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserType, Playwright, sync_playwright

from tests.conftest import Sfemu
from tests.e2e.conftest import Tether, serve

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TETHER_ARTIFACTS", Path(__file__).parents[2] / "artifacts"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # No skip when it is missing: the run fails, saying so (.ci/run installs it).
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-dev-shm-usage"]}


# Playwright per module, not per session (pytest-playwright's default): its sync API keeps an
# event loop running in the thread until stopped, and an asyncio.run() in a later test of the
# same process (an xdist worker runs tests in any order) would fail.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    return getattr(playwright, browser_name)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def launch_browser(browser_type_launch_args: dict[str, Any], browser_type: BrowserType
                   ) -> Callable[..., Browser]:
    def launch(**kwargs: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})
    return launch


@pytest.fixture(scope="module")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # sfemu's login page is served over TLS with this run's own test CA.
    return {**browser_context_args, "ignore_https_errors": True,
            "viewport": {"width": 1366, "height": 900}}


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Path:
    folder = ARTIFACTS / "screenshots" / request.node.name.replace("[", "-").rstrip("]")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def dashboard(sfemu: Sfemu, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Tether]:
    """Tether (embedded worker) on its own SQLite file: the UI is the same on PostgreSQL,
    which the storage and sync tests cover."""
    from tether.store.migrate import upgrade
    url = f"sqlite:///{tmp_path_factory.mktemp('ui-db') / 'tether.db'}"
    upgrade(url)
    with serve(url, sfemu, tmp_path) as server:
        yield server

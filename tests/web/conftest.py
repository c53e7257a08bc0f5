"""Browser tests of the web console: Debian's Chromium driven by Playwright against a real
Guetteur with demo traffic. Skipped (with the reason) when chromium or the built console is
missing; `scripts/setup.sh --test` installs and builds both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from guetteur.api.console import CONSOLE_DIR

from .console_browser import Console
from .console_server import ConsoleServer, console_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (/usr/bin/chromium): scripts/setup.sh --test installs it as root"
    if not (CONSOLE_DIR / "index.html").exists():
        return "the console is not built (src/guetteur/console): scripts/setup.sh builds it when npm is present"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: scripts/setup.sh --test installs it"
    return None


@pytest.fixture(scope="session")
def server(pg_server_dsn: str, pg_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    with console_server(tmp_path_factory.mktemp("web"), pg_server_dsn, pg_template) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def admin(server: ConsoleServer, browser: object) -> Iterator[Console]:
    """The first admin, logged in through the login page and enrolled in TOTP on the way."""
    console = Console.open(browser, server.base_url, ARTIFACTS, locale="fr-FR")
    console.first_admin_login("admin", server.admin_password)
    yield console
    console.close()

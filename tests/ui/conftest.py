"""A real headless Chromium (the system's, /usr/bin/chromium) driven by Playwright, on the test stack.

Screenshots go to .artifacts/ui/ (git-ignored), for a person to look at after a run.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.gateway.test_auth import token_cli
from tests.stack import Gateway

CHROMIUM = "/usr/bin/chromium"
# No sandbox: the tests run as root in a container. The rest keeps the browser off the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parents[2] / ".artifacts" / "ui"
LAPTOP = {"width": 1280, "height": 800}


# Package-scoped: Playwright's sync API runs an event loop in this thread until it stops, and the
# tests after these call asyncio.run().
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One browser for the UI tests; Playwright gives it a fresh --user-data-dir of its own."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, gw: Gateway) -> Iterator[Page]:
    """A page in a new browser context: its own session storage and cookies."""
    context = browser.new_context(base_url=gw.url, viewport=LAPTOP)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def viewer_token(gw: Gateway) -> str:
    return token_cli(gw, "create", "--role", "viewer", "--name", "ui viewer")


def sign_in(page: Page, token: str) -> None:
    page.goto("/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()

"""Browser tests: Playwright drives Debian's Chromium against the gateway served over real HTTP.

One Chromium for the session. The gateway and a ledger of a township's and a
chamber's funds (with their fund managers, an approver and an auditor) are set
up once for this package and emptied after its last test, as the other tests'
tables are after each of theirs. Each person logs in once through the login
page; their login is then reused by every context (width, language) that
browses as them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser.support import PASSWORD, Shots, Site, build_ledger, install_axe, screenshots_dir
from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD, SECRET_KEY, ApiClient, Factory, empty_tables
from tests.reports_support import serve_over_http

CHROMIUM = "/usr/bin/chromium"
# A page that fails, on every service: added here, by the tests alone, to see the 500 page.
FAULT_PATH = "/test-only/fault"


@pytest.fixture(autouse=True)
def _empty_tables_after_test() -> Iterator[None]:
    """The package shares one ledger (see `site`): it is emptied once, after the package's last test."""
    yield


# -- the browser ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no {CHROMIUM}: the browser tests need Debian's chromium (scripts/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    # Chromium leaves a folder of its own in the temporary directory on each run: give it one to lose.
    scratch = tempfile.mkdtemp(prefix="charity-ledger-chromium-")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, env={**os.environ, "TMPDIR": scratch},
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()
    finally:
        playwright.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    return Shots(screenshots_dir(tmp_path_factory.mktemp("screenshots")))


# -- the site and its ledger ---------------------------------------------------------------

# How long a service may trust a login it has checked (shared/auth.py): an ended login is refused
# everywhere after it.
AUTH_CACHE_SECONDS = 2


@pytest.fixture(scope="package")
def site(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The gateway over HTTP with a ledger as two organisations' people keep it."""
    from services.gateway import create_gateway

    config = {"DATABASE_URL": database_url, "VAR_DIR": str(tmp_path_factory.mktemp("browser-var")),
              "SECRET_KEY": SECRET_KEY, "DATABASE_ROLE_PREFIX": "", "BOOTSTRAP_ADMIN_API_KEY": ADMIN_KEY,
              "BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD, "AUTH_CACHE_SECONDS": str(AUTH_CACHE_SECONDS), "TESTING": True}
    gateway = create_gateway(config)
    for app in gateway.apps.values():
        app.add_url_rule(FAULT_PATH, "test_only_fault", _fault)
    base_url, stop = serve_over_http(gateway)
    api = ApiClient(gateway)
    site = Site(base_url, gateway, api, Factory(api))
    try:
        build_ledger(site)
        yield site
    finally:
        stop()
        for app in gateway.apps.values():
            app.extensions["peers"].close()
            app.extensions["database"].dispose()
        empty_tables(database_url)


def _fault() -> Any:
    raise RuntimeError("a fault on purpose: the 500 page's test")


# -- people, logged in through the login page ----------------------------------------------

@pytest.fixture(scope="package")
def logged_in(chromium: Any, site: Site) -> Callable[[str], Any]:
    """A person's login (the browser's cookies after the login page), made once and kept."""

    def login(username: str) -> Any:
        if username not in site.logins:
            context = chromium.new_context(locale="zh-CN")
            page = context.new_page()
            page.goto(f"{site.base_url}/funds/login")
            page.locator("#username").fill(username)
            page.locator("#password").fill(ADMIN_PASSWORD if username == "admin" else PASSWORD)
            page.locator("main form button[type=submit]").click()
            page.wait_for_url(lambda url: "/login" not in url)
            site.logins[username] = context.storage_state()
            context.close()
        return site.logins[username]

    return login


@pytest.fixture
def open_context(chromium: Any, logged_in: Callable[[str], Any]) -> Iterator[Callable[..., Any]]:
    """A browser context as a person (or nobody), at a width, in a language; axe-core in its pages."""
    contexts: list[Any] = []

    def open_(username: str | None, lang: str = "zh", width: int = 1280) -> Any:
        context = chromium.new_context(
            viewport={"width": width, "height": 900}, locale="en-GB" if lang == "en" else "zh-CN",
            storage_state=logged_in(username) if username else None)
        install_axe(context)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield open_
    for context in contexts:
        context.close()

"""Every error page a person can meet, in Chromium: 400, 403, 404, 405, 413, 429 and 500.

Each is met as people meet it (a form whose token is no longer good, a page of a
role they lack, an address that leads nowhere, a link to an address that only
takes forms, an upload far too big, one wrong password too many, a fault of the
server), at an office screen's width and a phone's, in Chinese and in English.
Each answers with its status, inside the site's layout (the language switch, and
the menu when logged in), says what happened in the page's language, offers a
way back, shows no stack trace, passes axe-core and never scrolls sideways.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from shared import i18n
from tests.browser.conftest import FAULT_PATH
from tests.browser.support import LANGUAGES, PASSWORD, WIDTHS, PageChecks, Site

MANAGER = "zhen.manager"
APPROVER = "shanghui.approver"
MENU = {"zh": "主菜单", "en": "Main menu"}


def shows_an_error_page(page: Page, checks: PageChecks, step: str, status: int, code: str, lang: str,
                        params: dict[str, Any] | None = None, logged_in: bool = True) -> None:
    """The page now shown is the error page of `code`, as the rules above want it."""
    checks.check(step)
    where = f"{step} ({page.url}, {lang}, {checks.width} px)"
    main = page.locator("main").inner_text()
    failures = checks.failures
    for words in (str(status), i18n.title(code, lang), i18n.render(code, params or {}, lang)):
        if words not in main:
            failures.append(f"{where}: {words!r} not in the page: {main!r}")
    if "Traceback" in page.content() or "Error:" in main:
        failures.append(f"{where}: the page shows a stack trace")
    back = page.locator("main a.back")
    if back.count() != 1 or not back.get_attribute("href"):
        failures.append(f"{where}: no way back")
    if page.get_by_role("navigation", name="语言 / Language").count() != 1:
        failures.append(f"{where}: not inside the layout (no language switch)")
    # The menu: in the header on a wide screen, behind its button on a phone.
    menu = (page.get_by_role("navigation", name=MENU[lang]).get_by_role("link") if checks.width > 768
            else page.locator("header details.menu-fold > summary"))
    if logged_in and not (menu.count() and menu.first.is_visible()):
        failures.append(f"{where}: the menu is missing")


def expect_status(response: Any, status: int, checks: PageChecks, step: str) -> None:
    if response is None or response.status != status:
        checks.failures.append(f"{step}: status {response.status if response else None}, wanted {status}")


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file larger than any request the site takes (MAX_CONTENT_LENGTH, 64 MB)."""
    path = tmp_path_factory.mktemp("upload") / "donations.csv"
    with path.open("wb") as handle:
        handle.write(b"fund_code,amount\n")
        handle.truncate(65 * 1024 * 1024)
    return path


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_every_error_page_is_in_the_layout_in_the_pages_language_with_a_way_back(
        width: int, lang: str, site: Site, open_context: Callable[..., Any], shots: Any, big_file: Path) -> None:
    page = open_context(MANAGER, lang, width).new_page()
    checks = PageChecks(page, site.base_url, shots, "errors", lang, width)
    base = site.base_url

    # 400: a form whose CSRF token is no longer good (another tab's, a day-old page).
    page.goto(f"{base}/donations/new")
    page.locator("main form.card input[name=csrf_token]").evaluate_all("es => es.forEach(e => e.value = 'stale')")
    page.locator("#amount").fill("100.00")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator("main form.card button[type=submit]").first.click()
    page.wait_for_load_state()
    expect_status(answer.value, 400, checks, "400")
    shows_an_error_page(page, checks, "400", 400, "csrf_failed", lang)
    if page.locator("main a[href$='/donations/new']").count() != 1:
        checks.failures.append("400: no way back to the form")
    if "csrf_token" in page.locator("main").inner_text():
        checks.failures.append("400: the page names a field by its code")

    # 403: a page of a role the user lacks (an approver's? an admin's list of organisations).
    expect_status(page.goto(f"{base}/funds/organizations/"), 403, checks, "403")
    shows_an_error_page(page, checks, "403", 403, "role_forbidden", lang)

    # 404: an address that leads nowhere.
    expect_status(page.goto(f"{base}/donations/receipts/987654"), 404, checks, "404")
    shows_an_error_page(page, checks, "404", 404, "donation_not_found", lang, {"id": 987654})
    expect_status(page.goto(f"{base}/funds/no/such/page"), 404, checks, "404-page")
    shows_an_error_page(page, checks, "404-page", 404, "not_found", lang)

    # 405: an address that only takes a form, opened as a link.
    expect_status(page.goto(f"{base}/donations/disbursements/{site.ids['town_requested']}/approve"), 405,
                  checks, "405")
    shows_an_error_page(page, checks, "405", 405, "method_not_allowed", lang, {"method": "GET"})

    # 413: an upload bigger than any request the site takes (a scan sent as the donations' file).
    page.goto(f"{base}/donations/import")
    page.locator("input[type=file]").set_input_files(str(big_file))
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()
    expect_status(answer.value, 413, checks, "413")
    shows_an_error_page(page, checks, "413", 413, "payload_too_large", lang)

    # 500: a fault of the server (a route the tests alone add).
    expect_status(page.goto(f"{base}/donations{FAULT_PATH}"), 500, checks, "500")
    shows_an_error_page(page, checks, "500", 500, "internal_error", lang)
    checks.assert_clean()


def test_too_many_wrong_passwords_answer_429_on_the_login_page_in_its_language(
        site: Site, open_context: Callable[..., Any], shots: Any) -> None:
    """Five wrong passwords for an account, then every try is refused for a while, the right
    password too; the login page says so in its language, and when to try again.

    The five are typed once (the address's own count, 20 a minute, is shared by every test
    here); the tries after them are refused before they are counted."""
    username = "guessed.manager"
    site.user(username, "fund_manager", site.township.id)  # type: ignore[union-attr]
    failures: list[str] = []
    for round_, (width, lang) in enumerate((w, l) for w in WIDTHS for l in LANGUAGES):
        page = open_context(None, lang, width).new_page()
        checks = PageChecks(page, site.base_url, shots, "errors", lang, width)
        page.goto(f"{site.base_url}/funds/login")
        for attempt in range(6 if round_ == 0 else 1):
            page.locator("#username").fill(username)
            page.locator("#password").fill(PASSWORD if attempt == 5 or round_ else f"wrong-{attempt}-{PASSWORD}")
            with page.expect_response(lambda r: r.request.method == "POST") as answer:
                page.locator("main form button[type=submit]").click()
            page.wait_for_load_state()
        expect_status(answer.value, 429, checks, "429")
        seconds = answer.value.headers.get("retry-after", "")
        if not seconds.isdigit():
            checks.failures.append(f"429 ({lang}, {width} px): no Retry-After")
        checks.check("429")
        text = page.locator("main").inner_text()
        said = i18n.render("too_many_attempts", {"seconds": "@"}, lang).split("@")[0]
        if said not in text:
            checks.failures.append(f"429 ({lang}, {width} px): {said!r} not in {text!r}")
        if "/login" not in page.url or not page.locator("#username").is_visible():
            checks.failures.append(f"429 ({lang}, {width} px): not the login form")
        failures += checks.failures
    assert not failures, "\n".join(failures)

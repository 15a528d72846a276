"""The layout's rules for phones and keyboards, as a person meets them in Chromium.

At 390 px the menu folds behind a button and wide tables scroll within their own
box; a skip link leads to the page's content; every interactive element shows
the keyboard's focus; a refused form lists its errors at its top, each a link to
its field, and marks the fields invalid for screen readers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.browser.support import Shots, Site, axe_violations, blocking, describe, no_horizontal_scroll

MANAGER = "zhen.manager"


def test_on_a_phone_the_menu_folds_behind_a_button_that_needs_no_script(site: Site, shots: Shots,
                                                                         open_context: Callable[..., Any]) -> None:
    page = open_context(MANAGER, "zh", 390).new_page()
    page.goto(f"{site.base_url}/donations/")
    menu_button = page.locator("header summary")
    reports = page.get_by_role("navigation", name="主菜单").get_by_role("link", name="审计报表")
    assert menu_button.is_visible() and menu_button.inner_text().strip().endswith("菜单")
    assert reports.count() == 0  # folded: not shown, not in the accessibility tree
    menu_button.click()
    shots.take(page, "layout", "menu_open", "zh", 390)
    found = blocking(axe_violations(page))
    assert not found, describe(found)
    reports.click()
    page.wait_for_url(f"{site.base_url}/reports/")
    assert page.locator("h1").first.is_visible()

    wide = open_context(MANAGER, "zh", 1280).new_page()
    wide.goto(f"{site.base_url}/donations/")
    assert not wide.locator("header summary").is_visible()
    links = wide.get_by_role("navigation", name="主菜单").get_by_role("link")
    assert [name.strip() for name in links.all_inner_texts()] == ["基金", "捐赠与拨付", "审计报表", "帮扶"]
    assert wide.get_by_role("link", name="捐赠与拨付").get_attribute("aria-current") == "page"


def test_on_a_phone_a_wide_table_scrolls_within_its_box_and_the_keyboard_reaches_it(
        site: Site, open_context: Callable[..., Any]) -> None:
    page = open_context("shanghui.approver", "zh", 390).new_page()
    page.goto(f"{site.base_url}/donations/disbursements/queue")
    assert no_horizontal_scroll(page)
    box = page.locator(".table-wrap").first
    sizes = box.evaluate("b => [b.scrollWidth, b.clientWidth, getComputedStyle(b).overflowX]")
    assert sizes[0] > sizes[1] and sizes[2] == "auto", sizes
    assert box.get_attribute("tabindex") == "0"
    box.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('.table-wrap').scrollLeft > 0")
    # The table keeps its role (it is not turned into a block of text).
    assert page.get_by_role("table").count() >= 1


def test_the_skip_link_is_the_first_stop_and_leads_to_the_content(site: Site,
                                                                  open_context: Callable[..., Any]) -> None:
    page = open_context(MANAGER, "en", 1280).new_page()
    page.goto(f"{site.base_url}/funds/")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.textContent.trim(), document.activeElement.getAttribute('href')]")
    assert focused == ["Skip to main content", "#main"]
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["y"] >= 0  # shown once focused
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"


def test_every_interactive_element_shows_the_keyboards_focus(site: Site,
                                                              open_context: Callable[..., Any]) -> None:
    page = open_context(MANAGER, "zh", 1280).new_page()
    page.goto(f"{site.base_url}/donations/new")
    seen: dict[str, str] = {}
    for _ in range(40):
        page.keyboard.press("Tab")
        tag, focused, outline, width = page.evaluate(
            """() => { const e = document.activeElement, s = getComputedStyle(e);
                       return [e.tagName.toLowerCase() + (e.type ? ':' + e.type : ''), e.matches(':focus'),
                               s.outlineStyle, parseFloat(s.outlineWidth)]; }""")
        if tag == "body":
            break
        if not focused:
            continue  # inside a date field's own parts (its calendar button), which the browser draws
        assert outline != "none" and width >= 2, (tag, outline, width)
        seen[tag] = outline
    assert {"a", "input:text", "select:select-one", "button:submit"} <= set(seen), seen


def test_a_refused_form_lists_its_errors_at_the_top_each_linked_to_its_field(
        site: Site, open_context: Callable[..., Any]) -> None:
    page = open_context(MANAGER, "zh", 390).new_page()
    page.goto(f"{site.base_url}/donations/new")
    page.locator("#amount").fill("-5")
    page.locator("#donor_name").fill("")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator("main form.card button[type=submit]").first.click()
    assert answer.value.status == 422

    summary = page.get_by_role("alert").filter(has=page.get_by_role("heading", name="请更正以下问题"))
    assert summary.count() == 1
    links = summary.get_by_role("link")
    targets = [href.lstrip("#") for href in (links.nth(i).get_attribute("href") or "" for i in range(links.count()))]
    assert "amount" in targets and "donor_name" in targets, targets
    for target in targets:
        field = page.locator(f"#{target}")
        assert field.get_attribute("aria-invalid") == "true", target
        described = (field.get_attribute("aria-describedby") or "").split()
        assert f"errors-{target}" in described, (target, described)
        assert page.locator(f"#errors-{target}").inner_text().strip()
    # Following a link puts the cursor in its field.
    links.nth(targets.index("amount")).click()
    assert page.evaluate("() => document.activeElement.id") == "amount"
    # A field without errors is not marked.
    assert page.locator("#purpose").get_attribute("aria-invalid") is None
    found = blocking(axe_violations(page))
    assert not found, describe(found)


def test_the_login_pages_error_summary_speaks_english_when_asked(site: Site,
                                                                 open_context: Callable[..., Any]) -> None:
    page = open_context(None, "en", 1280).new_page()
    page.goto(f"{site.base_url}/funds/login")
    page.locator("#username").fill(MANAGER)
    page.locator("#password").fill("not the password at all")
    page.locator("main form button[type=submit]").click()
    summary = page.get_by_role("alert").filter(has=page.get_by_role("heading", name="Please correct the following"))
    assert summary.count() == 1
    assert summary.get_by_role("link").first.get_attribute("href") == "#password"
    assert page.locator("#password").get_attribute("aria-invalid") == "true"
    assert page.locator("html").get_attribute("lang") == "en"
    found = blocking(axe_violations(page))
    assert not found, describe(found)

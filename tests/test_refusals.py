"""Refusals are codes; their words come from one catalogue per language.

Every code renders in Chinese and in English; the API answers with the code
(in `type`, `code` and `codes`) and English words; a page answers in its
reader's language, Chinese unless asked otherwise."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shared import i18n
from shared.errors import Problem
from shared.refusals import KINDS, LABELS, PAGE_WORDS, THIS_FIELD, Label
from shared.refusals import english as api_message
from tests.conftest import ApiClient, Browser, Factory
from tests.helpers import assert_problem, field_errors, text
from tests.test_pages_language import page_messages

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
HAN = re.compile(r"[\u4e00-\u9fff]")


def sample_params(code: str) -> dict[str, Any]:
    names = set(PLACEHOLDER.findall(KINDS[code].message))
    names |= set(PLACEHOLDER.findall(i18n.catalogue("zh").gettext(KINDS[code].message)))
    return {name: Label("frozen") if name in ("status", "target") else Label("bank") if name == "account"
            else f"<{name}>" for name in names}


@pytest.mark.parametrize("code", sorted(KINDS))
def test_every_refusal_has_its_words_in_chinese_and_english(code: str) -> None:
    params = sample_params(code)
    english = i18n.render(code, params, "en")
    chinese = i18n.render(code, params, "zh")
    assert english == KINDS[code].message % {k: LABELS[v] if isinstance(v, Label) else v for k, v in params.items()}
    assert chinese != english and HAN.search(chinese), f"{code} has no Chinese words"
    for text_ in (english, chinese):
        assert "%(" not in text_ and text_.strip()
    # Every parameter the English names is shown in Chinese too (a label translated).
    for name, value in params.items():
        if name in PLACEHOLDER.findall(KINDS[code].message) and name != "field":
            shown = i18n.label(value, "zh") if isinstance(value, Label) else value
            assert shown in chinese, (code, name)
    assert i18n.title(code, "en") == KINDS[code].title
    assert HAN.search(i18n.title(code, "zh"))


@pytest.mark.parametrize("value", sorted(LABELS))
def test_every_value_a_message_names_is_translated(value: str) -> None:
    assert i18n.label(value, "en") == LABELS[value]
    assert HAN.search(i18n.label(value, "zh"))


def test_the_catalogues_hold_nothing_else_and_nothing_untranslated() -> None:
    wanted = {kind.message for kind in KINDS.values()} | {kind.title for kind in KINDS.values()}
    wanted |= set(LABELS.values()) | {THIS_FIELD} | set(PAGE_WORDS)
    wanted |= page_messages()  # the pages' own words (tests/test_pages_language.py)
    for language in i18n.LANGUAGES:
        catalogue = i18n.catalogue(language)
        held = {message for message in catalogue._catalog if message}  # type: ignore[attr-defined]
        assert held == wanted, (language, held ^ wanted)
        for message in wanted:
            assert catalogue.gettext(message), (language, message)


def test_the_api_answers_a_refusal_with_its_code_in_english(api: ApiClient, make: Factory) -> None:
    organization = make.organization()
    fund = make.fund(organization["id"], "LANG-001")
    refused = assert_problem(api.post("/donations/api/v1/disbursements", json={
        "fund_code": fund["code"], "amount": "1.5", "payee": "", "purpose": "x"},
        headers={"Accept-Language": "zh-CN"}), 422, "amount")
    assert refused["code"] == "validation" and refused["type"].endswith("/validation")
    assert refused["codes"] == {"amount": ["amount_format"], "payee": ["blank"]}
    assert refused["errors"]["amount"] == ['Must be an amount with exactly two decimals, such as "1280.00".']
    assert not HAN.search(refused["detail"])
    missing = assert_problem(api.get("/donations/api/v1/funds/NO-SUCH/balance"), 404)
    assert missing["code"] == "fund_not_found" and missing["detail"] == "No fund NO-SUCH."


@pytest.fixture
def manager(admin: Browser, make: Factory) -> Browser:
    organization = make.organization()
    make.fund(organization["id"], "LANG-002")
    return admin


def test_a_page_shows_refusals_in_chinese_and_in_english_when_asked(manager: Browser) -> None:
    form = {"fund_code": "LANG-002", "amount": "12.345", "currency": "CNY", "donor_name": "", "donor_kind": "individual",
            "received_on": "2000-01-01", "channel": "bank"}
    chinese = manager.submit("/donations/new", form)
    assert chinese.status_code == 422
    assert "两位小数" in field_errors(chinese, "amount") and "请输入捐赠人名称" in field_errors(chinese, "donor_name")

    english = manager.submit("/donations/new?lang=en", form, action="/donations/new?lang=en")
    assert english.status_code == 422
    assert "At most two decimals" in field_errors(english, "amount")
    assert "Missing data for required field" in field_errors(english, "donor_name")
    # The choice is remembered.
    again = manager.submit("/donations/new", form)
    assert "At most two decimals" in field_errors(again, "amount")
    back = manager.submit("/donations/new?lang=zh", form, action="/donations/new?lang=zh")
    assert "两位小数" in field_errors(back, "amount")


def test_an_error_page_speaks_the_browsers_language(browser: Browser) -> None:
    chinese = browser.http.get("/donations/api-not-here", headers={"Accept": "text/html"})
    assert chinese.status_code == 404 and "此地址没有内容" in text(chinese)
    english = browser.http.get("/donations/api-not-here",
                               headers={"Accept": "text/html", "Accept-Language": "en-GB,en;q=0.9"})
    assert english.status_code == 404 and "There is nothing at this address." in text(english)
    assert "返回" in text(chinese) and "Back" in text(english) and "返回" not in text(english)
    # The way back is a link the pages' CSP lets work: to the service's start page.
    html = chinese.get_data(as_text=True)
    assert 'href="/donations/">返回首页</a>' in html and "javascript:" not in html


def test_the_language_switch_keeps_the_page_and_its_query(manager: Browser) -> None:
    page = manager.get("/donations/search?fund_code=LANG-002&donor=%E5%BC%A0&lang=zh")
    assert page.status_code == 200
    links = dict(re.findall(r'<a href="([^"]+)" hreflang="(\w+)">', page.get_data(as_text=True)))
    assert {language: href for href, language in links.items()} == {
        "en": "/donations/search?fund_code=LANG-002&amp;donor=%E5%BC%A0&amp;lang=en"}
    english = manager.get("/donations/search?fund_code=LANG-002&donor=%E5%BC%A0&lang=en")
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert "<strong>English</strong>" in english.get_data(as_text=True)


def test_a_peers_refusal_is_raised_again_by_its_code_and_a_garbled_one_is_the_peer_failing() -> None:
    relayed = Problem.relayed("donations", {"code": "disbursement_not_requested",
                                            "params": {"id": 7, "status": "paid"}})
    assert (relayed.code, relayed.status) == ("disbursement_not_requested", 409)
    assert "已支付" in i18n.render(relayed.code, relayed.params, "zh")  # the status shown as a label
    for garbled in ({"code": "no-such-code"}, {"title": "Conflict"}, ["x"], {"code": "fund_closed", "params": 3},
                    {"code": "validation", "errors": {}}):
        failed = Problem.relayed("donations", garbled)
        assert (failed.code, failed.status) == ("service_unavailable", 503), garbled


def test_a_page_groups_the_thousands_of_a_sum_in_a_refusal_and_the_api_keeps_the_figure() -> None:
    params = {"fund_code": "TL-01", "balance": "1234567.80", "reserved": "0.00"}
    assert "1,234,567.80 元" in i18n.render("fund_not_empty", params, "zh")
    assert "1,234,567.80 CNY" in i18n.render("fund_not_empty", params, "en")
    assert "1234567.80 CNY" in api_message("fund_not_empty", params)

"""Every page a fund manager, an approver, an auditor and an admin reach, in Chromium.

Each page is opened at an office screen's width and a phone's, in Chinese and in
English, as the person who uses it; it must answer, carry the page's language,
never scroll sideways as a whole, and pass axe-core with no serious or critical
violation. A screenshot of each is kept (make screenshots).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared.dates import today
from tests.browser.support import LANGUAGES, PROJECT, WIDTHS, PageChecks, Site

# (step, path, status) for each person; paths may name the ledger's ids ({town_donation}, ...).
Visits = list[tuple[str, str, int]]


def township_manager(site: Site) -> Visits:
    fund, ids = site.township.fund, site.ids  # type: ignore[union-attr]
    return [
        ("funds", "/funds/", 200),
        ("fund", f"/funds/{fund}", 200),
        ("fund-new", "/funds/new", 200),
        ("fund-edit", f"/funds/{fund}/edit", 200),
        ("fund-close", f"/funds/{fund}/close", 200),
        ("fund-freeze", f"/funds/{fund}/freeze", 200),
        ("donations", "/donations/", 200),
        ("donation-new", "/donations/new", 200),
        ("import", "/donations/import", 200),
        ("import-not-found", "/donations/import/987654", 404),  # the preview and the result: test_import.py
        ("search", f"/donations/search?fund_code={fund}", 200),
        ("search-sorted", f"/donations/search?fund_code={fund}&sort=amount&order=asc&size=20", 200),
        ("search-refused", "/donations/search?amount_min=abc&sort=nothing", 422),  # the error summary names both
        ("receipt", f"/donations/receipts/{ids['town_donation']}", 200),
        ("receipt-reverse", f"/donations/receipts/{ids['town_donation']}/reverse", 200),
        ("statement", f"/donations/funds/{fund}/statement", 200),
        ("disbursement-new", "/donations/disbursements/new", 200),
        ("disbursements", "/donations/disbursements/", 200),
        ("disbursement", f"/donations/disbursements/{ids['town_requested']}", 200),  # the requester may withdraw it
        ("reports", "/reports/", 200),
        ("report", f"/reports/reports/{ids['town_report']}", 200),
        ("subscriptions", "/reports/subscriptions", 200),
        ("exports", "/reports/exports", 200),
        ("not-found", "/donations/receipts/987654", 404),
        ("no-such-page", "/funds/no/such/page", 404),
        ("forbidden", "/funds/organizations/", 403),
    ]


def chamber_manager(site: Site) -> Visits:
    fund, ids = site.chamber.fund, site.ids  # type: ignore[union-attr]
    return [
        ("funds", "/funds/", 200),
        ("fund", f"/funds/{fund}", 200),
        ("donations", "/donations/", 200),
        ("receipt", f"/donations/receipts/{ids['chamber_donation']}", 200),
        ("disbursements", "/donations/disbursements/", 200),  # an approved one, with its payment form
        ("statement", f"/donations/funds/{fund}/statement", 200),
        ("needs", "/programmes/", 200),
        ("needs-filtered", "/programmes/?township=义安区钟鸣镇&category=lighting&size=50", 200),
        ("need", f"/programmes/needs/{ids['need']}", 200),  # its own claim, with its buttons, and the claim form
        ("need-refused", "/programmes/?status=nothing", 422),
        ("claim-withdraw", f"/programmes/claims/{ids['claim']}/withdraw", 200),
        ("claims", "/programmes/claims", 200),
        ("villages", "/programmes/villages", 200),
        ("village", f"/programmes/villages/{ids['village']}", 200),
        ("projects", "/programmes/projects", 200),
        ("project", f"/programmes/projects/{PROJECT}", 200),  # a milestone accepted, a line partly paid
        ("project-new", "/programmes/projects/new", 200),
        ("teams", "/programmes/teams", 200),
        ("team", f"/programmes/teams/{ids['team']}", 200),  # with the form to record an activity
        ("drives", "/programmes/drives", 200),
        ("drive", f"/programmes/drives/{ids['drive']}", 200),  # a purchase of each kind, classified
        ("calendar", "/programmes/calendar", 200),
    ]


def approver(site: Site) -> Visits:
    fund = site.chamber.fund  # type: ignore[union-attr]
    return [
        ("funds", "/funds/", 200),
        ("fund", f"/funds/{fund}", 200),
        ("donations", "/donations/", 200),
        ("queue", "/donations/disbursements/queue", 200),
        ("disbursement", f"/donations/disbursements/{site.ids['chamber_requested']}", 200),
        ("reject", f"/donations/disbursements/{site.ids['chamber_requested']}/reject", 200),
        ("disbursements", "/donations/disbursements/", 200),
        ("statement", f"/donations/funds/{fund}/statement", 200),
        ("reports", "/reports/", 200),
        ("project", f"/programmes/projects/{PROJECT}", 200),  # the second milestone's acceptance, the stop
        ("forbidden", "/donations/new", 403),
    ]


def auditor(site: Site) -> Visits:
    ids = site.ids
    return [
        ("funds", "/funds/", 200),
        ("fund", f"/funds/{site.township.fund}", 200),  # type: ignore[union-attr]
        ("donations", "/donations/", 200),
        ("search", "/donations/search", 200),
        ("receipt", f"/donations/receipts/{ids['chamber_donation']}", 200),
        ("statement", f"/donations/funds/{site.chamber.fund}/statement", 200),  # type: ignore[union-attr]
        ("statement-month", f"/donations/funds/{site.chamber.fund}/statement?from={today().replace(day=1)}"  # type: ignore[union-attr]
                            f"&to={today()}&size=20", 200),
        ("disbursements-filtered", "/donations/disbursements/?status=approved&sort=amount&order=desc", 200),
        ("reports", "/reports/", 200),
        ("report", f"/reports/reports/{ids['town_report']}", 200),
        ("subscriptions", "/reports/subscriptions", 200),
        ("exports", "/reports/exports", 200),
        ("needs", "/programmes/?status=open", 200),
        ("need", f"/programmes/needs/{ids['need']}", 200),
        ("projects", "/programmes/projects", 200),  # every organisation's
        ("calendar", "/programmes/calendar", 200),
    ]


def admin(site: Site) -> Visits:
    return [
        ("overview", "/donations/", 200),  # every organisation's funds, in total
        ("fund", f"/funds/{site.chamber.fund}", 200),  # type: ignore[union-attr]
        ("organisations", "/funds/organizations/", 200),
        ("organisation", f"/funds/organizations/{site.township.id}", 200),  # type: ignore[union-attr]
        ("users", "/funds/users/", 200),
        ("user-new", "/funds/users/new", 200),
        ("needs", "/programmes/", 200),
        ("need", f"/programmes/needs/{site.ids['need']}", 200),  # every organisation's claims
        ("need-close", f"/programmes/needs/{site.ids['need']}/close", 200),
        ("villages", "/programmes/villages", 200),  # with the form to list one
        ("village", f"/programmes/villages/{site.ids['village']}", 200),  # with the form to post a need
        ("claims", "/programmes/claims", 200),
        ("projects", "/programmes/projects", 200),
        ("project", f"/programmes/projects/{PROJECT}", 200),
        ("teams", "/programmes/teams", 200),
        ("drives", "/programmes/drives", 200),
        ("drive", f"/programmes/drives/{site.ids['drive']}", 200),
    ]


def nobody(site: Site) -> Visits:
    return [("login", "/funds/login", 200), ("not-found", "/reports/nothing-here", 404),
            # The public disclosure (公开), read without a login.
            ("public", "/programmes/public/", 200),
            ("public-fund", f"/programmes/public/funds/{site.chamber.fund}", 200),  # type: ignore[union-attr]
            ("public-village", f"/programmes/public/villages/{site.ids['village']}", 200),
            ("public-project", f"/programmes/public/projects/{PROJECT}", 200),
            ("public-team", f"/programmes/public/teams/{site.ids['team']}", 200),
            ("public-not-found", "/programmes/public/villages/987654", 404)]


PEOPLE: dict[str, tuple[str | None, Callable[[Site], Visits]]] = {
    "township-manager": ("zhen.manager", township_manager),
    "chamber-manager": ("shanghui.manager", chamber_manager),
    "approver": ("shanghui.approver", approver),
    "auditor": ("zonghui.auditor", auditor),
    "admin": ("admin", admin),
    "logged-out": (None, nobody),
}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("person", PEOPLE)
def test_every_page_passes_axe_at_both_widths_in_both_languages(person: str, width: int, lang: str, site: Site,
                                                                  open_context: Callable[..., Any],
                                                                  shots: Any) -> None:
    username, visits = PEOPLE[person]
    page = open_context(username, lang, width).new_page()
    checks = PageChecks(page, site.base_url, shots, person, lang, width)
    for step, path, status in visits(site):
        checks.visit(step, path, status)
    checks.assert_clean()

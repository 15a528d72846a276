"""The error pages' way back: the page of this site the reader came from, never another site's."""

from __future__ import annotations

from typing import Any

from tests.conftest import Browser

HTML = {"Accept": "text/html"}


def test_an_error_page_leads_back_to_the_page_of_this_site_the_reader_came_from(admin: Browser) -> None:
    page = admin.http.get("/donations/receipts/987654", headers={**HTML, "Referer": "http://localhost/donations/search?q=1"})
    html = page.get_data(as_text=True)
    assert page.status_code == 404 and 'href="/donations/search?q=1"' in html
    assert 'class="back" href="/donations/"' in html


def test_an_error_page_offers_no_way_to_another_site(admin: Browser) -> None:
    page = admin.http.get("/donations/receipts/987654", headers={**HTML, "Referer": "https://evil.example/donations/"})
    assert page.status_code == 404 and "evil.example" not in page.get_data(as_text=True)


def test_a_refused_form_leads_back_to_itself_and_names_no_field_by_its_code(admin: Browser, api: Any) -> None:
    page = admin.http.post("/donations/new", data={"csrf_token": "forged", "amount": "1.00"},
                           headers={**HTML, "Referer": "http://localhost/donations/new"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'href="/donations/new"' in html
    assert "csrf_token</strong>" not in html and html.count("CSRF") == 1

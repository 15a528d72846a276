"""The programmes pages (villages, the needs list, claims), driven as people would through the gateway.

What the pages did is checked through the public API: they write exactly what
they say, and nothing when they show a refusal.
"""

from __future__ import annotations

import re
from typing import Any

from conftest import Browser, csrf_token
from helpers import field_errors, text
from tests.test_pages_language import ENGLISH_LABELS, VisibleText, han_outside_data

API = "/programmes/api/v1"
PASSWORD = "a-long-enough-password"
HTML = {"Accept": "text/html"}


def logged_in(gateway: Any, make: Any, role: str, organization_id: int, username: str) -> Browser:
    make.user(gateway, username, PASSWORD, role, organization_id)
    browser = Browser(gateway)
    browser.login(username, PASSWORD)
    return browser


def post(browser: Browser, path: str, data: dict[str, Any], token_from: str) -> Any:
    """POST to `path` with the CSRF token of the page `token_from` (a button or a form on it)."""
    page = browser.get(token_from)
    assert page.status_code == 200, (token_from, page.status_code)
    return browser.http.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True)), **data},
                             headers=HTML)


def list_village_and_need(admin: Browser, name: str = "Hongqi", township: str = "Zhongming",
                          amount: str = "3,500") -> tuple[int, int]:
    """The bureau lists a village and posts its need through the pages: (village id, need id)."""
    listed = post(admin, "/programmes/villages", {"name": name, "township": township, "weak": "y",
                                                  "submission_id": f"village{name}"}, "/programmes/villages")
    assert listed.status_code == 302, listed.get_data(as_text=True)
    village_id = int(listed.headers["Location"].rsplit("/", 1)[1])
    posted = post(admin, f"/programmes/villages/{village_id}/needs", {
        "village_id": str(village_id), "title": "Ten street lamps", "category": "lighting", "amount": amount,
        "quantity": "10", "unit": "lamps", "due_on": "2027-03-31", "priority": "high", "description": "Along the main road",
        "submission_id": f"need{name}"}, f"/programmes/villages/{village_id}")
    assert posted.status_code == 302, posted.get_data(as_text=True)
    need_id = int(posted.headers["Location"].rsplit("/", 1)[1])
    return village_id, need_id


def claim(browser: Browser, need_id: int, amount: str, key: str) -> Any:
    return post(browser, f"/programmes/needs/{need_id}/claims", {"amount": amount, "due_on": "",
                                                                 "submission_id": key},
                f"/programmes/needs/{need_id}")


def test_the_bureau_lists_a_village_and_posts_a_need_on_the_needs_list(admin: Browser, api: Any) -> None:
    village_id, need_id = list_village_and_need(admin)
    need = api.get(f"{API}/needs/{need_id}").json
    assert (need["village_id"], need["amount"], need["category"], need["priority"], need["due_on"]) == (
        village_id, "3500.00", "lighting", "high", "2027-03-31")
    assert (need["quantity"], need["unit"]) == ("10", "lamps")
    assert re.search(r'id="asked-goods">\(10 lamps\)<', admin.get(f"/programmes/needs/{need_id}").get_data(as_text=True))
    village = api.get(f"{API}/villages/{village_id}").json
    assert (village["name"], village["township"], village["weak"]) == ("Hongqi", "Zhongming", True)

    listed = admin.get("/programmes/")
    shown = text(listed)
    assert listed.status_code == 200
    row = re.search(rf'<tr id="need-{need_id}">(.*?)</tr>', shown, re.S).group(1)  # type: ignore[union-attr]
    assert "Hongqi" in row and "Zhongming" in row and "Ten street lamps" in row
    assert "路灯照明" in row and "高" in row and "2027-03-31" in row and "¥3,500.00" in row and "待认领" in row
    assert re.search(r'id="total-amount">¥3,500.00<', shown)
    # The filters: another township's needs are not listed.
    assert f'id="need-{need_id}"' not in admin.get("/programmes/?township=Elsewhere").get_data(as_text=True)
    assert f'id="need-{need_id}"' in admin.get("/programmes/?township=Zhongming&status=open&size=50") \
        .get_data(as_text=True)
    assert admin.get("/programmes/?size=7&status=nothing").status_code == 422


def test_a_fund_manager_claims_part_of_a_need_and_sees_it(admin: Browser, api: Any, gateway: Any,
                                                          make: Any) -> None:
    _, need_id = list_village_and_need(admin)
    org = make.organization("Riverside Chamber")
    manager = logged_in(gateway, make, "fund_manager", org["id"], "river.manager")

    page = manager.get(f"/programmes/needs/{need_id}")
    assert page.status_code == 200 and 'id="amount"' in page.get_data(as_text=True)
    claimed = claim(manager, need_id, "¥1,200", "claim0001first")
    assert claimed.status_code == 302, claimed.get_data(as_text=True)
    need = api.get(f"{API}/needs/{need_id}").json
    assert (need["pledged"], need["open"], need["status"]) == ("1200.00", "2300.00", "open")
    claims = api.get(f"{API}/claims?need_id={need_id}").json["items"]
    assert [(c["organization_id"], c["amount"], c["status"], c["due_on"]) for c in claims] == [
        (org["id"], "1200.00", "pledged", "2027-03-31")]

    shown = text(manager.get(f"/programmes/needs/{need_id}"))
    assert "已认领该需求 ¥1,200.00" in shown
    assert re.search(r'id="pledged">¥1,200.00<', shown) and re.search(r'id="open">¥2,300.00<', shown)
    assert 'value="34"' in shown  # the progress bar: 1,200 of 3,500 pledged
    assert f'id="claim-{claims[0]["id"]}"' in shown and "开始实施" in shown and "撤回" in shown
    mine = text(manager.get("/programmes/claims"))
    assert f'id="claim-{claims[0]["id"]}"' in mine and "Ten street lamps" in mine and "¥1,200.00" in mine
    assert f'id="claim-{claims[0]["id"]}"' not in manager.get("/programmes/claims?status=fulfilled") \
        .get_data(as_text=True)

    # Started, fulfilled, then signed off by the bureau (回单).
    claim_id = claims[0]["id"]
    for step in ("start", "fulfil"):
        moved = post(manager, f"/programmes/claims/{claim_id}/{step}", {}, f"/programmes/needs/{need_id}")
        assert moved.status_code == 302, moved.get_data(as_text=True)
    assert api.get(f"{API}/claims/{claim_id}").json["status"] == "fulfilled"
    refused = post(manager, f"/programmes/claims/{claim_id}/sign-off", {}, f"/programmes/needs/{need_id}")
    assert refused.status_code == 403
    assert "回单确认" in text(admin.get(f"/programmes/needs/{need_id}"))
    signed = post(admin, f"/programmes/claims/{claim_id}/sign-off", {}, f"/programmes/needs/{need_id}")
    assert signed.status_code == 302, signed.get_data(as_text=True)
    assert api.get(f"{API}/claims/{claim_id}").json["signed_off_at"]
    # Twice: the refusal is said on the need's page, in Chinese.
    again = post(admin, f"/programmes/claims/{claim_id}/sign-off", {}, f"/programmes/needs/{need_id}")
    assert again.status_code == 409
    error = re.search(r'id="error">(.*?)</div>', text(again), re.S).group(1)  # type: ignore[union-attr]
    assert f"认领 {claim_id}" in error and "已完成" in error, error


def test_a_claim_beyond_what_is_open_is_refused_beside_the_amount_and_writes_nothing(
        admin: Browser, api: Any, gateway: Any, make: Any) -> None:
    _, need_id = list_village_and_need(admin, amount="1000")
    org = make.organization("Hillside Chamber")
    manager = logged_in(gateway, make, "fund_manager", org["id"], "hill.manager")
    assert claim(manager, need_id, "600", "claim0002first").status_code == 302

    refused = claim(manager, need_id, "500.00", "claim0002second")
    assert refused.status_code == 409, refused.get_data(as_text=True)
    beside = field_errors(refused, "amount")
    assert "400.00" in beside and "500.00" in beside and re.search(r"[\u4e00-\u9fff]", beside), beside
    assert 'value="500.00"' in refused.get_data(as_text=True)  # what was typed stays
    need = api.get(f"{API}/needs/{need_id}").json
    assert (need["pledged"], need["open"]) == ("600.00", "400.00")
    assert len(api.get(f"{API}/claims?need_id={need_id}").json["items"]) == 1

    unreadable = claim(manager, need_id, "abc", "claim0002third")
    assert unreadable.status_code == 422 and field_errors(unreadable, "amount")
    # Withdrawn after a confirmation, the share is open again.
    claim_id = api.get(f"{API}/claims?need_id={need_id}").json["items"][0]["id"]
    confirm = manager.get(f"/programmes/claims/{claim_id}/withdraw")
    assert confirm.status_code == 200 and "¥600.00" in text(confirm)
    withdrawn = post(manager, f"/programmes/claims/{claim_id}/withdraw", {"note": "Budget moved"},
                     f"/programmes/claims/{claim_id}/withdraw")
    assert withdrawn.status_code == 302, withdrawn.get_data(as_text=True)
    assert api.get(f"{API}/needs/{need_id}").json["open"] == "1000.00"


def test_another_organisations_manager_does_not_see_the_first_ones_claims(admin: Browser, api: Any,
                                                                          gateway: Any, make: Any) -> None:
    _, need_id = list_village_and_need(admin)
    first = logged_in(gateway, make, "fund_manager", make.organization("First Chamber")["id"], "first.manager")
    second = logged_in(gateway, make, "fund_manager", make.organization("Second Chamber")["id"], "second.manager")
    assert claim(first, need_id, "700", "claim0003first").status_code == 302
    claim_id = api.get(f"{API}/claims?need_id={need_id}").json["items"][0]["id"]

    seen = second.get(f"/programmes/needs/{need_id}").get_data(as_text=True)
    assert f'id="claim-{claim_id}"' not in seen and "¥700.00" in seen  # the need's pledged sum, not the claim
    assert f'id="claim-{claim_id}"' not in second.get("/programmes/claims").get_data(as_text=True)
    assert second.get(f"/programmes/claims/{claim_id}/withdraw").status_code == 404
    taken = post(second, f"/programmes/claims/{claim_id}/fulfil", {}, f"/programmes/needs/{need_id}")
    assert taken.status_code == 404
    assert api.get(f"{API}/claims/{claim_id}").json["status"] == "pledged"
    # The bureau sees every organisation's claims, named.
    every = text(admin.get(f"/programmes/needs/{need_id}"))
    assert f'id="claim-{claim_id}"' in every and "First Chamber" in every


def test_the_pages_speak_english_when_asked_and_chinese_by_default(admin: Browser, gateway: Any,
                                                                    make: Any) -> None:
    village_id, need_id = list_village_and_need(admin)
    manager = logged_in(gateway, make, "fund_manager", make.organization("Lakeside Chamber")["id"], "lake.manager")
    assert claim(manager, need_id, "100", "claim0004first").status_code == 302
    paths = ["/programmes/", f"/programmes/needs/{need_id}", "/programmes/villages",
             f"/programmes/villages/{village_id}", "/programmes/claims"]
    for user in (manager, admin):
        for path in paths:
            shown = VisibleText.of(user.get(path).get_data(as_text=True))
            left = [word for word in ENGLISH_LABELS if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", shown)]
            assert not left, (path, left)
        assert user.get("/programmes/?lang=en").status_code == 200  # chosen once; the cookie keeps it
        for path in paths:
            page = user.get(path)
            html = page.get_data(as_text=True)
            assert page.status_code == 200 and '<html lang="en"' in html, path
            assert not han_outside_data(VisibleText.of(html)), (path, han_outside_data(VisibleText.of(html)))
        english = text(user.get(f"/programmes/needs/{need_id}"))
        assert "Street lighting" in english and "Pledged" in english
    assert "Pledge a share" in text(manager.get(f"/programmes/needs/{need_id}"))


def test_who_may_do_what(admin: Browser, gateway: Any, make: Any) -> None:
    _, need_id = list_village_and_need(admin)
    org = make.organization("Auditing Federation", kind="federation")
    auditor = logged_in(gateway, make, "auditor", org["id"], "fed.auditor")
    page = auditor.get(f"/programmes/needs/{need_id}")
    assert page.status_code == 200 and 'id="amount"' not in page.get_data(as_text=True)
    assert claim(auditor, need_id, "10", "claim0005first").status_code == 403
    manager = logged_in(gateway, make, "fund_manager", org["id"], "fed.manager")
    assert post(manager, "/programmes/villages", {"name": "X", "township": "Y", "submission_id": "v" * 20},
                "/programmes/villages").status_code == 403
    assert manager.get("/programmes/needs/987654").status_code == 404
    assert Browser(gateway).get("/programmes/").status_code == 302  # to the login page

"""The funds service's web forms, driven as a person would through the gateway."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import ADMIN_PASSWORD, Browser, csrf_token
from helpers import field_errors, text, wait_until

HTML = {"Accept": "text/html"}
PASSWORD = "a-long-enough-password"




def post(browser: Browser, path: str, data: dict[str, Any] | None = None, token_from: str | None = None) -> Any:
    """POST to `path` with the CSRF token of page `token_from` (a button on that page)."""
    form = dict(data or {})
    if token_from:
        form["csrf_token"] = csrf_token(browser.get(token_from).get_data(as_text=True))
    return browser.http.post(path, data=form, headers=HTML)


@pytest.fixture
def org(make: Any) -> dict[str, Any]:
    return make.organization("铜陵市徽商商会")  # type: ignore[no-any-return]


def logged_in(gateway: Any, make: Any, role: str, organization_id: int, username: str) -> Browser:
    make.user(gateway, username, PASSWORD, role, organization_id)
    browser = Browser(gateway)
    browser.login(username, PASSWORD)
    return browser


def user_edit_path(admin: Browser, username: str) -> str:
    listing = admin.get("/funds/users/").get_data(as_text=True)
    match = re.search(rf"<td>{re.escape(username)}</td>.*?(/funds/users/\d+/edit)", listing, re.S)
    assert match, listing
    return match.group(1)


def fund_count(api: Any) -> int:
    response = api.get("/funds/api/v1/funds")
    assert response.status_code == 200
    return len(response.json["items"])


# -- login and sessions --------------------------------------------------------

def test_login_failure_shows_error_beside_password_then_success(browser: Browser) -> None:
    wrong = browser.submit("/funds/login", {"username": "admin", "password": "wrong"})
    assert wrong.status_code == 422
    assert "用户名或密码不正确" in field_errors(wrong, "password")
    assert browser.get("/funds/").status_code == 302

    right = browser.submit("/funds/login", {"username": "admin", "password": ADMIN_PASSWORD})
    assert right.status_code == 302 and right.location == "/donations/"
    page = browser.get("/funds/")
    assert page.status_code == 200 and "退出登录" in text(page)


def test_page_without_login_redirects_to_login_and_back(browser: Browser) -> None:
    response = browser.get("/funds/new")
    assert response.status_code == 302
    assert response.location == "/funds/login?next=/funds/new"
    back = browser.submit("/funds/login?next=/funds/new", {"username": "admin", "password": ADMIN_PASSWORD})
    assert back.location == "/funds/new"
    off_site = browser.submit("/funds/login?next=//evil.example/", {"username": "admin",
                                                                   "password": ADMIN_PASSWORD})
    assert off_site.location == "/donations/"


def test_logout_needs_post_with_csrf(admin: Browser) -> None:
    assert admin.get("/funds/logout").status_code == 405
    assert admin.http.post("/funds/logout", headers=HTML).status_code == 400
    assert admin.get("/funds/").status_code == 200  # still logged in
    response = post(admin, "/funds/logout", token_from="/funds/")
    assert response.status_code == 302 and response.location == "/funds/login"
    assert admin.get("/funds/").status_code == 302


# -- funds ---------------------------------------------------------------------

def test_post_without_csrf_token_is_refused_and_writes_nothing(admin: Browser, api: Any,
                                                               org: dict[str, Any]) -> None:
    response = admin.http.post("/funds/new", headers=HTML, data={
        "code": "TL-CSRF-001", "name": "无令牌基金", "kind": "general", "organization_id": org["id"]})
    assert response.status_code == 400
    assert api.get("/funds/api/v1/funds/TL-CSRF-001").status_code == 404


def test_create_fund_round_trips_chinese_text(admin: Browser, api: Any, org: dict[str, Any]) -> None:
    name = "铜陵市“徽商”助学冠名基金（第一期）"
    purpose = "资助义安区家庭困难学生；\n每年评审一次。"
    response = admin.submit("/funds/new", {
        "code": "TL-EDU-001", "name": name, "kind": "chamber_named", "organization_id": org["id"],
        "purpose": purpose, "restricted": "y", "opened_on": "2024-03-01"})
    assert response.status_code == 302 and response.location == "/funds/TL-EDU-001"

    fund = api.get("/funds/api/v1/funds/TL-EDU-001").json
    assert fund["name"] == name
    assert fund["purpose"] == purpose
    assert (fund["kind"], fund["organization_id"], fund["restricted"], fund["opened_on"]) == \
        ("chamber_named", org["id"], True, "2024-03-01")
    page = text(admin.get("/funds/TL-EDU-001"))
    assert name in page and "已创建" in page and "商会冠名基金" in page and "铜陵市徽商商会" in page


def test_create_fund_field_errors_are_shown_beside_fields(admin: Browser, api: Any,
                                                          org: dict[str, Any]) -> None:
    response = admin.submit("/funds/new", {"code": "tl_1", "name": "", "kind": "general",
                                           "organization_id": org["id"], "purpose": "保留的用途"})
    assert response.status_code == 422
    assert "大写字母" in field_errors(response, "code")
    assert "请输入基金名称" in field_errors(response, "name")
    assert field_errors(response, "purpose") == ""
    assert 'value="tl_1"' in response.get_data(as_text=True)  # as typed (upper-cased only when read)
    assert "保留的用途" in text(response)
    assert fund_count(api) == 0


def test_duplicate_code_from_the_command_is_shown_beside_the_code(admin: Browser, api: Any, make: Any,
                                                                  org: dict[str, Any]) -> None:
    make.fund(org["id"], "TL-DUP-001", name="原基金")
    response = admin.submit("/funds/new", {"code": "TL-DUP-001", "name": "重复基金", "kind": "general",
                                           "organization_id": org["id"]})
    assert response.status_code == 409
    assert "已存在" in field_errors(response, "code")
    assert api.get("/funds/api/v1/funds/TL-DUP-001").json["name"] == "原基金"
    assert fund_count(api) == 1


def test_edit_fund_name_and_purpose(admin: Browser, api: Any, make: Any, org: dict[str, Any]) -> None:
    make.fund(org["id"], "TL-EDIT-01", name="旧名称", purpose="旧用途")
    form = text(admin.get("/funds/TL-EDIT-01/edit"))
    assert "旧名称" in form and "旧用途" in form

    empty = admin.submit("/funds/TL-EDIT-01/edit", {"name": "", "purpose": "新用途"})
    assert empty.status_code == 422 and "请输入基金名称" in field_errors(empty, "name")
    assert api.get("/funds/api/v1/funds/TL-EDIT-01").json["purpose"] == "旧用途"

    saved = admin.submit("/funds/TL-EDIT-01/edit", {"name": "新名称·慈善", "purpose": "扶老助残"})
    assert saved.status_code == 302 and saved.location == "/funds/TL-EDIT-01"
    fund = api.get("/funds/api/v1/funds/TL-EDIT-01").json
    assert (fund["name"], fund["purpose"]) == ("新名称·慈善", "扶老助残")


def test_freeze_and_unfreeze(admin: Browser, api: Any, make: Any, org: dict[str, Any]) -> None:
    make.fund(org["id"], "TL-FRZ-001")
    detail = "/funds/TL-FRZ-001"
    # Opening the freeze page only asks (tests/test_page_forms.py): the POST freezes.
    assert admin.get(detail + "/freeze").status_code == 200
    assert api.get("/funds/api/v1/funds/TL-FRZ-001").json["status"] == "active"

    response = post(admin, detail + "/freeze", token_from=detail)
    assert response.status_code == 302 and response.location == detail
    assert api.get("/funds/api/v1/funds/TL-FRZ-001").json["status"] == "frozen"
    page = text(admin.get(detail))
    assert "基金已冻结" in page and "已冻结" in page and "解冻" in page

    again = post(admin, detail + "/freeze", token_from=detail)
    assert again.status_code == 409 and "frozen" in text(again)

    assert post(admin, detail + "/unfreeze", token_from=detail).status_code == 302
    assert api.get("/funds/api/v1/funds/TL-FRZ-001").json["status"] == "active"


def test_close_after_confirmation_then_closing_again_shows_error(admin: Browser, api: Any, make: Any,
                                                                 org: dict[str, Any]) -> None:
    make.fund(org["id"], "TL-CLS-001")
    page = admin.get("/funds/TL-CLS-001/close")
    assert page.status_code == 200 and re.search(r'id="balance">¥0\.00<', page.get_data(as_text=True))

    unconfirmed = admin.submit("/funds/TL-CLS-001/close", {})
    assert unconfirmed.status_code == 422 and "请勾选确认" in field_errors(unconfirmed, "confirm")
    assert api.get("/funds/api/v1/funds/TL-CLS-001").json["status"] == "active"

    closed = admin.submit("/funds/TL-CLS-001/close", {"confirm": "y"})
    assert closed.status_code == 302 and closed.location == "/funds/TL-CLS-001"
    assert api.get("/funds/api/v1/funds/TL-CLS-001").json["status"] == "closed"
    assert "已关闭" in text(admin.get("/funds/TL-CLS-001"))

    again = admin.submit("/funds/TL-CLS-001/close", {"confirm": "y"})
    assert again.status_code == 409 and "closed" in text(again) and 'class="flash error"' in text(again)


def test_closing_a_fund_with_a_balance_is_refused_on_the_page(admin: Browser, api: Any, make: Any,
                                                              org: dict[str, Any]) -> None:
    make.fund(org["id"], "TL-BAL-001")
    make.donation("TL-BAL-001", "123.45")
    assert "123.45" in text(admin.get("/funds/TL-BAL-001/close"))
    response = admin.submit("/funds/TL-BAL-001/close", {"confirm": "y"})
    assert response.status_code == 409 and "只有余额为零的基金才能关闭" in text(response)
    assert api.get("/funds/api/v1/funds/TL-BAL-001").json["status"] == "active"


def test_search_by_text_status_and_kind(admin: Browser, make: Any, org: dict[str, Any]) -> None:
    make.fund(org["id"], "TL-SCH-001", name="义安区助学基金", kind="township_named")
    make.fund(org["id"], "TL-SCH-002", name="郊区扶老基金")
    make.fund(org["id"], "TL-OLD-003", name="枞阳县助学基金")
    post(admin, "/funds/TL-OLD-003/freeze", token_from="/funds/TL-OLD-003")

    def codes(query: str) -> set[str]:
        response = admin.get("/funds/?" + query)
        assert response.status_code == 200
        return set(re.findall(r">(TL-[A-Z]+-\d+)</a>", response.get_data(as_text=True)))

    assert codes("") == {"TL-SCH-001", "TL-SCH-002", "TL-OLD-003"}
    assert codes("q=助学") == {"TL-SCH-001", "TL-OLD-003"}
    assert codes("q=sch") == {"TL-SCH-001", "TL-SCH-002"}
    assert codes("status=frozen") == {"TL-OLD-003"}
    assert codes("q=助学&status=active") == {"TL-SCH-001"}
    assert codes("kind=township_named") == {"TL-SCH-001"}
    assert codes(f"organization_id={make.organization()['id']}") == set()
    assert admin.get("/funds/?status=bogus").status_code == 422
    page = text(admin.get("/funds/?status=frozen"))
    assert "已冻结" in page and "铜陵市徽商商会" in page


# -- organisations and API keys -------------------------------------------------

def test_create_organization_and_duplicate_name(admin: Browser, api: Any) -> None:
    response = admin.submit("/funds/organizations/", {"name": "义安区钟鸣镇", "kind": "township"})
    assert response.status_code == 302
    page = text(admin.get(response.location))
    assert "义安区钟鸣镇" in page and "乡镇" in page

    duplicate = admin.submit("/funds/organizations/", {"name": "义安区钟鸣镇", "kind": "other"})
    assert duplicate.status_code == 409
    assert "已有名为" in field_errors(duplicate, "name")
    empty = admin.submit("/funds/organizations/", {"name": "", "kind": "other"})
    assert empty.status_code == 422 and "请输入机构名称" in field_errors(empty, "name")
    names = [o["name"] for o in api.get("/funds/api/v1/organizations").json["items"]]
    assert names.count("义安区钟鸣镇") == 1 and "" not in names


def test_an_organizations_charity_kind_is_chosen_shown_and_changed_on_its_pages(admin: Browser, api: Any) -> None:
    response = admin.submit("/funds/organizations/", {"name": "铜陵市慈善基金会", "kind": "other",
                                                      "charity_kind": "foundation"})
    assert response.status_code == 302
    path = response.location
    organization = [o for o in api.get("/funds/api/v1/organizations").json["items"] if o["name"] == "铜陵市慈善基金会"]
    assert [o["charity_kind"] for o in organization] == ["foundation"]
    shown = re.search(r'id="charity-kind">([^<]*)<', text(admin.get(path)))
    assert shown and "具有公开募捐资格的基金会" in shown.group(1) and "10%" in shown.group(1)

    refused = admin.submit(path, {"charity_kind": "trust"}, action=f"{path}/charity-kind")
    assert refused.status_code == 422 and field_errors(refused, "charity_kind")
    assert api.get(f"/funds/api/v1/organizations/{organization[0]['id']}").json["charity_kind"] == "foundation"

    changed = admin.submit(path, {"charity_kind": "social_organization"}, action=f"{path}/charity-kind")
    assert changed.status_code == 302 and changed.location == path
    assert api.get(f"/funds/api/v1/organizations/{organization[0]['id']}").json["charity_kind"] == \
        "social_organization"
    shown = re.search(r'id="charity-kind">([^<]*)<', text(admin.get(path)))
    assert shown and "社会团体或社会服务机构" in shown.group(1) and "13%" in shown.group(1)


def test_issued_key_secret_is_shown_once_and_works(admin: Browser, api: Any, org: dict[str, Any]) -> None:
    path = f"/funds/organizations/{org['id']}"
    missing = admin.submit(path, {"name": "对账系统"})
    assert missing.status_code == 422 and "至少须选择 1 项" in field_errors(missing, "scopes")

    response = admin.submit(path, {"name": "对账系统", "scopes": ["funds:read", "reports:read"]})
    assert response.status_code == 201
    secret = re.search(r'id="secret">([^<]+)<', response.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    me = api.get("/funds/api/v1/me", key=secret)
    assert me.status_code == 200
    assert (me.json["organization_id"], set(me.json["scopes"])) == (org["id"], {"funds:read", "reports:read"})

    later = text(admin.get(path))
    assert "对账系统" in later and secret[:12] not in later and secret[4:12] not in later  # a random id, not the secret
    assert secret not in later


def test_revoke_key_through_the_form(admin: Browser, api: Any, make: Any, org: dict[str, Any]) -> None:
    secret = make.api_key(org["id"], name="旧接口")
    assert api.get("/funds/api/v1/me", key=secret).status_code == 200
    path = f"/funds/organizations/{org['id']}"
    action = re.search(r'action="([^"]+/revoke)"', admin.get(path).get_data(as_text=True)).group(1)  # type: ignore[union-attr]

    response = post(admin, action, token_from=path)
    assert response.status_code == 302 and response.location == path
    assert api.get("/funds/api/v1/me", key=secret).status_code == 401
    assert "已吊销" in text(admin.get(path))


# -- users -----------------------------------------------------------------------

def test_create_user_who_then_logs_in(admin: Browser, gateway: Any, org: dict[str, Any]) -> None:
    short = admin.submit("/funds/users/new", {"username": "zhang.san", "display_name": "张三",
                                              "password": "short", "role": "fund_manager",
                                              "organization_id": org["id"]})
    assert short.status_code == 422 and "至少须有 10 个字符" in field_errors(short, "password")
    assert 'value="张三"' in text(short)
    assert "zhang.san" not in text(admin.get("/funds/users/"))

    created = admin.submit("/funds/users/new", {"username": "zhang.san", "display_name": "张三",
                                                "password": PASSWORD, "role": "fund_manager",
                                                "organization_id": org["id"]})
    assert created.status_code == 302 and created.location == "/funds/users/"
    listing = text(admin.get("/funds/users/"))
    assert "张三" in listing and "基金管理员" in listing and "铜陵市徽商商会" in listing

    taken = admin.submit("/funds/users/new", {"username": "zhang.san", "password": PASSWORD,
                                              "role": "auditor", "organization_id": org["id"]})
    assert taken.status_code == 409 and "已被使用" in field_errors(taken, "username")

    person = Browser(gateway)
    person.login("zhang.san", PASSWORD)
    assert "张三（基金管理员）" in text(person.get("/funds/"))


def test_edit_and_deactivate_user_ends_their_session(admin: Browser, gateway: Any, make: Any,
                                                     org: dict[str, Any]) -> None:
    person = logged_in(gateway, make, "fund_manager", org["id"], "li.si")
    assert person.get("/funds/").status_code == 200
    edit = user_edit_path(admin, "li.si")

    renamed = admin.submit(edit, {"display_name": "李四", "role": "auditor", "organization_id": org["id"],
                                  "active": "y"})
    assert renamed.status_code == 302
    assert "李四" in text(admin.get("/funds/users/")) and "审计员" in text(admin.get("/funds/users/"))

    deactivated = admin.submit(edit, {"display_name": "李四", "role": "auditor",
                                      "organization_id": org["id"]})
    assert deactivated.status_code == 302
    assert "已停用" in text(admin.get("/funds/users/"))
    assert person.get("/funds/").status_code == 302
    again = person.submit("/funds/login", {"username": "li.si", "password": PASSWORD})
    assert again.status_code == 422


def test_a_new_password_ends_the_users_sessions_in_every_service(admin: Browser, gateway: Any, make: Any,
                                                                org: dict[str, Any]) -> None:
    person = logged_in(gateway, make, "fund_manager", org["id"], "wang.wu")
    for path in ("/funds/", "/donations/", "/reports/"):
        assert person.get(path).status_code == 200, path

    changed = admin.submit(user_edit_path(admin, "wang.wu"), {
        "display_name": "王五", "role": "fund_manager", "organization_id": org["id"], "active": "y",
        "password": "a-new-password-for-wang"})

    assert changed.status_code == 302
    for path in ("/funds/", "/donations/", "/reports/"):
        wait_until(lambda p=path: person.get(p).status_code == 302)
    assert person.submit("/funds/login", {"username": "wang.wu", "password": PASSWORD}).status_code == 422
    assert person.submit("/funds/login", {"username": "wang.wu",
                                          "password": "a-new-password-for-wang"}).status_code == 302


def test_admin_cannot_deactivate_themselves(admin: Browser, api: Any) -> None:
    federation = api.get("/funds/api/v1/organizations").json["items"][-1]
    response = admin.submit(user_edit_path(admin, "admin"), {
        "display_name": "管理员", "role": "admin", "organization_id": federation["id"]})
    assert response.status_code == 422 and "不能降低自己的角色" in field_errors(response, "active")
    assert admin.get("/funds/").status_code == 200


# -- permissions -------------------------------------------------------------------

def test_fund_manager_sees_only_their_own_organization(gateway: Any, make: Any, api: Any,
                                                       org: dict[str, Any]) -> None:
    other = make.organization("枞阳县慈善会", kind="other")
    make.fund(org["id"], "TL-OWN-001", name="本会基金")
    make.fund(other["id"], "TL-OTH-001", name="他会基金")
    manager = logged_in(gateway, make, "fund_manager", org["id"], "wang.wu")

    listing = text(manager.get("/funds/"))
    assert "本会基金" in listing and "他会基金" not in listing
    assert manager.get("/funds/TL-OWN-001").status_code == 200
    assert manager.get("/funds/TL-OTH-001").status_code == 404
    assert manager.get("/funds/TL-OTH-001/edit").status_code == 404
    assert post(manager, "/funds/TL-OTH-001/freeze", token_from="/funds/").status_code == 404
    assert api.get("/funds/api/v1/funds/TL-OTH-001").json["status"] == "active"
    assert manager.get("/funds/organizations/").status_code == 403
    assert manager.get(f"/funds/organizations/{org['id']}").status_code == 403
    assert post(manager, f"/funds/organizations/{org['id']}/charity-kind", {"charity_kind": "foundation"},
                token_from="/funds/").status_code == 403
    assert api.get(f"/funds/api/v1/organizations/{org['id']}").json["charity_kind"] == "social_organization"
    assert manager.get("/funds/users/").status_code == 403

    new_form = text(manager.get("/funds/new"))
    assert "铜陵市徽商商会" in new_form and "枞阳县慈善会" not in new_form
    refused = manager.submit("/funds/new", {"code": "TL-SNEAK-1", "name": "越权基金", "kind": "general",
                                            "organization_id": other["id"]})
    assert refused.status_code == 422 and field_errors(refused, "organization_id")
    assert api.get("/funds/api/v1/funds/TL-SNEAK-1").status_code == 404


def test_auditor_reads_everything_but_cannot_create_or_change_funds(gateway: Any, make: Any, api: Any,
                                                                     org: dict[str, Any]) -> None:
    other = make.organization("枞阳县慈善会", kind="other")
    make.fund(other["id"], "TL-AUD-001", name="他会基金")
    auditor = logged_in(gateway, make, "auditor", org["id"], "zhao.liu")

    assert "他会基金" in text(auditor.get("/funds/"))
    detail = text(auditor.get("/funds/TL-AUD-001"))
    assert "他会基金" in detail and "冻结" not in detail.replace("已冻结", "")
    assert auditor.get("/funds/new").status_code == 403
    assert auditor.get("/funds/TL-AUD-001/close").status_code == 403
    assert post(auditor, "/funds/TL-AUD-001/freeze", token_from="/funds/").status_code == 403
    assert api.get("/funds/api/v1/funds/TL-AUD-001").json["status"] == "active"

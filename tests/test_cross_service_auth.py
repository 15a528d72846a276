"""One set of keys and one login for all the services; revocation, user
deactivation and fund freezing reach every service within 5 seconds."""

from __future__ import annotations

import pytest

from services.funds import commands
from tests.conftest import ADMIN_KEY, Browser
from tests.helpers import wait_until

PEER_SERVICES = ("donations", "reports", "programmes")


@pytest.mark.parametrize("service", ["funds", *PEER_SERVICES])
def test_every_service_knows_the_same_key(api, make, service):
    organization = make.organization()
    key = make.api_key(organization["id"], ["donations:read"])

    response = api.get(f"/{service}/api/v1/me", key=key)

    assert response.status_code == 200
    assert response.json["organization_id"] == organization["id"]
    assert response.json["scopes"] == ["donations:read"]
    assert response.json["kind"] == "api_key"


@pytest.mark.parametrize("service", ["funds", *PEER_SERVICES])
@pytest.mark.parametrize("header", [None, "Bearer ", "Basic abc", "Bearer cfk_not-a-real-key"])
def test_every_service_refuses_missing_or_unknown_keys(api, service, header):
    headers = {} if header is None else {"Authorization": header}

    response = api.get(f"/{service}/api/v1/me", key=None, headers=headers)

    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 401


def test_revoked_key_is_refused_everywhere_within_5_seconds(api, make):
    organization = make.organization()
    key = make.api_key(organization["id"], ["funds:read", "donations:read", "reports:read"])
    for service in ("funds", *PEER_SERVICES):  # every service has now seen (and cached) the key
        assert api.get(f"/{service}/api/v1/me", key=key).status_code == 200
    key_id = api.get(f"/funds/api/v1/organizations/{organization['id']}/api-keys").json["items"][0]["id"]

    assert api.delete(f"/funds/api/v1/organizations/{organization['id']}/api-keys/{key_id}").status_code == 204

    assert api.get("/funds/api/v1/me", key=key).status_code == 401  # the owner knows at once
    for service in PEER_SERVICES:
        wait_until(lambda: api.get(f"/{service}/api/v1/me", key=key).status_code == 401)


def test_one_login_works_in_every_service(browser: Browser):
    assert browser.get("/donations/").status_code == 302  # not logged in yet

    browser.login()

    for path in ("/funds/", "/donations/", "/reports/", "/programmes/"):
        page = browser.get(path)
        assert page.status_code == 200, path
        assert "系统管理员" in page.get_data(as_text=True), path


def test_logout_ends_the_session_in_every_service(browser: Browser):
    browser.login()
    assert browser.get("/reports/").status_code == 200

    response = browser.submit("/funds/", {}, action="/funds/logout")

    assert response.status_code == 302
    for path in ("/funds/", "/donations/", "/reports/", "/programmes/"):
        page = browser.get(path)
        assert page.status_code == 302 and "/funds/login" in page.headers["Location"], path


def test_deactivated_user_is_logged_out_everywhere_within_5_seconds(gateway, make):
    organization = make.organization()
    make.user(gateway, "manager1", "manager-password-1", "fund_manager", organization["id"])
    browser = Browser(gateway)
    browser.login("manager1", "manager-password-1")
    assert browser.get("/donations/").status_code == 200

    funds_app = gateway.apps["funds"]
    with funds_app.app_context(), funds_app.extensions["database"].transaction() as session:
        admin = funds_app.extensions["authority"].principal_for_key(ADMIN_KEY)
        user = session.scalar(commands.select(commands.User).where(commands.User.username == "manager1"))
        commands.update_user(session, admin, user, display_name=user.display_name, role=user.role,
                             organization_id=user.organization_id, active=False, password=None)

    assert browser.get("/funds/").status_code == 302
    for service in PEER_SERVICES:
        wait_until(lambda: browser.get(f"/{service}/").status_code == 302)


def test_frozen_fund_is_seen_frozen_everywhere_within_5_seconds(gateway, api, make):
    organization = make.organization()
    fund = make.fund(organization["id"])
    donations = gateway.apps["donations"]
    authority = donations.extensions["authority"]
    with donations.app_context():
        assert authority.fund(fund["code"]).status == "active"

    assert api.post(f"/funds/api/v1/funds/{fund['code']}/freeze").status_code == 200

    with donations.app_context():
        wait_until(lambda: authority.fund(fund["code"]).status == "frozen")


@pytest.mark.parametrize("token", [None, "wrong"])
def test_internal_api_refuses_callers_without_the_internal_token(api, make, token):
    fund = make.fund(make.organization()["id"])
    headers = {} if token is None else {"X-Internal-Token": token}

    response = api.get(f"/funds/internal/v1/funds/{fund['code']}", key=None, headers=headers)

    assert response.status_code == 401
    assert response.content_type == "application/problem+json"

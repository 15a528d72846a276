"""A disbursement as a process, through the API and the pages: its requester withdraws it while it
is requested, its own page tells its steps (who, when in Beijing time, why), invoices and contracts
are attached to it and kept with their sha256, the request page shows the fund's cash available
and refuses beyond it, and an approver's day starts at the approval queue."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import json
import re
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from shared.dates import beijing_time, today
from shared.postgres import libpq_dsn
from tests.conftest import ApiClient, Browser, Factory, csrf_token
from tests.helpers import assert_ok, assert_problem, field_errors, text
from tests.test_db_roles import engine_of, refused

API = "/donations/api/v1"
HTML = {"Accept": "text/html"}
FUND = "TL-PROC-001"
PASSWORD = "a-long-enough-password"
CLERK = ["funds:read", "donations:read", "donations:write"]
APPROVER = ["donations:read", "disbursements:approve"]

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(40))


@pytest.fixture
def org(make: Factory) -> dict[str, Any]:
    return make.organization("铜陵市义安区商会")


@pytest.fixture
def fund(make: Factory, org: dict[str, Any]) -> str:
    make.fund(org["id"], FUND, name="义安助学基金")
    make.donation(FUND, "1000.00")
    return FUND


def keyed(api: ApiClient, make: Factory, organization_id: int, scopes: list[str]) -> ApiClient:
    return api.with_key(make.api_key(organization_id, scopes))


def request(client: ApiClient, amount: str = "100.00", code: str = FUND) -> dict[str, Any]:
    return assert_ok(client.post(f"{API}/disbursements", json={
        "fund_code": code, "amount": amount, "payee": "某村委会", "purpose": "修路"}), 201)  # type: ignore[no-any-return]


def logged_in(gateway: Any, make: Factory, role: str, organization_id: int, username: str) -> Browser:
    make.user(gateway, username, PASSWORD, role, organization_id)
    browser = Browser(gateway)
    browser.login(username, PASSWORD)
    return browser


def post(browser: Browser, path: str, data: dict[str, Any], token_from: str) -> Any:
    """POST a form of page `token_from` (its CSRF token) to `path`."""
    page = browser.get(token_from)
    assert page.status_code == 200, (token_from, page.status_code)
    return browser.http.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True)), **data},
                             headers=HTML)


def page_error(response: Any) -> str:
    return " ".join(re.findall(r'class="flash error"[^>]*>(.*?)</div>', text(response), re.S))


def audit(database_url: str, disbursement_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    with psycopg.connect(libpq_dsn(database_url)) as connection:
        return connection.execute(  # type: ignore[return-value]
            "SELECT action, actor, details::jsonb FROM donations.audit_log WHERE subject = %s ORDER BY id",
            (f"disbursement:{disbursement_id}",)).fetchall()


def attach(client: ApiClient, disbursement_id: int, content: bytes, name: str) -> Any:
    return client.post(f"{API}/disbursements/{disbursement_id}/attachments",
                       data={"file": (io.BytesIO(content), name)})


def balance(api: ApiClient) -> dict[str, Any]:
    return assert_ok(api.get(f"{API}/funds/{FUND}/balance"))  # type: ignore[no-any-return]


# -- withdrawal -------------------------------------------------------------------------

def test_the_requester_withdraws_a_requested_disbursement_and_only_they_may(
        api: ApiClient, make: Factory, org: dict[str, Any], fund: str, database_url: str) -> None:
    clerk = keyed(api, make, org["id"], CLERK)
    other_clerk = keyed(api, make, org["id"], CLERK)
    approver = keyed(api, make, org["id"], APPROVER)
    stranger = keyed(api, make, make.organization()["id"], CLERK)
    item = request(clerk, "300.00")
    path = f"{API}/disbursements/{item['id']}/withdraw"

    refused_ = assert_problem(other_clerk.post(path, json={"reason": "不是我的"}), 403)
    assert refused_["code"] == "withdraw_not_requester"
    assert assert_problem(approver.post(path, json={}), 403)["code"] == "scope_missing"
    assert assert_problem(stranger.post(path, json={}), 404)["code"] == "disbursement_not_found"
    assert assert_ok(api.get(f"{API}/disbursements/{item['id']}"))["status"] == "requested"

    withdrawn = assert_ok(clerk.post(path, json={"reason": "项目已由乡镇财政承担"}))
    assert (withdrawn["status"], withdrawn["withdraw_reason"], withdrawn["approved_by"]) == (
        "withdrawn", "项目已由乡镇财政承担", None)
    assert withdrawn["withdrawn_by"] == item["requested_by"] and withdrawn["decided_at"]
    assert (balance(api)["balance"], balance(api)["available"]) == ("1000.00", "1000.00")
    assert [d["id"] for d in assert_ok(api.get(f"{API}/disbursements?status=withdrawn"))["items"]] == [item["id"]]

    # Once withdrawn, nothing else happens to it.
    assert assert_problem(clerk.post(path, json={}), 409)["code"] == "disbursement_not_withdrawable"
    approve = approver.post(f"{API}/disbursements/{item['id']}/approve")
    assert assert_problem(approve, 409)["code"] == "disbursement_not_requested"
    reject = approver.post(f"{API}/disbursements/{item['id']}/reject", json={"reason": "x"})
    assert assert_problem(reject, 409)["code"] == "disbursement_not_rejectable"

    actions = audit(database_url, item["id"])
    assert [action for action, _, _ in actions] == ["disbursement.request", "disbursement.withdraw"]
    assert actions[1][1] == item["requested_by"] and actions[1][2]["reason"] == "项目已由乡镇财政承担"

    # The reason may be left out, the body too.
    bare = request(clerk, "10.00")
    answer = assert_ok(clerk.post(f"{API}/disbursements/{bare['id']}/withdraw"))
    assert (answer["status"], answer["withdraw_reason"]) == ("withdrawn", None)


def test_an_approved_disbursement_cannot_be_withdrawn(api: ApiClient, make: Factory, org: dict[str, Any],
                                                      fund: str) -> None:
    clerk = keyed(api, make, org["id"], CLERK)
    approver = keyed(api, make, org["id"], APPROVER)
    item = request(clerk, "400.00")
    assert assert_ok(approver.post(f"{API}/disbursements/{item['id']}/approve"))["status"] == "approved"
    refused_ = assert_problem(clerk.post(f"{API}/disbursements/{item['id']}/withdraw", json={}), 409)
    assert refused_["code"] == "disbursement_not_withdrawable" and "approved" in refused_["detail"]
    assert assert_ok(api.get(f"{API}/disbursements/{item['id']}"))["status"] == "approved"
    assert balance(api)["available"] == "600.00"


def test_the_database_lets_only_the_requester_withdraw(gateway: Any, api: ApiClient, make: Factory,
                                                       org: dict[str, Any], fund: str, database_url: str) -> None:
    """Whoever writes: a withdrawal by anyone but the requester, or of an approved one, is no step."""
    clerk = keyed(api, make, org["id"], CLERK)
    item, approved = request(clerk), request(clerk)
    assert_ok(keyed(api, make, org["id"], APPROVER).post(f"{API}/disbursements/{approved['id']}/approve"))
    withdraw = ("UPDATE donations.disbursement SET status = 'withdrawn', withdrawn_by = {by}, withdrawn_by_name = 'x', "
                "decided_at = now() WHERE id = %s")
    with psycopg.connect(libpq_dsn(database_url)) as connection:
        for by, target in (("'user:999'", item), ("requested_by", approved)):
            with pytest.raises(psycopg.errors.CheckViolation) as caught, connection.transaction():
                connection.execute(withdraw.format(by=by), (target["id"],))
            assert caught.value.diag.constraint_name == "disbursement_transition"
        with connection.transaction():  # by its requester, while requested: the one step allowed
            connection.execute(withdraw.format(by="requested_by"), (item["id"],))
            raise psycopg.Rollback()
    error = refused(engine_of(gateway, "donations"),
                    f"UPDATE donations.disbursement SET status = 'withdrawn' WHERE id = {item['id']}")
    assert isinstance(error, psycopg.errors.InsufficientPrivilege), error


def test_the_requester_withdraws_on_the_disbursements_page(gateway: Any, api: ApiClient, make: Factory,
                                                           org: dict[str, Any], fund: str) -> None:
    manager = logged_in(gateway, make, "fund_manager", org["id"], "manager")
    colleague = logged_in(gateway, make, "fund_manager", org["id"], "colleague")
    approver = logged_in(gateway, make, "approver", org["id"], "approver")
    assert manager.submit("/donations/disbursements/new", {"fund_code": FUND, "amount": "200.00",
                                                           "payee": "某小学", "purpose": "助学"}).status_code == 302
    item = assert_ok(api.get(f"{API}/disbursements"))["items"][0]
    page = f"/donations/disbursements/{item['id']}"
    withdraw = f"{page}/withdraw"
    # The lists lead to its page.
    assert f'href="{page}"' in manager.get("/donations/disbursements/").get_data(as_text=True)
    assert f'href="{page}"' in approver.get("/donations/disbursements/queue").get_data(as_text=True)

    assert 'id="withdraw-form"' in manager.get(page).get_data(as_text=True)
    assert 'id="withdraw-form"' not in colleague.get(page).get_data(as_text=True)
    others = post(colleague, withdraw, {"reason": "试试"}, token_from=page)
    assert others.status_code == 403 and "只有拨付 #" in page_error(others)
    assert post(approver, withdraw, {}, token_from=page).status_code == 403
    assert assert_ok(api.get(f"{API}/disbursements/{item['id']}"))["status"] == "requested"

    done = post(manager, withdraw, {"reason": "改由村集体出资"}, token_from=page)
    assert done.status_code == 302 and done.location == page
    shown = text(manager.get(page))
    assert re.search(r'id="status">\s*已撤回', shown)
    assert re.search(r'step-withdrawn.*?manager.*?改由村集体出资', shown, re.S)
    assert 'id="withdraw-form"' not in shown
    assert f'id="disbursement-{item["id"]}"' not in approver.get("/donations/disbursements/queue").get_data(
        as_text=True)
    assert assert_ok(api.get(f"{API}/disbursements/{item['id']}"))["status"] == "withdrawn"

    again = post(manager, withdraw, {}, token_from="/donations/disbursements/")
    assert again.status_code == 409 and "只有待审批的申请才能撤回" in page_error(again)


# -- the timeline ----------------------------------------------------------------------------

def test_the_timeline_shows_each_step_with_its_people_and_beijing_times(
        gateway: Any, api: ApiClient, make: Factory, org: dict[str, Any], fund: str) -> None:
    manager = logged_in(gateway, make, "fund_manager", org["id"], "zhang.kuaiji")
    approver = logged_in(gateway, make, "approver", org["id"], "li.zhuren")
    manager.submit("/donations/disbursements/new", {"fund_code": FUND, "amount": "250.00", "payee": "某小学",
                                                    "purpose": "助学"})
    manager.submit("/donations/disbursements/new", {"fund_code": FUND, "amount": "50.00", "payee": "某村",
                                                    "purpose": "修路"})
    paid, rejected = sorted(assert_ok(api.get(f"{API}/disbursements"))["items"],
                            key=lambda d: Decimal(d["amount"]), reverse=True)
    approved = post(approver, f"/donations/disbursements/{paid['id']}/approve", {},
                    token_from="/donations/disbursements/queue")
    assert approved.status_code == 302
    paying = post(manager, f"/donations/disbursements/{paid['id']}/pay",
                  {"paid_on": today().isoformat(), "bank_reference": "ICBC-0001"}, token_from="/donations/disbursements/")
    assert paying.status_code == 302
    post(approver, f"/donations/disbursements/{rejected['id']}/reject", {"reason": "重复申请"},
         token_from="/donations/disbursements/queue")

    timeline = assert_ok(api.get(f"{API}/disbursements/{paid['id']}/timeline"))
    assert timeline["status"] == "paid"
    assert [(s["status"], s["actor_name"]) for s in timeline["steps"]] == [
        ("requested", "zhang.kuaiji"), ("approved", "li.zhuren"), ("paid", "zhang.kuaiji")]
    assert timeline["steps"][2]["bank_reference"] == "ICBC-0001"
    page = text(manager.get(f"/donations/disbursements/{paid['id']}"))
    for number, (step, label) in enumerate(zip(timeline["steps"], ["待审批", "已批准", "已支付"]), start=1):
        at = dt.datetime.fromisoformat(step["at"])
        item = re.search(rf'id="step-{number}">(.*?)</li>', page, re.S)
        assert item, page
        assert label in item.group(1) and step["actor_name"] in item.group(1)
        assert beijing_time(at) in item.group(1)
        assert at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") not in item.group(1)
    assert "¥250.00" in page and "义安助学基金" in page

    steps = assert_ok(api.get(f"{API}/disbursements/{rejected['id']}/timeline"))["steps"]
    assert [(s["status"], s["actor_name"], s["reason"]) for s in steps] == [
        ("requested", "zhang.kuaiji", None), ("rejected", "li.zhuren", "重复申请")]
    assert "重复申请" in text(approver.get(f"/donations/disbursements/{rejected['id']}"))

    stranger = keyed(api, make, make.organization()["id"], CLERK)
    assert assert_problem(stranger.get(f"{API}/disbursements/{paid['id']}/timeline"), 404)["code"] == \
        "disbursement_not_found"
    outsider = logged_in(gateway, make, "fund_manager", make.organization()["id"], "outsider")
    assert outsider.get(f"/donations/disbursements/{paid['id']}").status_code == 404


# -- attachments -----------------------------------------------------------------------------

def test_invoices_and_contracts_are_attached_kept_and_downloaded_as_sent(
        api: ApiClient, make: Factory, org: dict[str, Any], fund: str, database_url: str) -> None:
    clerk = keyed(api, make, org["id"], CLERK)
    approver = keyed(api, make, org["id"], APPROVER)
    item = request(clerk)
    sent = {"发票-2026-11.pdf": PDF, "现场照片.png": PNG, "合同 扫描件.JPG": JPEG}
    made = []
    for (name, content), client in zip(sent.items(), [clerk, approver, clerk]):
        answer = assert_ok(attach(client, item["id"], content, name), 201)
        assert (answer["filename"], answer["size"], answer["sha256"]) == (
            name, len(content), hashlib.sha256(content).hexdigest())
        made.append(answer)
    assert [a["content_type"] for a in made] == ["application/pdf", "image/png", "image/jpeg"]

    listed = assert_ok(api.get(f"{API}/disbursements/{item['id']}/attachments"))
    assert [a["id"] for a in listed["items"]] == [a["id"] for a in reversed(made)]
    for answer in made:
        download = api.get(answer["url"])
        assert download.status_code == 200
        assert download.get_data() == sent[answer["filename"]]
        assert download.mimetype == answer["content_type"]
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert download.headers["X-Content-Type-Options"] == "nosniff"

    actions = [(action, details) for action, _, details in audit(database_url, item["id"])
               if action == "disbursement.attach"]
    assert [(d["attachment_id"], d["sha256"], d["filename"]) for _, d in actions] == [
        (a["id"], a["sha256"], a["filename"]) for a in made]

    # A paid disbursement still takes its invoice; a rejected one takes nothing more.
    other = request(clerk, "20.00")
    assert_ok(approver.post(f"{API}/disbursements/{other['id']}/reject", json={"reason": "不需要"}))
    closed = assert_problem(attach(clerk, other["id"], PDF, "a.pdf"), 409)
    assert closed["code"] == "disbursement_closed_to_attachments"


def test_an_upload_retried_with_its_idempotency_key_attaches_the_file_once(
        api: ApiClient, make: Factory, org: dict[str, Any], fund: str) -> None:
    clerk = keyed(api, make, org["id"], CLERK)
    item = request(clerk)
    path = f"{API}/disbursements/{item['id']}/attachments"

    def upload(content: bytes) -> Any:
        # Each request encodes its parts under a boundary of its own, as a client's retry does.
        return clerk.post(path, data={"file": (io.BytesIO(content), "发票.pdf")},
                          headers={"Idempotency-Key": "upload-invoice-1"})

    first, again = upload(PDF), upload(PDF)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json == first.json
    assert len(assert_ok(api.get(path))["items"]) == 1
    other = upload(PDF + b"%changed\n")
    assert assert_problem(other, 422, "Idempotency-Key")["codes"] == {"Idempotency-Key": ["idempotency_key_reused"]}


def test_attachments_are_refused_by_content_size_and_who_asks(
        api: ApiClient, make: Factory, org: dict[str, Any], fund: str) -> None:
    clerk = keyed(api, make, org["id"], CLERK)
    other_clerk = keyed(api, make, org["id"], CLERK)
    stranger = keyed(api, make, make.organization()["id"], CLERK + ["disbursements:approve"])
    item = request(clerk)
    path = f"{API}/disbursements/{item['id']}/attachments"

    for content, name in ((b"just some text", "invoice.pdf"), (b"MZ\x90\x00" + PDF, "contract.pdf"),
                          (b"GIF89a" + bytes(20), "photo.png")):
        refused_ = assert_problem(attach(clerk, item["id"], content, name), 422, "file")
        assert refused_["codes"] == {"file": ["attachment_type"]}
    too_large = assert_problem(attach(clerk, item["id"], PDF + bytes(10 * 1024 * 1024), "big.pdf"), 422, "file")
    assert too_large["codes"] == {"file": ["attachment_too_large"]} and "10 MB" in too_large["errors"]["file"][0]
    assert assert_problem(attach(clerk, item["id"], b"", "empty.pdf"), 422, "file")["codes"] == {
        "file": ["file_required"]}
    assert assert_problem(clerk.post(path, json={"file": "x"}), 415)["code"] == "unsupported_media_type"
    # A PNG named .pdf is a PNG: its content decides.
    assert assert_ok(attach(clerk, item["id"], PNG, "named-wrong.pdf"), 201)["content_type"] == "image/png"

    assert assert_problem(attach(other_clerk, item["id"], PDF, "a.pdf"), 403)["code"] == "attachment_forbidden"
    assert assert_problem(attach(stranger, item["id"], PDF, "a.pdf"), 404)["code"] == "disbursement_not_found"
    kept = assert_ok(api.get(path))["items"]
    assert len(kept) == 1
    # Another organisation sees neither the list nor the file.
    assert assert_problem(stranger.get(path), 404)["code"] == "disbursement_not_found"
    assert stranger.get(kept[0]["url"]).status_code == 404
    assert assert_problem(api.get(f"{path}/{kept[0]['id'] + 1000}"), 404)["code"] == "attachment_not_found"


def test_attachments_are_never_changed_or_deleted(gateway: Any, api: ApiClient, make: Factory,
                                                  org: dict[str, Any], fund: str, database_url: str) -> None:
    clerk = keyed(api, make, org["id"], CLERK)
    item = request(clerk)
    assert_ok(attach(clerk, item["id"], PDF, "a.pdf"), 201)
    for statement in ("UPDATE donations.disbursement_attachment SET filename = 'b.pdf'",
                      "DELETE FROM donations.disbursement_attachment",
                      ("INSERT INTO donations.disbursement_attachment (disbursement_id, filename, content_type, "
                       f"size_bytes, sha256, content, uploaded_by, uploaded_by_name, uploaded_at) VALUES "
                       f"({item['id']}, 'c.pdf', 'application/pdf', 5, 'x', '%PDF-', 'x', 'x', now())")):
        error = refused(engine_of(gateway, "donations"), statement)
        assert isinstance(error, psycopg.errors.InsufficientPrivilege), (statement, error)
    with psycopg.connect(libpq_dsn(database_url)) as connection:
        for statement in ("UPDATE donations.disbursement_attachment SET filename = 'b.pdf'",
                          "DELETE FROM donations.disbursement_attachment"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), connection.transaction():
                connection.execute(statement)
        # Even the owner cannot store a sha256 or a size that is not the content's own.
        for sha256, size in (("repeat('0', 64)", "5"), ("encode(sha256('%PDF-'::bytea), 'hex')", "6")):
            with pytest.raises(psycopg.errors.CheckViolation), connection.transaction():
                connection.execute(
                    "INSERT INTO donations.disbursement_attachment (disbursement_id, filename, content_type, "
                    f"size_bytes, sha256, content, uploaded_by, uploaded_by_name, uploaded_at) VALUES (%s, 'c.pdf', "
                    f"'application/pdf', {size}, {sha256}, '%PDF-'::bytea, 'x', 'x', now())".replace("%PDF", "%%PDF"),
                    (item["id"],))


def test_attachments_on_the_disbursements_page(gateway: Any, api: ApiClient, make: Factory,
                                               org: dict[str, Any], fund: str) -> None:
    manager = logged_in(gateway, make, "fund_manager", org["id"], "manager")
    approver = logged_in(gateway, make, "approver", org["id"], "approver")
    outsider = logged_in(gateway, make, "fund_manager", make.organization()["id"], "outsider")
    manager.submit("/donations/disbursements/new", {"fund_code": FUND, "amount": "200.00", "payee": "某小学",
                                                    "purpose": "助学"})
    item = assert_ok(api.get(f"{API}/disbursements"))["items"][0]
    page = f"/donations/disbursements/{item['id']}"
    upload = f"{page}/attachments"

    wrong = post(manager, upload, {"file": (io.BytesIO(b"<html>not an invoice</html>"), "invoice.pdf")},
                 token_from=page)
    assert wrong.status_code == 422 and "只接受 PDF、PNG 或 JPEG" in field_errors(wrong, "file")
    assert assert_ok(api.get(f"{API}/disbursements/{item['id']}/attachments"))["items"] == []

    done = post(manager, upload, {"file": (io.BytesIO(PDF), "发票.pdf")}, token_from=page)
    assert done.status_code == 302 and done.location == page
    assert post(approver, upload, {"file": (io.BytesIO(JPEG), "验收照片.jpg")}, token_from=page).status_code == 302
    attachments = assert_ok(api.get(f"{API}/disbursements/{item['id']}/attachments"))["items"]
    shown = text(manager.get(page))
    for attachment, content in zip(attachments, (JPEG, PDF)):
        row = re.search(rf'id="attachment-{attachment["id"]}">(.*?)</tr>', shown, re.S)
        assert row, shown
        assert attachment["filename"] in row.group(1) and hashlib.sha256(content).hexdigest() in row.group(1)
        assert f"{len(content):,} B" in row.group(1)  # the exact size, in the cell's title
        assert re.search(r">\d+(\.\d)? (B|KB)</td>", row.group(1)), row.group(1)
        link = f"{page}/attachments/{attachment['id']}"
        assert link in row.group(1)
        download = manager.get(link)
        assert download.status_code == 200 and download.get_data() == content
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert outsider.get(link).status_code == 404
    assert outsider.get(page).status_code == 404
    assert post(outsider, upload, {"file": (io.BytesIO(PDF), "x.pdf")},
                token_from="/donations/disbursements/").status_code == 404
    assert len(assert_ok(api.get(f"{API}/disbursements/{item['id']}/attachments"))["items"]) == 2


# -- the request page: cash, not goods ---------------------------------------------------------

def test_the_request_page_shows_the_cash_available_and_refuses_beyond_it(
        gateway: Any, api: ApiClient, make: Factory, org: dict[str, Any], fund: str) -> None:
    make.donation(FUND, "300.00", channel="in_kind", purpose="大米 100 袋")
    approved = request(keyed(api, make, org["id"], CLERK), "200.00")
    assert_ok(keyed(api, make, org["id"], APPROVER).post(f"{API}/disbursements/{approved['id']}/approve"))
    assert (balance(api)["available"], balance(api)["cash"]) == ("1100.00", "1000.00")  # 800.00 of cash is free
    manager = logged_in(gateway, make, "fund_manager", org["id"], "manager")

    form = manager.get("/donations/disbursements/new").get_data(as_text=True)
    hint = re.search(r'<div id="available-cash"[^>]*data-funds="([^"]*)"', form)
    assert hint and json.loads(html.unescape(hint.group(1)))[FUND] == {"fen": 80000, "shown": "¥800.00"}
    assert re.search(r'<script src="/donations/static/available_cash\.js"', form)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", form)  # no inline script
    script = manager.get("/donations/static/available_cash.js")
    assert script.status_code == 200 and "available-cash" in script.get_data(as_text=True)

    beyond = manager.submit("/donations/disbursements/new", {"fund_code": FUND, "amount": "800.01",
                                                             "payee": "某小学", "purpose": "助学"})
    assert beyond.status_code == 422
    error = field_errors(beyond, "amount")
    assert "可用现金为 800.00 元" in error and "800.01" in error and "实物" in error
    assert re.search(r'id="available-cash-text">[^<]*¥800\.00', text(beyond))
    assert assert_ok(api.get(f"{API}/disbursements?status=requested"))["items"] == []

    within = manager.submit("/donations/disbursements/new", {"fund_code": FUND, "amount": "800.00",
                                                             "payee": "某小学", "purpose": "助学"})
    assert within.status_code == 302
    assert [d["amount"] for d in assert_ok(api.get(f"{API}/disbursements?status=requested"))["items"]] == ["800.00"]
    # The API keeps its contract: it takes a request beyond the cash, and refuses it at approval.
    assert request(api, "5000.00")["status"] == "requested"


# -- login -----------------------------------------------------------------------------------

def test_an_approver_lands_on_the_approval_queue(gateway: Any, make: Factory, org: dict[str, Any]) -> None:
    make.user(gateway, "approver", PASSWORD, "approver", org["id"])
    make.user(gateway, "manager", PASSWORD, "fund_manager", org["id"])
    assert Browser(gateway).login("approver", PASSWORD).location == "/donations/disbursements/queue"
    assert Browser(gateway).login("manager", PASSWORD).location == "/donations/"
    # Sent to log in from a page, one goes back to it.
    browser = Browser(gateway)
    back = browser.submit("/funds/login?next=/donations/disbursements/", {"username": "approver",
                                                                          "password": PASSWORD})
    assert back.status_code == 302 and back.location == "/donations/disbursements/"
    assert browser.get(back.location).status_code == 200

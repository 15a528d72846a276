"""The audit report's programme sections (projects, needs, teams, drives) and the exports naming
what each disbursement paid for: a month of an organisation's programmes built through the API,
the report's figures checked to the fen, the hour and the kilogram."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from services.reports import tasks
from shared.dates import today
from shared.periods import Period
from tests.conftest import ApiClient, Factory
from tests.helpers import assert_ok

PROGRAMMES = "/programmes/api/v1"
DISBURSEMENTS = "/donations/api/v1/disbursements"
REPORTS = "/reports/api/v1"
LAMPS, TRAINING = "路灯", "培训"


class Org:
    def __init__(self, api: ApiClient, make: Factory) -> None:
        organization = make.organization("铜陵市工商联")
        self.id = organization["id"]
        self.fund = make.fund(self.id, "TL-HQ-001", name="工商联冠名基金")["code"]
        make.donation(self.fund, "100000.00", received_on=today().isoformat())
        self.writer = api.with_key(make.api_key(self.id, [
            "programmes:read", "programmes:write", "donations:read", "donations:write", "funds:read"], "clerk"))
        self.approver = api.with_key(make.api_key(self.id, [
            "programmes:read", "disbursements:approve", "donations:read"], "approver"))

    def disburse(self, amount: str, *, paid: bool = True, **names: Any) -> dict[str, Any]:
        made = assert_ok(self.writer.post(DISBURSEMENTS, json={
            "fund_code": self.fund, "amount": amount, "payee": "铜陵某工程公司", "purpose": "项目支出", **names}), 201)
        assert_ok(self.approver.post(f"{DISBURSEMENTS}/{made['id']}/approve"))
        if paid:
            assert_ok(self.writer.post(f"{DISBURSEMENTS}/{made['id']}/pay", json={
                "paid_on": today().isoformat(), "bank_reference": f"B-{made['id']}"}))
        return made


def _project(org: Org, code: str, lines: list[tuple[str, str]], milestones: list[tuple[str, dt.date, str]],
             starts_on: dt.date, **extra: Any) -> dict[str, Any]:
    return assert_ok(org.writer.post(f"{PROGRAMMES}/projects", json={
        "code": code, "name": f"{code} 红旗村路灯", "fund_code": org.fund, "starts_on": starts_on.isoformat(),
        "ends_on": (today() + dt.timedelta(days=200)).isoformat(),
        "lines": [{"name": name, "amount": amount} for name, amount in lines],
        "milestones": [{"name": name, "due_on": due.isoformat(), "instalment": amount}
                       for name, due, amount in milestones], **extra}), 201)


def _month_of_programmes(api: ApiClient, make: Factory) -> tuple[Org, dict[str, Any]]:
    """An organisation's month: two projects (one running with an overdue milestone, one stopped),
    needs and claims, a team's activities, purchases of each kind in two units."""
    org = Org(api, make)
    other = make.organization()
    other_key = make.api_key(other["id"], ["programmes:read", "programmes:write"])
    village = assert_ok(api.post(f"{PROGRAMMES}/villages", json={"name": "红旗村", "township": "钟鸣镇"}), 201)
    hill = assert_ok(api.post(f"{PROGRAMMES}/villages", json={"name": "青山村", "township": "钟鸣镇"}), 201)

    team = assert_ok(org.writer.post(f"{PROGRAMMES}/teams", json={
        "name": "钟鸣镇 1+N 帮扶团", "village_ids": [village["id"]],
        "members": [{"organization_id": org.id, "role": "lead"}, {"organization_id": other["id"], "role": "partner"}]}),
        201)
    for who, people, hours in ((org.writer, 12, ["2.5", "3"]), (api.with_key(other_key), 8, ["1.5"])):
        assert_ok(who.post(f"{PROGRAMMES}/teams/{team['id']}/activities", json={
            "on": today().isoformat(), "village_id": village["id"], "kind": "visit", "people_helped": people,
            "volunteers": [{"name": f"志愿者{n}", "hours": h} for n, h in enumerate(hours)]}), 201)

    # Running for more than six months, its second milestone overdue: quarterly reports are due.
    _project(org, "XM-2026-001", [(LAMPS, "6000.00"), (TRAINING, "4000.00")],
             [("路灯安装", today() - dt.timedelta(days=30), "6000.00"),
              ("培训完成", today() - dt.timedelta(days=1), "4000.00")],
             today() - dt.timedelta(days=220), team_id=team["id"], village_id=village["id"])
    assert_ok(org.approver.post(f"{PROGRAMMES}/projects/XM-2026-001/approve"))
    assert_ok(org.writer.post(f"{PROGRAMMES}/projects/XM-2026-001/milestones/1/report", json={"report": "已安装"}))
    assert_ok(org.approver.post(f"{PROGRAMMES}/projects/XM-2026-001/milestones/1/accept"))
    lamps = org.disburse("2500.00", project_code="XM-2026-001", budget_line=LAMPS)
    org.disburse("1000.00", paid=False, project_code="XM-2026-001", budget_line=LAMPS)
    # Stopped today: its full report is due.
    _project(org, "XM-2026-002", [("设备", "1000.00")], [("到货", today() + dt.timedelta(days=60), "1000.00")],
             today() - dt.timedelta(days=10))
    assert_ok(org.approver.post(f"{PROGRAMMES}/projects/XM-2026-002/approve"))
    assert_ok(org.approver.post(f"{PROGRAMMES}/projects/XM-2026-002/stop", json={"reason": "村委会另有安排"}))

    needs = [assert_ok(api.post(f"{PROGRAMMES}/needs", json={
        "village_id": where["id"], "title": title, "category": "lighting", "amount": amount,
        "due_on": "2027-03-31", "priority": "high"}), 201)
        for where, title, amount in ((village, "路灯 10 盏", "3000.00"), (hill, "图书角", "500.00"),
                                     (hill, "饮水管道", "800.00"))]
    assert_ok(org.writer.post(f"{PROGRAMMES}/needs/{needs[0]['id']}/claims", json={"amount": "1000.00"}), 201)
    books = assert_ok(org.writer.post(f"{PROGRAMMES}/needs/{needs[1]['id']}/claims", json={"amount": "500.00"}), 201)
    assert_ok(org.writer.post(f"{PROGRAMMES}/claims/{books['id']}/fulfil", json={}))
    assert_ok(api.with_key(other_key).post(f"{PROGRAMMES}/needs/{needs[2]['id']}/claims", json={"amount": "200.00"}),
              201)
    lights = org.disburse("600.00", need_id=needs[0]["id"])

    peaches = assert_ok(org.writer.post(f"{PROGRAMMES}/drives", json={
        "name": "红旗村黄桃认购", "village_id": village["id"], "product": "黄桃", "unit": "kg",
        "unit_price": "10.00", "quantity": "1000"}), 201)
    tea = assert_ok(org.writer.post(f"{PROGRAMMES}/drives", json={
        "name": "青山村茶叶", "village_id": hill["id"], "product": "绿茶", "unit": "箱", "unit_price": "50.00",
        "quantity": "100"}), 201)
    for drive, quantity, amount, kind, related in ((peaches, "100", "1000.00", "market", False),
                                                   (peaches, "50", "600.00", "given_on", False),
                                                   (peaches, "20.5", "300.00", "premium", True),
                                                   (tea, "3", "150.00", "market", False)):
        assert_ok(org.writer.post(f"{PROGRAMMES}/drives/{drive['id']}/purchases", json={
            "quantity": quantity, "amount": amount, "kind": kind, "related_party": related,
            "fund_code": org.fund}), 201)
    return org, {"needs": needs, "lamps": lamps, "lights": lights, "village": village, "hill": hill}


def _build(gateway: Any, api: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    report_id = assert_ok(api.post(f"{REPORTS}/reports", json=body), 202)["id"]
    app = gateway.apps["reports"]
    with app.app_context():
        assert tasks.build_and_deliver(app, report_id) == "done"
    return assert_ok(api.get(f"{REPORTS}/reports/{report_id}"))


def test_the_report_holds_the_months_programmes_to_the_fen(gateway: Any, api: ApiClient, make: Factory,
                                                           tmp_path: Path) -> None:
    org, made = _month_of_programmes(api, make)
    month = Period.containing(today(), "month")
    report = _build(gateway, api, {"period": month.label, "organization_id": org.id})
    programmes = report["summary"]["programmes"]
    assert report["summary"]["notes"] == []

    projects = programmes["projects"]
    assert (projects["count"], projects["by_status"]["in_progress"], projects["by_status"]["stopped"]) == (2, 1, 1)
    assert (projects["budget"], projects["approved"], projects["reserved"], projects["paid"],
            projects["remaining"]) == ("11000.00", "10000.00", "1000.00", "2500.00", "6500.00")
    assert [(m["project_code"], m["n"], m["milestone"], m["due_on"]) for m in projects["milestones_overdue"]] == [
        ("XM-2026-001", 2, "培训完成", (today() - dt.timedelta(days=1)).isoformat())]
    assert [(d["project_code"], d["report"]) for d in projects["disclosure_due"]] == [
        ("XM-2026-001", "quarterly"), ("XM-2026-002", "full")]

    needs = programmes["needs"]
    assert needs["posted"] == {"count": 3, "amount": "4300.00"}
    assert needs["claimed"] == {"count": 2, "amount": "1500.00", "needs": 2}  # the other organisation's is not ours
    assert needs["fulfilled"] == {"count": 1, "amount": "500.00", "needs": 1}
    assert [(n["need_id"], n["village"], n["open"], n["days_open"]) for n in needs["open_longest"]] == [
        (made["needs"][0]["id"], "红旗村", "2000.00", (month.last - today()).days),
        (made["needs"][2]["id"], "青山村", "600.00", (month.last - today()).days)]

    teams = programmes["teams"]
    assert (teams["count"], teams["activities"], teams["people_helped"], teams["volunteer_hours"],
            teams["raised"], teams["spent"]) == (1, 2, 20, "7.0", "3500.00", "2500.00")

    drives = programmes["drives"]
    assert drives["by_unit"] == [
        {"unit": "kg", "quantity": "170.5", "purchases": 3, "paid_to_village": "1900.00"},
        {"unit": "箱", "quantity": "3", "purchases": 1, "paid_to_village": "150.00"}]
    assert (drives["purchases"], drives["paid_to_village"], drives["exchange"], drives["charitable_spending"],
            drives["donation_of_difference"], drives["related_party"]) == (
        4, "2050.00", "1150.00", "500.00", "195.00", 1)

    # A fund's report: the fund's projects and purchases, its organisation's claims and teams.
    by_fund = _build(gateway, api, {"period": month.label, "fund_code": org.fund})["summary"]["programmes"]
    assert by_fund["projects"]["paid"] == "2500.00" and by_fund["needs"]["claimed"]["amount"] == "1500.00"
    assert by_fund["drives"]["paid_to_village"] == "2050.00"

    # The files: the PDF's sections, the XLSX's sheets.
    files = {f["format"]: api.get(f["url"].removeprefix("http://localhost")).get_data() for f in report["files"]}
    if shutil.which("pdftotext"):
        path = tmp_path / "report.pdf"
        path.write_bytes(files["pdf"])
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                              text=True).stdout
        for title in ("微公益项目", "村级需求", "帮扶团", "消费帮扶", "XM-2026-001", "培训完成", "饮水管道"):
            assert title in text, title
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(files["xlsx"]))
    assert {"项目", "需求", "帮扶团", "消费帮扶"} <= set(book.sheetnames)
    assert "[消费帮扶]" in files["csv"].decode("utf-8-sig")


def test_the_exports_name_what_each_disbursement_paid_for(gateway: Any, api: ApiClient, make: Factory,
                                                          tmp_path: Path) -> None:
    org, made = _month_of_programmes(api, make)
    month = Period.containing(today(), "month").label
    exported = api.get(f"{REPORTS}/exports?period={month}&format=csv&organization_id={org.id}")
    assert exported.status_code == 200, exported.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    columns = list(rows[0])
    assert columns[-3:] == ["project_code", "budget_line", "need_id"] and columns[:2] == ["date", "fund_code"]
    paid = {row["reference"]: row for row in rows if row["kind"] == "disbursement"}
    assert (paid[f"D{made['lamps']['id']}"]["project_code"], paid[f"D{made['lamps']['id']}"]["budget_line"],
            paid[f"D{made['lamps']['id']}"]["need_id"]) == ("XM-2026-001", LAMPS, "")
    assert (paid[f"D{made['lights']['id']}"]["project_code"],
            paid[f"D{made['lights']['id']}"]["need_id"]) == ("", str(made["needs"][0]["id"]))
    assert all(row["project_code"] == "" for row in rows if row["kind"] != "disbursement")

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(api.get(
        f"{REPORTS}/exports?period={month}&format=xlsx&organization_id={org.id}").get_data()))["账本"]
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert header[-3:] == ["项目编号", "预算科目", "需求编号"]
    named = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2) if row[11].value == "XM-2026-001"]
    assert named and all(row[12] == LAMPS for row in named)

    journal = api.get(f"{REPORTS}/exports?period={month}&format=journal&organization_id={org.id}").get_data()
    text = journal.decode()
    assert f"  ; project:XM-2026-001, line:{LAMPS}\n" in text and f"  ; need:{made['needs'][0]['id']}\n" in text
    if shutil.which("hledger") is None:
        pytest.skip("hledger is not installed")
    path = tmp_path / "ledger.journal"
    path.write_bytes(journal)
    env = {"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"}
    subprocess.run(["hledger", "-f", str(path), "check", "--strict"], check=True, capture_output=True, env=env)
    balance = subprocess.run(["hledger", "-f", str(path), "bal", f"Funds:{org.fund}", "-O", "csv", "--no-total"],
                             check=True, capture_output=True, text=True, env=env).stdout
    assert "-96900.00 CNY" in balance  # 100000.00 less 2500.00 and 600.00 paid
    tagged = subprocess.run(["hledger", "-f", str(path), "reg", "tag:project=XM-2026-001", "-O", "csv"],
                            check=True, capture_output=True, text=True, env=env).stdout
    assert "2500.00" in tagged
    if shutil.which("ledger"):
        subprocess.run(["ledger", "-f", str(path), "--pedantic", "--strict", "bal"], check=True,
                       capture_output=True, env=env)


def test_a_report_completes_without_the_programmes_service(gateway: Any, api: ApiClient, make: Factory) -> None:
    org = Org(api, make)
    away = Flask("away")

    @away.route("/<path:anything>", methods=["GET", "POST"])
    def unavailable(anything: str) -> Any:
        return "down for maintenance", 503

    peers = gateway.apps["reports"].extensions["peers"]
    peers.wire_local("programmes", away)
    try:
        report = _build(gateway, api, {"period": Period.containing(today(), "month").label,
                                       "organization_id": org.id})
    finally:
        peers.wire_local("programmes", gateway.apps["programmes"])
    assert report["summary"]["programmes"] is None and report["summary"]["donations_total"] == "100000.00"
    assert report["summary"]["notes"] and "项目服务" in report["summary"]["notes"][0]
    assert sorted(f["format"] for f in report["files"]) == ["csv", "pdf", "xlsx"]
    log = assert_ok(api.get(f"{REPORTS}/reports/{report['id']}/log"))["items"]
    assert log[-1]["to_status"] == "done" and "项目服务" in log[-1]["message"]

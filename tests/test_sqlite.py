"""The embedded default of `make run`: the whole ledger on SQLite.

The rest of the suite runs on PostgreSQL; this walks every kind of ledger
operation through the gateway on SQLite, where the application (not the
database's triggers) keeps the rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.migrate import upgrade
from tests.conftest import ADMIN_KEY, SECRET_KEY, ApiClient, Factory

API = "/donations/api/v1"


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Any:
    from services.gateway import create_gateway

    url = f"sqlite:///{tmp_path / 'charity.db'}"
    upgrade(url)
    gateway = create_gateway({"DATABASE_URL": url, "VAR_DIR": str(tmp_path), "SECRET_KEY": SECRET_KEY,
                              "BOOTSTRAP_ADMIN_API_KEY": ADMIN_KEY})
    yield ApiClient(gateway)
    for app in gateway.apps.values():
        app.extensions["peers"].close()
        app.extensions["database"].dispose()


def test_the_ledger_on_sqlite(sqlite_api: ApiClient, tmp_path: Path) -> None:
    api, make = sqlite_api, Factory(sqlite_api)
    organization = make.organization()
    make.fund(organization["id"], "LITE-001", restricted=True)
    approver = make.api_key(organization["id"], ["disbursements:approve", "donations:read"])

    first = make.donation("LITE-001", "1280.00", reference="R-1")
    assert first["receipt_no"].endswith("-000001") and first["amount_in_words"] == "壹仟贰佰捌拾元整"
    assert api.post(f"{API}/donations", json={**_body("5.00"), "reference": "R-1"}).status_code == 409
    csv = ("fund_code,amount,currency,donor_name,donor_kind,donor_anonymous,received_on,channel\n"
           "LITE-001,20.00,CNY,甲,individual,false,2026-08-01,cash\n"
           "LITE-001,2.5,CNY,乙,individual,false,2026-08-01,cash\n")
    rows = api.post(f"{API}/donations/batch", data=csv, content_type="text/csv").json["results"]
    assert [row["status"] for row in rows] == ["recorded", "invalid"]
    assert rows[1]["row"] == 3 and list(rows[1]["errors"]) == ["amount"]

    request = api.post(f"{API}/disbursements", json={
        "fund_code": "LITE-001", "amount": "300.00", "payee": "某村", "purpose": "修路"}).json
    assert api.post(f"{API}/disbursements/{request['id']}/approve").status_code == 403  # four eyes
    assert api.post(f"{API}/disbursements/{request['id']}/approve", key=approver).status_code == 200
    assert _balance(api) == ("1300.00", "1000.00")
    assert api.post(f"{API}/donations/{first['id']}/reverse", json={"reason": "退款"}).status_code == 409
    paid = api.post(f"{API}/disbursements/{request['id']}/pay",
                    json={"paid_on": "2026-09-01", "bank_reference": "B-1"})
    assert paid.status_code == 200 and paid.json["status"] == "paid"
    assert _balance(api) == ("1000.00", "1000.00")

    trial = api.get(f"{API}/trial-balance").json
    assert trial["total_debits"] == trial["total_credits"] == "1000.00"
    accounts = {row["account"]: (row["debit"], row["credit"]) for row in trial["accounts"]}
    assert accounts["Funds:LITE-001:Restricted"] == ("0.00", "1000.00")
    statement = api.get(f"{API}/funds/LITE-001/statement").json
    assert (statement["opening_balance"], statement["closing_balance"]) == ("0.00", "1000.00")
    assert [line["kind"] for line in statement["entries"]] == ["donation", "donation", "disbursement"]
    assert api.get(f"{API}/ledger/verify").json["valid"]
    assert api.post("/funds/api/v1/funds/LITE-001/close").status_code == 409
    assert (tmp_path / "charity.donations.db").exists() and (tmp_path / "charity.funds.db").exists()


def _body(amount: str) -> dict[str, Any]:
    return {"fund_code": "LITE-001", "amount": amount, "currency": "CNY",
            "donor": {"name": "某某", "kind": "individual", "anonymous": False},
            "received_on": "2026-08-03", "channel": "bank"}


def _balance(api: ApiClient) -> tuple[str, str]:
    body = api.get(f"{API}/funds/LITE-001/balance").json
    return body["balance"], body["available"]

"""Beat asks the programmes service, daily shortly after 01:00 in Shanghai, to expire the claims
past their date: the reports service's task, through the in-process peers, as beat runs it."""

from __future__ import annotations

from typing import Any

from services.reports import tasks
from tests.conftest import ApiClient, Factory
from tests.reports_support import owner_query

PROGRAMMES = "/programmes/api/v1"


def test_beat_expires_claims_past_their_date_daily_after_one_in_shanghai(gateway: Any) -> None:
    celery = gateway.apps["reports"].extensions["celery"]
    entry = celery.conf.beat_schedule["programmes.expire_claims"]
    assert entry["task"] == tasks.expire_claims.name
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({1}, {5})
    assert celery.conf.timezone == "Asia/Shanghai"


def test_the_task_expires_the_claims_past_their_date_and_frees_their_share(
        api: ApiClient, make: Factory, gateway: Any, database_url: str) -> None:
    organization = make.organization()
    village = api.post(f"{PROGRAMMES}/villages", json={"name": "新桥村", "township": "钟鸣镇"}).json
    need = api.post(f"{PROGRAMMES}/needs", json={
        "village_id": village["id"], "title": "村道路灯", "category": "lighting", "amount": "20000.00",
        "due_on": "2099-06-30"}).json
    late, on_time = (api.post(f"{PROGRAMMES}/needs/{need['id']}/claims", json={
        "amount": amount, "organization_id": organization["id"]}) for amount in ("5000.00", "3000.00"))
    assert late.status_code == on_time.status_code == 201, (late.json, on_time.json)
    assert api.get(f"{PROGRAMMES}/needs/{need['id']}").json["open"] == "12000.00"
    # Its date passed yesterday (in Shanghai).
    owner_query(database_url, "UPDATE programmes.claim SET due_on = (now() AT TIME ZONE 'Asia/Shanghai')::date - 1 "
                              "WHERE id = %s", (late.json["id"],))

    reports = gateway.apps["reports"]
    with reports.app_context():
        outcome = tasks.expire_claims()

    assert outcome["expired"] == [late.json["id"]] and isinstance(outcome["caps_resent"], int)
    assert api.get(f"{PROGRAMMES}/claims/{late.json['id']}").json["status"] == "expired"
    assert api.get(f"{PROGRAMMES}/claims/{on_time.json['id']}").json["status"] == "pledged"
    assert api.get(f"{PROGRAMMES}/needs/{need['id']}").json["open"] == "17000.00"
    # Run again (a retry, or tomorrow): nothing more to expire.
    with reports.app_context():
        assert tasks.expire_claims()["expired"] == []

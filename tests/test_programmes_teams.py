"""Assistance teams (1+N) and their activities through the programmes API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import ApiClient
from tests.helpers import assert_ok, assert_problem

API = "/programmes/api/v1"


def village(api: ApiClient, name: str = "红旗村", township: str = "钟鸣镇") -> dict[str, Any]:
    return assert_ok(api.post(f"{API}/villages", json={"name": name, "township": township}), 201)


def org_key(make: Any, scopes: list[str] | None = None) -> tuple[int, str]:
    organization = make.organization()
    return organization["id"], make.api_key(organization["id"], scopes or ["programmes:read", "programmes:write"])


def team_body(lead: int, partner: int, village_ids: list[int], **extra: Any) -> dict[str, Any]:
    return {"name": "钟鸣镇 1+N 帮扶团", "members": [
        {"organization_id": lead, "role": "lead", "contribution": "牵头, 出资 5 万元"},
        {"organization_id": partner, "role": "partner"}], "village_ids": village_ids, **extra}


def activity_body(village_id: int, **extra: Any) -> dict[str, Any]:
    return {"on": "2026-08-03", "village_id": village_id, "kind": "visit", "people_helped": 12,
            "description": "走访困难户", "volunteers": [{"name": "张三", "hours": "2.5"}, {"name": "李四", "hours": "3"}],
            **extra}


def test_a_team_is_formed_records_activities_and_adds_them_up(api: ApiClient, make: Any) -> None:
    lead, key = org_key(make)
    partner, partner_key = org_key(make)
    v1, v2 = village(api)["id"], village(api, "新桥村")["id"]
    as_lead = api.with_key(key)
    team = assert_ok(as_lead.post(f"{API}/teams", json=team_body(lead, partner, [v1, v2])), 201)
    assert [(m["organization_id"], m["role"], m["contribution"]) for m in team["members"]] == [
        (lead, "lead", "牵头, 出资 5 万元"), (partner, "partner", "")]
    assert [v["village_id"] for v in team["villages"]] == [v1, v2]
    assert team["totals"] == {"activities": 0, "people_helped": 0, "volunteer_hours": "0.0"}
    assert (team["raised"], team["spent"], team["projects"]) == ("0.00", "0.00", [])

    first = assert_ok(as_lead.post(f"{API}/teams/{team['id']}/activities", json=activity_body(v1)), 201)
    assert (first["volunteer_hours"], first["organization_id"]) == ("5.5", lead)
    assert [(v["name"], v["hours"]) for v in first["volunteers"]] == [("张三", "2.5"), ("李四", "3.0")]
    # The partner records too; hours add up exactly (0.1 thrice is 0.3, never 0.30000000000000004).
    assert_ok(api.with_key(partner_key).post(f"{API}/teams/{team['id']}/activities", json=activity_body(
        v2, kind="sales_help", people_helped=40, volunteers=[{"name": n, "hours": "0.1"} for n in "甲乙丙"])), 201)
    assert_ok(as_lead.post(f"{API}/teams/{team['id']}/activities", json=activity_body(
        v1, kind="goods", people_helped=0, volunteers=[])), 201)

    shown = assert_ok(as_lead.get(f"{API}/teams/{team['id']}"))
    assert shown["totals"] == {"activities": 3, "people_helped": 52, "volunteer_hours": "5.8"}
    by_village = {v["village_id"]: (v["activities"], v["people_helped"], v["volunteer_hours"])
                  for v in shown["villages"]}
    assert by_village == {v1: (2, 12, "5.5"), v2: (1, 40, "0.3")}

    listed = assert_ok(as_lead.get(f"{API}/teams/{team['id']}/activities?village_id={v1}"))
    assert [a["kind"] for a in listed["items"]] == ["goods", "visit"]
    page = assert_ok(as_lead.get(f"{API}/teams/{team['id']}/activities?limit=2"))
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = assert_ok(as_lead.get(f"{API}/teams/{team['id']}/activities?limit=2&cursor={page['next_cursor']}"))
    assert [a["kind"] for a in rest["items"]] == ["visit"] and rest["next_cursor"] is None
    assert [t["id"] for t in assert_ok(as_lead.get(f"{API}/teams?village_id={v2}"))["items"]] == [team["id"]]
    assert assert_ok(as_lead.get(f"{API}/teams?village_id={village(api, '东村')['id']}"))["items"] == []


def test_another_organisations_team_answers_404(api: ApiClient, make: Any) -> None:
    lead, key = org_key(make)
    partner, _ = org_key(make)
    _, other = org_key(make)
    v = village(api)["id"]
    team = assert_ok(api.with_key(key).post(f"{API}/teams", json=team_body(lead, partner, [v])), 201)
    as_other = api.with_key(other)
    assert_problem(as_other.get(f"{API}/teams/{team['id']}"), 404)
    assert_problem(as_other.get(f"{API}/teams/{team['id']}/activities"), 404)
    assert_problem(as_other.post(f"{API}/teams/{team['id']}/activities", json=activity_body(v)), 404)
    assert assert_ok(as_other.get(f"{API}/teams"))["items"] == []
    assert [t["id"] for t in assert_ok(api.get(f"{API}/teams"))["items"]] == [team["id"]]  # admin sees all
    # A team the caller's organisation is not in is not the caller's to form.
    problem = assert_problem(as_other.post(f"{API}/teams", json=team_body(lead, partner, [v], name="另一个")),
                             422, "members")
    assert problem["codes"]["members"] == ["team_without_caller"]
    reader = make.api_key(lead, ["programmes:read"])
    assert_problem(api.with_key(reader).post(f"{API}/teams/{team['id']}/activities", json=activity_body(v)), 403)
    assert_problem(api.get(f"{API}/teams/999999"), 404)
    assert_problem(api.with_key(key).post(f"{API}/teams", json=team_body(lead, partner, [v])), 409)


def test_bad_input_on_every_field_is_a_422_naming_it_and_writes_nothing(api: ApiClient, make: Any) -> None:
    lead, key = org_key(make)
    partner, _ = org_key(make)
    v = village(api)["id"]
    as_lead = api.with_key(key)
    good = team_body(lead, partner, [v])
    lead_member = good["members"][0]
    for field, bad, named in [
            ("name", "", "name"), ("name", "x" * 201, "name"), ("members", [], "members"), ("members", "x", "members"),
            ("members", [lead_member, {"organization_id": partner, "role": "boss"}], "members.1.role"),
            ("members", [lead_member, {"organization_id": partner, "role": "lead"}], "members"),  # two leads
            ("members", [{"organization_id": lead, "role": "partner"}], "members"),  # no lead
            ("members", [lead_member, {"organization_id": lead, "role": "donor"}], "members"),  # twice
            ("members", [lead_member, {"organization_id": 999999, "role": "donor"}], "members.1.organization_id"),
            ("members", [lead_member, {"organization_id": partner, "role": "donor", "x": 1}], "members.1.x"),
            ("members", [lead_member, "x"], "members.1"),
            ("village_ids", [], "village_ids"), ("village_ids", [999999], "village_ids"),
            ("village_ids", ["1"], "village_ids"), ("village_ids", None, "village_ids")]:
        assert_problem(as_lead.post(f"{API}/teams", json={**good, field: bad}), 422, named)
    assert assert_ok(api.get(f"{API}/teams"))["items"] == []

    team = assert_ok(as_lead.post(f"{API}/teams", json=good), 201)
    elsewhere = village(api, "外村")["id"]
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    for field, bad, named in [
            ("on", tomorrow, "on"), ("on", "2026-13-01", "on"), ("village_id", elsewhere, "village_id"),
            ("village_id", "x", "village_id"), ("kind", "party", "kind"), ("people_helped", -1, "people_helped"),
            ("people_helped", 1_000_001, "people_helped"), ("people_helped", "3", "people_helped"),
            ("description", "x" * 4001, "description"),
            ("volunteers", [{"name": "张三", "hours": "0"}], "volunteers.0.hours"),
            ("volunteers", [{"name": "张三", "hours": "24.5"}], "volunteers.0.hours"),
            ("volunteers", [{"name": "张三", "hours": "2.25"}], "volunteers.0.hours"),
            ("volunteers", [{"name": "张三", "hours": "2"}, {"name": "李四", "hours": 2}], "volunteers.1.hours"),
            ("volunteers", [{"name": "", "hours": "2"}], "volunteers.0.name"),
            ("volunteers", [{"hours": "2"}], "volunteers.0.name"), ("volunteers", {"name": "张三"}, "volunteers")]:
        assert_problem(as_lead.post(f"{API}/teams/{team['id']}/activities", json={**activity_body(v), field: bad}),
                       422, named)
    assert assert_ok(as_lead.get(f"{API}/teams/{team['id']}/activities"))["items"] == []
    assert assert_ok(as_lead.get(f"{API}/teams/{team['id']}"))["totals"]["activities"] == 0
    assert_problem(as_lead.get(f"{API}/teams/{team['id']}/activities?kind=party"), 422, "kind")


def test_a_team_is_replayed_for_its_idempotency_key(api: ApiClient, make: Any) -> None:
    lead, key = org_key(make)
    partner, _ = org_key(make)
    v = village(api)["id"]
    as_lead = api.with_key(key)
    headers = {"Idempotency-Key": "team-1"}
    first = as_lead.post(f"{API}/teams", json=team_body(lead, partner, [v]), headers=headers)
    again = as_lead.post(f"{API}/teams", json=team_body(lead, partner, [v]), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201) and first.json == again.json
    headers = {"Idempotency-Key": "activity-1"}
    for _ in range(2):
        assert_ok(as_lead.post(f"{API}/teams/{first.json['id']}/activities", json=activity_body(v), headers=headers),
                  201)
    assert assert_ok(as_lead.get(f"{API}/teams/{first.json['id']}"))["totals"]["activities"] == 1


def test_a_team_raised_what_its_projects_were_approved_and_spent_what_they_paid(api: ApiClient, make: Any) -> None:
    from tests.test_programmes_projects import EQUIPMENT, accept, organisation, pay, propose

    org = organisation(api, make)
    v = village(api)["id"]
    partner, _ = org_key(make)
    lead_key = make.api_key(org.id, ["programmes:read", "programmes:write"], "team")
    team = assert_ok(api.with_key(lead_key).post(f"{API}/teams", json=team_body(org.id, partner, [v])), 201)
    propose(org, team_id=team["id"])
    assert assert_ok(api.get(f"{API}/teams/{team['id']}"))["raised"] == "0.00"  # a draft has raised nothing
    assert_ok(org.approver.post(f"{API}/projects/XM-2026-001/approve"))
    accept(org, 1)
    pay(org, "2500.00", EQUIPMENT)
    shown = assert_ok(api.get(f"{API}/teams/{team['id']}"))
    assert (shown["raised"], shown["spent"]) == ("10000.00", "2500.00")
    assert [(p["code"], p["approved"], p["paid"]) for p in shown["projects"]] == [("XM-2026-001", "10000.00",
                                                                                   "2500.00")]

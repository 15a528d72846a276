"""The ledger's facts for audit reports: the donations service's internal report API
(/donations/internal/v1/report/...), the reports service's client of it (Sources), the
checks and the assembled report content, over a small ledger built through the public API.

Disbursements and reversals are dated the day they are made (today, in Shanghai), so the
periods here are this month and the one before it, in which donations are back-dated.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import Any

import psycopg
import pytest

from conftest import SECRET_KEY, ApiClient, Factory
from helpers import assert_ok, assert_problem
from services.donations import chain
from services.reports import build, checks, facts
from services.reports.sources import Sources, fen
from shared.auth import internal_token
from shared.dates import today
from shared.periods import Period
from tests.reports_support import APPROVER_SCOPES, CLERK_SCOPES, Org, donate, make_org, pay
from shared.postgres import libpq_dsn

API = "/donations/api/v1"
FUNDS_API = "/funds/api/v1"
REPORT = "/donations/internal/v1/report"
INTERNAL = {"X-Internal-Token": internal_token(SECRET_KEY)}
THRESHOLDS = {"large_donation": "500000.00", "payee_share_percent": 50}


# -- helpers -------------------------------------------------------------------------------

def internal(api: ApiClient, path: str, body: Any) -> Any:
    return assert_ok(api.post(f"{REPORT}/{path}", json=body, key=None, headers=INTERNAL))


def heads_of(snapshot: dict[str, Any], *codes: str) -> list[dict[str, Any]]:
    return [{"fund_code": f["fund_code"], "seq": f["seq"], "hash": f["hash"]}
            for f in snapshot["funds"] if not codes or f["fund_code"] in codes]


def by_code(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["fund_code"]: item for item in items}


def reverse(org: Org, donation: dict[str, Any]) -> None:
    assert_ok(org.clerk.post(f"{API}/donations/{donation['id']}/reverse", json={"reason": "重复入账"}))


def as_owner(database_url: str, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """Change the ledger behind the service's back, as its owner, past the append-only triggers."""
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as connection, connection.transaction():
        connection.execute("SET LOCAL session_replication_role = replica")
        for sql, params in statements:
            connection.execute(sql, params)  # type: ignore[arg-type]


# -- the ledger of two months ------------------------------------------------------------------

@dataclass
class Ledger:
    org: Org
    general: str          # unrestricted
    school: str           # restricted
    this_month: Period
    last_month: Period
    gifts: dict[str, dict[str, Any]]


@pytest.fixture
def ledger(api: ApiClient, make: Factory) -> Ledger:
    """Two funds of one organisation. Two months ago: 500.00 to the general fund. Last month:
    1000.00 and 300.00 of goods to it, 2000.00 from an anonymous donor to the school fund."""
    org = make_org(api, make, "铜陵市慈善总会")
    general = make.fund(org.id, "TL-GEN-001", name="慈善总会非限定基金")["code"]
    school = make.fund(org.id, "TL-EDU-001", name="助学限定基金", restricted=True)["code"]
    this_month = Period.containing(today(), "month")
    last_month = this_month.previous
    gifts = {
        "early": donate(org, general, "500.00", last_month.previous.first),
        "named": donate(org, general, "1000.00", last_month.first),
        "goods": donate(org, general, "300.00", last_month.first + dt.timedelta(days=1), donor="铜陵有色金属集团",
                        kind="enterprise", channel="in_kind", purpose="图书"),
        "anonymous": donate(org, school, "2000.00", last_month.last, donor="张三丰", anonymous=True),
    }
    return Ledger(org, general, school, this_month, last_month, gifts)


def test_the_endpoints_answer_only_services(api: ApiClient) -> None:
    for path in ("heads", "figures", "checks", "entries", "openings"):
        response = api.post(f"{REPORT}/{path}", json={}, key=None, headers={"X-Internal-Token": "wrong"})
        assert response.status_code == 401, path


def test_heads_are_every_fund_at_one_moment(api: ApiClient, ledger: Ledger) -> None:
    snapshot = internal(api, "heads", {})

    funds = by_code(snapshot["funds"])
    assert dt.datetime.fromisoformat(snapshot["taken_at"]).utcoffset() is not None
    assert set(funds) == {ledger.general, ledger.school}
    general = funds[ledger.general]
    assert general["seq"] == 3 and len(general["hash"]) == 64
    assert (general["balance"], general["reserved"], general["available"]) == ("1800.00", "0.00", "1800.00")
    assert general["restricted"] is False and funds[ledger.school]["restricted"] is True
    assert general["organization_id"] == ledger.org.id


def figures(api: ApiClient, heads: list[dict[str, Any]], period: Period,
            previous: list[dict[str, Any]] | None = None, **thresholds: Any) -> dict[str, Any]:
    return internal(api, "figures", {"heads": heads, "from": period.first.isoformat(), "to": period.last.isoformat(),
                                     "previous_heads": previous, "thresholds": {**THRESHOLDS, **thresholds}})


@dataclass
class Later:
    """What happened after the first heads were taken: today's reversal, payments and gift,
    and a gift dated last month (a late entry for this month's report)."""

    first: list[dict[str, Any]]
    second: list[dict[str, Any]]
    late: dict[str, Any]
    payments: dict[str, dict[str, Any]]


@pytest.fixture
def later(api: ApiClient, ledger: Ledger) -> Later:
    first = heads_of(internal(api, "heads", {}))
    reverse(ledger.org, ledger.gifts["named"])
    payments = {"general": pay(ledger.org, ledger.general, "200.00"),
                "school": pay(ledger.org, ledger.school, "500.00", payee="铜陵市第二中学")}
    late = donate(ledger.org, ledger.general, "50.00", ledger.last_month.first + dt.timedelta(days=5))
    donate(ledger.org, ledger.general, "80.00", today())
    return Later(first, heads_of(internal(api, "heads", {})), late, payments)


def test_a_periods_figures_add_up_and_hide_anonymous_donors(api: ApiClient, ledger: Ledger) -> None:
    heads = heads_of(internal(api, "heads", {}))

    answer = figures(api, heads, ledger.last_month)

    funds = by_code(answer["funds"])
    general, school = funds[ledger.general], funds[ledger.school]
    assert (general["opening"], general["donations_count"], general["donations_total"], general["in_kind_total"],
            general["restricted_total"], general["closing"]) == ("500.00", 2, "1300.00", "300.00", "0.00", "1800.00")
    assert (general["reversals_count"], general["reversals_total"], general["disbursements_count"],
            general["disbursements_total"]) == (0, "0.00", 0, "0.00")
    assert (school["opening"], school["donations_total"], school["restricted_total"], school["closing"]) == \
        ("0.00", "2000.00", "2000.00", "2000.00")
    assert answer["months"] == [{"month": ledger.last_month.label, "inflow": "3300.00", "outflow": "0.00"}]
    assert [(d["name"], d["kind"], d["count"], d["total"]) for d in answer["donors"]] == [
        ("匿名", "individual", 1, "2000.00"), ("王秀英", "individual", 1, "1000.00"),
        ("铜陵有色金属集团", "enterprise", 1, "300.00")]
    assert answer["late_entries"] == [] and answer["late_entries_count"] == 0
    assert "张三丰" not in json.dumps(answer, ensure_ascii=False)


def test_the_next_period_opens_where_the_last_closed_and_names_late_entries(
        api: ApiClient, ledger: Ledger, later: Later) -> None:
    answer = figures(api, later.second, ledger.this_month, previous=later.first)

    general, school = by_code(answer["funds"])[ledger.general], by_code(answer["funds"])[ledger.school]
    # 1800.00 at the first heads, and the 50.00 dated last month but posted since.
    assert (general["opening"], general["donations_count"], general["donations_total"]) == ("1850.00", 1, "80.00")
    assert (general["reversals_count"], general["reversals_total"]) == (1, "1000.00")
    assert (general["disbursements_count"], general["disbursements_total"]) == (1, "200.00")
    assert general["disbursements_by_category"] == {"programme": "200.00", "management": "0.00",
                                                    "fundraising": "0.00"}
    assert general["closing"] == "730.00"
    assert (school["opening"], school["disbursements_total"], school["closing"]) == ("2000.00", "500.00", "1500.00")
    # What the ledger holds now is what the figures close with.
    assert assert_ok(ledger.org.clerk.get(f"{API}/funds/{ledger.general}/balance"))["balance"] == "730.00"
    assert answer["months"] == [{"month": ledger.this_month.label, "inflow": "80.00", "outflow": "1700.00"}]
    [late] = answer["late_entries"]
    assert answer["late_entries_count"] == 1
    assert (late["fund_code"], late["kind"], late["effective_on"], late["amount"], late["direction"],
            late["reference"]) == (ledger.general, "donation", later.late["received_on"], "50.00", "in",
                                   later.late["receipt_no"])
    # Without the previous report's heads nothing is late.
    assert figures(api, later.second, ledger.this_month)["late_entries"] == []


def test_a_period_rebuilt_from_its_heads_is_the_same_and_a_reversed_gift_stays_in_it(
        api: ApiClient, ledger: Ledger, later: Later) -> None:
    before = figures(api, later.first, ledger.last_month)

    assert figures(api, later.first, ledger.last_month) == before
    now = by_code(figures(api, later.second, ledger.last_month)["funds"])[ledger.general]
    # At the later heads: the reversed 1000.00 still counts where it was received, and the late 50.00 too.
    assert (now["donations_count"], now["donations_total"], now["reversals_total"]) == (3, "1350.00", "0.00")
    assert by_code(before["funds"])[ledger.general]["donations_total"] == "1300.00"


def test_entries_page_by_fund_date_and_seq_with_their_postings(api: ApiClient, ledger: Ledger, later: Later) -> None:
    body = {"heads": later.second, "fund_codes": [ledger.school, ledger.general],
            "from": ledger.this_month.first.isoformat(), "to": ledger.this_month.last.isoformat(), "limit": 2}
    pages = [internal(api, "entries", body)]
    while pages[-1]["next"] is not None:
        pages.append(internal(api, "entries", {**body, "after": pages[-1]["next"]}))

    entries = [e for page in pages for e in page["entries"]]
    assert len(pages) == 2
    assert [(e["fund_code"], e["seq"], e["kind"]) for e in entries] == [
        (ledger.school, 2, "disbursement"), (ledger.general, 4, "reversal"), (ledger.general, 5, "disbursement"),
        (ledger.general, 7, "donation")]
    school, reversal, payment, gift = entries
    assert reversal["reference"] == ledger.gifts["named"]["receipt_no"]
    assert reversal["postings"] == [{"account": "bank", "amount": "-1000.00"},
                                    {"account": "unrestricted", "amount": "1000.00"}]
    assert (payment["reference"], payment["category"]) == (f"D{later.payments['general']['id']}", "programme")
    assert payment["description"] == "铜陵市第一中学：资助贫困学生学费"
    assert gift["description"] == "王秀英：助学" and gift["category"] is None
    assert [p["account"] for p in school["postings"]] == ["restricted", "unrestricted", "unrestricted", "bank"]
    assert all(sum(fen(p["amount"]) for p in e["postings"]) == 0 for e in entries)
    # The last month's entries at the first heads: the late gift is not among them.
    old = internal(api, "entries", {**body, "heads": later.first, "from": ledger.last_month.first.isoformat(),
                                    "to": ledger.last_month.last.isoformat(), "limit": 100})
    assert [(e["fund_code"], e["seq"]) for e in old["entries"]] == [
        (ledger.school, 1), (ledger.general, 2), (ledger.general, 3)]
    assert "张三丰" not in json.dumps(old, ensure_ascii=False)


def test_openings_are_each_accounts_balance_before_the_day_up_to_the_heads(
        api: ApiClient, ledger: Ledger, later: Later) -> None:
    def openings(heads: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
        body = internal(api, "openings", {"heads": heads, "fund_codes": [ledger.general, ledger.school],
                                          "day": ledger.this_month.first.isoformat()})
        return {(b["fund_code"], b["account"]): b["amount"] for b in body["balances"]}

    now, then = openings(later.second), openings(later.first)

    assert now[(ledger.general, "bank")] == "1550.00" and now[(ledger.general, "in_kind")] == "300.00"
    assert now[(ledger.general, "unrestricted")] == "-1850.00" and now[(ledger.general, "restricted")] == "0.00"
    assert (now[(ledger.school, "bank")], now[(ledger.school, "restricted")]) == ("2000.00", "-2000.00")
    assert (then[(ledger.general, "bank")], then[(ledger.general, "unrestricted")]) == ("1500.00", "-1800.00")


def test_refused_requests_name_the_field(api: ApiClient, ledger: Ledger) -> None:
    heads = heads_of(internal(api, "heads", {}))
    period = {"from": ledger.last_month.first.isoformat(), "to": ledger.last_month.last.isoformat()}

    def refused(path: str, body: Any) -> Any:
        return api.post(f"{REPORT}/{path}", json=body, key=None, headers=INTERNAL)

    assert_problem(refused("figures", {"heads": heads, **period}), 422, "thresholds")
    assert_problem(refused("figures", {"heads": [{"fund_code": "x", "seq": 1}], **period, "thresholds": THRESHOLDS}),
                   422, "heads.0.fund_code")
    assert_problem(refused("figures", {"heads": [{"fund_code": "NO-SUCH", "seq": 3}], **period,
                                       "thresholds": THRESHOLDS}), 422, "heads")
    assert_problem(refused("figures", {"heads": heads, "from": period["to"], "to": period["from"],
                                       "thresholds": THRESHOLDS}), 422, "from")
    assert_problem(refused("entries", {"heads": heads, **period, "limit": 5001}), 422, "limit")
    assert_problem(refused("entries", {"heads": heads[:1], "fund_codes": [ledger.school, ledger.general],
                                       **period}), 422, "fund_codes")
    assert_problem(refused("checks", {"heads": [{"fund_code": ledger.general, "seq": 3}]}), 422, "heads.0.hash")


# -- the checks, over the ledger ------------------------------------------------------------------

def check_inputs(api: ApiClient, previous: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return internal(api, "checks", {"heads": heads_of(internal(api, "heads", {})), "previous_heads": previous})


def judged(gateway: Any, previous: facts.PreviousReport | None = None) -> dict[str, facts.Check]:
    """The checks as a report judges them, over every fund's current heads."""
    sources = Sources(gateway.apps["reports"].extensions["peers"])
    heads = [f.head for f in sources.heads().funds]
    return {c.name: c for c in checks.ledger_checks(
        sources.check_inputs(heads, None if previous is None else list(previous.heads)), previous)}


def entry_id(database_url: str, code: str, seq: int) -> int:
    with psycopg.connect(libpq_dsn(database_url)) as connection:
        return connection.execute(  # type: ignore[no-any-return]
            "SELECT e.id FROM donations.journal_entry e JOIN donations.fund_ledger f ON f.id = e.fund_id "
            "WHERE f.code = %s AND e.seq = %s", (code, seq)).fetchone()[0]


def test_an_untouched_ledger_passes_every_check(api: ApiClient, gateway: Any, ledger: Ledger, later: Later) -> None:
    inputs = check_inputs(api, later.first)

    assert inputs["trial_balance"]["debits"] == inputs["trial_balance"]["credits"]
    assert (inputs["trial_balance"]["entries"], inputs["trial_balance"]["unbalanced"]) == (9, [])
    assert inputs["balances"] == {"funds_checked": 2, "mismatches": [], "mismatch_count": 0}
    chains = by_code(inputs["chains"])
    assert chains[ledger.general]["valid"] and chains[ledger.general]["entries_verified"] == 7
    assert chains[ledger.general]["previous"]["hash_now"] == chains[ledger.general]["previous"]["hash"]
    [year] = inputs["receipts"]
    assert (year["count"], year["first"], year["last"], year["missing_count"], year["duplicates"]) == \
        (6, f"{year['year']}-000001", f"{year['year']}-000006", 0, [])
    assert inputs["four_eyes"] == {"paid": 2, "violation_count": 0, "violations": []}
    previous = facts.PreviousReport(1, ledger.last_month.label,
                                    tuple(facts.Head(h["fund_code"], h["seq"], h["hash"]) for h in later.first))
    verdicts = judged(gateway, previous)
    assert all(check.passed for check in verdicts.values()), verdicts
    assert "上期报告" in verdicts["audit_chain"].detail


def test_a_changed_donation_breaks_the_chain_at_its_entry(
        api: ApiClient, gateway: Any, database_url: str, ledger: Ledger) -> None:
    as_owner(database_url, ("UPDATE donations.donation SET donor_name = '李四' WHERE id = %s",
                            (ledger.gifts["named"]["id"],)))

    chains = by_code(check_inputs(api)["chains"])
    verdicts = judged(gateway)

    bad = chains[ledger.general]
    assert (bad["valid"], bad["first_bad_seq"], bad["problem_code"]) == (False, 2, "content")
    assert bad["first_bad_entry_id"] == entry_id(database_url, ledger.general, 2)
    assert chains[ledger.school]["valid"]
    chain_check = verdicts["audit_chain"]
    assert not chain_check.passed
    assert ledger.general in chain_check.detail and "第2条" in chain_check.detail
    assert f"ID {bad['first_bad_entry_id']}" in chain_check.detail
    assert ("TL-GEN-001 链头", f"第3条 {heads_of(internal(api, 'heads', {}), ledger.general)[0]['hash']}") \
        in chain_check.figures
    assert all(verdicts[name].passed for name in ("trial_balance", "balances_match_ledger",
                                                   "receipt_numbers_gapless", "four_eyes"))


def test_a_changed_posting_unbalances_the_ledger_and_its_balances(
        api: ApiClient, gateway: Any, database_url: str, ledger: Ledger) -> None:
    changed = entry_id(database_url, ledger.general, 2)
    as_owner(database_url, ("UPDATE donations.posting SET amount_fen = amount_fen + 1 WHERE entry_id = %s "
                            "AND line = 1", (changed,)))

    inputs = check_inputs(api)
    verdicts = judged(gateway)

    assert inputs["trial_balance"]["unbalanced"] == [
        {"entry_id": changed, "fund_code": ledger.general, "seq": 2, "sum": "0.01"}]
    assert not verdicts["trial_balance"].passed and f"ID {changed}" in verdicts["trial_balance"].detail
    assert {(m["fund_code"], m["place"], m["account"], m["stored"], m["postings"])
            for m in inputs["balances"]["mismatches"]} == {
        (ledger.general, "fund_ledger", "bank", "1500.00", "1500.01"),
        (ledger.general, "fund_day", "bank", "1000.00", "1000.01")}
    assert not verdicts["balances_match_ledger"].passed
    assert ledger.general in verdicts["balances_match_ledger"].detail
    assert by_code(inputs["chains"])[ledger.general]["problem_code"] == "unbalanced"
    assert not verdicts["audit_chain"].passed


def test_balanced_changes_to_postings_still_show_in_the_balances_and_the_chain(
        api: ApiClient, gateway: Any, database_url: str, ledger: Ledger) -> None:
    changed = entry_id(database_url, ledger.school, 1)
    as_owner(database_url, ("UPDATE donations.posting SET amount_fen = amount_fen + sign(amount_fen) * 100000 "
                            "WHERE entry_id = %s", (changed,)))

    verdicts = judged(gateway)

    assert verdicts["trial_balance"].passed
    assert not verdicts["balances_match_ledger"].passed and ledger.school in verdicts["balances_match_ledger"].detail
    assert not verdicts["audit_chain"].passed and ledger.school in verdicts["audit_chain"].detail


def test_a_missing_receipt_number_is_named(api: ApiClient, gateway: Any, database_url: str, ledger: Ledger) -> None:
    missing, last = ledger.gifts["goods"]["receipt_no"], ledger.gifts["anonymous"]["receipt_no"]
    as_owner(database_url, ("DELETE FROM donations.donation WHERE id IN (%s, %s)",
                            (ledger.gifts["goods"]["id"], ledger.gifts["anonymous"]["id"])))

    [year] = check_inputs(api)["receipts"]
    check = judged(gateway)["receipt_numbers_gapless"]

    # The last number issued is gone too: the year's counter still knows it.
    assert (year["missing_count"], year["missing"], year["last_issued"]) == (2, [missing, last], last)
    assert not check.passed and missing in check.detail and last in check.detail


def test_a_payment_nobody_else_approved_breaks_four_eyes(
        api: ApiClient, gateway: Any, database_url: str, ledger: Ledger, later: Later) -> None:
    unapproved, own = later.payments["general"], later.payments["school"]
    as_owner(database_url, ("UPDATE donations.disbursement SET approved_by = NULL WHERE id = %s",
                            (unapproved["id"],)))
    # The table's CHECK refuses a requester's own approval: lifted for this test alone.
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as connection:
        connection.execute("ALTER TABLE donations.disbursement DROP CONSTRAINT ck_disbursement_four_eyes")
        try:
            as_owner(database_url, ("UPDATE donations.disbursement SET approved_by = requested_by WHERE id = %s",
                                    (own["id"],)))
            eyes = check_inputs(api)["four_eyes"]
            check = judged(gateway)["four_eyes"]
        finally:
            as_owner(database_url, ("UPDATE donations.disbursement SET approved_by = %s WHERE id = %s",
                                    (own["approved_by"], own["id"])))
            connection.execute("ALTER TABLE donations.disbursement ADD CONSTRAINT ck_disbursement_four_eyes "
                               "CHECK (approved_by IS NULL OR approved_by <> requested_by)")

    assert (eyes["paid"], eyes["violation_count"]) == (2, 2)
    assert [(v["id"], v["approved_by"]) for v in eyes["violations"]] == [
        (unapproved["id"], None), (own["id"], own["requested_by"])]
    assert not check.passed and f"D{unapproved['id']}" in check.detail and "无人审批" in check.detail
    assert ("拨付 D%s（%s）" % (own["id"], ledger.school)) in dict(check.figures)


def rewrite_chain(database_url: str, code: str, seq: int, purpose: str) -> None:
    """Change a donation and rehash its fund's chain from it on, as a forger who can write the
    ledger would: the chain verifies again, but its old heads are no longer on it."""
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as connection, connection.transaction():
        connection.execute("SET LOCAL session_replication_role = replica")
        rows = connection.execute("""
            SELECT e.id, e.seq, e.kind, e.effective_on, e.posted_at, e.source_id, e.actor, e.prev_hash, f.id
            FROM donations.journal_entry e JOIN donations.fund_ledger f ON f.id = e.fund_id
            WHERE f.code = %s AND e.seq >= %s ORDER BY e.seq""", (code, seq)).fetchall()
        previous = rows[0][7]
        for entry, number, kind, effective_on, posted_at, source, actor, _, fund in rows:
            assert kind == "donation"
            if number == seq:
                connection.execute("UPDATE donations.donation SET purpose = %s WHERE id = %s", (purpose, source))
            gift = connection.execute(
                "SELECT receipt_year, receipt_seq, amount_fen, donor_name, donor_kind, donor_anonymous, received_on, "
                "channel, purpose, reference FROM donations.donation WHERE id = %s", (source,)).fetchone()
            document = chain.donation_document(
                receipt_no=f"{gift[0]}-{gift[1]:06d}", amount_fen=gift[2], donor_name=gift[3], donor_kind=gift[4],
                donor_anonymous=gift[5], received_on=gift[6], channel=gift[7], purpose=gift[8], reference=gift[9])
            postings = connection.execute("SELECT account, amount_fen FROM donations.posting WHERE entry_id = %s",
                                          (entry,)).fetchall()
            digest = chain.entry_hash(prev_hash=previous, fund_code=code, seq=number, kind=kind,
                                      effective_on=effective_on, posted_at=posted_at, source_id=source, actor=actor,
                                      document=document, postings=postings)
            connection.execute("UPDATE donations.journal_entry SET prev_hash = %s, hash = %s WHERE id = %s",
                               (previous, digest, entry))
            previous = digest
        connection.execute("UPDATE donations.fund_ledger SET chain_head = %s WHERE id = %s", (previous, fund))


def test_a_rewritten_chain_verifies_but_the_previous_reports_head_is_no_longer_on_it(
        api: ApiClient, gateway: Any, database_url: str, ledger: Ledger) -> None:
    first = heads_of(internal(api, "heads", {}))
    previous = facts.PreviousReport(7, ledger.last_month.label,
                                    tuple(facts.Head(h["fund_code"], h["seq"], h["hash"]) for h in first))
    assert judged(gateway, previous)["audit_chain"].passed

    rewrite_chain(database_url, ledger.general, 2, "另作他用")

    inputs = by_code(check_inputs(api, first)["chains"])
    check = judged(gateway, previous)["audit_chain"]
    assert inputs[ledger.general]["valid"]  # the forger's chain verifies on its own
    assert inputs[ledger.general]["previous"]["hash_now"] != inputs[ledger.general]["previous"]["hash"]
    assert not check.passed
    assert ledger.general in check.detail and "上期报告的链头" in check.detail
    assert any(label.startswith(f"{ledger.general} 上期链头") for label, _ in check.figures)
    # Without the previous report nothing shows.
    assert judged(gateway)["audit_chain"].passed


# -- the report's content -------------------------------------------------------------------------

def sources_for(gateway: Any) -> Sources:
    return Sources(gateway.apps["reports"].extensions["peers"])


def previous_report(heads: list[dict[str, Any]], period: Period) -> facts.PreviousReport:
    return facts.PreviousReport(1, period.label, tuple(facts.Head(h["fund_code"], h["seq"], h["hash"])
                                                       for h in heads))


def test_a_report_is_built_from_one_snapshot_of_its_scope(
        api: ApiClient, gateway: Any, ledger: Ledger, later: Later) -> None:
    seen: list[int] = []
    moment = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)

    content = build.build_content(
        sources_for(gateway), report_id=2, scope=facts.Scope(organization_id=ledger.org.id),
        period=ledger.this_month, generated_at=moment, previous=previous_report(later.first, ledger.last_month),
        progress=seen.append)

    assert seen == sorted(seen) and len(set(seen)) == len(seen) and seen[-1] <= 90
    month = ledger.this_month.first
    assert content.title == f"铜陵市慈善总会 {month.year}年{month.month}月审计报告"
    assert [(h.fund_code, h.seq, h.hash) for h in content.heads] == \
        [(h["fund_code"], h["seq"], h["hash"]) for h in later.second]
    totals = content.totals
    assert (totals.opening_fen, totals.donations_fen, totals.reversals_fen, totals.disbursements_fen,
            totals.closing_fen, totals.available_fen) == (385000, 8000, 100000, 70000, 223000, 223000)
    for fund in content.funds:
        assert fund.closing_fen == fund.opening_fen + fund.donations_fen - fund.reversals_fen - fund.disbursements_fen
    assert [(e.fund_code, e.amount_fen, e.reference) for e in content.late_entries] == \
        [(ledger.general, 5000, later.late["receipt_no"])]
    assert [c.name for c in content.checks] == ["trial_balance", "balances_match_ledger", "audit_chain",
                                                "receipt_numbers_gapless", "four_eyes"]
    assert all(c.passed for c in content.checks), content.checks

    summary = build.summary_json(content)
    assert {key: summary[key] for key in ("opening_balance", "donations_total", "donations_count",
                                          "disbursements_total", "disbursements_count", "reversals_total",
                                          "closing_balance")} == {
        "opening_balance": "3850.00", "donations_total": "80.00", "donations_count": 1,
        "disbursements_total": "700.00", "disbursements_count": 2, "reversals_total": "1000.00",
        "closing_balance": "2230.00"}
    general = by_code(summary["funds"])[ledger.general]
    assert (general["name"], general["opening_balance"], general["closing_balance"], general["available"]) == \
        ("慈善总会非限定基金", "1850.00", "730.00", "730.00")
    assert [c["name"] for c in summary["checks"]] == [c.name for c in content.checks]
    assert all(set(c) == {"name", "passed", "detail"} for c in summary["checks"])
    assert summary["title"] == content.title and summary["late_entries"] == 1


def test_a_funds_report_covers_that_fund_alone(api: ApiClient, gateway: Any, ledger: Ledger) -> None:
    content = build.build_content(
        sources_for(gateway), report_id=3, scope=facts.Scope(fund_code=ledger.school),
        period=ledger.last_month, generated_at=dt.datetime.now(dt.UTC), previous=None, progress=lambda _: None)

    assert content.scope_label == f"助学限定基金 ({ledger.school})"
    assert [f.fund_code for f in content.funds] == [ledger.school]
    assert (content.totals.donations_fen, content.totals.restricted_fen, content.totals.closing_fen) == \
        (200000, 200000, 200000)
    assert [(d.name, d.total_fen) for d in content.donors] == [("匿名", 200000)]


def test_an_annual_report_judges_the_charity_law_ratios(api: ApiClient, gateway: Any, make: Factory) -> None:
    foundation = assert_ok(api.post(f"{FUNDS_API}/organizations", json={
        "name": "铜陵市慈善基金会", "kind": "other", "charity_kind": "foundation"}), 201)
    org = Org(foundation["id"], api.with_key(make.api_key(foundation["id"], CLERK_SCOPES, "出纳")),
              api.with_key(make.api_key(foundation["id"], APPROVER_SCOPES, "审批人")))
    code = make.fund(org.id, "TL-FDN-001", name="基金会基金")["code"]
    year = today().year
    donate(org, code, "1000.00", dt.date(year - 1, 12, 15))
    donate(org, code, "500.00", today())
    pay(org, code, "100.00")
    pay(org, code, "100.00", payee="铜陵市慈善基金会办公室", category="management")

    content = build.build_content(
        sources_for(gateway), report_id=4, scope=facts.Scope(organization_id=org.id),
        period=Period.year(year), generated_at=dt.datetime.now(dt.UTC), previous=None, progress=lambda _: None)

    judged_ = {c.name: c for c in content.checks}
    assert content.title == f"铜陵市慈善基金会 {year}年度审计报告"
    spending = judged_["charity_law_spending_ratio"]
    # 100.00 spent on charitable activities, against 1000.00 received last year.
    assert not spending.passed and "10.00%" in spending.detail and "铜陵市慈善基金会" in spending.detail
    assert (f"铜陵市慈善基金会 {year - 1}年收入", "¥1,000.00") in spending.figures
    management = judged_["charity_law_management_cost_ratio"]
    assert not management.passed and "50.00%" in management.detail
    assert ("铜陵市慈善基金会 上限", "10%") in management.figures  # a foundation's


def test_a_ratio_without_a_base_passes_and_says_so(api: ApiClient, gateway: Any, make: Factory) -> None:
    org = make_org(api, make, "新成立的商会")
    make.fund(org.id, "NEW-001", name="新基金")

    content = build.build_content(
        sources_for(gateway), report_id=5, scope=facts.Scope(organization_id=org.id),
        period=Period.year(today().year), generated_at=dt.datetime.now(dt.UTC), previous=None,
        progress=lambda _: None)

    judged_ = {c.name: c for c in content.checks}
    assert judged_["charity_law_spending_ratio"].passed
    assert "上年收入为零" in judged_["charity_law_spending_ratio"].detail
    assert judged_["charity_law_management_cost_ratio"].passed
    assert "无支出" in judged_["charity_law_management_cost_ratio"].detail
    # A fund the ledger has never heard of is reported at zero, and it is dormant.
    assert content.totals.closing_fen == 0
    assert [a.kind for a in content.anomalies] == ["dormant_fund"]


def test_anomalies_are_found(api: ApiClient, gateway: Any, make: Factory) -> None:
    org = make_org(api, make, "铜陵市红十字会")
    busy = make.fund(org.id, "RC-001", name="救灾基金")["code"]
    quiet = make.fund(org.id, "RC-002", name="旧基金")["code"]
    donate(org, busy, "600000.00", today(), donor="铜陵某集团", kind="enterprise")
    for _ in range(3):  # each just under 500,000.00
        donate(org, busy, "460000.00", today(), donor="赵六")
    donate(org, busy, "460000.00", today(), donor="钱七")
    donate(org, quiet, "10.00", today() - dt.timedelta(days=800))
    pay(org, busy, "300.00", payee="甲公司")
    pay(org, busy, "100.00", payee="乙公司")
    period = Period.containing(today(), "month")

    answer = figures(api, heads_of(internal(api, "heads", {})), period)
    content = build.build_content(
        sources_for(gateway), report_id=6, scope=facts.Scope(organization_id=org.id), period=period,
        generated_at=dt.datetime.now(dt.UTC), previous=None, progress=lambda _: None)

    assert [(d["fund_code"], d["amount"], d["donor"]) for d in answer["large_donations"]] == [
        (busy, "600000.00", "铜陵某集团")]
    [split] = answer["structuring"]
    assert (split["donor"], split["count"], split["total"], split["fund_codes"]) == ("赵六", 3, "1380000.00", [busy])
    assert [(p["payee"], p["total"], p["fund_total"]) for p in answer["concentrated_payees"]] == [
        ("甲公司", "300.00", "400.00")]
    assert [(d["fund_code"], d["last_entry_on"]) for d in answer["dormant_funds"]] == [
        (quiet, (today() - dt.timedelta(days=800)).isoformat())]
    kinds = sorted((a.kind, a.fund_code) for a in content.anomalies)
    assert kinds == sorted([("large_donation", busy), ("structuring", busy), ("concentrated_payee", busy),
                            ("dormant_fund", quiet)])
    assert any("甲公司" in a.detail and "75.00%" in a.detail for a in content.anomalies)
    assert "anomalies" in build.summary_json(content)


# -- the checks as pure functions ---------------------------------------------------------------------

def chain_state(code: str = "TL-GEN-001", **fields: Any) -> facts.ChainState:
    return replace(facts.ChainState(code, 3, "a" * 64, True, 3), **fields)


def inputs(**fields: Any) -> facts.CheckInputs:
    return replace(facts.CheckInputs(facts.TrialBalance(100, 100, 2, 1), 1, (), 0, (chain_state(),), (), 0, (), 0),
                   **fields)


def test_a_trial_balance_that_does_not_balance_fails_naming_the_entry() -> None:
    assert checks.trial_balance(facts.TrialBalance(100, 100, 2, 1)).passed
    failed = checks.trial_balance(facts.TrialBalance(
        101, 100, 2, 1, (facts.UnbalancedEntry(42, "TL-GEN-001", 2, 1),), 1))
    assert not failed.passed and "ID 42" in failed.detail and "TL-GEN-001" in failed.detail
    assert ("差额", "¥0.01") in failed.figures


def test_four_eyes_fails_for_a_requesters_own_approval() -> None:
    own = facts.UnapprovedPayment(9, "TL-GEN-001", 10000, "key:3", "key:3", dt.date(2026, 8, 1))
    failed = checks.four_eyes(inputs(paid_disbursements=4, four_eyes_violations=(own,), four_eyes_violation_count=1))
    assert not failed.passed and "D9" in failed.detail and "申请人key:3本人审批" in failed.detail
    assert checks.four_eyes(inputs(paid_disbursements=4)).passed


def test_a_chain_shorter_than_at_the_previous_report_fails() -> None:
    previous = facts.PreviousReport(5, "2026-07", (facts.Head("TL-GEN-001", 5, "b" * 64),))
    shortened = chain_state(previous_seq=5, previous_hash="b" * 64, hash_now_at_previous=None)
    failed = checks.audit_chain((shortened,), previous)
    assert not failed.passed and "退回到第3条" in failed.detail
    kept = chain_state(head_seq=6, previous_seq=5, previous_hash="b" * 64, hash_now_at_previous="b" * 64)
    assert checks.audit_chain((kept,), previous).passed
    # A previous head the ledger was not asked about cannot pass unnoticed.
    assert not checks.audit_chain((chain_state(),), previous).passed


def test_a_gap_in_receipt_numbers_is_named() -> None:
    year = facts.ReceiptYear(2026, 5, "2026-000001", "2026-000006", "2026-000006", 1, ("2026-000003",), ())
    failed = checks.receipt_numbers_gapless((year,))
    assert not failed.passed and "2026-000003" in failed.detail
    assert checks.receipt_numbers_gapless((replace(year, missing_count=0, missing=()),)).passed


def organization_year(**fields: Any) -> checks.OrganizationYear:
    foundation = facts.Organization(1, "某基金会", "other", "foundation", None)
    return replace(checks.OrganizationYear(foundation, 2026, 70000, 10000, 100000, 100000), **fields)


def test_the_ratios_at_their_limits() -> None:
    # 700.00 of 1000.00 is 70%: enough. 100.00 of 1000.00 management is a foundation's 10%: not over.
    assert checks.charity_law_spending_ratio([organization_year()]).passed
    assert checks.charity_law_management_cost_ratio([organization_year()]).passed
    assert not checks.charity_law_spending_ratio([organization_year(programme_fen=69999)]).passed
    over = checks.charity_law_management_cost_ratio([organization_year(management_fen=10001)])
    assert not over.passed and "10.00%" in over.detail and "上限10%" in over.detail
    # A social organisation may spend 13% on management; an organisation's own limit comes first.
    social = facts.Organization(2, "某商会", "chamber_of_commerce", "social_organization", None)
    assert checks.charity_law_management_cost_ratio([organization_year(organization=social,
                                                                       management_fen=13000)]).passed
    own_limit = replace(social, management_cost_limit_percent=5)
    assert not checks.charity_law_management_cost_ratio([organization_year(organization=own_limit,
                                                                           management_fen=6000)]).passed


def test_signed_amounts_from_the_ledger() -> None:
    assert (fen("1280.00"), fen("-0.01"), fen("12345678901234.56")) == (128000, -1, 1234567890123456)
    with pytest.raises(ValueError):
        fen("1e3")


def test_spending_moved_to_another_category_breaks_the_chain_at_the_payment(
        api: ApiClient, gateway: Any, database_url: str, ledger: Ledger, later: Later) -> None:
    as_owner(database_url, ("UPDATE donations.disbursement SET category = 'management' WHERE id = %s",
                            (later.payments["school"]["id"],)))

    state = by_code(check_inputs(api)["chains"])[ledger.school]

    assert (state["valid"], state["first_bad_seq"], state["problem_code"]) == (False, 2, "content")
    assert not judged(gateway)["audit_chain"].passed

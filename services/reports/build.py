"""A report's content, assembled from the ledger's facts at one moment, and its summary.

    content = build_content(Sources(peers), report_id=7, scope=Scope(organization_id=3),
                            period=Period.parse("2026-Q3"), generated_at=utcnow(),
                            previous=previous_report, progress=lambda percent: None)
    summary = summary_json(content)     # the API's `summary` (API.md)

The heads are taken first; the figures, the checks' inputs and everything else
are then asked for up to those heads, so a report describes one moment of the
ledger, and the next report can tell what was posted after it (late entries)
and whether its heads are still on their chains.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from services.reports import checks, facts
from services.reports.sources import Sources
from shared.money import Money
from shared.periods import Period

ALL_FUNDS_LABEL = "全部基金"
# The programmes service did not answer: the report is the ledger's without its programmes.
PROGRAMMES_AWAY_NOTE = "项目服务未应答：本报告不含项目、需求、帮扶团和消费帮扶部分，可稍后重新生成。"


class NoSuchScope(LookupError):
    """The report's fund or organisation is not known to the funds service."""


def scope_funds(sources: Sources, scope: facts.Scope,
                 snapshot: facts.Snapshot) -> tuple[str, int | None, list[facts.Fund]]:
    """The scope's label, its organisation (if one) and its funds, by code. A fund the ledger
    holds but the funds service did not list is reported all the same, named by its code."""
    if scope.fund_code is not None:
        fund = sources.fund(scope.fund_code)
        if fund is None:
            raise NoSuchScope(f"no fund {scope.fund_code}")
        return f"{fund.name} ({fund.code})", fund.organization_id, [fund]
    if scope.organization_id is not None:
        organization = sources.organization(scope.organization_id)
        if organization is None:
            raise NoSuchScope(f"no organisation {scope.organization_id}")
        listed = sources.funds(organization_id=scope.organization_id)
        label, org_id = organization.name, organization.id
    else:
        listed = sources.funds()
        label, org_id = ALL_FUNDS_LABEL, None
    funds = {f.code: f for f in listed}
    for held in snapshot.funds:
        if held.fund_code not in funds and (org_id is None or held.organization_id == org_id):
            funds[held.fund_code] = facts.Fund(held.fund_code, held.fund_code, held.organization_id, "",
                                               held.restricted, held.status)
    return label, org_id, [funds[code] for code in sorted(funds)]




def _fund_figures(fund: facts.Fund, ledger: facts.LedgerFundFigures, available_fen: int) -> facts.FundFigures:
    return facts.FundFigures(
        fund_code=fund.code, name=fund.name, organization_id=fund.organization_id,
        opening_fen=ledger.opening_fen, donations_count=ledger.donations_count, donations_fen=ledger.donations_fen,
        restricted_fen=ledger.restricted_fen, in_kind_fen=ledger.in_kind_fen,
        reversals_count=ledger.reversals_count, reversals_fen=ledger.reversals_fen,
        disbursements_count=ledger.disbursements_count, disbursements_fen=ledger.disbursements_fen,
        closing_fen=ledger.closing_fen, available_fen=available_fen)


def _totals(funds: list[facts.FundFigures], label: str, organization_id: int | None) -> facts.FundFigures:
    def total(name: str) -> int:
        return sum(getattr(f, name) for f in funds)

    return facts.FundFigures(
        fund_code=None, name=label, organization_id=organization_id, opening_fen=total("opening_fen"),
        donations_count=total("donations_count"), donations_fen=total("donations_fen"),
        restricted_fen=total("restricted_fen"), in_kind_fen=total("in_kind_fen"),
        reversals_count=total("reversals_count"), reversals_fen=total("reversals_fen"),
        disbursements_count=total("disbursements_count"), disbursements_fen=total("disbursements_fen"),
        closing_fen=total("closing_fen"), available_fen=total("available_fen"))


def _organization_years(sources: Sources, period: Period, funds: list[facts.Fund],
                        figures: facts.PeriodFigures) -> list[checks.OrganizationYear]:
    """Each organisation's year over the report's funds: its spending by category and the
    previous year's income (both over the same funds, so the ratio compares like with like)."""
    by_code = {f.fund_code: f for f in figures.funds}
    income = {i.organization_id: i.income_fen for i in figures.previous_year_income}
    years = []
    for organization_id in sorted({f.organization_id for f in funds}):
        organization = sources.organization(organization_id) or facts.Organization(
            organization_id, next(f.organization_name for f in funds if f.organization_id == organization_id)
            or str(organization_id), "other", None, None)
        own = [by_code[f.code] for f in funds if f.organization_id == organization_id and f.code in by_code]
        years.append(checks.OrganizationYear(
            organization=organization, year=period.first.year,
            programme_fen=sum(f.category_fen(checks.PROGRAMME) for f in own),
            management_fen=sum(f.category_fen(checks.MANAGEMENT) for f in own),
            disbursements_fen=sum(f.disbursements_fen for f in own),
            previous_income_fen=income.get(organization_id, 0)))
    return years


def build_content(sources: Sources, *, report_id: int, scope: facts.Scope, period: Period,
                  generated_at: dt.datetime, previous: facts.PreviousReport | None,
                  progress: Callable[[int], None]) -> facts.ReportContent:
    """Everything the report says, read from the ledger up to the heads taken first."""
    progress(2)
    snapshot = sources.heads()
    progress(10)
    label, organization_id, funds = scope_funds(sources, scope, snapshot)
    heads = tuple(held.head if (held := snapshot.fund(f.code)) else facts.Head(f.code, 0, facts.NO_ENTRIES_HASH)
                  for f in funds)
    codes = {f.code for f in funds}
    previous_heads = None if previous is None else [h for h in previous.heads if h.fund_code in codes]
    progress(15)

    figures = sources.figures(heads, period.first, period.last, previous=previous_heads,
                              large_donation_fen=checks.LARGE_DONATION_FEN,
                              payee_share_percent=checks.PAYEE_SHARE_PERCENT)
    progress(40)
    inputs = sources.check_inputs(heads, previous_heads)
    progress(75)
    report_checks = checks.ledger_checks(inputs, previous)
    if period.kind == "year":
        years = _organization_years(sources, period, funds, figures)
        report_checks += (checks.charity_law_spending_ratio(years), checks.charity_law_management_cost_ratio(years))
    progress(85)

    ledger = {f.fund_code: f for f in figures.funds}
    fund_figures = []
    for fund in funds:
        held = snapshot.fund(fund.code)
        fund_figures.append(_fund_figures(fund, ledger[fund.code], held.available_fen if held else 0))
    if scope.fund_code is not None:
        organization_id = funds[0].organization_id
    programmes = sources.programmes(period.label, organization_id=organization_id, fund_code=scope.fund_code)
    notes = () if programmes is not None else (PROGRAMMES_AWAY_NOTE,)
    progress(88)
    content = facts.ReportContent(
        report_id=report_id, title=f"{label} {period.chinese_name}审计报告", scope_label=label,
        period=period, generated_at=generated_at, heads=heads, previous=previous,
        funds=tuple(fund_figures), totals=_totals(fund_figures, label, organization_id),
        months=figures.months, donors=figures.donors, late_entries=figures.late_entries,
        checks=report_checks, anomalies=checks.anomalies(figures), programmes=programmes, notes=notes)
    progress(90)
    return content


# -- the API's summary -------------------------------------------------------------------------

def _money(fen: int) -> str:
    return str(Money(fen))  # the API's "1280.00"


def _figures_json(f: facts.FundFigures) -> dict[str, Any]:
    return {
        "opening_balance": _money(f.opening_fen),
        "donations_total": _money(f.donations_fen),
        "donations_count": f.donations_count,
        "disbursements_total": _money(f.disbursements_fen),
        "disbursements_count": f.disbursements_count,
        "reversals_total": _money(f.reversals_fen),
        "closing_balance": _money(f.closing_fen),
        "reversals_count": f.reversals_count,
        "restricted_total": _money(f.restricted_fen),
        "in_kind_total": _money(f.in_kind_fen),
    }


def summary_json(content: facts.ReportContent) -> dict[str, Any]:
    """The API's `summary` (API.md, "Reports service"), money as text; fields beyond the
    contract come after it."""
    return {
        **_figures_json(content.totals),
        "funds": [{"fund_code": f.fund_code, "name": f.name, **_figures_json(f), "available": _money(f.available_fen)}
                  for f in content.funds],
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in content.checks],
        "available": _money(content.totals.available_fen),
        "title": content.title,
        "scope_label": content.scope_label,
        "period": content.period.label,
        "generated_at": content.generated_at.isoformat(),
        "heads": [{"fund_code": h.fund_code, "seq": h.seq, "hash": h.hash} for h in content.heads],
        "previous_report_id": content.previous.id if content.previous else None,
        "late_entries": len(content.late_entries),
        "anomalies": [{"kind": a.kind, "fund_code": a.fund_code, "detail": a.detail,
                       "amount": None if a.amount_fen is None else _money(a.amount_fen)} for a in content.anomalies],
        # The programmes service's facts (services/programmes/report_api.py); null when it did not answer.
        "programmes": content.programmes,
        "notes": list(content.notes),
    }

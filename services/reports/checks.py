"""The rules a report judges the ledger by: plain functions of the ledger's facts.

Each check returns a `facts.Check`: whether the rule held, one Chinese sentence
naming what failed (or what was found to hold), and the figures it was judged
on. Anomalies are things worth an auditor's look, not failures. No I/O here:
sources.py fetches the facts, build.py calls these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from services.reports import facts
from services.reports.facts import Check
from shared.money import Money

# Anomaly thresholds (sent to the ledger, which finds the candidates).
LARGE_DONATION_FEN = 500_000_00
PAYEE_SHARE_PERCENT = 50

# The Charity Law's annual ratios (慈善法第六十条 and its implementing rules): charitable
# spending at least 70% of the previous year's income; management costs at most the
# organisation's limit, by its kind when the organisation names none.
SPENDING_RATIO_MIN_PERCENT = 70
MANAGEMENT_COST_LIMIT_PERCENT = {"foundation": 10, "social_organization": 13}
PROGRAMME, MANAGEMENT, FUNDRAISING = "programme", "management", "fundraising"

# How many failing items a detail names before it says "and n more".
NAMED = 3

CHAIN_PROBLEMS = {
    "seq_gap": "序号不连续，有分录缺失或被插入",
    "prev_hash": "所记前一哈希与上一条分录不符",
    "unbalanced": "过账借贷不平",
    "content": "内容与哈希不符，分录、过账或原始单据已被改动",
    "head": "链头与分录不符，有分录被删除或增加",
    "no_fund": "账本中已无此基金",
}
ACCOUNT_NAMES = {"bank": "银行存款", "in_kind": "实物资产", "unrestricted": "非限定性净资产",
                 "restricted": "限定性净资产"}


def yuan(fen: int) -> str:
    return Money(fen).display()


def percent(numerator: int, denominator: int) -> str:
    """numerator / denominator as a percentage with two decimals (exact, then rounded half up)."""
    value = (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{value}%"


def _short(digest: str | None) -> str:
    return f"{digest[:12]}…" if digest else "无"


# -- the ledger's rules -------------------------------------------------------------------------

def trial_balance(tb: facts.TrialBalance) -> Check:
    figures = (("借方合计", yuan(tb.debits_fen)), ("贷方合计", yuan(tb.credits_fen)),
               ("差额", yuan(tb.debits_fen - tb.credits_fen)), ("分录数", str(tb.entries)),
               ("过账数", str(tb.postings)))
    figures += tuple((f"不平分录 {u.fund_code or '?'} 第{u.seq or '?'}条（ID {u.entry_id}）", yuan(u.sum_fen))
                     for u in tb.unbalanced)
    if tb.debits_fen == tb.credits_fen and not tb.unbalanced_count:
        return Check("trial_balance", True,
                     f"全账本{tb.entries}条分录、{tb.postings}笔过账借贷平衡，借贷方合计均为{yuan(tb.debits_fen)}。",
                     figures)
    detail = f"借方合计{yuan(tb.debits_fen)}与贷方合计{yuan(tb.credits_fen)}不等"
    if tb.unbalanced:
        first = tb.unbalanced[0]
        detail += (f"：基金{first.fund_code or '?'}第{first.seq or '?'}条分录（ID {first.entry_id}）"
                   f"过账合计为{yuan(first.sum_fen)}而非零")
        if tb.unbalanced_count > 1:
            detail += f"，共{tb.unbalanced_count}条分录不平"
    return Check("trial_balance", False, detail + "。", figures)


def balances_match_ledger(inputs: facts.CheckInputs) -> Check:
    figures: tuple[tuple[str, str], ...] = (("核对基金数", str(inputs.funds_checked)),
                                             ("不符项", str(inputs.balance_mismatch_count)))
    for m in inputs.balance_mismatches:
        where = "基金余额" if m.place == "fund_ledger" else f"{m.day} 日变动"
        figures += ((f"{m.fund_code} {where} {ACCOUNT_NAMES.get(m.account, m.account)}",
                     f"记录 {yuan(m.stored_fen)} / 分录合计 {yuan(m.postings_fen)}"),)
    if not inputs.balance_mismatch_count:
        return Check("balances_match_ledger", True,
                     f"{inputs.funds_checked}个基金的余额及逐日余额变动均等于其分录过账合计。", figures)
    m = inputs.balance_mismatches[0]
    where = "余额" if m.place == "fund_ledger" else f"{m.day}日的余额变动"
    return Check("balances_match_ledger", False,
                 f"基金{m.fund_code}的{ACCOUNT_NAMES.get(m.account, m.account)}{where}记为{yuan(m.stored_fen)}，"
                 f"而分录过账合计为{yuan(m.postings_fen)}"
                 + (f"（共{inputs.balance_mismatch_count}处不符）" if inputs.balance_mismatch_count > 1 else "")
                 + "。", figures)


def audit_chain(chains: Sequence[facts.ChainState], previous: facts.PreviousReport | None = None) -> Check:
    """Every fund's chain verifies up to its head; every head of the previous report is still on it."""
    figures: tuple[tuple[str, str], ...] = ()
    failures: list[str] = []
    previous_heads = {h.fund_code: h for h in previous.heads} if previous else {}
    for state in chains:
        if state.head_seq is not None:
            figures += ((f"{state.fund_code} 链头", f"第{state.head_seq}条 {state.head_hash or ''}"),)
        if state.previous_seq is not None:
            figures += ((f"{state.fund_code} 上期链头（报告 {previous.id if previous else '?'}）",
                         f"第{state.previous_seq}条 {state.previous_hash or ''}"),)
        if state.head_seq is not None and not state.valid:
            problem = CHAIN_PROBLEMS.get(state.problem_code or "", state.problem or "校验失败")
            if state.first_bad_seq is not None:
                failures.append(f"基金{state.fund_code}第{state.first_bad_seq}条分录（ID {state.first_bad_entry_id}）"
                                f"{problem}")
            else:
                failures.append(f"基金{state.fund_code}{problem}（核验{state.entries_verified}条，链头为第"
                                f"{state.head_seq}条）")
        elif state.previous_seq is not None and state.hash_now_at_previous != state.previous_hash:
            if state.head_seq is not None and state.previous_seq > state.head_seq:
                failures.append(f"基金{state.fund_code}的链头退回到第{state.head_seq}条，"
                                f"而上期报告时已至第{state.previous_seq}条，账链被改写")
            else:
                failures.append(f"基金{state.fund_code}上期报告的链头（第{state.previous_seq}条，"
                                f"{_short(state.previous_hash)}）已不在当前链上"
                                f"（该处现为{_short(state.hash_now_at_previous)}），账链被改写")
    # A previous head the ledger's answer did not cover at all (sources are asked with them).
    for code, head in previous_heads.items():
        if not any(s.fund_code == code and s.previous_seq is not None for s in chains):
            failures.append(f"基金{code}上期报告的链头（第{head.seq}条）未能核对")
    verified = sum(1 for s in chains if s.head_seq is not None)
    if not failures:
        detail = f"{verified}个基金的哈希链自首条分录至本次链头全部核验一致"
        if previous is not None:
            detail += f"，上期报告（{previous.period}）的链头均仍在链上"
        return Check("audit_chain", True, detail + "。", figures)
    extra = f"（另有{len(failures) - 1}个基金未通过）" if len(failures) > 1 else ""
    return Check("audit_chain", False, failures[0] + extra + "。", figures)


def receipt_numbers_gapless(receipts: Sequence[facts.ReceiptYear]) -> Check:
    figures: tuple[tuple[str, str], ...] = ()
    failures = []
    for year in receipts:
        figures += ((f"{year.year}年 收据数", str(year.count)),
                    (f"{year.year}年 首号/末号", f"{year.first or '-'} / {year.last_issued or year.last or '-'}"))
        if year.missing_count:
            figures += ((f"{year.year}年 缺号（{year.missing_count}个）", "、".join(year.missing)),)
            failures.append(f"{year.year}年收据编号缺少{'、'.join(year.missing[:NAMED])}"
                            + (f"等{year.missing_count}个号码" if year.missing_count > NAMED else ""))
        if year.duplicates:
            figures += ((f"{year.year}年 重号", "、".join(year.duplicates)),)
            failures.append(f"{year.year}年收据编号{'、'.join(year.duplicates[:NAMED])}重复")
    if not failures:
        years = "、".join(f"{y.year}年" for y in receipts) or "各年"
        return Check("receipt_numbers_gapless", True, f"{years}收据编号自1起连续无缺、无重复。", figures)
    return Check("receipt_numbers_gapless", False, "；".join(failures) + "。", figures)


def four_eyes(inputs: facts.CheckInputs) -> Check:
    figures: tuple[tuple[str, str], ...] = (("已拨付笔数", str(inputs.paid_disbursements)),
                                             ("违规笔数", str(inputs.four_eyes_violation_count)))
    figures += tuple((f"拨付 D{v.disbursement_id}（{v.fund_code}）",
                      f"申请 {v.requested_by} / 审批 {v.approved_by or '无'} / {yuan(v.amount_fen)}")
                     for v in inputs.four_eyes_violations)
    if not inputs.four_eyes_violation_count:
        return Check("four_eyes", True,
                     f"{inputs.paid_disbursements}笔已拨付款项均由申请人以外的人审批。", figures)
    v = inputs.four_eyes_violations[0]
    who = "无人审批" if v.approved_by is None else f"由申请人{v.requested_by}本人审批"
    return Check("four_eyes", False,
                 f"基金{v.fund_code}的拨付D{v.disbursement_id}（{yuan(v.amount_fen)}）{who}"
                 + (f"（共{inputs.four_eyes_violation_count}笔违规）" if inputs.four_eyes_violation_count > 1 else "")
                 + "。", figures)


def ledger_checks(inputs: facts.CheckInputs, previous: facts.PreviousReport | None) -> tuple[Check, ...]:
    return (trial_balance(inputs.trial_balance), balances_match_ledger(inputs),
            audit_chain(inputs.chains, previous), receipt_numbers_gapless(inputs.receipts), four_eyes(inputs))


# -- the Charity Law's annual ratios ------------------------------------------------------------

@dataclass(frozen=True)
class OrganizationYear:
    """An organisation's year in the report's funds: what it spent, on what, and last year's income."""

    organization: facts.Organization
    year: int
    programme_fen: int
    management_fen: int
    disbursements_fen: int
    previous_income_fen: int

    @property
    def management_limit_percent(self) -> int | Decimal | None:
        org = self.organization
        if org.management_cost_limit_percent is not None:
            return org.management_cost_limit_percent
        return MANAGEMENT_COST_LIMIT_PERCENT.get(org.charity_kind or "")


def charity_law_spending_ratio(years: Sequence[OrganizationYear]) -> Check:
    figures: tuple[tuple[str, str], ...] = ()
    failures, zero_bases = [], []
    for y in years:
        name = y.organization.name
        figures += ((f"{name} {y.year}年慈善活动支出", yuan(y.programme_fen)),
                    (f"{name} {y.year - 1}年收入", yuan(y.previous_income_fen)))
        if y.previous_income_fen <= 0:
            zero_bases.append(name)
            figures += ((f"{name} 比例", "上年收入为零，不计算"),)
            continue
        figures += ((f"{name} 比例", percent(y.programme_fen, y.previous_income_fen)),)
        if y.programme_fen * 100 < SPENDING_RATIO_MIN_PERCENT * y.previous_income_fen:
            failures.append(f"{name}{y.year}年慈善活动支出{yuan(y.programme_fen)}仅为上年收入"
                            f"{yuan(y.previous_income_fen)}的{percent(y.programme_fen, y.previous_income_fen)}，"
                            f"低于{SPENDING_RATIO_MIN_PERCENT}%")
    if failures:
        extra = f"（另有{len(failures) - 1}个组织未达标）" if len(failures) > 1 else ""
        return Check("charity_law_spending_ratio", False, failures[0] + extra + "。", figures)
    if years and len(zero_bases) == len(years):
        return Check("charity_law_spending_ratio", True,
                     f"{'、'.join(zero_bases)}上年收入为零，慈善活动支出比例无从计算，视为通过。", figures)
    detail = f"各组织慈善活动支出均不低于上年收入的{SPENDING_RATIO_MIN_PERCENT}%"
    if zero_bases:
        detail += f"（{'、'.join(zero_bases)}上年收入为零，不计算）"
    return Check("charity_law_spending_ratio", True, detail + "。", figures)


def charity_law_management_cost_ratio(years: Sequence[OrganizationYear]) -> Check:
    figures: tuple[tuple[str, str], ...] = ()
    failures, zero_bases = [], []
    for y in years:
        name, limit = y.organization.name, y.management_limit_percent
        figures += ((f"{name} {y.year}年管理费用", yuan(y.management_fen)),
                    (f"{name} {y.year}年支出合计", yuan(y.disbursements_fen)),
                    (f"{name} 上限", f"{limit}%" if limit is not None else "未设定"))
        if y.disbursements_fen <= 0:
            zero_bases.append(name)
            figures += ((f"{name} 比例", "本年无支出，不计算"),)
            continue
        figures += ((f"{name} 比例", percent(y.management_fen, y.disbursements_fen)),)
        if limit is not None and y.management_fen * 100 > limit * y.disbursements_fen:
            failures.append(f"{name}{y.year}年管理费用{yuan(y.management_fen)}占支出合计"
                            f"{yuan(y.disbursements_fen)}的{percent(y.management_fen, y.disbursements_fen)}，"
                            f"超过上限{limit}%")
    if failures:
        extra = f"（另有{len(failures) - 1}个组织超限）" if len(failures) > 1 else ""
        return Check("charity_law_management_cost_ratio", False, failures[0] + extra + "。", figures)
    if years and len(zero_bases) == len(years):
        return Check("charity_law_management_cost_ratio", True,
                     f"{'、'.join(zero_bases)}本年无支出，管理费用比例无从计算，视为通过。", figures)
    detail = "各组织管理费用占支出的比例均未超过其上限"
    if zero_bases:
        detail += f"（{'、'.join(zero_bases)}本年无支出，不计算）"
    return Check("charity_law_management_cost_ratio", True, detail + "。", figures)


# -- anomalies ----------------------------------------------------------------------------------

def anomalies(figures: facts.PeriodFigures, large_donation_fen: int = LARGE_DONATION_FEN,
              payee_share_percent: int = PAYEE_SHARE_PERCENT) -> tuple[facts.Anomaly, ...]:
    found: list[facts.Anomaly] = []
    for d in figures.large_donations:
        found.append(facts.Anomaly(
            "large_donation", d.fund_code,
            f"{d.received_on}收到{d.donor}捐赠{yuan(d.amount_fen)}（收据{d.receipt_no}），"
            f"超过大额捐赠标准{yuan(large_donation_fen)}。", d.amount_fen))
    for s in figures.split_donations:
        found.append(facts.Anomaly(
            "structuring", ",".join(s.fund_codes),
            f"{s.donor}于{s.first_on}至{s.last_on}间捐赠{s.count}笔，每笔略低于大额捐赠标准"
            f"{yuan(large_donation_fen)}，合计{yuan(s.total_fen)}（收据{'、'.join(s.receipts[:NAMED])}"
            f"{'等' if len(s.receipts) > NAMED else ''}），疑似拆分。", s.total_fen))
    for f in figures.dormant_funds:
        if f.last_entry_on is None:
            detail = f"基金{f.fund_code}自{f.since}起至期末无任何分录，且此前也从无分录。"
        else:
            detail = f"基金{f.fund_code}自{f.since}起至期末无任何分录，最近一笔分录在{f.last_entry_on}。"
        found.append(facts.Anomaly("dormant_fund", f.fund_code, detail))
    for p in figures.concentrated_payees:
        found.append(facts.Anomaly(
            "concentrated_payee", p.fund_code,
            f"基金{p.fund_code}本期拨付{yuan(p.fund_total_fen)}中，{p.payee}收款{p.count}笔共{yuan(p.total_fen)}，"
            f"占{percent(p.total_fen, p.fund_total_fen)}，超过{payee_share_percent}%。", p.total_fen))
    return tuple(found)

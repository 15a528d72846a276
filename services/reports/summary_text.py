"""A finished report's summary as plain Chinese text: the body of its email."""

from __future__ import annotations

from typing import Any

from services.reports.models import ReportRun
from services.reports.render.common import check_name
from shared.money import Money



def yuan(value: Any) -> str:
    """The API's "1234567.80" as ¥1,234,567.80."""
    return "" if value is None else Money.parse_signed(value).display()


def summary_text(run: ReportRun, public_url: str) -> str:
    summary = run.summary or {}
    checks = summary.get("checks", [])
    failed = [c for c in checks if not c.get("passed")]
    lines = [
        summary.get("title") or f"审计报告 {run.period}",
        "",
        f"期间：{run.period}    范围：{summary.get('scope_label', run.scope_key)}    报告编号：{run.id}",
        "",
        f"期初余额：{yuan(summary.get('opening_balance'))}",
        f"本期捐赠：{yuan(summary.get('donations_total'))}（{summary.get('donations_count', 0)} 笔）",
        f"本期冲销：{yuan(summary.get('reversals_total'))}",
        f"本期拨付：{yuan(summary.get('disbursements_total'))}（{summary.get('disbursements_count', 0)} 笔）",
        f"期末余额：{yuan(summary.get('closing_balance'))}",
        "",
        "核查结果：" + ("全部通过" if not failed else f"{len(failed)} 项未通过"),
    ]
    for check in checks:
        verdict = "✓ 通过" if check.get("passed") else "✗ 未通过"
        lines.append(f"  {verdict}  {check_name(check.get('name', ''))}：{check.get('detail', '')}")
    lines += ["", f"在线查看：{public_url}/reports/reports/{run.id}",
              "附件：PDF、XLSX、CSV 三种格式，内容相同。", ""]
    return "\n".join(lines)

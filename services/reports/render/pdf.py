"""A report as PDF: the Jinja template templates/report.html, laid out by WeasyPrint.

The template is autoescaped, so a name from the data is always text. The
PDF's dates come from the report itself (and WeasyPrint writes no random
identifier), so the same content gives the same bytes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ..facts import Head, ReportContent
from .chart import monthly_chart_svg
from .common import (ANOMALY_KINDS, DIRECTIONS, DISCLOSURE_REPORTS, DONOR_KINDS, ENTRY_KINDS, PROJECT_STATUSES,
                     amount, beijing_text, check_name, head_rows, label, money, period_name, period_span,
                     previous_text, share_text, text_width)

TEMPLATES = Path(__file__).parent / "templates"
# A check's figures the PDF shows; the rest are in the XLSX and CSV (audit_chain names
# every fund's heads, which section 七 lists anyway).
FIGURES_SHOWN = 6

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["money"] = money
_env.filters["amount"] = lambda text: money(amount(text).fen)   # the programmes service's "1280.00"
_BETWEEN_TAGS = re.compile(r">\s*\n\s*<")


def _row(**values: Any) -> dict[str, Any]:
    return values


def _pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(0, width - text_width(text))
    return fill + text if right else text + fill


def head_listing(content: ReportContent) -> tuple[str, list[str]]:
    """The chain heads as monospace lines, a header and one text per fund (two lines
    with a previous report: this report's head above the previous one's, so that
    the hashes line up for comparison).

    A listing, like sha256sum's, rather than a table of cells: one text per fund
    lays out several times faster in WeasyPrint, which matters at hundreds of funds.
    """
    rows = head_rows(content)
    code_width = max([text_width(row.fund_code) for row in rows] + [8]) + 2
    seq_width = max([len(str(head.seq)) for row in rows for head in (row.current, row.previous)
                     if head is not None] + [4])

    def line(code: str, which: str | None, head: Head | None) -> str:
        seq = "—" if head is None else str(head.seq)
        hash_text = "—" if head is None else head.hash
        which_text = "" if which is None else _pad(which, 8)
        return f"{_pad(code, code_width)}{which_text}{_pad(seq, seq_width, right=True)}  {hash_text}"

    if content.previous is None:
        header = f"{_pad('基金编号', code_width)}{_pad('序号', seq_width, right=True)}  链头哈希（SHA-256）"
        return header, [line(row.fund_code, None, row.current) for row in rows]
    header = (f"{_pad('基金编号', code_width)}{_pad('报告', 8)}{_pad('序号', seq_width, right=True)}"
              "  链头哈希（SHA-256）")
    return header, [line(row.fund_code, "本报告", row.current) + "\n" + line("", "上一份", row.previous)
                    for row in rows]


def render_html(content: ReportContent) -> str:
    """The HTML WeasyPrint lays out (for tests and for looking at it in a browser)."""
    totals = content.totals
    month_in = sum(month.inflow_fen for month in content.months)
    month_out = sum(month.outflow_fen for month in content.months)
    html = _env.get_template("report.html").render(
        c=content,
        t=totals,
        period_name=period_name(content.period),
        period_span=period_span(content.period),
        generated=beijing_text(content.generated_at),
        created_iso=content.generated_at.isoformat(),
        previous=previous_text(content),
        failed=[check_name(check.name) for check in content.checks if not check.passed],
        chart=Markup(monthly_chart_svg(content.months)),   # built by chart.py, its text escaped there
        month_in=month_in,
        month_out=month_out,
        donors=[_row(rank=rank, name=donor.name, kind=label(DONOR_KINDS, donor.kind), count=donor.count,
                     total_fen=donor.total_fen, share=share_text(donor.total_fen, totals.donations_fen))
                for rank, donor in enumerate(content.donors, 1)],
        late=[_row(fund_code=entry.fund_code, seq=entry.seq, kind=label(ENTRY_KINDS, entry.kind),
                   effective_on=entry.effective_on.isoformat(), posted_at=beijing_text(entry.posted_at),
                   direction=label(DIRECTIONS, entry.direction), amount_fen=entry.amount_fen,
                   reference=entry.reference)
              for entry in content.late_entries],
        checks=[_row(label=check_name(check.name), code=check.name, passed=check.passed,
                     detail=check.detail, figures=check.figures[:FIGURES_SHOWN],
                     more=max(0, len(check.figures) - FIGURES_SHOWN)) for check in content.checks],
        anomalies=[_row(kind=label(ANOMALY_KINDS, anomaly.kind), fund_code=anomaly.fund_code,
                        detail=anomaly.detail, amount_fen=anomaly.amount_fen)
                   for anomaly in content.anomalies],
        heads=head_listing(content),
        p=content.programmes,
        notes=content.notes,
        project_status=lambda code: label(PROJECT_STATUSES, code),
        disclosure_report=lambda code: label(DISCLOSURE_REPORTS, code),
    )
    # The template's indentation between tags is no content, but WeasyPrint would
    # parse every run of it: hundreds of rows make that measurable.
    return _BETWEEN_TAGS.sub("><", html)


def render_pdf(content: ReportContent) -> bytes:
    import weasyprint  # half a second to import: only when a PDF is wanted

    return weasyprint.HTML(string=render_html(content)).write_pdf()

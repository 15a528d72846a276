"""A report's files: `render(content, "pdf" | "xlsx" | "csv")` -> bytes.

Data in, bytes out: no database, no HTTP, no app. The same `ReportContent`
gives the same bytes (the CSV and XLSX byte for byte, in any process). Each
format's module is imported when first asked for, so that a CSV does not pay
for importing WeasyPrint.
"""

from __future__ import annotations

from ..facts import ReportContent

FORMATS = ("pdf", "xlsx", "csv")
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def render(content: ReportContent, fmt: str) -> bytes:
    """The report as a file of format `fmt` (one of FORMATS); ValueError for another."""
    if fmt == "pdf":
        from .pdf import render_pdf
        return render_pdf(content)
    if fmt == "xlsx":
        from .xlsx import render_xlsx
        return render_xlsx(content)
    if fmt == "csv":
        from .csv import render_csv
        return render_csv(content)
    raise ValueError(f"no such report format: {fmt!r} (one of {', '.join(FORMATS)})")

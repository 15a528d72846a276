"""A report as CSV: its sections one after another, for Excel and for scripts.

UTF-8 with a byte order mark (without it Excel reads the Chinese as the
machine's legacy code page), CRLF line ends, each section a line naming it
("[基金明细]"), its header line, its rows and an empty line. Amounts are plain
"1280.00", dates ISO, times Beijing time. Same content, same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from shared.money import Money

from ..facts import ReportContent
from .common import Cell, sections

BOM = "\ufeff"
# A text cell starting with one of these is a formula to a spreadsheet
# (CSV injection); a leading apostrophe makes it text again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, Money):
        return str(value)            # "-12.50": a number, never guarded
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    return guard(value)


def render_csv(content: ReportContent) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    for section in sections(content):
        writer.writerow([f"[{section.title}]"])
        writer.writerow(section.headers)
        writer.writerows([cell_text(value) for value in row] for row in section.rows)
        writer.writerow([])
    return (BOM + out.getvalue()).encode("utf-8")

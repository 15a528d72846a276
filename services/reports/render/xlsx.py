"""A report as an XLSX workbook (XlsxWriter): a sheet per section, numbers as numbers.

Amounts are numbers with the money format, counts integers, dates and times
real dates (Beijing time); every text from the data goes in with
`write_string`, so that a donor called "=HYPERLINK(...)" stays text. The
workbook is built in memory, its zip entries carry XlsxWriter's fixed 1980
timestamp and its creation date is the report's, so the same content gives
the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io

import xlsxwriter

from shared.money import Money

from ..facts import ReportContent
from .common import CHECKS, FAILED, MONTHS, PASSED, SUMMARY, Cell, Section, sections, text_width

MONEY_FORMAT = "¥#,##0.00"
MAX_WIDTH = 60
MAX_CELL_TEXT = 32_767   # Excel's limit on a cell's text
VERDICT_COLUMN = 2   # 核查结果: 核查项目, 代码, 结果, ...


def _yuan(fen: int) -> float:
    # Excel keeps doubles. int / int is correctly rounded in Python, so this is
    # the double nearest the exact yuan amount, the same one Excel would keep
    # had "1280.00" been typed; no arithmetic is done on it afterwards.
    return fen / 100


def _utc(moment: dt.datetime) -> dt.datetime:
    # XlsxWriter writes the property as given, with a "Z": hand it UTC (naive: taken as UTC).
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _display_width(value: Cell) -> int:
    """Roughly how many character widths the value takes (a Chinese character: two)."""
    if value is None:
        return 0
    if isinstance(value, Money):
        return len(f"{value.fen // 100:,}") + 5
    if isinstance(value, dt.datetime):
        return 19
    if isinstance(value, dt.date):
        return 10
    if isinstance(value, int):
        return len(str(value))
    return text_width(value)


def _widths(section: Section) -> list[int]:
    if section.widths:
        return list(section.widths)
    widths = [_display_width(header) for header in section.headers]
    for row in section.rows:
        for column, value in enumerate(row):
            widths[column] = max(widths[column], _display_width(value))
    return [min(width + 2, MAX_WIDTH) for width in widths]


class _Formats:
    def __init__(self, book: xlsxwriter.Workbook) -> None:
        base = {"font_name": "等线", "font_size": 10, "valign": "top"}
        self.header = book.add_format({**base, "bold": True, "bg_color": "#D9E1F2", "bottom": 1,
                                       "text_wrap": True})
        # A check's verdict reads in colour, and in its words without it.
        self.verdicts = {PASSED: book.add_format({**base, "font_color": "#1B6E20"}),
                         FAILED: book.add_format({**base, "font_color": "#B71C1C", "bold": True,
                                                  "bg_color": "#FDECEA"})}
        self.cells = {}
        for total in (False, True):
            extra = {"bold": True, "top": 1} if total else {}
            self.cells[total] = {
                "text": book.add_format({**base, **extra}),
                "money": book.add_format({**base, **extra, "num_format": MONEY_FORMAT}),
                "int": book.add_format({**base, **extra, "num_format": "0"}),
                "date": book.add_format({**base, **extra, "num_format": "yyyy-mm-dd"}),
                "datetime": book.add_format({**base, **extra, "num_format": "yyyy-mm-dd hh:mm:ss"}),
            }


def _write(sheet, row: int, column: int, value: Cell, formats: dict) -> None:
    if value is None:
        sheet.write_blank(row, column, None, formats["text"])
    elif isinstance(value, Money):
        sheet.write_number(row, column, _yuan(value.fen), formats["money"])
    elif isinstance(value, dt.datetime):
        sheet.write_datetime(row, column, value, formats["datetime"])
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, column, value, formats["date"])
    elif isinstance(value, int):
        sheet.write_number(row, column, value, formats["int"])
    else:
        if len(value) > MAX_CELL_TEXT:  # XlsxWriter would silently write nothing at all
            value = value[:MAX_CELL_TEXT - 1] + "…"
        sheet.write_string(row, column, value, formats["text"])


def _month_chart(book: xlsxwriter.Workbook, sheet, section: Section):
    """A native column chart of the months' inflow and outflow (the rows before 合计)."""
    last = len(section.rows) - 1   # the sheet row of the last month: 合计 comes after it
    chart = book.add_chart({"type": "column"})
    for column, name, colour in ((1, "流入（捐赠）", "#1F4E79"), (2, "流出（冲销及拨付）", "#E39A2D")):
        chart.add_series({
            "name": name,
            "categories": [sheet.name, 1, 0, last, 0],
            "values": [sheet.name, 1, column, last, column],
            "fill": {"color": colour},
        })
    chart.set_title({"name": "月度收支", "name_font": {"size": 12}})
    chart.set_y_axis({"num_format": "¥#,##0", "major_gridlines": {"visible": True}})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 640, "height": 320})
    return chart


def render_xlsx(content: ReportContent) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {
        "in_memory": True,            # no temporary files, and fixed zip timestamps
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
    })
    book.set_properties({
        "title": content.title,
        "subject": f"{content.scope_label} {content.period.label}",
        "author": "慈善基金会计系统",
        "comments": f"报告编号 {content.report_id}",
        "created": _utc(content.generated_at),   # else XlsxWriter writes the time of writing
    })
    formats = _Formats(book)
    for section in sections(content):
        sheet = book.add_worksheet(section.title)
        for column, width in enumerate(_widths(section)):
            sheet.set_column(column, column, width)
        for column, header in enumerate(section.headers):
            sheet.write_string(0, column, header, formats.header)
        last = len(section.rows) - 1
        for index, values in enumerate(section.rows):
            cell_formats = formats.cells[section.total_row and index == last]
            for column, value in enumerate(values):
                if section.title == CHECKS and column == VERDICT_COLUMN:
                    sheet.write_string(index + 1, column, value, formats.verdicts[value])
                else:
                    _write(sheet, index + 1, column, value, cell_formats)
        sheet.freeze_panes(1, 0)
        data_rows = len(section.rows) - (1 if section.total_row else 0)
        if section.title != SUMMARY and data_rows > 0:
            sheet.autofilter(0, 0, data_rows, len(section.headers) - 1)
        if section.title == MONTHS and data_rows > 0:
            sheet.insert_chart(1, len(section.headers) + 1, _month_chart(book, sheet, section))
    book.close()
    return out.getvalue()

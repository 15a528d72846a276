"""A period as a page names it, in the reader's language.

2026年11月 or Nov 2026 for a month (11月 or Nov under a chart's bar), 2026年
or 2026 for a year, 2026年第三季度 or 2026-Q3 for a quarter. The reports
keep Period.chinese_name ("2026年度"), their documents being Chinese.
"""

from __future__ import annotations

from shared import i18n
from shared.periods import Period

MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def period_name(period: Period | str, *, short: bool = False) -> str:
    """The period (or its label, `2026-11`) in the reader's language; `short`: a month without its year."""
    if isinstance(period, str):
        period = Period.parse(period)
    english = i18n.language() == "en"
    if period.kind == "month":
        if english:
            abbreviation = MONTH_ABBREVIATIONS[period.first.month - 1]
            return abbreviation if short else f"{abbreviation} {period.first.year}"
        return f"{period.first.month}月" if short else period.chinese_name
    if period.kind == "year":
        return period.label if english else f"{period.first.year}年"
    return period.label if english else period.chinese_name

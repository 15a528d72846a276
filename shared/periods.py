"""Reporting periods: a month `2026-08`, a quarter `2026-Q3` or a year `2026`.

Periods are in Asia/Shanghai business dates (API.md, "Time"). A period has
ended once its last day has passed in Shanghai; its scheduled report is due
from 02:00 Shanghai time on the first day after it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from shared.dates import SHANGHAI

PERIOD_PATTERN = r"[0-9]{4}(-(0[1-9]|1[0-2])|-Q[1-4])?"
_PATTERN = re.compile(PERIOD_PATTERN)
FREQUENCIES = ("monthly", "quarterly", "annual")
KIND_OF_FREQUENCY = {"monthly": "month", "quarterly": "quarter", "annual": "year"}
# Scheduled reports are built from this time of day (Shanghai) after their period.
DUE_AT = dt.time(2, 0)
EARLIEST_YEAR = 2000


@dataclass(frozen=True, order=True)
class Period:
    first: dt.date
    last: dt.date
    kind: str  # "month", "quarter" or "year"

    @classmethod
    def parse(cls, text: str) -> Period:
        """`2026-08`, `2026-Q3` or `2026`; ValueError otherwise."""
        if not isinstance(text, str) or not _PATTERN.fullmatch(text):
            raise ValueError(f"not a period: {text!r}")
        year = int(text[:4])
        if year < EARLIEST_YEAR:
            raise ValueError(f"no period before {EARLIEST_YEAR}: {text!r}")
        if len(text) == 4:
            return cls.year(year)
        if text[5] == "Q":
            return cls.quarter(year, int(text[6]))
        return cls.month(year, int(text[5:7]))

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = dt.date(year, month, 1)
        following = dt.date(year + month // 12, month % 12 + 1, 1)
        return cls(first, following - dt.timedelta(days=1), "month")

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        first = dt.date(year, 3 * quarter - 2, 1)
        return cls(first, cls.month(year, 3 * quarter).last, "quarter")

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(dt.date(year, 1, 1), dt.date(year, 12, 31), "year")

    @classmethod
    def containing(cls, day: dt.date, kind: str) -> Period:
        if kind == "month":
            return cls.month(day.year, day.month)
        if kind == "quarter":
            return cls.quarter(day.year, (day.month - 1) // 3 + 1)
        if kind == "year":
            return cls.year(day.year)
        raise ValueError(f"no such kind of period: {kind!r}")

    @property
    def label(self) -> str:
        if self.kind == "year":
            return f"{self.first.year}"
        if self.kind == "quarter":
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        return f"{self.first.year}-{self.first.month:02d}"

    def __str__(self) -> str:
        return self.label

    @property
    def chinese_name(self) -> str:
        """"2026年8月", "2026年第三季度", "2026年度": as reports and their emails name it."""
        year = self.first.year
        if self.kind == "year":
            return f"{year}年度"
        if self.kind == "quarter":
            return f"{year}年第{'一二三四'[(self.first.month - 1) // 3]}季度"
        return f"{year}年{self.first.month}月"

    @property
    def previous(self) -> Period:
        return Period.containing(self.first - dt.timedelta(days=1), self.kind)

    @property
    def following(self) -> Period:
        return Period.containing(self.last + dt.timedelta(days=1), self.kind)

    @property
    def months(self) -> list[Period]:
        """The months of the period, in order."""
        months, day = [], self.first
        while day <= self.last:
            month = Period.month(day.year, day.month)
            months.append(month)
            day = month.last + dt.timedelta(days=1)
        return months

    def due_at(self) -> dt.datetime:
        """When its scheduled report is due: 02:00 Shanghai on the day after it."""
        return dt.datetime.combine(self.last + dt.timedelta(days=1), DUE_AT, tzinfo=SHANGHAI)

    def has_ended(self, moment: dt.datetime) -> bool:
        """Whether the period's last day has passed in Shanghai at `moment`."""
        return moment.astimezone(SHANGHAI).date() > self.last

    def contains(self, day: dt.date) -> bool:
        return self.first <= day <= self.last


def due_periods(kind: str, since: dt.date, moment: dt.datetime) -> list[Period]:
    """The periods of `kind` whose report is due at `moment`, the earliest first,
    from the one containing `since` (e.g. the day a subscription began)."""
    periods = []
    period = Period.containing(since, kind)
    while period.due_at() <= moment:
        periods.append(period)
        period = period.following
    return periods

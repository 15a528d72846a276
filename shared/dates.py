"""Business dates are Chinese: days and years begin in Asia/Shanghai."""

from __future__ import annotations

import datetime as dt
import zoneinfo

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def shanghai_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SHANGHAI).date()


def today() -> dt.date:
    return shanghai_date(dt.datetime.now(dt.UTC))



def beijing_time(moment: dt.datetime | None) -> str:
    """A moment as people here read it: Beijing time, to the second."""
    return "" if moment is None else moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")

"""Business dates are Chinese: days and years begin in Asia/Shanghai."""

from __future__ import annotations

import datetime as dt
import zoneinfo

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def shanghai_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SHANGHAI).date()


def today() -> dt.date:
    return shanghai_date(dt.datetime.now(dt.UTC))


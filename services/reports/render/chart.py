"""The reports' monthly inflow/outflow bar chart, in Chinese, drawn by shared/charts.py.

WeasyPrint draws inline SVG as vectors (text stays text, sharp at any zoom).
"""

from __future__ import annotations

from shared.charts import Bar, Words, flow_chart_svg

from ..facts import MonthFlow

WORDS = Words(inflow="流入（捐赠）", outflow="流出（冲销及拨付）", yuan="元", wan="万元", empty="本期无收支")


def _month_label(month: str) -> str:
    """"2026-07" -> "7月"; anything else as it is."""
    _, _, number = month.partition("-")
    return f"{int(number)}月" if number.isdigit() else month


def monthly_chart_svg(months: tuple[MonthFlow, ...] | list[MonthFlow]) -> str:
    return flow_chart_svg([Bar(_month_label(m.month), m.inflow_fen, m.outflow_fen) for m in months], WORDS)

"""The monthly inflow/outflow bar chart, as SVG written by hand.

WeasyPrint draws inline SVG as vectors (text stays text, sharp at any zoom)
and this costs nothing to import, unlike a plotting library. Amounts stay
integer fen: bar heights are integer tenths of a pixel, tick values are
integers of a 1-2-5 step.
"""

from __future__ import annotations

from html import escape

from ..facts import MonthFlow

WIDTH, HEIGHT = 680, 290
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 34, 30
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
MAX_TICKS = 5
WAN_FEN = 1_000_000          # 1万元 in fen
# Dark and light, so that the two bars differ in black and white too.
INFLOW_FILL, OUTFLOW_FILL, INK = "#1F4E79", "#E39A2D", "#333333"
INFLOW_LABEL, OUTFLOW_LABEL = "流入（捐赠）", "流出（冲销及拨付）"
FONT = "'Noto Sans CJK SC', 'WenQuanYi Zen Hei', sans-serif"


def _px(tenths: int) -> str:
    """Tenths of a pixel as SVG text, without floats: 1234 -> "123.4"."""
    sign = "-" if tenths < 0 else ""
    units, tenth = divmod(abs(tenths), 10)
    return f"{sign}{units}" if tenth == 0 else f"{sign}{units}.{tenth}"


def tick_step(largest_fen: int) -> int:
    """The smallest 1-2-5 step (at least ¥1) that covers the largest value in MAX_TICKS ticks."""
    step = 100
    while True:
        for factor in (1, 2, 5):
            if step * factor * MAX_TICKS >= largest_fen:
                return step * factor
        step *= 10


def _tick_label(fen: int, in_wan: bool) -> str:
    return f"{fen // WAN_FEN:,}" if in_wan else f"{fen // 100:,}"


def _month_label(month: str) -> str:
    """"2026-07" -> "7月"; anything else as it is."""
    year, _, number = month.partition("-")
    return f"{int(number)}月" if number.isdigit() else month


def monthly_chart_svg(months: tuple[MonthFlow, ...] | list[MonthFlow]) -> str:
    largest = max([max(month.inflow_fen, month.outflow_fen) for month in months] + [0])
    step = tick_step(largest)
    ticks = max(1, -(-largest // step))          # ceiling division: the axis covers the largest bar
    top_fen = ticks * step
    in_wan = step >= WAN_FEN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" font-family="{FONT}" font-size="11" fill="{INK}">',
        f'<text x="{LEFT - 8}" y="{TOP - 14}" text-anchor="end" font-size="10">'
        f'{"万元" if in_wan else "元"}</text>',
    ]
    # Gridlines and tick labels, bottom to top.
    for tick in range(ticks + 1):
        y = TOP * 10 + PLOT_H * 10 - PLOT_H * 10 * tick // ticks
        colour = INK if tick == 0 else "#D0D0D0"
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{_px(y)}" y2="{_px(y)}" '
                     f'stroke="{colour}" stroke-width="{1 if tick == 0 else 0.6}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{_px(y + 35)}" text-anchor="end" font-size="10">'
                     f'{_tick_label(tick * step, in_wan)}</text>')
    # Legend, top right.
    legend_x = LEFT + PLOT_W - 250
    for offset, fill, text in ((0, INFLOW_FILL, INFLOW_LABEL), (110, OUTFLOW_FILL, OUTFLOW_LABEL)):
        parts.append(f'<rect x="{legend_x + offset}" y="{TOP - 24}" width="12" height="10" '
                     f'fill="{fill}" stroke="{INK}" stroke-width="0.5"/>')
        parts.append(f'<text x="{legend_x + offset + 16}" y="{TOP - 15}" font-size="10.5">{text}</text>')
    if not months:
        parts.append(f'<text x="{LEFT + PLOT_W // 2}" y="{TOP + PLOT_H // 2}" text-anchor="middle">'
                     '本期无收支</text>')
    else:
        group10 = PLOT_W * 10 // len(months)
        bar10 = min(group10 * 3 // 10, 360)
        for index, month in enumerate(months):
            centre = LEFT * 10 + group10 * index + group10 // 2
            for side, fen, fill in ((-1, month.inflow_fen, INFLOW_FILL), (1, month.outflow_fen, OUTFLOW_FILL)):
                height = PLOT_H * 10 * max(fen, 0) // top_fen
                x = centre - bar10 - 10 if side < 0 else centre + 10
                parts.append(f'<rect x="{_px(x)}" y="{_px(TOP * 10 + PLOT_H * 10 - height)}" '
                             f'width="{_px(bar10)}" height="{_px(height)}" fill="{fill}" '
                             f'stroke="{INK}" stroke-width="0.4"/>')
            parts.append(f'<text x="{_px(centre)}" y="{TOP + PLOT_H + 17}" text-anchor="middle">'
                         f'{escape(_month_label(month.month))}</text>')
    parts.append("</svg>")
    return "\n".join(parts)

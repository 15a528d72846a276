"""Money in and out by month, as a bar chart in SVG written by hand.

Service-neutral: the reports service draws it into its PDFs (WeasyPrint
draws inline SVG as vectors, text stays text), the donations service into
its overview page. Nothing to import, unlike a plotting library. Amounts
stay integer fen: bar heights are integer tenths of a pixel, tick values are
integers of a 1-2-5 step. The words come from the caller, in its reader's
language; a `title` and `description` make the chart an image with a text
alternative for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

MAX_TICKS = 5
WAN_FEN = 1_000_000          # 1万元 in fen
# Dark and light, so that the two bars differ in black and white too.
INFLOW_FILL, OUTFLOW_FILL, INK = "#1F4E79", "#E39A2D", "#333333"
FONT = "'Noto Sans CJK SC', 'WenQuanYi Zen Hei', sans-serif"


@dataclass(frozen=True)
class Bar:
    """One month's group of bars: its label under the axis, what came in and what went out."""

    label: str
    inflow_fen: int
    outflow_fen: int


@dataclass(frozen=True)
class Words:
    """The chart's words, in its reader's language."""

    inflow: str          # "" for a chart of outflows alone (a project's payments): no inflow bar nor legend
    outflow: str
    yuan: str            # the axis's unit when ticks are in yuan
    wan: str             # ... and in ten thousands of yuan
    empty: str           # said when there is no month at all


@dataclass(frozen=True)
class Layout:
    """Sizes in SVG units; the defaults are the reports' A4 chart. The SVG scales to its box."""

    width: int = 680
    height: int = 290
    left: int = 64
    right: int = 12
    top: int = 34
    bottom: int = 30
    font_size: float = 11
    tick_font_size: float = 10
    legend_font_size: float = 10.5
    legend_width: int = 250       # from the legend's start to the plot's right edge
    legend_gap: int = 110         # from the first legend entry to the second
    label_gap: int = 17           # from the axis down to the month labels' baseline
    unit_x: int | None = None     # the axis's unit starts here; None: it ends just left of the axis


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


def flow_chart_svg(bars: Sequence[Bar], words: Words, layout: Layout = Layout(), *,
                   title: str | None = None, description: str | None = None, element_id: str = "chart") -> str:
    """The bars, inflow (dark) beside outflow (light) per month, on an axis of 1-2-5 ticks.

    With a `title` the SVG is an image (role="img") named by its <title> and described by its
    <desc>, ids prefixed by `element_id`; without, it is what the reports' PDFs have always had.
    """
    box = layout
    plot_w, plot_h = box.width - box.left - box.right, box.height - box.top - box.bottom
    # The axis covers the bars drawn: a chart of outflows alone ignores the inflows.
    largest = max([max(bar.inflow_fen if words.inflow else 0, bar.outflow_fen) for bar in bars] + [0])
    step = tick_step(largest)
    ticks = max(1, -(-largest // step))          # ceiling division: the axis covers the largest bar
    top_fen = ticks * step
    in_wan = step >= WAN_FEN
    labelled = ""
    if title is not None:
        labelled = f' role="img" aria-labelledby="{element_id}-title{f" {element_id}-desc" if description else ""}"'
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {box.width} {box.height}" '
        f'width="{box.width}" height="{box.height}" font-family="{FONT}" font-size="{box.font_size:g}" '
        f'fill="{INK}"{labelled}>',
    ]
    if title is not None:
        parts.append(f'<title id="{element_id}-title">{escape(title)}</title>')
        if description:
            parts.append(f'<desc id="{element_id}-desc">{escape(description)}</desc>')
    unit_at = f'x="{box.left - 8}" y="{box.top - 14}" text-anchor="end"' if box.unit_x is None else \
        f'x="{box.unit_x}" y="{box.top - 14}"'
    parts.append(f'<text {unit_at} font-size="{box.tick_font_size:g}">{escape(words.wan if in_wan else words.yuan)}</text>')
    # Gridlines and tick labels, bottom to top.
    for tick in range(ticks + 1):
        y = box.top * 10 + plot_h * 10 - plot_h * 10 * tick // ticks
        colour = INK if tick == 0 else "#D0D0D0"
        parts.append(f'<line x1="{box.left}" x2="{box.left + plot_w}" y1="{_px(y)}" y2="{_px(y)}" '
                     f'stroke="{colour}" stroke-width="{1 if tick == 0 else 0.6}"/>')
        parts.append(f'<text x="{box.left - 6}" y="{_px(y + 35)}" text-anchor="end" '
                     f'font-size="{box.tick_font_size:g}">{_tick_label(tick * step, in_wan)}</text>')
    # Legend, top right.
    legend_x = box.left + plot_w - box.legend_width
    entries = ((0, INFLOW_FILL, words.inflow), (box.legend_gap, OUTFLOW_FILL, words.outflow))
    for offset, fill, text in (entry for entry in entries if entry[2]):
        parts.append(f'<rect x="{legend_x + offset}" y="{box.top - 24}" width="12" height="10" '
                     f'fill="{fill}" stroke="{INK}" stroke-width="0.5"/>')
        parts.append(f'<text x="{legend_x + offset + 16}" y="{box.top - 15}" '
                     f'font-size="{box.legend_font_size:g}">{escape(text)}</text>')
    if not bars:
        parts.append(f'<text x="{box.left + plot_w // 2}" y="{box.top + plot_h // 2}" text-anchor="middle">'
                     f'{escape(words.empty)}</text>')
    else:
        group10 = plot_w * 10 // len(bars)
        bar10 = min(group10 * 3 // 10, 360)
        for index, bar in enumerate(bars):
            centre = box.left * 10 + group10 * index + group10 // 2
            sides = ((-1, bar.inflow_fen, INFLOW_FILL), (1, bar.outflow_fen, OUTFLOW_FILL)) if words.inflow else \
                ((0, bar.outflow_fen, OUTFLOW_FILL),)
            for side, fen, fill in sides:
                height = plot_h * 10 * max(fen, 0) // top_fen
                x = centre - bar10 - 10 if side < 0 else (centre + 10 if side > 0 else centre - bar10 // 2)
                parts.append(f'<rect x="{_px(x)}" y="{_px(box.top * 10 + plot_h * 10 - height)}" '
                             f'width="{_px(bar10)}" height="{_px(height)}" fill="{fill}" '
                             f'stroke="{INK}" stroke-width="0.4"/>')
            parts.append(f'<text x="{_px(centre)}" y="{box.top + plot_h + box.label_gap}" text-anchor="middle">'
                         f'{escape(bar.label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)

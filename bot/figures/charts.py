"""The /figures charts as PNG images (matplotlib's Agg renderer, no pyplot, no display).

Chinese labels need a CJK font or matplotlib draws boxes: the `noto-cjk-sans-otc` package
ships Noto Sans CJK (SIL OFL); without it a CJK font the system has is used, and with none
at all `NoCjkFont` is raised and the caller sends the figures without charts. Rendering
takes a few hundred milliseconds of CPU: callers run `render_charts` in a worker thread.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from functools import cache

from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bot.figures import render
from bot.figures.counting import percentile
from bot.figures.service import ACK_CURVE_MINUTES, Report
from bot.i18n import translator

#: 1200 × 750 pixels: sharp on a phone, far below Telegram's photo limits.
SIZE_INCHES = (8.0, 5.0)
DPI = 150
#: Families tried after the shipped font, in order; each must have a glyph for 线 and 線.
SYSTEM_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
                   "Source Han Sans CN", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
                   "Droid Sans Fallback", "AR PL UMing CN")
PREFERRED = {"zh-TW": "Noto Sans CJK TC"}
MAX_TEAMS = 8
COLOURS = ("#2f6db5", "#a9c4e6", "#d9822b", "#f2c08f")

# matplotlib's font cache and text layout are not safe across threads.
_lock = threading.Lock()


class NoCjkFont(RuntimeError):
    """No font that can draw Chinese is installed."""


@cache
def _register_shipped_font() -> None:
    try:
        import noto_cjk_sans_otc
    except ImportError:
        return
    font_manager.fontManager.addfont(str(noto_cjk_sans_otc.FONT_PATH))


def _draws_chinese(family: str) -> bool:
    try:
        path = font_manager.findfont(font_manager.FontProperties(family=family),
                                     fallback_to_default=False)
    except ValueError:
        return False
    font = font_manager.get_font(path)
    return all(font.get_char_index(ord(c)) for c in "线線")


@cache
def font_family(language: str) -> str:
    """The CJK family the charts are drawn in (Traditional shapes for zh-TW readers)."""
    _register_shipped_font()
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in (PREFERRED.get(language, "Noto Sans CJK SC"), *SYSTEM_FAMILIES):
        if family in installed and _draws_chinese(family):
            return family
    raise NoCjkFont("no CJK font: install the noto-cjk-sans-otc package")


def _figure(title: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=14)
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def _empty(axes: Axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", fontsize=13,
              color="#666666", transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def category_chart(report: Report, language: str) -> Figure:
    """Tip-offs per category: this period against the period before."""
    _ = translator(language)
    figure, axes = _figure(_("Reports by kind"))
    now, before = report.tipoffs.by_category, report.tipoffs_before.by_category
    categories = sorted(set(now) | set(before), key=lambda c: (now.get(c, 0), before.get(c, 0)))
    if not categories:
        _empty(axes, _("No reports in this period"))
        return figure
    positions = range(len(categories))
    height = 0.4
    axes.barh([p + height / 2 for p in positions], [now.get(c, 0) for c in categories],
              height, color=COLOURS[0],
              label=render.period_label(report.period, language))
    axes.barh([p - height / 2 for p in positions], [before.get(c, 0) for c in categories],
              height, color=COLOURS[1],
              label=render.period_label(report.previous, language))
    axes.set_yticks(list(positions), [render.category_name(c, _) for c in categories])
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(frameon=False)
    return figure


def monthly_chart(report: Report, language: str) -> Figure:
    """Tip-offs received per month over the last twelve months."""
    _ = translator(language)
    figure, axes = _figure(_("Reports per month"))
    labels = [render.month_button_label(m.year, m.month or 1, language) for m in report.months]
    axes.bar(range(len(labels)), report.monthly, color=COLOURS[0])
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.yaxis.get_major_locator().set_params(integer=True)
    return figure


def team_times_chart(report: Report, language: str) -> Figure:
    """Time to claim and to close per team (median and 90th percentile), in hours."""
    _ = translator(language)
    figure, axes = _figure(_("Time to take on and to close (hours)"))
    teams = report.team_times[:MAX_TEAMS]
    if not teams:
        _empty(axes, _("No reports handled in this period"))
        return figure
    series: Sequence[tuple[str, list[float]]] = [
        (_("Taken on, median"), [_hours(percentile(t.claims, 50)) for t in teams]),
        (_("Taken on, 9 in 10"), [_hours(percentile(t.claims, 90)) for t in teams]),
        (_("Closed, median"), [_hours(percentile(t.closes, 50)) for t in teams]),
        (_("Closed, 9 in 10"), [_hours(percentile(t.closes, 90)) for t in teams]),
    ]
    width = 0.2
    for index, (label, values) in enumerate(series):
        axes.bar([p + (index - 1.5) * width for p in range(len(teams))], values, width,
                 color=COLOURS[index], label=label)
    names = [report.team_names.get(t.team_id, _("No team")) if t.team_id is not None
             else _("No team") for t in teams]
    axes.set_xticks(range(len(teams)), names, rotation=20, ha="right")
    axes.legend(frameon=False)
    return figure


def _hours(seconds: float | None) -> float:
    return 0.0 if seconds is None else seconds / 3600


def ack_chart(report: Report, language: str) -> Figure:
    """The share of people asked who acknowledged an alert, by minutes after sending."""
    _ = translator(language)
    figure, axes = _figure(_("Emergency alerts: “Received” after … minutes"))
    if not report.alerts.expected:
        _empty(axes, _("No emergency alerts in this period"))
        return figure
    axes.plot(ACK_CURVE_MINUTES, [share * 100 for share in report.ack_shares],
              marker="o", color=COLOURS[0])
    axes.set_ylim(0, 100)
    axes.set_xlabel(_("minutes after sending"))
    axes.set_ylabel("%")
    axes.grid(alpha=0.3)
    return figure


def build_figures(report: Report, language: str) -> list[tuple[Figure, bytes]]:
    """The four charts, in the order the issue lists them, each with its PNG. Every text
    (ticks made while drawing included) is set in the CJK family."""
    family = font_family(language)
    with _lock, rc_context({"font.family": [family]}):
        figures = [category_chart(report, language),
                   monthly_chart(report, language),
                   team_times_chart(report, language),
                   ack_chart(report, language)]
        return [(figure, to_png(figure)) for figure in figures]


def to_png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def render_charts(report: Report, *, language: str) -> list[bytes]:
    """The charts as PNG bytes (CPU-bound: run it in a worker thread)."""
    return [png for _figure, png in build_figures(report, language)]

"""Report charts as SVG text (matplotlib), with text kept as text and stable bytes.

``svg.fonttype = 'none'`` writes labels as <text> elements so the PDF keeps them
searchable; a fixed ``svg.hashsalt`` and no date in the metadata make the same
data give the same SVG. Labels are never parsed as mathtext.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from jobs.reports.model import ChartSeries, ProfileRow

INK = "#1f2933"
MUTED = "#7b8794"
GRID = "#e4e7eb"
BAND = "#c9dcf2"
SCENARIO_COLOURS = ("#2f6fb3", "#3c8d5a", "#c98a12", "#b83a3a", "#6c4fa3", "#4a8f94")
LEVEL_COLOURS = {"warning": "#d08c00", "critical": "#c0392b"}
FONT = "DejaVu Sans"

STYLE: dict[str, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "capplan-report",
    "text.parse_math": False,
    "font.family": FONT,
    "font.size": 7.5,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": INK,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "xtick.labelcolor": INK,
    "ytick.labelcolor": INK,
    "xtick.major.width": 0.5,
    "ytick.major.width": 0.5,
    "legend.frameon": False,
    "path.simplify": True,
}


@contextmanager
def _style() -> Iterator[None]:
    with plt.rc_context(cast(Any, STYLE)):
        yield


_ID = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')


def _svg(fig: Figure, prefix: str) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    # Drop the XML prologue and DOCTYPE: the SVG is inlined into HTML, where the ids of
    # all charts share one document, so each chart's ids get their own prefix.
    text = text[text.find("<svg") :]
    return _ID.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)


class ChartMaker:
    """Draws many charts on one reused figure (creating figures dominates the cost)."""

    def __init__(self, width_in: float = 6.7, height_in: float = 2.55) -> None:
        with _style():
            self.fig = Figure(figsize=(width_in, height_in))
        self.count = 0

    def _next(self) -> str:
        self.count += 1
        return f"chart{self.count}"

    def forecast(self, chart: ChartSeries, scenario_order: Sequence[str]) -> str:
        with _style():
            fig = self.fig
            fig.clear()
            ax = fig.add_axes((0.075, 0.13, 0.69, 0.82))
            ax.grid(True, axis="y", color=GRID, linewidth=0.5)
            ax.set_axisbelow(True)
            if chart.history_dates:
                ax.plot(
                    _dates(chart.history_dates),
                    chart.history_values,
                    color=INK,
                    linewidth=0.8,
                    label="history (daily peak)",
                )
            ordered = sorted(
                chart.curves,
                key=lambda c: (
                    scenario_order.index(c.scenario) if c.scenario in scenario_order else 99,
                    c.scenario,
                ),
            )
            for index, curve in enumerate(ordered):
                if not curve.dates:
                    continue
                colour = SCENARIO_COLOURS[index % len(SCENARIO_COLOURS)]
                xs = _dates(curve.dates)
                if index == 0:
                    ax.fill_between(
                        xs,
                        curve.lower,
                        curve.upper,
                        color=BAND,
                        linewidth=0,
                        label=f"{curve.scenario} 10–90 %",
                    )
                ax.plot(
                    xs,
                    curve.median,
                    color=colour,
                    linewidth=1.1 if index == 0 else 0.9,
                    linestyle="-" if index == 0 else (0, (4, 2)),
                    label=f"{curve.scenario} median",
                )
            for level, value in chart.thresholds:
                ax.axhline(
                    value,
                    color=LEVEL_COLOURS.get(level, MUTED),
                    linewidth=0.8,
                    linestyle=(0, (1.5, 1.5)),
                    label=f"{level} {value:g}",
                )
            ax.axvline(_day(chart.as_of), color=MUTED, linewidth=0.6, linestyle="-")
            ax.text(
                _day(chart.as_of),
                1.0,
                " as of",
                transform=ax.get_xaxis_transform(),
                color=MUTED,
                fontsize=6.5,
                va="top",
            )
            locator = mdates.AutoDateLocator(minticks=4, maxticks=8)  # type: ignore[no-untyped-call]
            ax.xaxis.set_major_locator(locator)
            formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
            ax.xaxis.set_major_formatter(formatter)
            ax.set_ylabel(chart.unit if chart.unit != "%" else "percent")
            if chart.unit == "%":
                top = max(
                    [*chart.history_values, *(v for _, v in chart.thresholds), 0.0], default=100.0
                )
                ax.set_ylim(0, min(100.0, top * 1.12) if top > 0 else 100.0)
            ax.legend(
                loc="upper left",
                bbox_to_anchor=(1.01, 1.0),
                fontsize=6.5,
                handlelength=2.2,
                borderaxespad=0.0,
            )
            return _svg(fig, self._next())

    def profiles(self, rows: Sequence[ProfileRow], metric_label: str) -> str:
        """Daily and weekly profiles of several services for one metric, side by side."""
        with _style():
            fig = self.fig
            fig.clear()
            hours_ax = fig.add_axes((0.075, 0.15, 0.45, 0.75))
            days_ax = fig.add_axes((0.58, 0.15, 0.23, 0.75))
            for index, row in enumerate(rows):
                colour = SCENARIO_COLOURS[index % len(SCENARIO_COLOURS)]
                hourly = np.asarray(row.hourly, dtype=float)
                weekly = np.asarray(row.weekly, dtype=float)
                hours_ax.plot(range(24), hourly, color=colour, linewidth=1.0, label=row.service)
                days_ax.plot(
                    range(7), weekly, color=colour, linewidth=1.0, marker="o", markersize=2
                )
            for ax in (hours_ax, days_ax):
                ax.grid(True, axis="y", color=GRID, linewidth=0.5)
                ax.set_axisbelow(True)
            hours_ax.set_xticks(range(0, 24, 3))
            hours_ax.set_xlabel("hour of day (UTC)")
            hours_ax.set_ylabel(metric_label)
            hours_ax.set_title("daily profile (mean)", fontsize=7.5, color=INK, loc="left")
            days_ax.set_xticks(range(7), ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"])
            days_ax.set_title("weekly profile (mean)", fontsize=7.5, color=INK, loc="left")
            handles, labels = hours_ax.get_legend_handles_labels()
            fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.83, 0.9), fontsize=6.5)
            return _svg(fig, self._next())


def _dates(values: Sequence[date]) -> np.ndarray:
    """Matplotlib's date numbers (days since its 1970 epoch) of calendar days."""
    return np.asarray(values, dtype="datetime64[D]").astype(np.int64).astype(float)


def _day(value: date) -> float:
    return float(np.datetime64(value, "D").astype(np.int64))

"""Monthly, quarterly and annual review reports (PDF).

``build_report`` reads the store and renders; it never writes files or
publishes. ``write_report`` puts a rendered report (and its extras, such as
the annual budget export) in a folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.config import Config
from jobs.periods import ReportPeriod

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from jobs.forecast.fleet import FleetForecast
    from jobs.reports.model import ReportContext

__all__ = [
    "RenderedReport",
    "build_report",
    "render_report",
    "write_latest_reports",
    "write_report",
]


@dataclass(frozen=True)
class RenderedReport:
    period: ReportPeriod
    pdf: bytes
    filename: str
    summary_text: str
    summary_html: str
    extras: tuple[tuple[str, bytes, str], ...] = ()


def build_report(
    engine: Engine,
    config: Config,
    period: ReportPeriod,
    *,
    performance_results: Path | None = None,
    workers: int | None = None,
    fleet: FleetForecast | None = None,
) -> RenderedReport:
    """Reads the store as of the period's end and renders the report."""
    from jobs.reports.context import build_context

    context = build_context(
        engine,
        config,
        period,
        performance_results=performance_results,
        workers=workers,
        fleet=fleet,
    )
    return render_report(context)


def render_report(context: ReportContext) -> RenderedReport:
    """Pure: the rendered PDF and its summaries from a context."""
    from jobs.reports.render import render_pdf
    from jobs.reports.sections.summary import summary_html, summary_text

    return RenderedReport(
        period=context.period,
        pdf=render_pdf(context),
        filename=context.period.pdf_filename,
        summary_text=summary_text(context),
        summary_html=summary_html(context),
        extras=context.attachments,
    )


def write_report(report: RenderedReport, out_dir: Path) -> list[Path]:
    """Writes the PDF and its extras into ``out_dir``; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in ((report.filename, report.pdf), *((n, d) for n, d, _ in report.extras)):
        target = out_dir / name
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(data)
        partial.replace(target)
        written.append(target)
    return written


def write_latest_reports(
    engine: Engine,
    config: Config,
    out_dir: Path,
    now: datetime,
    *,
    fleet: FleetForecast | None = None,
    workers: int | None = None,
    say: Callable[[str], None] = print,
) -> list[Path]:
    """The monthly, quarterly and annual reports of the last full periods before ``now``.

    ``fleet`` (a forecast as of some instant) is reused for every period that ends
    at that instant; the others are forecast as of their own end.
    """
    from jobs.periods import KINDS, last_full_period

    written: list[Path] = []
    for kind in KINDS:
        period = last_full_period(kind, now)
        reuse = fleet if fleet is not None and fleet.as_of == period.end else None
        report = build_report(engine, config, period, workers=workers, fleet=reuse)
        paths = write_report(report, out_dir)
        say(f"{kind.capitalize()} report {period.label}: " + ", ".join(str(p) for p in paths))
        written.extend(paths)
    return written

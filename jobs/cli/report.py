"""``capplan report monthly|quarterly|annual [--period P] [--out DIR] [--publish]``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from jobs.cli.context import AppContext
from jobs.cli.options import (
    OutputPathError,
    check_output_folder,
    now_utc,
    out_option,
    period_option,
    workers_option,
)
from jobs.errors import PeriodError


@click.command("report")
@click.argument("kind", type=click.Choice(["monthly", "quarterly", "annual"]))
@period_option(
    "2026-10 (monthly), 2026-Q3 (quarterly) or 2026 (annual); default: the last full one."
)
@out_option(
    "Folder the PDF (and the annual budget export) is written to.",
    accepts="file or folder",
    default=Path("out"),
)
@click.option(
    "--performance-results",
    "performance_results",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Performance-test results in the runbook's benchmark results format (quarterly, annual).",
)
@workers_option("Forecast worker processes.")
@click.option("--publish", is_flag=True, help="Also deliver it to the configured publish.targets.")
@click.option(
    "--resend", is_flag=True, help="With --publish: email it even if this period was emailed."
)
@click.pass_obj
def report_command(
    app: AppContext,
    kind: str,
    period_text: str | None,
    out: Path,
    performance_results: Path | None,
    workers: int | None,
    publish: bool,
    resend: bool,
) -> None:
    """Render the review report of one period as of its end, and write it to --out."""
    from jobs.periods import last_full_period, parse_period
    from jobs.reports import build_report, write_report

    try:
        period = (
            parse_period(kind, period_text)
            if period_text is not None
            else last_full_period(kind, now_utc())
        )
    except ValueError as exc:
        raise PeriodError(str(exc)) from exc
    if period.end > now_utc():
        raise PeriodError(f"--period {period.label} has not ended yet (ends {period.end:%Y-%m-%d})")
    check_output_folder(out)
    report = build_report(
        app.engine(),
        app.config,
        period,
        performance_results=performance_results,
        workers=workers,
    )
    try:
        written = write_report(report, out)
    except OSError as exc:
        raise OutputPathError(f"cannot write --out {out}: {exc.strerror or exc}") from exc
    for path in written:
        click.echo(str(path))
    if publish:
        from jobs.publishers.delivery import publish_report

        for result in publish_report(
            app.engine(), app.config, report, env=os.environ, resend=resend
        ):
            click.echo(f"{result.publisher}: {result.status} {result.target}")


COMMANDS = (report_command,)

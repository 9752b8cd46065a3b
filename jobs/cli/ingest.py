"""``capplan ingest`` and ``capplan backfill``."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from jobs.cli.context import AppContext
from jobs.cli.options import UTC_DATETIME, now_utc, progress
from jobs.errors import error_text, is_database_error
from jobs.ingest.sources import find, names

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from jobs.ingest import IngestSummary
    from jobs.ingest.pull import PullResult


def _source_flags(command: Callable[..., None]) -> Callable[..., None]:
    """``--prometheus``: one flag per registered source, so a new source needs no edit here."""
    for name in reversed(names()):
        command = click.option(
            f"--{name}",
            f"pull_{name}",
            is_flag=True,
            help=f"Pull every metric query under sources.{name}.",
        )(command)
    return command


def _record_failure(engine: Engine, run_id: int, exc: Exception, outputs: dict[str, Any]) -> None:
    """Marks the run failed; a database still out of reach leaves that to a later command."""
    from jobs.store import ledger

    try:
        ledger.finish_run(
            engine, run_id, ledger.FAILED, error=_ledger_error(exc, engine), outputs=outputs
        )
    except Exception as failure:
        if not is_database_error(failure):
            raise
        # The database is gone again: the original error is the one to show.


def _echo_summaries(summaries: list[IngestSummary]) -> None:
    for summary in summaries:
        click.echo(summary.line())


@click.command("ingest")
@click.option(
    "--csv",
    "csv_paths",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Long-format CSV: timestamp,service,metric,value (repeatable).",
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@_source_flags
@click.option(
    "--since", type=UTC_DATETIME, help="Pulled sources: start (default: each metric's watermark)."
)
@click.option("--until", type=UTC_DATETIME, help="Pulled sources: end (default: now).")
@click.option(
    "--skip-invalid", is_flag=True, help="CSV: store the valid rows of a file with bad rows."
)
@click.option(
    "--allow-mixed-offsets",
    is_flag=True,
    help="CSV: accept timestamps with different UTC offsets in one file.",
)
@click.pass_obj
def ingest(
    app: AppContext,
    /,
    csv_paths: tuple[Path, ...],
    paths: tuple[Path, ...],
    since: datetime | None,
    until: datetime | None,
    skip_invalid: bool,
    allow_mixed_offsets: bool,
    **pull_flags: bool,
) -> None:
    """Load utilisation samples (idempotent: the same data twice leaves the same rows)."""
    from jobs.ingest import ingest_csv_files
    from jobs.store import ledger

    files = [*csv_paths, *paths]
    pulled_sources = [name for name in names() if pull_flags[f"pull_{name}"]]
    if not files and not pulled_sources:
        flags = " / ".join(f"--{name}" for name in names())
        raise click.UsageError(f"give --csv PATH [PATH...] and/or {flags}")
    config, engine = app.config, app.engine()
    run_id = ledger.start_run(engine, "ingest")
    summaries: list[IngestSummary] = []
    try:
        with progress(None, "rows", "csv") as bar:
            stored = ingest_csv_files(
                engine,
                config,
                files,
                skip_invalid=skip_invalid,
                allow_mixed_offsets=allow_mixed_offsets,
                on_batch=bar.update,
                now=now_utc(),
            )
        summaries.extend(stored)
        _echo_summaries(stored)
        if pulled_sources:
            pulled = _pull(app, pulled_sources, since, until)
            summaries.extend(pulled.summaries)
            _fail_on_metric_failures(pulled)
    except Exception as exc:
        # Whatever ended the run, the ledger must not keep it "running".
        _record_failure(engine, run_id, exc, {"summaries": [s.line() for s in summaries]})
        raise
    ledger.finish_run(
        engine, run_id, ledger.SUCCEEDED, outputs={"summaries": [s.line() for s in summaries]}
    )


def _pull(
    app: AppContext, sources: list[str], since: datetime | None, until: datetime | None
) -> PullResult:
    from jobs.ingest.pull import PullResult, configured_source, ingest_source

    end = until or now_utc()
    pulled = PullResult()
    for name in sources:
        source = configured_source(app.config, name)
        with progress(None, "chunks", name) as bar:
            result = ingest_source(
                app.engine(),
                app.config,
                source,
                since=since,
                until=end,
                on_chunk=lambda *_: bar.update(1),
            )
        _echo_pull(result, end_option="--until")
        pulled.add(result)
    return pulled


def _echo_pull(pulled: PullResult, *, end_option: str) -> None:
    for note in pulled.notes:
        click.echo(f"note: {end_option}: {note}", err=True)
    _echo_summaries(pulled.summaries)
    for failure in pulled.failures:
        click.echo(f"warning: {failure.line()}", err=True)


def _fail_on_metric_failures(pulled: PullResult) -> None:
    from jobs.ingest.pull import PullFailedError

    if pulled.failures:
        raise PullFailedError(pulled)


def _ledger_error(exc: Exception, engine: Engine) -> str:
    from jobs.ingest.pull import PullFailedError
    from jobs.store.database import database_failure

    # The message printed stays one line; the ledger keeps every failed metric.
    if isinstance(exc, PullFailedError):
        return exc.details
    if is_database_error(exc):  # the line the CLI prints, naming the server
        return database_failure(exc, engine.url)
    return error_text(exc)


def _report_kinds(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    kinds = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [k for k in kinds if k not in ("monthly", "quarterly", "annual")]
    if unknown:
        raise click.BadParameter(
            f"unknown report kind(s) {', '.join(unknown)}; valid: monthly, quarterly, annual",
            param_hint="--reports",
        )
    return kinds


@click.command("backfill")
@click.option("--from", "start", type=UTC_DATETIME, required=True, help="Start of the range.")
@click.option("--to", "end", type=UTC_DATETIME, required=True, help="End of the range.")
@click.option(
    "--reports",
    "reports",
    help="Also regenerate these reports (comma-separated: monthly,quarterly,annual) for every "
    "period ending in the range, each as of its period end.",
)
@click.option("--publish", is_flag=True, help="Publish the regenerated reports.")
@click.option("--email", is_flag=True, help="Also email them (needs --publish).")
@click.pass_obj
def backfill(
    app: AppContext,
    start: datetime,
    end: datetime,
    reports: str | None,
    publish: bool,
    email: bool,
) -> None:
    """Ingest a past range in resumable chunks, optionally regenerating its reports.

    A re-run of the same range continues where it stopped. Without a configured
    source, --reports regenerates reports from what is already stored.
    """
    from jobs.store import ledger

    kinds = _report_kinds(reports)
    if email and not publish:
        raise click.UsageError("--email needs --publish: a backfill emails only what it publishes")
    if end <= start:
        raise click.UsageError(f"--to ({end:%Y-%m-%d}) must be after --from ({start:%Y-%m-%d})")
    config, engine = app.config, app.engine()
    span = f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"
    run_id = ledger.start_run(engine, "backfill", span)
    outputs: dict[str, list[str]] = {}
    try:
        if config.sources.configured() or not kinds:
            pulled = _backfill_ingest(app, start, end)
            outputs["summaries"] = [s.line() for s in pulled.summaries]
            # Reports of a range with missing metrics would look complete: none then.
            _fail_on_metric_failures(pulled)
        else:
            titles = " or ".join(find(name).title for name in names())
            click.echo(f"No {titles} source configured: regenerating reports from stored data.")
        if kinds:
            outputs["reports"] = _backfill_reports(app, kinds, start, end, publish, email)
    except Exception as exc:
        # Whatever ended the run, the ledger must not keep it "running".
        _record_failure(engine, run_id, exc, outputs)
        raise
    ledger.finish_run(engine, run_id, ledger.SUCCEEDED, outputs=outputs)


def _backfill_ingest(app: AppContext, start: datetime, end: datetime) -> PullResult:
    from jobs.ingest.backfill import backfill_chunk_count, backfill_ingest

    config, engine = app.config, app.engine()
    with progress(backfill_chunk_count(config, start, end), "chunks", "backfill") as bar:
        pulled = backfill_ingest(engine, config, start, end, on_chunk=lambda *_: bar.update(1))
    _echo_pull(pulled, end_option="--to")
    return pulled


def _backfill_reports(
    app: AppContext,
    kinds: tuple[str, ...],
    start: datetime,
    end: datetime,
    publish: bool,
    email: bool,
) -> list[str]:
    from jobs.forecast.fleet import ensure_forecast_at
    from jobs.periods import periods_between
    from jobs.publishers.delivery import backfill_reports, staged_directory

    periods = [p for kind in kinds for p in periods_between(kind, start, end)]
    if not periods:
        click.echo(
            f"No full {'/'.join(kinds)} period ends between {start:%Y-%m-%d} and {end:%Y-%m-%d}."
        )
        return []
    done = []
    with progress(len(periods), "reports", "reports") as bar:
        for period in periods:
            # What the report compares its period with: the forecast as of its start.
            ensure_forecast_at(app.engine(), app.config, period.start)
            bundles = backfill_reports(
                app.engine(), app.config, [period], env=os.environ, publish=publish, email=email
            )
            for bundle in bundles:
                folder = staged_directory(app.config, bundle.period)
                click.echo(f"{period.kind} {period.label}: {folder}")
                done.append(f"{period.kind} {period.label}")
            bar.update(1)
    return done


COMMANDS = (ingest, backfill)

"""``capplan ingest`` and ``capplan backfill``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from jobs.cli_context import AppContext
from jobs.commands.common import UTC_DATETIME, now_utc, progress
from jobs.errors import CapplanError, JobFailedError

if TYPE_CHECKING:
    from jobs.ingest import IngestSummary


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
@click.option("--prometheus", is_flag=True, help="Pull every configured metric query.")
@click.option(
    "--since", type=UTC_DATETIME, help="Prometheus: start (default: each metric's watermark)."
)
@click.option("--until", type=UTC_DATETIME, help="Prometheus: end (default: now).")
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
    csv_paths: tuple[Path, ...],
    paths: tuple[Path, ...],
    prometheus: bool,
    since: datetime | None,
    until: datetime | None,
    skip_invalid: bool,
    allow_mixed_offsets: bool,
) -> None:
    """Load utilisation samples (idempotent: the same data twice leaves the same rows)."""
    from jobs.ingest import ingest_csv, ingest_prometheus
    from jobs.store import ledger

    files = [*csv_paths, *paths]
    if not files and not prometheus:
        raise click.UsageError("give --csv PATH [PATH...] and/or --prometheus")
    config, engine = app.config, app.engine()
    run_id = ledger.start_run(engine, "ingest")
    summaries: list[IngestSummary] = []
    try:
        for path in files:
            with progress(None, "rows", path.name) as bar:
                summaries.append(
                    ingest_csv(
                        engine,
                        config,
                        path,
                        skip_invalid=skip_invalid,
                        allow_mixed_offsets=allow_mixed_offsets,
                        on_batch=bar.update,
                    )
                )
            click.echo(summaries[-1].line())
        if prometheus:
            with progress(None, "chunks", "prometheus") as bar:
                pulled = ingest_prometheus(
                    engine,
                    config,
                    since=since,
                    until=until or now_utc(),
                    on_chunk=lambda *_: bar.update(1),
                )
            _echo_summaries(pulled)
            summaries.extend(pulled)
    except CapplanError as exc:
        ledger.finish_run(
            engine,
            run_id,
            ledger.FAILED,
            error=str(exc),
            outputs={"summaries": [s.line() for s in summaries]},
        )
        raise
    ledger.finish_run(
        engine, run_id, ledger.SUCCEEDED, outputs={"summaries": [s.line() for s in summaries]}
    )


@click.command("backfill")
@click.option("--from", "start", type=UTC_DATETIME, required=True, help="Start of the range.")
@click.option("--to", "end", type=UTC_DATETIME, required=True, help="End of the range.")
@click.pass_obj
def backfill(app: AppContext, start: datetime, end: datetime) -> None:
    """Ingest a past range from Prometheus in resumable chunks; a re-run continues."""
    from jobs.backfill import backfill_chunk_count, backfill_ingest
    from jobs.store import ledger

    config, engine = app.config, app.engine()
    period = f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"
    run_id = ledger.start_run(engine, "backfill", period)
    try:
        with progress(backfill_chunk_count(config, start, end), "chunks", "backfill") as bar:
            summaries = backfill_ingest(
                engine, config, start, end, on_chunk=lambda *_: bar.update(1)
            )
    except (CapplanError, ValueError) as exc:
        ledger.finish_run(engine, run_id, ledger.FAILED, error=str(exc))
        if isinstance(exc, ValueError):
            raise JobFailedError(str(exc)) from exc
        raise
    ledger.finish_run(
        engine, run_id, ledger.SUCCEEDED, outputs={"summaries": [s.line() for s in summaries]}
    )
    _echo_summaries(summaries)


COMMANDS = (ingest, backfill)

"""``capplan run-due`` and ``capplan schedule``."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from jobs.cli.context import AppContext
from jobs.cli.options import now_option, now_utc
from jobs.errors import JobFailedError

if TYPE_CHECKING:
    from jobs.schedule.run_due import JobOutcome

# The lease TTL default lives in jobs.schedule.run_due; repeated here so --help does not import it.
DEFAULT_LEASE_TTL_SECONDS = 600
ABANDONED_SHOWN = 5  # the most recent abandoned runs `schedule` lists


@click.command("run-due")
@now_option("The clock to schedule against (default: the current time).")
@click.option(
    "--lease-ttl",
    type=click.IntRange(min=30),
    default=DEFAULT_LEASE_TTL_SECONDS,
    show_default=True,
    help="Seconds another run-due waits before taking over from a holder that stopped renewing.",
)
@click.option(
    "-v",
    "--verbose",
    "verbose",
    is_flag=True,
    help="Print every job's outcome and notes; by default only failures are printed.",
)
@click.pass_obj
def run_due_command(app: AppContext, now: datetime | None, lease_ttl: int, verbose: bool) -> None:
    """Run every scheduled job due since its last recorded run (for cron).

    Prints nothing when all went well (cron then sends no mail); the ledger and
    ``capplan schedule`` keep the details.
    """
    from jobs.schedule.lease import LeaseBusyError
    from jobs.schedule.run_due import run_due

    config, engine = app.config, app.engine()
    clock = now or now_utc()
    verbose = verbose or app.verbose

    def echo(outcome: JobOutcome) -> None:
        # A blocked job is part of a failure's story; anything else only when asked.
        if outcome.status in ("failed", "blocked"):
            click.echo(outcome.line(), err=True)
        elif verbose:
            click.echo(outcome.line())

    try:
        report = run_due(
            engine, config, now=clock, env=os.environ, lease_ttl_seconds=lease_ttl, on_outcome=echo
        )
    except LeaseBusyError as exc:
        # Overlapping runs are expected (a long catch-up): not worth a mail.
        if verbose:
            click.echo(str(exc))
        return
    if verbose:
        for note in report.notes:
            click.echo(f"note: {note}")
        if not report.outcomes:
            click.echo(f"nothing due at {clock:%Y-%m-%d %H:%M} UTC")
    if report.failed:
        names = ", ".join(f"{o.job} {o.key}" for o in report.failed)
        raise JobFailedError(
            f"{len(report.failed)} job(s) failed: {names}; recorded in the ledger, "
            "the next run-due retries them"
        )


def _when(stamp: int | None) -> str:
    if stamp is None:
        return "-"
    return f"{datetime.fromtimestamp(stamp, tz=UTC):%Y-%m-%d %H:%M}"


@click.command("schedule")
@now_option("The clock (default: the current time).")
@click.pass_obj
def schedule_command(app: AppContext, now: datetime | None) -> None:
    """List each scheduled job: its cron expression, last run, next run and what is due."""
    from jobs.publishers.delivery import UNCONFIRMED, email_records, publish_job
    from jobs.schedule.lease import lease_record
    from jobs.schedule.run_due import JOBS, cron_of, due_runs, next_fire
    from jobs.store import ledger

    config, engine = app.config, app.engine()
    clock = now or now_utc()
    plan = due_runs(engine, config, clock)
    rows = [("job", "cron", "last run", "status", "finished", "next run", "due now")]
    for job in JOBS:
        recorded = ledger.runs(engine, job if job in ("ingest", "forecast") else publish_job(job))
        scheduled = [run for run in recorded if run.period]
        last = scheduled[-1] if scheduled else None
        due = [run.key for run in plan.runs if run.job == job]
        rows.append(
            (
                job,
                cron_of(config, job),
                last.period if last else "never",
                last.status if last else "-",
                _when(last.finished_at) if last else "-",
                f"{next_fire(cron_of(config, job), clock):%Y-%m-%d %H:%M}",
                ", ".join(due) or "no",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    click.echo(f"max_catch_up: {config.schedule.max_catch_up} period(s); times are UTC")
    for note in plan.notes:
        click.echo(f"note: {note}")
    for email in email_records(engine, UNCONFIRMED):
        click.echo(
            f"email {email.kind} {email.period}: unconfirmed, handed to the server "
            f"{_when(email.sent_at)} UTC ({email.message_id}), which never confirmed it; "
            f"check with the recipients, capplan publish {email.kind} --period {email.period} "
            "--resend sends it again"
        )
    abandoned = [run for run in ledger.runs(engine) if run.status == ledger.ABANDONED]
    for run in abandoned[-ABANDONED_SHOWN:]:
        process = f"pid {run.pid} on {run.host}" if run.pid is not None else "unknown process"
        click.echo(
            f"abandoned: {run.job} {run.period or '(ad hoc)'} started {_when(run.started_at)} "
            f"({process}) ended without an outcome; see the ledger"
        )
    lease = lease_record(engine)
    if lease is not None and lease.expires_at > clock.timestamp():
        click.echo(f"run-due in progress: {lease.holder} (lease until {_when(lease.expires_at)})")


COMMANDS = (run_due_command, schedule_command)

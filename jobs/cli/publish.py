"""``capplan publish KIND [--period P] [--resend]``."""

from __future__ import annotations

import os

import click

from jobs.cli.context import AppContext
from jobs.cli.options import now_utc, period_option
from jobs.errors import PeriodError
from jobs.periods import KINDS, last_full_period, parse_period


@click.command("publish")
@click.argument("kind", type=click.Choice(KINDS))
@period_option("2026-10 (monthly), 2026-Q3 (quarterly), 2026 (annual); default: the last full one.")
@click.option("--resend", is_flag=True, help="Email the report even if it was already sent.")
@click.pass_obj
def publish(app: AppContext, kind: str, period_text: str | None, resend: bool) -> None:
    """Deliver a rendered report to the configured targets (local, s3, email)."""
    from jobs.publishers.delivery import (
        default_report_builder,
        deliver,
        format_results,
        load_bundle,
        render_and_stage,
        staged_directory,
    )

    config, engine = app.config, app.engine()
    try:
        period = (
            parse_period(kind, period_text) if period_text else last_full_period(kind, now_utc())
        )
    except ValueError as exc:
        raise PeriodError(str(exc)) from exc
    bundle = load_bundle(config, period)
    if bundle is None:
        click.echo(
            f"No rendered {kind} report for {period.label} in "
            f"{staged_directory(config, period)}; rendering it now.",
            err=True,
        )
        bundle = render_and_stage(engine, config, period, default_report_builder(), now=now_utc())
    for line in format_results(deliver(engine, config, bundle, env=os.environ, resend=resend)):
        click.echo(line)


COMMANDS = (publish,)

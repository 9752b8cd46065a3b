"""``capplan rightsize [--as-of T] [--format table|json|csv]``.

The command is built by ``make_rightsize_command(load_usage)``: the loader
(``stored_usage`` in the CLI) returns one ``ServiceUsage`` per
service, so tests can size from usage they make up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import click

from jobs.cli_context import AppContext
from jobs.commands.common import UTC_DATETIME, now_utc

if TYPE_CHECKING:
    from forecasting.rightsizing import ServiceUsage

UsageLoader = Callable[[AppContext, datetime, float], "Sequence[ServiceUsage]"]


def stored_usage(app: AppContext, as_of: datetime, lookback_days: float) -> Sequence[ServiceUsage]:
    """The CLI's loader: usage from the configured store."""
    from jobs.usage import load_usage

    return load_usage(app.engine(), app.config, as_of, lookback_days)


def make_rightsize_command(load_usage: UsageLoader) -> click.Command:
    @click.command("rightsize")
    @click.option("--as-of", "as_of", type=UTC_DATETIME, help="Instant to size at (default: now).")
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json", "csv"]),
        default="table",
        show_default=True,
    )
    @click.pass_obj
    def rightsize_command(app: AppContext, as_of: datetime | None, fmt: str) -> None:
        """CPU, memory and replica recommendations from usage over the lookback."""
        from jobs.planning import render_recommendations, run_rightsize

        instant = as_of or now_utc()
        usage = load_usage(app, instant, float(app.config.rightsizing.lookback_days))
        recommendations = run_rightsize(app.config, usage, instant)
        click.echo(render_recommendations(recommendations, instant, fmt))

    return rightsize_command

"""``capplan rightsize [--as-of T] [--format table|json|csv]``.

The command is built by ``make_rightsize_command(load_usage, load_allocations)``: the
loaders (``stored_usage`` and ``stored_allocations`` in the CLI) return one
``ServiceUsage`` per service and the allocations in force, so tests can size from
usage they make up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from jobs.cli.context import AppContext
from jobs.cli.options import (
    as_of_option,
    check_writable_target,
    format_option,
    now_utc,
    out_option,
    write_rendered,
)

if TYPE_CHECKING:
    from forecasting.planning.costs import Allocation
    from forecasting.rightsizing.fleet import ServiceUsage

#: Kept here so ``capplan --help`` need not import the renderers.
FORMAT_NAMES = ("table", "json", "csv", "compose", "kubernetes")
DIRECTORY_FORMATS = ("kubernetes",)

UsageLoader = Callable[[AppContext, datetime, float], "Sequence[ServiceUsage]"]
AllocationLoader = Callable[[AppContext, datetime], "Mapping[str, Allocation]"]


def stored_usage(app: AppContext, as_of: datetime, lookback_days: float) -> Sequence[ServiceUsage]:
    """The CLI's loader: usage from the configured store."""
    from jobs.planning.usage import load_usage

    return load_usage(app.engine(), app.config, as_of, lookback_days)


def stored_allocations(app: AppContext, as_of: datetime) -> Mapping[str, Allocation]:
    """The CLI's allocations: those in force at ``as_of`` by the store's history."""
    from jobs.planning.usage import allocations_in_force

    return allocations_in_force(app.engine(), app.config, as_of)


def make_rightsize_command(
    load_usage: UsageLoader, load_allocations: AllocationLoader | None = None
) -> click.Command:
    """``load_allocations`` gives what usage is compared with (default: the configuration)."""

    @click.command("rightsize")
    @as_of_option("Instant to size at (default: now).")
    @format_option(
        FORMAT_NAMES,
        help="compose: a docker compose override; kubernetes: strategic-merge patches.",
    )
    @out_option(
        "Write to this file (kubernetes: this folder, one patch per workload).",
        accepts="file or folder",
    )
    @click.pass_obj
    def rightsize_command(
        app: AppContext, as_of: datetime | None, fmt: str, out: Path | None
    ) -> None:
        """CPU, memory and replica recommendations from usage over the lookback."""
        from jobs.exports.rightsize_formats import find
        from jobs.planning import run_rightsize

        render = find(fmt)
        if out is not None:
            check_writable_target(out, directory=fmt in DIRECTORY_FORMATS)
        instant = as_of or now_utc()
        usage = load_usage(app, instant, float(app.config.rightsizing.lookback_days))
        current = None if load_allocations is None else load_allocations(app, instant)
        recommendations = run_rightsize(app.config, usage, instant, current=current)
        rendered = render(recommendations, app.config, instant)
        if out is None:
            click.echo(rendered.stream, nl=False)
            return
        for name, path in write_rendered(rendered, out):
            click.echo(f"wrote {path}")
            if rendered.apply is not None:
                click.echo(f"  apply with: {rendered.apply(name, str(path))}")

    return rightsize_command

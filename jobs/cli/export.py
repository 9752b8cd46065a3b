"""``capplan export prometheus [--out FILE] [--push URL] [--as-of T]``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from jobs.cli.context import AppContext
from jobs.cli.options import as_of_option, check_writable_target, now_utc, out_option


@click.group("export")
def export_group() -> None:
    """Export the latest forecast for other tools."""


@export_group.command("prometheus")
@out_option(
    "Write the metrics atomically to this file (node_exporter's textfile collector).",
    accepts="file",
)
@click.option("--push", "push_url", help="Push the metrics to this Pushgateway URL.")
@as_of_option("Use the latest forecast before this instant.")
@click.pass_obj
def export_prometheus(
    app: AppContext, out: Path | None, push_url: str | None, as_of: datetime | None
) -> None:
    """The runway, crossing dates and recommendations as Prometheus gauges."""
    from jobs.exports.runway_metrics import push, runway_exposition, write_textfile

    if out is not None:
        check_writable_target(out, directory=False)
    text, notes = runway_exposition(app.engine(), app.config, as_of or now_utc())
    for note in notes:
        click.echo(f"note: {note}", err=True)
    if out is None and push_url is None:
        click.echo(text, nl=False)
        return
    if out is not None:
        write_textfile(out, text)
        click.echo(f"wrote {out}")
    if push_url is not None:
        settings = app.config.publish.prometheus
        push(
            push_url,
            settings.job if settings else "capplan",
            text,
            timeout=settings.timeout_seconds if settings else 10.0,
            max_attempts=settings.max_attempts if settings else 3,
        )
        click.echo(f"pushed to {push_url}")


COMMANDS = (export_group,)

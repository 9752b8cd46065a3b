"""``capplan alerts --format prometheus-rules [--out FILE]``."""

from __future__ import annotations

from pathlib import Path

import click

from jobs.cli.context import AppContext
from jobs.cli.options import check_writable_target, format_option, out_option


@click.command("alerts")
@format_option(["prometheus-rules"])
@out_option("Write to this file.", accepts="file")
@click.pass_obj
def alerts_command(app: AppContext, fmt: str, out: Path | None) -> None:
    """Alert rules from the configuration: thresholds, growth and runway."""
    from jobs.exports.alert_rules import alert_rules
    from jobs.files import atomic_write

    if out is not None:
        check_writable_target(out, directory=False)
    rules = alert_rules(app.config)
    if out is None:
        click.echo(rules.text, nl=False)  # the file's own comments name what was skipped
        return
    atomic_write(out, rules.text.encode())
    click.echo(f"wrote {out}")
    for reason in rules.skipped:
        click.echo(f"note: no capacity rule: {reason}")


COMMANDS = (alerts_command,)

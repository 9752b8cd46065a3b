"""``capplan plan``."""

from __future__ import annotations

import click

from jobs.cli.context import AppContext
from jobs.cli.options import format_option


@click.command("plan")
@format_option(["table", "json"])
@click.pass_obj
def plan_command(app: AppContext, fmt: str) -> None:
    """Three-year projections per scenario and the capacity they need, year by year."""
    from jobs.planning import build_plan, render_plan

    click.echo(render_plan(build_plan(app.config), fmt))


COMMANDS = (plan_command,)

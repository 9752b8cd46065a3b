"""``capplan budget --year YYYY [--format csv|xlsx] [--out PATH]``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from jobs.cli.context import AppContext
from jobs.cli.options import check_output_file, format_option, out_option, write_output


@click.command("budget")
@click.option("--year", type=int, required=True, help="Budget year (this year or later).")
@format_option(["csv", "xlsx"])
@out_option(
    "File or existing folder to write (default: CSV to stdout, XLSX to "
    "./capacity-budget-YYYY.xlsx).",
    accepts="file or folder",
)
@click.pass_obj
def budget_command(app: AppContext, year: int, fmt: str, out: Path | None) -> None:
    """Per scenario, service and quarter: cores, memory, storage, instances and cost."""
    from jobs.planning import budget_bytes, budget_filename, build_budget

    target: Path | None = None
    if out is not None or fmt != "csv":
        target = out if out is not None else Path(budget_filename(year, fmt))
        if target.is_dir():
            target = target / budget_filename(year, fmt)
        check_output_file(target)
    today = dt.datetime.now(dt.UTC).date()
    data = budget_bytes(build_budget(app.config, year, today), fmt)
    if target is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    write_output(target, data)
    click.echo(f"wrote {target}", err=True)


COMMANDS = (budget_command,)

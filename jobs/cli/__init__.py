"""The ``capplan`` command line: a thin layer over the library.

Domain exceptions become user errors here and nowhere else. Heavy imports
(Prophet, WeasyPrint, matplotlib) stay inside the commands that need them so
``capplan --help`` and ``capplan config`` start fast.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from forecasting.errors import ForecastInputError
from forecasting.planning.capacity import CapacityInputError
from jobs.cli.context import AppContext, resolve_config_path
from jobs.config import dump_config, load_config
from jobs.errors import CapplanError, is_database_error


class CapplanGroup(click.Group):
    """Turns domain errors into a one-paragraph message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CapplanError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (ForecastInputError, CapacityInputError) as exc:
            # Input the pure layer refused: the message already names the field.
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)
        except Exception as exc:
            message = _database_failure(exc, ctx)
            if message is None:
                raise
            click.echo(f"Error: {message}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted; work already stored is kept, re-run to continue.", err=True)
            ctx.exit(130)


def _database_failure(exc: Exception, ctx: click.Context) -> str | None:
    """One line for a database error; its SQL and parameters stay out of mail and logs."""
    if not is_database_error(exc):
        return None
    from jobs.store.database import database_failure

    app = ctx.find_object(AppContext)
    return database_failure(exc, app.engine_url if app is not None else None)


@click.group(cls=CapplanGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Configuration file (env CAPPLAN_CONFIG; default ./capplan.yaml, "
    "else the built-in runbook configuration).",
)
@click.option(
    "--database",
    "database_url",
    envvar="CAPPLAN_DATABASE_URL",
    help="SQLAlchemy database URL (env CAPPLAN_DATABASE_URL; default sqlite:///capplan.db).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show library logs (Prophet, cmdstan).")
@click.version_option(package_name="capplan")
@click.pass_context
def cli(
    ctx: click.Context, config_path: Path | None, database_url: str | None, verbose: bool
) -> None:
    """capplan: capacity forecasts, right-sizing and review reports."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = AppContext(resolve_config_path(config_path), database_url, verbose)
    ctx.call_on_close(ctx.obj.close)


@cli.group("config")
def config_group() -> None:
    """Show or check configuration."""


@config_group.command("show")
@click.pass_obj
def config_show(app: AppContext) -> None:
    """Print the effective configuration as YAML."""
    config = app.config  # a bad file is reported before anything is printed
    click.echo(f"# source: {app.config_source}")
    click.echo(dump_config(config), nl=False)


@config_group.command("validate")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def config_validate(path: Path) -> None:
    """Check one configuration file; every problem is listed."""
    config = load_config(path)
    click.echo(f"{path}: valid ({len(config.services)} services, {len(config.metrics)} metrics)")


def _register_commands() -> None:
    from jobs.cli import (
        alerts,
        allocations,
        budget,
        demo,
        export,
        forecast,
        ingest,
        plan,
        publish,
        report,
        rightsize,
        schedule,
    )

    commands = (
        *ingest.COMMANDS,
        *allocations.COMMANDS,
        *forecast.COMMANDS,
        *plan.COMMANDS,
        *budget.COMMANDS,
        rightsize.make_rightsize_command(rightsize.stored_usage, rightsize.stored_allocations),
        *demo.COMMANDS,
        *schedule.COMMANDS,
        *publish.COMMANDS,
        *report.COMMANDS,
        *export.COMMANDS,
        *alerts.COMMANDS,
    )
    for command in commands:
        cli.add_command(command)


_register_commands()


def main() -> None:
    cli(prog_name="capplan")

"""``capplan forecast`` (stored series, or one CSV ad hoc) and ``capplan backtest``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from jobs.cli.context import AppContext
from jobs.cli.options import (
    as_of_option,
    format_option,
    metric_option,
    now_utc,
    progress,
    series_csv_options,
    service_option,
    workers_option,
)

if TYPE_CHECKING:
    from jobs.forecast.executors import Executor
    from jobs.ingest.sources.series_csv import Aggregate


@click.command("forecast")
@service_option(repeatable=True)
@metric_option()
@as_of_option(
    "Use only data strictly before this instant (default: now, or after the CSV's last row)."
)
@format_option(["table", "json"])
@series_csv_options
@click.option("--threshold", type=float, help="CSV mode: the threshold to cross.")
@click.option(
    "--horizon-days",
    type=click.IntRange(1, 36500),
    help="Forecast horizon (default: forecast.horizon_years).",
)
@workers_option("Parallel worker processes (default: one per core).")
@click.option(
    "--executor", type=click.Choice(["process", "dask"]), default="process", show_default=True
)
@click.option("--scheduler", help="Dask scheduler address for --executor dask.")
@click.option("--no-store", is_flag=True, help="Do not record the forecast in the database.")
@click.pass_obj
def forecast(
    app: AppContext,
    services: tuple[str, ...],
    metrics: tuple[str, ...],
    as_of: datetime | None,
    fmt: str,
    csv_path: Path | None,
    timestamp_column: str,
    value_column: str,
    aggregate: str,
    upper_bound: float | None,
    threshold: float | None,
    horizon_days: int | None,
    workers: int | None,
    executor: str,
    scheduler: str | None,
    no_store: bool,
) -> None:
    """When each threshold is crossed under each growth scenario; runway in days."""
    if csv_path is None:
        forecast_stored_fleet(
            app,
            as_of or now_utc(),
            services=services,
            metrics=metrics,
            fmt=fmt,
            workers=workers,
            executor=cast("Executor", executor),
            scheduler=scheduler,
            store=not no_store,
        )
        return
    if threshold is None:
        raise click.UsageError("--csv needs --threshold X")
    forecast_one_csv(
        app,
        csv_path,
        timestamp_column=timestamp_column,
        value_column=value_column,
        aggregate=cast("Aggregate", aggregate),
        upper_bound=upper_bound,
        threshold=threshold,
        as_of=as_of,
        horizon_days=horizon_days,
        fmt=fmt,
    )


def forecast_stored_fleet(
    app: AppContext,
    as_of: datetime,
    *,
    services: tuple[str, ...],
    metrics: tuple[str, ...],
    fmt: str,
    workers: int | None,
    executor: Executor,
    scheduler: str | None,
    store: bool,
) -> None:
    """Every stored series (or those chosen), recorded in the database unless ``store`` is off."""
    from jobs.errors import JobFailedError
    from jobs.forecast.fleet import forecast_fleet
    from jobs.forecast.runway import render_runway

    engine = app.engine()
    with progress(None, "series", "forecast") as bar:
        fleet = forecast_fleet(
            engine,
            app.config,
            as_of,
            services=services or None,
            metrics=metrics or None,
            workers=workers,
            executor=executor,
            scheduler=scheduler,
            store=store,
            on_done=bar.update,
        )
    for failure in fleet.failures:
        click.echo(
            f"warning: {failure.service}/{failure.metric} ({failure.duration_minutes} min): "
            f"{failure.error}",
            err=True,
        )
    for series in fleet.series:
        for note in series.forecast.notes:
            click.echo(
                f"note: {series.service}/{series.metric} ({series.duration_minutes} min): {note}",
                err=True,
            )
    if not fleet.series:
        raise JobFailedError(f"every series failed to forecast ({len(fleet.failures)} failures)")
    click.echo(
        json.dumps(fleet.to_dict(), indent=2) if fmt == "json" else render_runway(fleet.rows)
    )


def forecast_one_csv(
    app: AppContext,
    csv_path: Path,
    *,
    timestamp_column: str,
    value_column: str,
    aggregate: Aggregate,
    upper_bound: float | None,
    threshold: float,
    as_of: datetime | None,
    horizon_days: int | None,
    fmt: str,
) -> None:
    """One series read from a CSV, ad hoc: nothing is read from or written to the store."""
    from jobs.forecast.adhoc import forecast_csv

    result = forecast_csv(
        csv_path,
        timestamp_column=timestamp_column,
        value_column=value_column,
        threshold=threshold,
        how=aggregate,
        as_of=as_of,
        horizon_days=horizon_days or round(app.config.forecast.horizon_years * 365.25),
        upper_bound=upper_bound,
        config=app.config,
    )
    if fmt != "json":
        for note in result["notes"]:
            click.echo(f"note: {note}", err=True)
    click.echo(json.dumps(result, indent=2) if fmt == "json" else _adhoc_table(result))


def _adhoc_table(result: dict[str, Any]) -> str:
    lines = [
        f"as of {result['as_of']}, threshold {result['threshold']:g}, "
        f"horizon to {result['horizon_end']}",
        f"{'scenario':<13} {'expected':<11} {'earliest':<11} {'latest':<11}",
    ]
    for row in result["crossings"]:
        lines.append(
            f"{row['scenario']:<13} {row['expected'] or 'beyond':<11} "
            f"{row['earliest'] or 'beyond':<11} {row['latest'] or 'beyond':<11}"
        )
    return "\n".join(lines)


@click.command("backtest")
@service_option(repeatable=True)
@metric_option()
@series_csv_options
@click.option(
    "--cutoffs",
    default="0.5,0.65,0.8",
    show_default=True,
    help="Rolling origins, as fractions of the history.",
)
@format_option(["table", "json", "csv"])
@click.pass_obj
def backtest(
    app: AppContext,
    services: tuple[str, ...],
    metrics: tuple[str, ...],
    csv_path: Path | None,
    timestamp_column: str,
    value_column: str,
    aggregate: str,
    upper_bound: float | None,
    cutoffs: str,
    fmt: str,
) -> None:
    """Rolling-origin backtest of crossing dates against predict_linear and default Prophet."""
    from jobs.forecast.adhoc import backtest_csv, backtest_stored, render_backtest

    try:
        fractions = tuple(float(part) for part in cutoffs.split(","))
    except ValueError as exc:
        raise click.BadParameter(f"{cutoffs!r} is not a comma-separated list") from exc
    if csv_path is not None:
        rows = backtest_csv(
            csv_path,
            timestamp_column,
            value_column,
            aggregate,  # type: ignore[arg-type]
            upper_bound,
            fractions,
        )
    else:
        rows = backtest_stored(
            app.engine(), app.config, services or None, metrics or None, fractions
        )
    click.echo(render_backtest(rows, fmt))


COMMANDS = (forecast, backtest)

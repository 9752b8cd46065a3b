"""Forecasts and backtests of one CSV series, and backtests of stored series."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from forecasting.backtest import BacktestRow, backtest_series, summarize, to_frame
from forecasting.engine import forecast_series
from forecasting.errors import ForecastInputError
from forecasting.prepare import MIN_POINTS, PeriodStat
from forecasting.types import EnsembleOptions, Threshold
from jobs.config import Config
from jobs.config.adapters import forecast_scenarios
from jobs.errors import NoDataError
from jobs.exports.spreadsheet_safety import csv_text
from jobs.forecast.fleet import plan_tasks
from jobs.ingest.sources.series_csv import Aggregate, aggregate, read_series_csv


def _bounds(series: pd.Series, threshold: float | None, upper: float | None) -> tuple[float, float]:
    if upper is not None:
        return (0.0, upper)
    inside = float(series.min()) >= 0 and float(series.max()) <= 100
    if inside and (threshold is None or threshold <= 100):
        return (0.0, 100.0)
    return (0.0, math.inf) if float(series.min()) >= 0 else (-math.inf, math.inf)


def _default_as_of(series: pd.Series) -> datetime:
    """Just after the last row, so the whole file is history."""
    if len(series) < 2:
        raise NoDataError("the CSV holds fewer than two usable rows")
    step = pd.Series(series.index).diff().median()
    return (series.index[-1] + step).to_pydatetime()  # type: ignore[no-any-return]


def forecast_csv(
    path: Path,
    *,
    timestamp_column: str,
    value_column: str,
    threshold: float,
    how: Aggregate,
    as_of: datetime | None,
    horizon_days: int,
    upper_bound: float | None,
    config: Config,
    ensemble: EnsembleOptions | None = None,
) -> dict[str, Any]:
    raw = read_series_csv(path, timestamp_column, value_column)
    series = aggregate(raw, how)
    instant = as_of or _default_as_of(series)
    # The physical range is judged on the history alone: later rows must not leak in.
    history = series[series.index < pd.Timestamp(instant)]
    engine_input = series
    stat: PeriodStat = "max"
    if how in ("daily-max", "daily-mean") and len(history) < MIN_POINTS and _sub_daily(raw):
        # Too few days to model daily values: the engine models the samples
        # hourly and summarises its simulated days the same way.
        engine_input = raw
        stat = "mean" if how == "daily-mean" else "max"
    result = forecast_series(
        engine_input,
        thresholds=[Threshold("threshold", threshold, 0)],
        scenarios=forecast_scenarios(config),
        as_of=instant,
        horizon_days=horizon_days,
        bounds=_bounds(history if len(history) else series, threshold, upper_bound),
        seed=config.forecast.seed,
        period_stat=stat,
        ensemble=ensemble,
    )

    def iso(value: object) -> str | None:
        return None if value is None else str(value)

    return {
        "as_of": instant.isoformat(),
        "threshold": threshold,
        "horizon_end": (instant + timedelta(days=horizon_days)).date().isoformat(),
        "crossings": [
            {
                "scenario": c.scenario,
                "expected": iso(c.expected),
                "earliest": iso(c.earliest),
                "latest": iso(c.latest),
            }
            for c in result.crossings
        ],
        "notes": list(result.notes),
    }


def _sub_daily(series: pd.Series) -> bool:
    if len(series) < 2:
        return False
    return bool(pd.Timedelta(pd.Series(series.index).diff().median()) < pd.Timedelta(days=1))


def backtest_csv(
    path: Path,
    timestamp_column: str,
    value_column: str,
    how: Aggregate,
    upper_bound: float | None,
    cutoffs: Sequence[float],
) -> list[BacktestRow]:
    series = aggregate(read_series_csv(path, timestamp_column, value_column), how)
    return backtest_series(
        series, name=path.stem, cutoff_fractions=cutoffs, bounds=_bounds(series, None, upper_bound)
    )


def backtest_stored(
    engine: Engine,
    config: Config,
    services: Sequence[str] | None,
    metrics: Sequence[str] | None,
    cutoffs: Sequence[float],
) -> list[BacktestRow]:
    rows: list[BacktestRow] = []
    everything = datetime.now(UTC)
    for task in plan_tasks(
        engine, config, everything, services=services, metrics=metrics, warm_start=False
    ):
        if len(task.history) < 2:
            continue
        try:
            rows.extend(
                backtest_series(
                    task.history,
                    name=f"{task.service}/{task.metric}/{task.duration_minutes}m",
                    cutoff_fractions=cutoffs,
                    kind=task.kind,
                    bounds=task.bounds,
                    seed=task.seed,
                )
            )
        except ForecastInputError:
            continue
    return rows


def render_backtest(rows: Sequence[BacktestRow], fmt: str) -> str:
    if not rows:
        raise NoDataError(
            "no backtest events: no history where a later value exceeded the earlier peak"
        )
    frame = to_frame(rows)
    summary = summarize(frame)
    if fmt == "csv":
        # The series name starts with the service label: never a formula.
        safe = frame.assign(series=frame["series"].map(csv_text))
        return str(safe.to_csv(index=False))
    if fmt == "json":
        payload = {
            "summary": json.loads(summary.reset_index().to_json(orient="records")),
            "rows": json.loads(frame.to_json(orient="records", date_format="iso")),
        }
        return json.dumps(payload, indent=2)
    lines = [
        f"{'method':<16} {'events':>6} {'median |err| days':>18} {'median rel err':>15} "
        f"{'coverage':>9}"
    ]
    for method, row in summary.iterrows():
        coverage = "-" if pd.isna(row["interval_coverage"]) else f"{row['interval_coverage']:.0%}"
        lines.append(
            f"{method!s:<16} {int(row['events']):>6} {row['median_abs_error_days']:>18.1f} "
            f"{row['median_rel_error']:>15.3f} {coverage:>9}"
        )
    return "\n".join(lines)

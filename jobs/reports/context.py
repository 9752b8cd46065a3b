"""Builds the report context from the store and the configuration (reads only).

Everything is computed as of the period's end: forecasts, right-sizing and
rollups use only data strictly before it, so a report rendered later for the
same period, with more data stored since, is the same report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import yaml
from sqlalchemy import Engine

from forecasting.planning.growth import runbook_discrepancies
from forecasting.rightsizing.fleet import Recommendation
from forecasting.types import ForecastCurve
from jobs.config import Config, dump_config, runbook_config
from jobs.config.adapters import growth_settings
from jobs.errors import CapplanError, NoDataError, format_problems
from jobs.periods import ReportPeriod
from jobs.planning import budget_bytes, budget_filename, build_budget, build_plan, run_rightsize
from jobs.planning.usage import allocations_in_force, load_usage
from jobs.reports import sections
from jobs.reports.model import (
    Accuracy,
    ChartSeries,
    DrRow,
    Failure,
    PerformanceResults,
    ProfileRow,
    ReportContext,
    RunwayRow,
    ThresholdReviewRow,
)
from jobs.reports.sections.caveats import Coverage, caveats, unforecast_series
from jobs.store.rollups import read_peaks, read_rollups
from jobs.store.series import SeriesInfo, list_series

if TYPE_CHECKING:
    from jobs.forecast.fleet import FleetForecast, SeriesResult


class PerformanceResultsError(CapplanError):
    """A performance-test results file that is not in the runbook's format."""

    exit_code = 2

    def __init__(self, path: str, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__(
            f"{path}: not in the runbook's benchmark results format:\n"
            f"{format_problems(self.problems)}"
        )


CHART_HISTORY_DAYS = 180
CHART_FORECAST_DAYS = 365
CHART_STEP_DAYS = 7
DAY = pd.Timedelta(days=1)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def period_title(period: ReportPeriod) -> str:
    if period.kind == "monthly":
        return f"{MONTHS[period.start.month - 1]} {period.start.year}"
    if period.kind == "quarterly":
        last = period.end - timedelta(days=1)
        quarter = period.label.split("-")[1]
        return (
            f"{quarter} {period.start.year} "
            f"({MONTHS[period.start.month - 1]} – {MONTHS[last.month - 1]})"
        )
    return str(period.start.year)


def build_context(
    engine: Engine,
    config: Config,
    period: ReportPeriod,
    *,
    performance_results: Path | None = None,
    workers: int | None = None,
    fleet: FleetForecast | None = None,
) -> ReportContext:
    """Reads what the report needs. ``fleet`` passes a forecast already computed as of the end."""
    as_of = period.end
    quarterly = period.kind in ("quarterly", "annual")
    performance = (
        load_performance(performance_results, config)
        if quarterly and performance_results is not None
        else None
    )
    if fleet is None:
        from jobs.forecast.fleet import forecast_fleet

        fleet = forecast_fleet(engine, config, as_of, workers=workers, store=False)
    scenario_order = {"organic": 0, **{n: i + 1 for i, n in enumerate(config.scenarios)}}
    planning = config.rightsizing.growth_scenario
    runway = _runway_rows(fleet, config, scenario_order)
    registry = _registry(engine, config)
    start_ts, end_ts = int(period.start.timestamp()), int(as_of.timestamp())
    start, end = pd.Timestamp(period.start), pd.Timestamp(as_of)

    window = config.growth_alert.window_days
    daily_means = {
        key: read_rollups(engine, info.id, "day", start_ts - 2 * window * 86_400, end_ts)["mean"]
        for key, info in registry.items()
    }
    alerts = [
        *sections.increase_alerts(
            daily_means, start, end, config.growth_alert.increase_percent, window
        ),
        *sections.threshold_alerts(runway, planning),
    ]

    recommendations, rightsizing_note = _rightsizing(engine, config, as_of)
    dr = _dr_rows(engine, config, registry, start_ts, end_ts) if quarterly else ()
    sorted_alerts = sections.sort_alerts(alerts)
    actions = sections.top_actions(
        runway, planning, recommendations, sorted_alerts, dr, config.costs.currency
    )

    failures = tuple(
        sorted(Failure(f.service, f.metric, f.duration_minutes, f.error) for f in fleet.failures)
    )
    series_total = len({(r.service, r.metric) for r in fleet.series} | unforecast_series(failures))
    coverage = _coverage(daily_means.values(), period)

    plan = budget = None
    attachments: tuple[tuple[str, bytes, str], ...] = ()
    if period.kind == "annual":
        plan = build_plan(config)
        year = period.start.year + 1
        budget = build_budget(config, year, (as_of - timedelta(seconds=1)).date())
        attachments = (
            (budget_filename(year, "csv"), budget_bytes(budget, "csv"), "text/csv"),
            (
                budget_filename(year, "xlsx"),
                budget_bytes(budget, "xlsx"),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
        )

    return ReportContext(
        period=period,
        title=period_title(period),
        currency=config.costs.currency,
        planning_scenario=planning,
        scenarios=tuple(
            sorted({r.scenario for r in runway}, key=lambda s: scenario_order.get(s, 99))
        ),
        config_yaml=dump_config(config),
        config_fingerprint=config.fingerprint(),
        services=tuple(
            (name, s.description, s.replicas, s.scaling)
            for name, s in sorted(config.services.items())
        ),
        runway=runway,
        lights=sections.light_grid(runway, planning),
        charts=_charts(fleet, config),
        failures=failures,
        recommendations=recommendations,
        rightsizing_note=rightsizing_note,
        accuracy=_accuracy(engine, config, registry, period),
        profiles=_profiles(engine, config, registry, start_ts, end_ts),
        alerts=sorted_alerts,
        actions=actions,
        calendar=tuple(getattr(config.calendar, period.kind)),
        discrepancies=runbook_discrepancies(growth_settings(runbook_config())),
        growth_alert_percent=config.growth_alert.increase_percent,
        growth_alert_days=window,
        lookback_days=config.rightsizing.lookback_days,
        threshold_review=(
            _threshold_review(engine, config, registry, start_ts, end_ts) if quarterly else ()
        ),
        dr=dr,
        performance=performance,
        plan=plan,
        budget=budget,
        attachments=attachments,
        caveats=caveats(failures, series_total, coverage),
        unforecast=len(unforecast_series(failures)),
    )


def _coverage(daily: Iterable[pd.Series], period: ReportPeriod) -> Coverage:
    """The period's days on which any configured series has stored data."""
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    days = sorted(
        {
            day
            for values in daily
            for day in values.index[(values.index >= start) & (values.index < end)]
        }
    )
    return Coverage(
        len(days),
        (period.end - period.start).days,
        days[0].date() if days else None,
        days[-1].date() if days else None,
    )


def _runway_rows(
    fleet: FleetForecast, config: Config, scenario_order: dict[str, int]
) -> tuple[RunwayRow, ...]:
    rows = [
        RunwayRow(
            **{f.name: getattr(r, f.name) for f in fields(r)},
            unit=config.metrics[r.metric].unit if r.metric in config.metrics else "",
        )
        for r in fleet.rows
    ]
    rows.sort(
        key=lambda r: (
            r.service,
            r.metric,
            sections.level_rank(r.level),
            r.threshold,
            r.duration_minutes,
            scenario_order.get(r.scenario, 99),
            r.scenario,
        )
    )
    return tuple(rows)


def _registry(engine: Engine, config: Config) -> dict[tuple[str, str], SeriesInfo]:
    """One stored series per configured service and metric (the unlabelled one first)."""
    found: dict[tuple[str, str], SeriesInfo] = {}
    for info in sorted(list_series(engine), key=lambda s: (s.key, s.id)):
        key = (info.key.service, info.key.metric)
        if info.key.service in config.services and info.key.metric in config.metrics:
            found.setdefault(key, info)
    return dict(sorted(found.items()))


def _thin(dates: Sequence[object], step: int, limit: int) -> list[int]:
    indices = list(range(0, min(len(dates), limit), step))
    last = min(len(dates), limit) - 1
    if last >= 0 and (not indices or indices[-1] != last):
        indices.append(last)
    return indices


def _charts(fleet: FleetForecast, config: Config) -> tuple[ChartSeries, ...]:
    chosen: dict[tuple[str, str], SeriesResult] = {}
    for result in sorted(fleet.series, key=lambda r: (r.service, r.metric, -r.duration_minutes)):
        chosen.setdefault((result.service, result.metric), result)
    charts = []
    as_of_day = pd.Timestamp(fleet.as_of).tz_convert("UTC").normalize()
    for (service, metric), item in sorted(chosen.items()):
        result = item
        history = result.history.dropna()
        history = history[history.index >= as_of_day - CHART_HISTORY_DAYS * DAY]
        curves = []
        for curve in result.forecast.curves:
            keep = _thin(curve.dates, CHART_STEP_DAYS, CHART_FORECAST_DAYS + 1)
            curves.append(
                ForecastCurve(
                    curve.scenario,
                    tuple(curve.dates[i] for i in keep),
                    tuple(float(curve.median[i]) for i in keep),
                    tuple(float(curve.lower[i]) for i in keep),
                    tuple(float(curve.upper[i]) for i in keep),
                )
            )
        pair = config.thresholds.get(metric)
        thresholds = (
            (("warning", pair.warning.above), ("critical", pair.critical.above)) if pair else ()
        )
        charts.append(
            ChartSeries(
                service=service,
                metric=metric,
                unit=config.metrics[metric].unit if metric in config.metrics else "",
                duration_minutes=int(result.duration_minutes),
                history_dates=tuple(pd.DatetimeIndex(history.index).date),
                history_values=tuple(float(v) for v in history.to_numpy()),
                curves=tuple(curves),
                thresholds=thresholds,
                as_of=as_of_day.date(),
            )
        )
    return tuple(charts)


def _rightsizing(
    engine: Engine, config: Config, as_of: datetime
) -> tuple[tuple[Recommendation, ...], str]:
    lookback = float(config.rightsizing.lookback_days)
    try:
        usage = load_usage(engine, config, as_of, lookback)
    except NoDataError as exc:
        return (), str(exc)
    current = allocations_in_force(engine, config, as_of)
    return tuple(run_rightsize(config, usage, as_of, current=current)), ""


def _accuracy(
    engine: Engine,
    config: Config,
    registry: dict[tuple[str, str], SeriesInfo],
    period: ReportPeriod,
) -> Accuracy:
    from jobs.forecast.fleet import latest_runway, stored_projection

    projection = stored_projection(engine, period.start + timedelta(seconds=1))
    if projection.empty:
        return Accuracy(None, ())
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    inside = projection[(projection["day"] >= start) & (projection["day"] < end)]
    run_as_of = pd.Timestamp(projection["run_as_of"].iloc[0]).to_pydatetime()
    stored = latest_runway(engine, period.start + timedelta(seconds=1))
    runway = stored.rows if stored is not None else ()
    keys = {
        (str(s), str(m), int(d))
        for s, m, d in inside[["service", "metric", "duration_minutes"]].itertuples(index=False)
    } | {(r.service, r.metric, r.duration_minutes) for r in runway}
    actual: dict[tuple[str, str, int], pd.Series] = {}
    for service, metric, duration in sorted(keys):
        info = registry.get((service, metric))
        if info is None:
            continue
        actual[(service, metric, duration)] = read_peaks(
            engine, info.id, "day", duration, int(start.timestamp()), int(end.timestamp())
        )
    scenario = config.rightsizing.growth_scenario
    rows = sections.accuracy_rows(inside, actual, scenario)
    checks = sections.crossing_checks(runway, actual, start.date(), end.date(), scenario)
    return Accuracy(run_as_of, rows, checks)


def _profiles(
    engine: Engine,
    config: Config,
    registry: dict[tuple[str, str], SeriesInfo],
    start_ts: int,
    end_ts: int,
) -> tuple[ProfileRow, ...]:
    rows = []
    for (service, metric), info in registry.items():
        spec = config.metrics[metric]
        if spec.growth == "cumulative" or spec.percent_of is not None:
            continue
        hourly = read_rollups(engine, info.id, "hour", start_ts, end_ts)["mean"]
        row = sections.seasonal_profile(service, metric, spec.unit, hourly)
        if row is not None:
            rows.append(row)
    return tuple(rows)


def _threshold_review(
    engine: Engine,
    config: Config,
    registry: dict[tuple[str, str], SeriesInfo],
    start_ts: int,
    end_ts: int,
) -> tuple[ThresholdReviewRow, ...]:
    rows = []
    for (service, metric), info in registry.items():
        pair = config.thresholds.get(metric)
        if pair is None:
            continue
        for level, trigger in (("warning", pair.warning), ("critical", pair.critical)):
            peaks = read_peaks(engine, info.id, "hour", trigger.for_minutes, start_ts, end_ts)
            if peaks.empty:
                continue
            rows.append(
                sections.threshold_review_row(
                    service,
                    metric,
                    config.metrics[metric].unit,
                    level,
                    trigger.above,
                    trigger.for_minutes,
                    peaks,
                )
            )
    return tuple(rows)


def _dr_rows(
    engine: Engine,
    config: Config,
    registry: dict[tuple[str, str], SeriesInfo],
    start_ts: int,
    end_ts: int,
) -> tuple[DrRow, ...]:
    rows = []
    for (service, metric), info in registry.items():
        spec = config.services[service]
        pair = config.thresholds.get(metric)
        if spec.scaling != "horizontal" or pair is None:
            continue
        if config.metrics[metric].growth != "load" or config.metrics[metric].unit != "%":
            continue
        peaks = read_peaks(engine, info.id, "day", pair.critical.for_minutes, start_ts, end_ts)
        if peaks.empty or not math.isfinite(float(peaks.max())):
            continue
        rows.append(
            sections.dr_row(service, metric, spec.replicas, float(peaks.max()), pair.critical.above)
        )
    return tuple(rows)


def load_performance(path: Path, config: Config) -> PerformanceResults:
    """Reads a performance-test results file in the runbook's benchmark results format."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PerformanceResultsError(str(path), [f"cannot read file: {exc.strerror}"]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise PerformanceResultsError(str(path), [f"{where}invalid YAML"]) from exc
    thresholds = {m: (p.warning.above, p.critical.above) for m, p in config.thresholds.items()}
    try:
        return sections.parse_performance(data, path.name, thresholds)
    except sections.PerformanceFormatError as exc:
        raise PerformanceResultsError(str(path), exc.problems) from exc

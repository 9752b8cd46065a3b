"""The forecast job: every stored series x threshold x scenario, in parallel, stored.

Work is cut into picklable tasks (one per series and threshold window) so a
process pool or a Dask cluster can run them; one task failing is recorded and
the others go on. The windows of one series travel together: their histories
(sustained peaks over different durations) are near-identical, so the
settings validated on the longest window are reused for the others instead
of being validated again.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select
from sqlmodel import SQLModel

from forecasting.errors import ForecastInputError
from forecasting.types import (
    ORGANIC,
    Crossing,
    ForecastScenario,
    ModelSettings,
    SeriesForecast,
    Threshold,
)
from jobs.config import Config
from jobs.config.adapters import forecast_scenarios
from jobs.errors import NoDataError, error_text
from jobs.forecast.executors import pool_size, run_all, start_fork_server
from jobs.store.rollups import read_peaks
from jobs.store.series import SeriesInfo, list_series

DAY = 86_400
POINT_STEP_DAYS = 7
POINT_HORIZON_DAYS = 371
WARM_START_DAYS = 7
# What every forecast task imports: loaded once by the process pool's fork server.
WORKER_PRELOAD = ("forecasting.engine",)


@dataclass(frozen=True)
class ForecastRow:
    service: str
    metric: str
    level: str
    threshold: float
    duration_minutes: int
    scenario: str
    expected: date | None
    earliest: date | None
    latest: date | None
    runway_days: int | None
    already_exceeded: bool

    @classmethod
    def of(cls, service: str, metric: str, crossing: Crossing) -> ForecastRow:
        return cls(
            service,
            metric,
            crossing.level,
            crossing.threshold,
            crossing.duration_minutes,
            crossing.scenario,
            crossing.expected,
            crossing.earliest,
            crossing.latest,
            crossing.runway_days,
            crossing.already_exceeded,
        )

    def to_dict(self) -> dict[str, Any]:
        def iso(value: date | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "service": self.service,
            "metric": self.metric,
            "level": self.level,
            "threshold": self.threshold,
            "duration_minutes": self.duration_minutes,
            "scenario": self.scenario,
            "expected": iso(self.expected),
            "earliest": iso(self.earliest),
            "latest": iso(self.latest),
            "runway_days": self.runway_days,
        }


@dataclass(frozen=True)
class ForecastTask:
    """One model fit: a series at one threshold window, every threshold and scenario."""

    series_id: int
    service: str
    metric: str
    duration_minutes: int
    history: pd.Series
    thresholds: tuple[Threshold, ...]
    scenarios: tuple[ForecastScenario, ...]
    as_of: datetime
    horizon_days: int
    kind: Literal["load", "cumulative"]
    bounds: tuple[float, float]
    seed: int
    settings: ModelSettings | None


@dataclass(frozen=True)
class SeriesResult:
    service: str
    metric: str
    duration_minutes: int
    history: pd.Series
    forecast: SeriesForecast
    series_id: int = 0


@dataclass(frozen=True)
class SeriesFailure:
    service: str
    metric: str
    duration_minutes: int
    error: str


@dataclass(frozen=True)
class FleetForecast:
    as_of: datetime
    run_id: int | None
    rows: tuple[ForecastRow, ...]
    series: tuple[SeriesResult, ...]
    failures: tuple[SeriesFailure, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "rows": [row.to_dict() for row in self.rows]}


def run_task(task: ForecastTask) -> SeriesResult | SeriesFailure:
    """Runs in a worker: a bad series becomes a failure, never an exception."""
    from forecasting.engine import forecast_series

    try:
        forecast = forecast_series(
            task.history,
            thresholds=task.thresholds,
            scenarios=task.scenarios,
            as_of=task.as_of,
            horizon_days=task.horizon_days,
            kind=task.kind,
            bounds=task.bounds,
            seed=task.seed,
            settings=task.settings,
        )
    except ForecastInputError as exc:
        return SeriesFailure(task.service, task.metric, task.duration_minutes, str(exc))
    except Exception as exc:  # one series' bug must not stop the fleet's forecast
        return SeriesFailure(task.service, task.metric, task.duration_minutes, error_text(exc))
    return SeriesResult(
        task.service, task.metric, task.duration_minutes, task.history, forecast, task.series_id
    )


def run_series(tasks: Sequence[ForecastTask]) -> list[SeriesResult | SeriesFailure]:
    """The windows of one series, longest first, each reusing the settings validated before.

    Outcomes come back in the order of ``tasks``.
    """
    outcomes: dict[int, SeriesResult | SeriesFailure] = {}
    settings: ModelSettings | None = None
    for index in sorted(range(len(tasks)), key=lambda i: -tasks[i].duration_minutes):
        task = tasks[index]
        if task.settings is None and settings is not None:
            task = dataclasses.replace(task, settings=settings)
        outcome = run_task(task)
        # Only settings that were validated (now or by an earlier run) are passed on;
        # a constant history's are defaults.
        if (
            settings is None
            and isinstance(outcome, SeriesResult)
            and (outcome.forecast.validation or task.settings is not None)
        ):
            settings = outcome.forecast.settings
        outcomes[index] = outcome
    return [outcomes[i] for i in range(len(tasks))]


def by_series(tasks: Sequence[ForecastTask]) -> list[tuple[ForecastTask, ...]]:
    groups: dict[int, list[ForecastTask]] = {}
    for task in tasks:
        groups.setdefault(task.series_id, []).append(task)
    return [tuple(group) for group in groups.values()]


def scenarios_for(config: Config, metric: str) -> tuple[ForecastScenario, ...]:
    """Growth scenarios only apply to load-driven and cumulative metrics."""
    return (ORGANIC,) if config.metrics[metric].growth == "none" else forecast_scenarios(config)


def thresholds_by_window(config: Config, metric: str) -> dict[int, tuple[Threshold, ...]]:
    pair = config.thresholds[metric]
    windows: dict[int, list[Threshold]] = {}
    for level, trigger in (("warning", pair.warning), ("critical", pair.critical)):
        windows.setdefault(trigger.for_minutes, []).append(
            Threshold(level, trigger.above, trigger.for_minutes)
        )
    return {window: tuple(items) for window, items in sorted(windows.items())}


def plan_tasks(
    engine: Engine,
    config: Config,
    as_of: datetime,
    *,
    services: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    warm_start: bool = True,
) -> list[ForecastTask]:
    """One task per stored series with thresholds and per threshold window.

    Histories are the daily sustained peaks of whole days before as-of: a day
    that ends after as-of would leak later samples into the forecast.
    """
    cutoff = int(as_of.timestamp()) // DAY * DAY
    previous = previous_settings(engine, as_of) if warm_start else {}
    tasks = []
    for series in _selected(list_series(engine), config, services, metrics):
        spec = config.metrics[series.key.metric]
        upper = spec.upper_bound if spec.upper_bound is not None else math.inf
        for window, thresholds in thresholds_by_window(config, series.key.metric).items():
            history = read_peaks(engine, series.id, "day", window, 0, cutoff)
            tasks.append(
                ForecastTask(
                    series_id=series.id,
                    service=series.key.service,
                    metric=series.key.metric,
                    duration_minutes=window,
                    history=history,
                    thresholds=thresholds,
                    scenarios=scenarios_for(config, series.key.metric),
                    as_of=as_of,
                    horizon_days=round(config.forecast.horizon_years * 365.25),
                    kind="cumulative" if spec.growth == "cumulative" else "load",
                    bounds=(0.0, upper),
                    seed=config.forecast.seed,
                    settings=previous.get((series.id, window)),
                )
            )
    return tasks


def _selected(
    all_series: Iterable[SeriesInfo],
    config: Config,
    services: Sequence[str] | None,
    metrics: Sequence[str] | None,
) -> list[SeriesInfo]:
    chosen = [
        s
        for s in all_series
        if s.key.metric in config.thresholds
        and s.key.service in config.services
        and (not services or s.key.service in services)
        and (not metrics or s.key.metric in metrics)
    ]
    if not chosen:
        wanted = ", ".join(
            part
            for part in (
                f"service {'/'.join(services)}" if services else "",
                f"metric {'/'.join(metrics)}" if metrics else "",
            )
            if part
        )
        raise NoDataError(
            "no stored series with thresholds to forecast"
            + (f" for {wanted}" if wanted else "")
            + "; ingest data first (capplan ingest)"
        )
    return chosen


def forecast_fleet(
    engine: Engine,
    config: Config,
    as_of: datetime,
    *,
    services: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    workers: int | None = None,
    executor: Literal["process", "dask"] = "process",
    scheduler: str | None = None,
    store: bool = True,
    warm_start: bool = True,
    on_done: Callable[[int], None] | None = None,
) -> FleetForecast:
    chosen = _selected(list_series(engine), config, services, metrics)
    if executor == "process" and pool_size(workers, len(chosen)) > 1:
        # Its imports (Prophet) run on another core while the histories are read.
        start_fork_server(WORKER_PRELOAD)
    tasks = plan_tasks(
        engine, config, as_of, services=services, metrics=metrics, warm_start=warm_start
    )
    outcomes = [
        outcome
        for group in run_all(
            run_series,
            by_series(tasks),
            workers=workers,
            executor=executor,
            scheduler=scheduler,
            on_done=on_done,
            preload=WORKER_PRELOAD,
        )
        for outcome in group
    ]
    results = tuple(o for o in outcomes if isinstance(o, SeriesResult))
    failures = tuple(o for o in outcomes if isinstance(o, SeriesFailure))
    rows = tuple(
        ForecastRow.of(r.service, r.metric, c) for r in results for c in r.forecast.crossings
    )
    fleet = FleetForecast(as_of, None, rows, results, failures)
    if store and results:
        fleet = FleetForecast(as_of, store_forecast(engine, config, fleet), rows, results, failures)
    return fleet


def ensure_forecast_at(
    engine: Engine, config: Config, as_of: datetime, *, workers: int | None = None
) -> FleetForecast | None:
    """Store a forecast as of exactly ``as_of`` unless one is stored already.

    What a report compares its period with is the forecast as of the period's
    start; the demo and report backfills make it, so the first report already
    shows projections against actuals. Nothing stored before ``as_of``: None.
    """
    runs = _tables()["forecast_runs"]
    with engine.connect() as connection:
        found = connection.execute(
            select(runs.c.id).where(runs.c.as_of == int(as_of.timestamp())).limit(1)
        ).first()
    if found is not None:
        return None
    try:
        return forecast_fleet(engine, config, as_of, workers=workers, store=True)
    except NoDataError:
        return None


def _tables() -> dict[str, Any]:
    return SQLModel.metadata.tables


def store_forecast(engine: Engine, config: Config, fleet: FleetForecast) -> int:
    """Records the run, the settings per model, the crossings and weekly projections."""
    t = _tables()
    as_of_ts = int(fleet.as_of.timestamp())
    with engine.begin() as connection:
        run_id = int(
            connection.execute(
                t["forecast_runs"]
                .insert()
                .values(
                    as_of=as_of_ts, created_at=int(time.time()), config_hash=config.fingerprint()
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        models, crossings, points = [], [], []
        for result in fleet.series:
            forecast = result.forecast
            models.append(
                {
                    "run_id": run_id,
                    "series_id": result.series_id,
                    "duration_minutes": result.duration_minutes,
                    "settings": json.dumps(forecast.settings.to_dict(), sort_keys=True),
                    "validation": json.dumps(forecast.validation, sort_keys=True),
                    "history_end": int(forecast.history_end.timestamp()),
                }
            )
            for c in forecast.crossings:
                crossings.append(
                    {
                        "run_id": run_id,
                        "series_id": result.series_id,
                        "level": c.level,
                        "scenario": c.scenario,
                        "threshold": c.threshold,
                        "duration_minutes": c.duration_minutes,
                        "expected": c.expected.isoformat() if c.expected else None,
                        "earliest": c.earliest.isoformat() if c.earliest else None,
                        "latest": c.latest.isoformat() if c.latest else None,
                        "runway_days": c.runway_days,
                        "already_exceeded": int(c.already_exceeded),
                    }
                )
            points.extend(_weekly_points(run_id, result))
        for name, rows in (
            ("forecast_models", models),
            ("forecast_crossings", crossings),
            ("forecast_points", points),
        ):
            if rows:
                connection.execute(t[name].insert(), rows)
    return run_id


def _weekly_points(run_id: int, result: SeriesResult) -> list[dict[str, Any]]:
    out = []
    for curve in result.forecast.curves:
        for index in range(0, min(len(curve.dates), POINT_HORIZON_DAYS), POINT_STEP_DAYS):
            day = curve.dates[index]
            out.append(
                {
                    "run_id": run_id,
                    "series_id": result.series_id,
                    "duration_minutes": result.duration_minutes,
                    "scenario": curve.scenario,
                    "day": int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()),
                    "median": curve.median[index],
                    "lower": curve.lower[index],
                    "upper": curve.upper[index],
                }
            )
    return out


def _latest_run_before(
    engine: Engine,
    before: datetime,
    newer_than: datetime | None,
    *,
    created_before: datetime | None = None,
) -> int | None:
    runs = _tables()["forecast_runs"]
    query = select(runs.c.id).where(runs.c.as_of < int(before.timestamp()))
    if newer_than is not None:
        query = query.where(runs.c.as_of >= int(newer_than.timestamp()))
    if created_before is not None:
        query = query.where(runs.c.created_at < int(created_before.timestamp()))
    query = query.order_by(runs.c.as_of.desc(), runs.c.id.desc()).limit(1)
    with engine.connect() as connection:
        found = connection.execute(query).scalar_one_or_none()
    return None if found is None else int(found)


def previous_settings(engine: Engine, as_of: datetime) -> dict[tuple[int, int], ModelSettings]:
    """Settings validated by a recent earlier run: reused instead of re-validating.

    Only a run both made and recorded before ``as_of`` counts: a forecast as of
    an instant must depend on nothing stored after it, or a later
    ``forecast --as-of <earlier date>`` would change a report re-rendered for a
    period that has ended.
    """
    run_id = _latest_run_before(
        engine, as_of, as_of - timedelta(days=WARM_START_DAYS), created_before=as_of
    )
    if run_id is None:
        return {}
    models = _tables()["forecast_models"]
    with engine.connect() as connection:
        rows = connection.execute(
            select(models.c.series_id, models.c.duration_minutes, models.c.settings).where(
                models.c.run_id == run_id
            )
        ).fetchall()
    return {
        (int(sid), int(window)): ModelSettings.from_dict(json.loads(text))
        for sid, window, text in rows
    }


def stored_projection(engine: Engine, before: datetime) -> pd.DataFrame:
    """Weekly projections of the latest stored run strictly before ``before``."""
    columns = [
        "service",
        "metric",
        "duration_minutes",
        "scenario",
        "day",
        "median",
        "lower",
        "upper",
        "run_as_of",
    ]
    run_id = _latest_run_before(engine, before, None)
    if run_id is None:
        return pd.DataFrame(columns=columns)
    t = _tables()
    points, series, runs = t["forecast_points"], t["series"], t["forecast_runs"]
    query = (
        select(
            series.c.service,
            series.c.metric,
            points.c.duration_minutes,
            points.c.scenario,
            points.c.day,
            points.c.median,
            points.c.lower,
            points.c.upper,
            runs.c.as_of,
        )
        .join(series, series.c.id == points.c.series_id)
        .join(runs, runs.c.id == points.c.run_id)
        .where(points.c.run_id == run_id)
        .order_by(series.c.service, series.c.metric, points.c.scenario, points.c.day)
    )
    with engine.connect() as connection:
        frame = pd.DataFrame(connection.execute(query).fetchall(), columns=columns)
    frame["day"] = pd.to_datetime(frame["day"].astype(np.int64), unit="s", utc=True)
    frame["run_as_of"] = pd.to_datetime(frame["run_as_of"].astype(np.int64), unit="s", utc=True)
    return frame


@dataclass(frozen=True)
class StoredRunway:
    """The runway table of one stored forecast run."""

    as_of: datetime
    created_at: datetime
    rows: tuple[ForecastRow, ...]


def latest_runway(engine: Engine, before: datetime) -> StoredRunway | None:
    """The crossings of the latest run stored with an as-of strictly before ``before``."""
    run_id = _latest_run_before(engine, before, None)
    if run_id is None:
        return None
    t = _tables()
    crossings, series, runs = t["forecast_crossings"], t["series"], t["forecast_runs"]
    with engine.connect() as connection:
        as_of, created_at = connection.execute(
            select(runs.c.as_of, runs.c.created_at).where(runs.c.id == run_id)
        ).one()
        found = connection.execute(
            select(series.c.service, series.c.metric, crossings)
            .join(series, series.c.id == crossings.c.series_id)
            .where(crossings.c.run_id == run_id)
            .order_by(series.c.service, series.c.metric, crossings.c.level, crossings.c.scenario)
        ).mappings()

        def day(text: str | None) -> date | None:
            return None if text is None else date.fromisoformat(text)

        rows = tuple(
            ForecastRow(
                r["service"],
                r["metric"],
                r["level"],
                r["threshold"],
                r["duration_minutes"],
                r["scenario"],
                day(r["expected"]),
                day(r["earliest"]),
                day(r["latest"]),
                r["runway_days"],
                bool(r["already_exceeded"]),
            )
            for r in found
        )
    return StoredRunway(
        datetime.fromtimestamp(as_of, UTC), datetime.fromtimestamp(created_at, UTC), rows
    )

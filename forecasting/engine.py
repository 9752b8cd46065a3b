"""forecast_series: thresholds x scenarios -> crossing dates, for one series."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal

import numpy as np
import pandas as pd

from forecasting.core import (
    Simulated,
    fit_series,
    level_offset,
    rng_for,
    run_scenario,
)
from forecasting.crossing import PeriodCrossing, crossing_periods, widen
from forecasting.flat import flat_forecast
from forecasting.members import member_trends, member_weights
from forecasting.prepare import PeriodStat, Prepared, future_index, prepare
from forecasting.simulate import make_grid, quantiles
from forecasting.types import (
    Crossing,
    EnsembleOptions,
    ForecastCurve,
    ForecastScenario,
    ModelSettings,
    SeriesForecast,
    Threshold,
)
from forecasting.validation import select_settings


def forecast_series(
    history: pd.Series,
    *,
    thresholds: Sequence[Threshold],
    scenarios: Sequence[ForecastScenario],
    as_of: datetime,
    horizon_days: int = 1095,
    kind: Literal["load", "cumulative"] = "load",
    bounds: tuple[float, float] | None = (0.0, 100.0),
    seed: int = 0,
    settings: ModelSettings | None = None,
    period_stat: PeriodStat = "max",
    ensemble: EnsembleOptions | None = None,
) -> SeriesForecast:
    """Forecast when each threshold is first exceeded under each scenario.

    ``history`` is the series at its forecasting grain, normally the daily
    sustained peak for the thresholds' duration (the same series is used for
    every threshold given). Sub-daily input is aggregated to per-period maxima
    (last value for ``kind="cumulative"``). Only points strictly before
    ``as_of`` are used. ``settings=None`` selects settings by rolling-origin
    validation on the history; passing settings reuses them.

    Dates: ``expected`` is the median first-passage date over simulated paths
    (or the noise-free path's crossing, when validation chose the mean
    method); ``earliest``/``latest`` are the ``settings.interval`` quantiles
    (10 % / 90 %), for the organic scenario stretched on a log lead-time scale
    by ``settings.interval_widening`` (conformal, from held-out crossings).
    Paths that never cross count as beyond the horizon.

    The organic scenario combines members (``ensemble``, see
    ``forecasting.members``): Prophet's trend and simple ones, all carrying
    the same seasonality and noise. ``period_stat="mean"`` makes a report
    period's value the mean of its steps (a daily-mean threshold on sub-daily
    samples). A short history (fewer than 14 report periods; at least 6, or
    2 days of sub-daily samples, modelled hourly) is forecast with a widened
    interval and a note.
    """
    ensemble = ensemble or EnsembleOptions()
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be positive, got {horizon_days}")
    if not thresholds:
        raise ValueError("at least one threshold is needed")
    if not scenarios:
        raise ValueError("at least one scenario is needed")
    prep = prepare(history, as_of, kind, allow_constant=True, period_stat=period_stat)
    if prep.constant:
        return flat_forecast(prep, thresholds, scenarios, horizon_days, kind, bounds, settings)
    validation: dict[str, float] = {}
    if settings is None:
        settings, validation = select_settings(prep, kind, bounds, seed)
    future = future_index(prep, horizon_days)
    grid = make_grid(future, prep.as_of, prep.per_day)
    fit = fit_series(prep.y, prep.ds, future, settings, prep.step, bounds)
    as_of_day = prep.as_of.date()
    horizon_end = (prep.as_of + pd.Timedelta(days=horizon_days)).date()
    report_days = [d.date() for d in grid.report_dates]
    # Periods before as-of (a stale history) are simulated but not reported.
    first = int(
        np.searchsorted(
            np.array(report_days, dtype="datetime64[D]"), np.datetime64(as_of_day), side="left"
        )
    )
    crossings: list[Crossing] = []
    curves: list[ForecastCurve] = []
    notes: list[str] = []
    if prep.short:
        notes.append(
            f"short history: {_history_days(prep):g} days before as-of (fewer than 14 "
            f"periods), modelled at the {prep.grain} grain; the interval is widened"
        )
    widening = (
        settings.interval_widening
        * ensemble.widening
        * (ensemble.short_widening if prep.short else 1.0)
    )
    for sc in scenarios:
        members: dict[str, Simulated] = {}
        weights: dict[str, float] = {}
        combined = ensemble.members != ("prophet",) and (prep.short or ensemble.scope == "all")
        if sc.annual_growth is None and combined:
            trends = member_trends(
                fit, prep.step, ensemble.members, level_offset(fit, settings.level_window)
            )
            weights = member_weights(fit, prep.step, ensemble.members, ensemble.shrink)
            total = max(settings.n_paths, 100 * len(trends))
            for name, trend in trends.items():
                members[name] = run_scenario(
                    fit, grid, prep, settings, None, kind, bounds,
                    rng_for(seed, f"{sc.name}:{name}"),
                    n_paths=max(20, round(total * weights[name])), trend_fut=trend,
                )  # fmt: skip
            sim = Simulated(
                np.vstack([m.paths for m in members.values()]),
                np.median(np.vstack([m.mean for m in members.values()]), axis=0),
            )
        else:
            sim = run_scenario(
                fit, grid, prep, settings, sc.annual_growth, kind, bounds, rng_for(seed, sc.name)
            )
        paths = sim.paths[:, first:]
        days = report_days[first:]
        lo_q, hi_q = settings.interval
        qs = quantiles(paths, [0.5, lo_q, hi_q])
        curves.append(
            ForecastCurve(
                sc.name,
                tuple(days),
                tuple(float(v) for v in qs[0]),
                tuple(float(v) for v in qs[1]),
                tuple(float(v) for v in qs[2]),
            )
        )
        trimmed = Simulated(paths, sim.mean[first:])
        parts = [Simulated(m.paths[:, first:], m.mean[first:]) for m in members.values()]
        for th in thresholds:
            pc = crossing_periods(trimmed, th.value, settings.crossing_method, settings.interval)
            if parts and ensemble.combine == "median":
                pc = _median_of(parts, [weights[m] for m in members], pc, th.value, settings)
            if sc.annual_growth is None:
                pc = widen(pc, widening)
            crossings.append(_crossing(pc, th, sc, prep.current, days, as_of_day, horizon_end))
    return SeriesForecast(
        crossings=tuple(crossings),
        curves=tuple(curves),
        settings=settings,
        validation=validation,
        history_end=prep.ds[-1].to_pydatetime(),
        as_of=prep.as_of.to_pydatetime(),
        grain=prep.grain,
        horizon_end=horizon_end,
        notes=tuple(notes),
    )


def _history_days(prep: Prepared) -> float:
    return round(float((prep.as_of - prep.ds[0]) / pd.Timedelta(days=1)), 1)


def _median_of(
    parts: list[Simulated],
    weights: list[float],
    pooled: PeriodCrossing,
    threshold: float,
    settings: ModelSettings,
) -> PeriodCrossing:
    """The weighted median of the members' expected dates, inside the pooled interval."""
    dates = np.array(
        [
            crossing_periods(m, threshold, settings.crossing_method, settings.interval).expected
            for m in parts
        ]
    )
    order = np.argsort(dates)
    cum = np.cumsum(np.asarray(weights)[order])
    expected = float(dates[order][int(np.searchsorted(cum, 0.5 * cum[-1]))])
    return PeriodCrossing(expected, min(pooled.earliest, expected), max(pooled.latest, expected))


def _crossing(
    pc: PeriodCrossing,
    th: Threshold,
    sc: ForecastScenario,
    current: float,
    days: list[date],
    as_of_day: date,
    horizon_end: date,
) -> Crossing:
    if current > th.value:
        return Crossing.exceeded_now(sc.name, th.level, th.value, th.duration_minutes, as_of_day)

    def to_date(k: float) -> date | None:
        if not math.isfinite(k) or k >= len(days):
            return None
        d = days[int(k)]
        return d if d <= horizon_end else None

    expected = to_date(pc.expected)
    return Crossing(
        scenario=sc.name,
        level=th.level,
        threshold=th.value,
        duration_minutes=th.duration_minutes,
        expected=expected,
        earliest=to_date(pc.earliest),
        latest=to_date(pc.latest),
        runway_days=None if expected is None else max(0, (expected - as_of_day).days),
        already_exceeded=False,
    )

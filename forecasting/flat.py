"""Forecasts of a history with no variation at all.

Nothing can be fitted to a constant series, but the question still has an
answer: organically it stays where it is, and a growth scenario takes that
level up by (1 + g) ** years, so the crossing date is exact (earliest =
expected = latest). A constant cumulative series (disk that is not filling)
has no increments to grow and never crosses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Literal

from forecasting.prepare import Prepared
from forecasting.types import (
    Crossing,
    ForecastCurve,
    ForecastScenario,
    ModelSettings,
    SeriesForecast,
    Threshold,
)

DAYS_PER_YEAR = 365.25


def _days_to_cross(level: float, threshold: float, growth: float | None) -> int | None:
    """Whole days until the grown level first exceeds the threshold (None: never)."""
    if growth is None or growth <= 0 or level <= 0:
        return None
    years = math.log(threshold / level) / math.log1p(growth)
    # The first whole day on which the level is strictly above the threshold.
    return math.floor(years * DAYS_PER_YEAR) + 1


def flat_forecast(
    prep: Prepared,
    thresholds: Sequence[Threshold],
    scenarios: Sequence[ForecastScenario],
    horizon_days: int,
    kind: Literal["load", "cumulative"],
    bounds: tuple[float, float] | None,
    settings: ModelSettings | None,
) -> SeriesForecast:
    level = float(prep.y[-1])
    as_of_day = prep.as_of.date()
    horizon_end = as_of_day + timedelta(days=horizon_days)
    upper = bounds[1] if bounds is not None else math.inf
    days = tuple(as_of_day + timedelta(days=k) for k in range(1, horizon_days + 1))
    crossings: list[Crossing] = []
    curves: list[ForecastCurve] = []
    for scenario in scenarios:
        growth = None if kind == "cumulative" else scenario.annual_growth
        values = tuple(
            min(upper, level * (1 + (growth or 0.0)) ** (k / DAYS_PER_YEAR))
            for k in range(1, horizon_days + 1)
        )
        curves.append(ForecastCurve(scenario.name, days, values, values, values))
        for threshold in thresholds:
            crossings.append(_crossing(level, threshold, scenario, growth, as_of_day, horizon_end))
    return SeriesForecast(
        crossings=tuple(crossings),
        curves=tuple(curves),
        settings=settings or ModelSettings(),
        validation={},
        history_end=prep.ds[-1].to_pydatetime(),
        as_of=prep.as_of.to_pydatetime(),
        grain=prep.grain,
        horizon_end=horizon_end,
        notes=(
            f"the history is constant ({level:g}): no trend or noise to fit; the organic "
            "forecast stays flat and growth scenarios grow that level exactly",
        ),
    )


def _crossing(
    level: float,
    threshold: Threshold,
    scenario: ForecastScenario,
    growth: float | None,
    as_of_day: date,
    horizon_end: date,
) -> Crossing:
    if level > threshold.value:
        return Crossing.exceeded_now(
            scenario.name, threshold.level, threshold.value, threshold.duration_minutes, as_of_day
        )
    days = _days_to_cross(level, threshold.value, growth)
    when = None if days is None else as_of_day + timedelta(days=days)
    if when is not None and when > horizon_end:
        when = None
    return Crossing(
        scenario=scenario.name,
        level=threshold.level,
        threshold=threshold.value,
        duration_minutes=threshold.duration_minutes,
        expected=when,
        earliest=when,
        latest=when,
        runway_days=None if when is None else (when - as_of_day).days,
        already_exceeded=False,
    )

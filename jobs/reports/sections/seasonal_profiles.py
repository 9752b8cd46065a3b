"""Seasonal profiles: the hour-of-day and day-of-week shape of a metric, in UTC."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from jobs.reports.model import ProfileRow

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def seasonal_profile(service: str, metric: str, unit: str, hourly: pd.Series) -> ProfileRow | None:
    """Daily (hour of day) and weekly (day of week) profiles of hourly means, in UTC."""
    values = hourly.dropna()
    if len(values) < 48:
        return None
    index = pd.DatetimeIndex(values.index)
    by_hour = values.groupby(index.hour).mean().reindex(range(24))
    by_day = values.groupby(index.day_of_week).mean().reindex(range(7))
    hours = tuple(float(v) for v in by_hour.to_numpy())
    days = tuple(float(v) for v in by_day.to_numpy())
    finite_hours = [(v, h) for h, v in enumerate(hours) if math.isfinite(v)]
    peak_value, peak_hour = max(finite_hours)
    trough_value, trough_hour = min(finite_hours)
    finite_days = [(v, d) for d, v in enumerate(days) if math.isfinite(v)]
    busiest = max(finite_days)[1]
    weekday = np.nanmean(days[:5]) if any(math.isfinite(v) for v in days[:5]) else math.nan
    weekend = np.nanmean(days[5:]) if any(math.isfinite(v) for v in days[5:]) else math.nan
    swing = 100.0 * (peak_value / trough_value - 1.0) if trough_value > 0 else math.nan
    weekend_percent = (
        100.0 * (float(weekend) / float(weekday) - 1.0)
        if math.isfinite(weekday) and math.isfinite(weekend) and weekday > 0
        else math.nan
    )
    return ProfileRow(
        service,
        metric,
        unit,
        hours,
        days,
        peak_hour,
        trough_hour,
        swing,
        busiest,
        weekend_percent,
    )

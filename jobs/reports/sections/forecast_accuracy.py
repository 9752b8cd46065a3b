"""Forecast accuracy: earlier projections against the peaks that happened."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from jobs.forecast.fleet import ForecastRow
from jobs.reports.model import AccuracyRow, CrossingCheck


def accuracy_rows(
    projection: pd.DataFrame,
    actual: Mapping[tuple[str, str, int], pd.Series],
    scenario: str,
) -> tuple[AccuracyRow, ...]:
    """Previous projections against the daily sustained peaks that happened.

    ``projection`` is ``stored_projection``'s frame restricted to the period;
    ``actual`` the daily sustained peaks per (service, metric, duration).
    """
    rows: list[AccuracyRow] = []
    if projection.empty:
        return ()
    frame = projection[projection["scenario"].isin([scenario, "organic"])]
    keys = sorted(
        {
            (str(s), str(m), int(d))
            for s, m, d in frame[["service", "metric", "duration_minutes"]].itertuples(index=False)
        }
    )
    for service, metric, duration in keys:
        part = frame[
            (frame["service"] == service)
            & (frame["metric"] == metric)
            & (frame["duration_minutes"] == duration)
        ]
        chosen = scenario if (part["scenario"] == scenario).any() else "organic"
        part = part[part["scenario"] == chosen].sort_values("day")
        peaks = actual.get((service, metric, duration))
        if peaks is None or peaks.empty:
            continue
        days = pd.DatetimeIndex(part["day"]).normalize()
        matched = peaks.reindex(days)
        ok = matched.notna().to_numpy()
        if not ok.any():
            continue
        median = part["median"].to_numpy()[ok]
        lower = part["lower"].to_numpy()[ok]
        upper = part["upper"].to_numpy()[ok]
        seen = matched.to_numpy()[ok]
        projected = float(np.mean(median))
        observed = float(np.mean(seen))
        error = 100.0 * (observed - projected) / projected if projected else math.nan
        inside = int(np.sum((seen >= lower) & (seen <= upper)))
        rows.append(
            AccuracyRow(
                service,
                metric,
                chosen,
                int(ok.sum()),
                projected,
                observed,
                error,
                inside,
                _growth(median[0], median[-1]) if len(median) > 1 else None,
                _growth(seen[0], seen[-1]) if len(seen) > 1 else None,
                float(np.max(part["median"].to_numpy())),
                float(peaks.max()),
                duration,
            )
        )
    return tuple(rows)


def crossing_checks(
    runway: Sequence[ForecastRow],
    actual: Mapping[tuple[str, str, int], pd.Series],
    start: date,
    end: date,
    scenario: str,
) -> tuple[CrossingCheck, ...]:
    """Crossings forecast for [start, end) or seen in it, under ``scenario`` (else organic).

    A threshold already exceeded when the forecast was made is left out: there
    was no crossing left to forecast.
    """
    has_planning = {(r.service, r.metric) for r in runway if r.scenario == scenario}
    checks = []
    for row in runway:
        wanted = scenario if (row.service, row.metric) in has_planning else "organic"
        if row.scenario != wanted or row.already_exceeded:
            continue
        peaks = actual.get((row.service, row.metric, row.duration_minutes))
        crossed = None
        if peaks is not None and not peaks.empty:
            over = peaks[peaks > row.threshold]
            crossed = over.index[0].date() if not over.empty else None
        forecast_inside = row.expected is not None and start <= row.expected < end
        if crossed is None and not forecast_inside:
            continue
        checks.append(
            CrossingCheck(
                row.service,
                row.metric,
                row.level,
                row.threshold,
                row.scenario,
                row.expected,
                crossed,
            )
        )
    return tuple(checks)


def _growth(first: float, last: float) -> float | None:
    return 100.0 * (last / first - 1.0) if first else None

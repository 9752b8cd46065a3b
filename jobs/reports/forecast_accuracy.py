"""Forecast accuracy: earlier projections against the peaks that happened."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from jobs.reports.model import AccuracyRow


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
            )
        )
    return tuple(rows)


def _growth(first: float, last: float) -> float | None:
    return 100.0 * (last / first - 1.0) if first else None

"""Threshold review: how often and how long a sustained peak went over a threshold."""

from __future__ import annotations

import math

import pandas as pd

from jobs.reports.model import ThresholdReviewRow


def threshold_review_row(
    service: str,
    metric: str,
    unit: str,
    level: str,
    threshold: float,
    duration: int,
    hourly_peaks: pd.Series,
) -> ThresholdReviewRow:
    """Hours whose sustained ``duration``-minute peak went over, and breaches (runs of them)."""
    values = hourly_peaks.dropna()
    over = (values > threshold).to_numpy()
    index = pd.DatetimeIndex(values.index)
    breaches = 0
    longest = 0
    run = 0
    previous: pd.Timestamp | None = None
    for stamp, flag in zip(index, over, strict=True):
        contiguous = previous is not None and stamp - previous == pd.Timedelta(hours=1)
        if flag:
            run = run + 1 if (contiguous and run > 0) else 1
            if run == 1:
                breaches += 1
            longest = max(longest, run)
        else:
            run = 0
        previous = stamp
    return ThresholdReviewRow(
        service,
        metric,
        unit,
        level,
        threshold,
        duration,
        len(values),
        int(over.sum()),
        breaches,
        longest,
        float(values.max()) if len(values) else math.nan,
    )

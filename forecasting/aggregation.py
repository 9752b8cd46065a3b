"""Sustained-peak aggregation and rollups of raw samples.

A threshold "X % for D minutes" is crossed when the rolling D-minute mean
exceeds X, so the series to forecast is the per-period maximum of that rolling
mean (the *sustained peak*), not the period average.

Mergeability: mean (weighted by count), max and count of a day can be derived
from its hourly rows; p95 and the sustained peak cannot be derived exactly. A
D-minute window that straddles an hour boundary belongs to neither hour alone,
so the max of hourly sustained peaks can be *lower* than the daily one. The
store therefore recomputes the affected days from raw samples (cheap: every
function here is vectorised); the max of hourly sustained peaks is only a lower
bound of the daily value.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from forecasting.errors import IrregularSeriesError


def _clean(samples: pd.Series) -> pd.Series:
    if not isinstance(samples.index, pd.DatetimeIndex):
        raise IrregularSeriesError("samples must be indexed by a DatetimeIndex")
    s = pd.to_numeric(samples, errors="coerce").astype("float64")
    s = s[s.notna()]
    if not s.index.is_monotonic_increasing:
        s = s.sort_index(kind="stable")
    if s.index.has_duplicates:
        # Re-ingested samples share a timestamp; the last write wins, as in the store.
        s = s[~s.index.duplicated(keep="last")]
    return s


def _rolling_mean(s: pd.Series, duration_minutes: int) -> pd.Series:
    if duration_minutes <= 0:
        raise ValueError(f"duration_minutes must be positive, got {duration_minutes}")
    # Time-based window (t - D, t]: with irregular or gappy samples it averages
    # whatever was observed in the last D minutes; a window shorter than the
    # sampling interval holds one sample, so the peak becomes the sample max.
    return s.rolling(pd.Timedelta(minutes=duration_minutes)).mean()


def sustained_peak(samples: pd.Series, duration_minutes: int, freq: str = "1D") -> pd.Series:
    """Per-period max of the rolling ``duration_minutes`` mean.

    ``samples`` is indexed by a (normally tz-aware UTC) DatetimeIndex; it may be
    irregular, unsorted, have gaps, duplicates (last wins) and NaN (ignored).
    The result is indexed by period start; periods without samples are omitted.
    A window is attributed to the period containing its end.
    """
    s = _clean(samples)
    if s.empty:
        return pd.Series([], index=s.index[:0], dtype="float64", name=samples.name)
    peak: pd.Series = _rolling_mean(s, duration_minutes).resample(freq).max()
    peak = peak[peak.notna()]
    peak.name = samples.name
    return peak


def rollup(samples: pd.Series, freq: str, durations: Sequence[int]) -> pd.DataFrame:
    """One row per period start with mean, max, p95, count and ``sustained_<D>m``."""
    s = _clean(samples)
    r = s.resample(freq)
    out = pd.DataFrame(
        {
            "mean": r.mean(),
            "max": r.max(),
            "p95": r.quantile(0.95),
            "count": r.count().astype("int64"),
        }
    )
    for d in durations:
        out[f"sustained_{int(d)}m"] = _rolling_mean(s, int(d)).resample(freq).max()
    return out[out["count"] > 0]

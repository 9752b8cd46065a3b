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

Reproducibility: the same samples must give the same bits whichever slice of
the history a caller holds (one ingest or many, a backfill, a re-read), so no
value here depends on where the input starts. A running sum (pandas' rolling
mean) carries rounding from the first sample on; instead sums restart at every
multiple of the window counted from the epoch, and groups are formed on
integer bucket keys (work grows with the samples, not with the time they span).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from forecasting.errors import IrregularSeriesError

NANOSECONDS_PER_MINUTE = 60 * 10**9


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


def _block_cumsum(values: np.ndarray, block: np.ndarray) -> np.ndarray:
    # A sequential sum per block: each value depends on its block's samples only.
    return np.asarray(pd.Series(values).groupby(block, sort=False).cumsum(), dtype=np.float64)


def window_means(ts: np.ndarray, values: np.ndarray, window: int) -> np.ndarray:
    """For each sample t, the mean of the samples in (t - window, t].

    ``ts`` holds sorted, distinct integer instants (any unit, ``window`` in the
    same unit, positive). The window ending at t lies within two blocks of
    width ``window`` anchored at the epoch: it is the tail of the previous
    block plus the head of t's own block, both summed within their block, so
    the result depends only on the samples of those two blocks.
    """
    if window <= 0:
        raise ValueError(f"window must be positive, got {window}")
    n = len(ts)
    if n == 0:
        return np.empty(0, dtype=np.float64)
    ts = np.asarray(ts, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    block = ts // window
    starts_block = np.empty(n, dtype=bool)
    starts_block[0] = True
    starts_block[1:] = block[1:] != block[:-1]
    block_number = np.cumsum(starts_block) - 1
    block_start = np.flatnonzero(starts_block)[block_number]
    head = _block_cumsum(values, block_number)
    tail = _block_cumsum(values[::-1], block_number[::-1])[::-1]
    first = np.searchsorted(ts, ts - window, side="right")
    within = first >= block_start
    before = np.where(first > block_start, head[np.maximum(first - 1, 0)], 0.0)
    sums = np.where(within, head - before, tail[first] + head)
    means: np.ndarray = sums / (np.arange(n) - first + 1)
    return means


def rollup_epochs(
    ts: np.ndarray,
    values: np.ndarray,
    width: int,
    window_values: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """mean, max, p95, count (and the max of each ``window_values`` column) per bucket.

    ``ts`` are sorted distinct integer instants, buckets are ``width`` wide from
    the epoch; the index holds the start of every bucket that has samples.
    """
    keys = np.asarray(ts, dtype=np.int64) // width * width
    grouped = pd.Series(np.asarray(values, dtype=np.float64)).groupby(keys, sort=True)
    out = pd.DataFrame(
        {
            "mean": grouped.mean(),
            "max": grouped.max(),
            "p95": grouped.quantile(0.95),
            "count": grouped.count().astype("int64"),
        }
    )
    for name, column in (window_values or {}).items():
        out[name] = pd.Series(column).groupby(keys, sort=True).max()
    return out


def _epochs(s: pd.Series) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(s.index).as_unit("ns").asi8, dtype=np.int64)


def _period_index(keys: pd.Index, like: pd.Series) -> pd.DatetimeIndex:
    index = pd.to_datetime(np.asarray(keys, dtype=np.int64), unit="ns", utc=True)
    tz = pd.DatetimeIndex(like.index).tz
    return index.tz_convert(tz) if tz is not None else index.tz_localize(None)


def _width(freq: str) -> int:
    return int(pd.Timedelta(freq).value)


def _window(duration_minutes: int) -> int:
    if duration_minutes <= 0:
        raise ValueError(f"duration_minutes must be positive, got {duration_minutes}")
    return int(duration_minutes) * NANOSECONDS_PER_MINUTE


def sustained_peak(samples: pd.Series, duration_minutes: int, freq: str = "1D") -> pd.Series:
    """Per-period max of the rolling ``duration_minutes`` mean.

    ``samples`` is indexed by a (normally tz-aware UTC) DatetimeIndex; it may be
    irregular, unsorted, have gaps, duplicates (last wins) and NaN (ignored).
    The result is indexed by period start (periods of a fixed ``freq`` counted
    from the epoch); periods without samples are omitted. A window is attributed
    to the period containing its end; a window holds the samples in (t - D, t].
    """
    window = _window(duration_minutes)
    s = _clean(samples)
    if s.empty:
        return pd.Series([], index=s.index[:0], dtype="float64", name=samples.name)
    ts = _epochs(s)
    means = window_means(ts, s.to_numpy(), window)
    keys = ts // _width(freq) * _width(freq)
    peak = pd.Series(means).groupby(keys, sort=True).max()
    return pd.Series(peak.to_numpy(), index=_period_index(peak.index, s), name=samples.name)


def rollup(samples: pd.Series, freq: str, durations: Sequence[int]) -> pd.DataFrame:
    """One row per period start with mean, max, p95, count and ``sustained_<D>m``."""
    s = _clean(samples)
    ts = _epochs(s)
    values = s.to_numpy()
    windows = {f"sustained_{int(d)}m": window_means(ts, values, _window(int(d))) for d in durations}
    out = rollup_epochs(ts, values, _width(freq), windows)
    out.index = _period_index(out.index, s)
    return out

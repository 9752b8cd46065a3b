"""Turn a caller's history into a regular series at the forecasting grain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd

from forecasting.errors import (
    AllMissingError,
    AsOfBeforeDataError,
    ConstantSeriesError,
    InsufficientHistoryError,
    IrregularSeriesError,
)

DAY = pd.Timedelta(days=1)
PeriodStat = Literal["max", "mean"]
# Below MIN_POINTS report periods a history is "short": it is still forecast
# (from SHORT_MIN_POINTS points, or MIN_SUBDAILY_SPAN of sub-daily samples
# modelled hourly) but with a wider interval and a note saying so.
MIN_POINTS = 14
SHORT_MIN_POINTS = 6
MIN_SUBDAILY_SPAN = pd.Timedelta(days=2)
# Below this span sub-daily input is kept at an hourly-ish grain, where the
# extra points carry information; above it daily peaks are enough and cheaper.
SHORT_SPAN = pd.Timedelta(days=60)


@dataclass(frozen=True)
class Prepared:
    y: np.ndarray
    ds: pd.DatetimeIndex  # UTC
    step: pd.Timedelta  # nominal step of the grain (months: 30.44 days)
    grain: str  # "1h", "2h", ..., "1D", "7D", "1MS", ...
    monthly: bool
    per_day: bool  # grain finer than a day: report periods are days
    as_of: pd.Timestamp
    current: float  # latest report-period value (for "already exceeded")
    constant: bool = False  # no variation at all: only growth scenarios can move it
    period_stat: PeriodStat = "max"  # how a report period summarises its steps
    short: bool = False  # fewer than MIN_POINTS report periods of history


def to_utc(ts: datetime | pd.Timestamp | str) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def prepare(
    history: pd.Series,
    as_of: datetime | pd.Timestamp,
    kind: Literal["load", "cumulative"],
    *,
    allow_constant: bool = False,
    period_stat: PeriodStat = "max",
) -> Prepared:
    """The history before ``as_of`` at its forecasting grain.

    ``period_stat``: whether a report period's value is the max of its
    samples (sustained peaks, the default) or their mean (a daily-mean
    threshold); cumulative series always take the last value.
    """
    cutoff = to_utc(as_of)
    s = _clean(history)
    if s.index[0] >= cutoff:
        raise AsOfBeforeDataError(cutoff.isoformat(), s.index[0].isoformat())
    s = s[s.index < cutoff]
    # Index resolution varies (pandas may use s, ms, us or ns): go through ns.
    utc_index = pd.DatetimeIndex(s.index)
    diffs = np.diff(utc_index.tz_convert(None).to_numpy().astype("datetime64[ns]").astype("int64"))
    if diffs.size == 0:
        raise InsufficientHistoryError(SHORT_MIN_POINTS, 1, "points")
    step = pd.Timedelta(int(np.median(diffs)), unit="ns")
    agg = "last" if kind == "cumulative" else period_stat
    monthly = False
    per_day = False
    if step < DAY:
        span = s.index[-1] - s.index[0]
        if span < MIN_SUBDAILY_SPAN:
            raise InsufficientHistoryError(
                int(MIN_SUBDAILY_SPAN / DAY), round(span / DAY, 1), "days of sub-daily samples"
            )
        if span < SHORT_SPAN:
            hours = next(h for h in (1, 2, 3, 4, 6, 8, 12) if pd.Timedelta(hours=h) >= step)
            grain = f"{hours}h"
            per_day = True
        else:
            grain = "1D"
        width = pd.Timedelta(grain)
        r = s.resample(grain).agg(agg)
        r = r[r.notna()]
        # A bin that as-of cuts short holds part of a period: its max is biased low.
        r_idx = pd.DatetimeIndex(r.index)
        if r_idx[-1] + width > cutoff and len(r) > 1:
            r = r[r_idx + width <= cutoff]
        step = width
        s = r
    elif step < pd.Timedelta(days=5):
        grain, step = "1D", DAY
        s = s.groupby(pd.DatetimeIndex(s.index).floor("1D")).agg(agg)
    elif step < pd.Timedelta(days=25):
        grain = f"{max(1, round(step / DAY))}D"
        step = pd.Timedelta(grain)
    else:
        months = max(1, round(step / pd.Timedelta(days=30.44)))
        grain, monthly = f"{months}MS", True
        step = pd.Timedelta(days=30.44 * months)
    if len(s) < SHORT_MIN_POINTS:
        raise InsufficientHistoryError(
            SHORT_MIN_POINTS,
            len(s),
            f"points at the {grain} grain",
            f"{int(MIN_SUBDAILY_SPAN / DAY)} days of sub-daily samples",
        )
    y = s.to_numpy(dtype="float64")
    constant = float(np.nanmax(y) - np.nanmin(y)) <= 1e-12 * max(1.0, abs(float(y[0])))
    if constant and not allow_constant:
        raise ConstantSeriesError(float(y[0]))
    ds = pd.DatetimeIndex(s.index)
    if per_day:
        last_day = ds[-1].floor("1D")
        today = y[ds.floor("1D") == last_day]
        current = float(today.mean() if agg == "mean" else today.max())
        periods = len(np.unique(ds.floor("1D")))
    else:
        current = float(y[-1])
        periods = len(y)
    stat: PeriodStat = "mean" if agg == "mean" else "max"
    short = periods < MIN_POINTS
    return Prepared(y, ds, step, grain, monthly, per_day, cutoff, current, constant, stat, short)


def future_index(p: Prepared, horizon_days: int) -> pd.DatetimeIndex:
    """Future steps after the last observation up to as-of + horizon."""
    end = p.as_of + pd.Timedelta(days=horizon_days)
    last = p.ds[-1]
    if p.monthly:
        months = int(p.grain[:-2])
        n = int((end - last) / pd.Timedelta(days=30.44 * months)) + 1
        idx = pd.DatetimeIndex([last + pd.DateOffset(months=months * k) for k in range(1, n + 1)])
    else:
        idx = pd.date_range(last + p.step, end, freq=p.step)
    idx = idx[idx <= end]
    if len(idx) < 2:
        idx = pd.DatetimeIndex([last + p.step, last + 2 * p.step])
    return idx


def _clean(history: pd.Series) -> pd.Series:
    if not isinstance(history, pd.Series):
        raise IrregularSeriesError("history must be a pandas Series indexed by time")
    idx = history.index
    if not isinstance(idx, pd.DatetimeIndex):
        try:
            idx = pd.DatetimeIndex(pd.to_datetime(idx, utc=True))
        except (ValueError, TypeError) as exc:
            raise IrregularSeriesError(f"history index is not parseable as time: {exc}") from exc
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    values = pd.to_numeric(pd.Series(history.to_numpy(), index=idx), errors="coerce")
    s = values.astype("float64")
    s = s[np.isfinite(s.to_numpy())]
    if s.empty:
        raise AllMissingError("history has no numeric values (empty or all missing)")
    s = s.sort_index(kind="stable")
    if s.index.has_duplicates:
        s = s[~s.index.duplicated(keep="last")]
    return s

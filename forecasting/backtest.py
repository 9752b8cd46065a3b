"""Rolling-origin backtest of crossing dates against two baselines.

For each cutoff the history is everything strictly before it; thresholds are
set at quantiles of the *future* values that lie above the recent peak, so
the actual series does cross them, and the actual first-passage date is
known. The engine's organic expected date (with its earliest/latest interval)
is compared with Prometheus-style ``predict_linear`` and default Prophet,
all fitted on the same aggregated series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from forecasting.baselines import predict_linear_crossing, prophet_default_crossing
from forecasting.core import level_window_steps
from forecasting.engine import forecast_series
from forecasting.errors import ForecastInputError
from forecasting.prepare import MIN_POINTS, prepare
from forecasting.types import ForecastScenario, Threshold

METHODS = ("capplan", "predict_linear", "prophet_default")


@dataclass(frozen=True)
class BacktestRow:
    series: str
    cutoff: date
    threshold: float
    method: str
    actual: date
    predicted: date | None  # None: not within the horizon
    lead_days: int
    error_days: int
    rel_error: float
    covered: bool | None  # only the engine has an interval
    earliest: date | None = None  # the engine's interval (None for baselines)
    latest: date | None = None


def backtest_series(
    series: pd.Series,
    *,
    name: str,
    cutoff_fractions: Sequence[float] = (0.5, 0.65, 0.8),
    threshold_quantiles: Sequence[float] = (0.5, 0.9),
    kind: Literal["load", "cumulative"] = "load",
    bounds: tuple[float, float] | None = (0.0, 100.0),
    horizon_factor: float = 3.0,
    seed: int = 0,
) -> list[BacktestRow]:
    """Backtest rows for one series (any regular frequency)."""
    end = series.index.max() + pd.Timedelta(seconds=1)
    full = prepare(series, end, kind)
    y, ds = full.y, full.ds
    rows: list[BacktestRow] = []
    for frac in cutoff_fractions:
        c = int(len(y) * frac)
        if c < MIN_POINTS or c >= len(y) - 2:
            continue
        as_of = ds[c]
        recent = float(np.max(y[max(0, c - level_window_steps(full)) : c]))
        fut_y, fut_ds = y[c:], ds[c:]
        thresholds = sorted({float(np.quantile(fut_y, q)) for q in threshold_quantiles} - {recent})
        thresholds = [t for t in thresholds if t > recent and np.any(fut_y > t)]
        if not thresholds:
            continue
        span_days = max(1, int(np.ceil((ds[-1] - as_of) / pd.Timedelta(days=1))))
        horizon = max(7, int(horizon_factor * span_days))
        horizon_end = (as_of + pd.Timedelta(days=horizon)).date()
        try:
            fc = forecast_series(
                series[series.index < as_of],
                thresholds=[Threshold(f"q{i}", t, 0) for i, t in enumerate(thresholds)],
                scenarios=[ForecastScenario("organic", None)],
                as_of=as_of.to_pydatetime(),
                horizon_days=horizon,
                kind=kind,
                bounds=bounds,
                seed=seed,
            )
        except ForecastInputError:
            continue
        hist_y, hist_ds = y[:c], ds[:c]
        step = full.step
        n_future = int(pd.Timedelta(days=horizon) / step) + 1
        future = pd.date_range(hist_ds[-1] + step, periods=n_future, freq=step)
        for i, thr in enumerate(thresholds):
            actual = fut_ds[np.flatnonzero(fut_y > thr)[0]].date()
            lead = max(1, (actual - as_of.date()).days)
            cr = next(x for x in fc.crossings if x.level == f"q{i}")
            covered = (
                cr.earliest is not None
                and cr.earliest <= actual
                and (cr.latest is None or actual <= cr.latest)
            )
            preds = {
                "capplan": cr.expected,
                "predict_linear": _date(
                    future, predict_linear_crossing(hist_y, hist_ds, future, thr)
                ),
                "prophet_default": _date(
                    future, prophet_default_crossing(hist_y, hist_ds, future, thr)
                ),
            }
            for method, pred in preds.items():
                eff = pred if pred is not None else horizon_end
                err = abs((eff - actual).days)
                rows.append(
                    BacktestRow(
                        series=name,
                        cutoff=as_of.date(),
                        threshold=thr,
                        method=method,
                        actual=actual,
                        predicted=pred,
                        lead_days=lead,
                        error_days=err,
                        rel_error=err / lead,
                        covered=bool(covered) if method == "capplan" else None,
                        earliest=cr.earliest if method == "capplan" else None,
                        latest=cr.latest if method == "capplan" else None,
                    )
                )
    return rows


def to_frame(rows: Sequence[BacktestRow]) -> pd.DataFrame:
    return pd.DataFrame([asdict(r) for r in rows])


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per method: events, median |error| in days, median relative error, coverage."""
    g = df.groupby("method", sort=False)
    out = pd.DataFrame(
        {
            "events": g.size(),
            "median_abs_error_days": g["error_days"].median(),
            "median_rel_error": g["rel_error"].median(),
            "mean_rel_error": g["rel_error"].mean(),
        }
    )
    cov = df[df["method"] == "capplan"]["covered"].astype(bool)
    out["interval_coverage"] = np.nan
    if len(cov):
        out.loc["capplan", "interval_coverage"] = float(cov.mean())
    return out


def _date(future: pd.DatetimeIndex, k: int | None) -> date | None:
    return None if k is None else future[k].date()

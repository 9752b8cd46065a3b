"""Reference forecasts the engine is measured against in backtests."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from forecasting import model  # noqa: F401  (imports Prophet with logging silenced)
from forecasting.model import Prophet


def predict_linear_crossing(
    y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, threshold: float
) -> int | None:
    """Prometheus ``predict_linear``: least squares on the last 30 % of history.

    Returns the index into ``future`` of the first step above ``threshold``.
    """
    n = len(y)
    k = max(2, int(np.ceil(0.3 * n)))
    t = (ds[-k:] - ds[-1]) / pd.Timedelta(days=1)
    slope, intercept = np.polyfit(np.asarray(t, dtype="float64"), y[-k:], 1)
    tf = np.asarray((future - ds[-1]) / pd.Timedelta(days=1), dtype="float64")
    return _first(intercept + slope * tf, threshold)


def prophet_default_crossing(
    y: np.ndarray, ds: pd.DatetimeIndex, future: pd.DatetimeIndex, threshold: float
) -> int | None:
    """Prophet with default settings; crossing of its mean forecast (yhat)."""
    naive = ds.tz_localize(None) if ds.tz is not None else ds
    naive_f = future.tz_localize(None) if future.tz is not None else future
    m = Prophet(uncertainty_samples=0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"prophet(\.|$)")
        logging.getLogger("cmdstanpy").setLevel(logging.CRITICAL)
        m.fit(pd.DataFrame({"ds": naive, "y": y}))
        yhat = m.predict(pd.DataFrame({"ds": naive_f}))["yhat"].to_numpy(dtype="float64")
    return _first(yhat, threshold)


def _first(values: np.ndarray, threshold: float) -> int | None:
    idx = np.flatnonzero(values > threshold)
    return int(idx[0]) if idx.size else None

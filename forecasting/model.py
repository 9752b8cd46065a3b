"""Prophet fitting, reduced to the arrays the simulator needs.

Prophet is used for its decomposition only (``uncertainty_samples=0``); the
uncertainty comes from our own vectorised simulation, which is much cheaper
than Prophet's per-sample predictive draws and can be calibrated.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.types import ModelSettings

# Prophet logs an error at import when plotly is missing and cmdstanpy logs
# every chain start/stop; a batch job must stay quiet.
logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)

from prophet import Prophet  # noqa: E402


def _silence() -> None:
    import cmdstanpy

    cmdstanpy.utils.get_logger()  # installs its handler once; then we lower it
    # Failed L-BFGS runs are retried by Prophet with Newton; the retry is not
    # news for a batch job, so even those messages stay off stderr.
    logging.getLogger("cmdstanpy").setLevel(logging.CRITICAL)
    logging.getLogger("prophet").setLevel(logging.ERROR)
    logging.getLogger("prophet.models").setLevel(logging.ERROR)


_silence()

__all__ = ["Fit", "Prophet", "fit", "seasonalities"]

DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Fit:
    """A fitted decomposition in transformed space, history then future."""

    trend_hist: np.ndarray
    add_hist: np.ndarray
    mult_hist: np.ndarray
    trend_fut: np.ndarray
    add_fut: np.ndarray
    mult_fut: np.ndarray
    residuals: np.ndarray
    # Future trend changes: probability of a changepoint per step and the
    # Laplace scale of the slope change, in transformed units per step.
    cp_prob: float
    cp_scale: float

    @property
    def fitted_hist(self) -> np.ndarray:
        return np.asarray(self.trend_hist * (1.0 + self.mult_hist) + self.add_hist)

    @property
    def mean_fut(self) -> np.ndarray:
        return np.asarray(self.trend_fut * (1.0 + self.mult_fut) + self.add_fut)


def seasonalities(step: pd.Timedelta, span: pd.Timedelta) -> list[tuple[str, float, int]]:
    """Seasonal components the data can identify: (name, period in days, Fourier order)."""
    out: list[tuple[str, float, int]] = []
    if step < DAY and span >= 2 * DAY:
        out.append(("daily", 1.0, 4))
    if step <= DAY and span >= 14 * DAY:
        out.append(("weekly", 7.0, 3))
    if step <= 31 * DAY and span >= 730 * DAY:
        out.append(("yearly", 365.25, 10 if step <= 7 * DAY else 4))
    return out


def fit(
    z: np.ndarray,
    ds: pd.DatetimeIndex,
    future_ds: pd.DatetimeIndex,
    settings: ModelSettings,
    step: pd.Timedelta,
) -> Fit:
    """Fit Prophet to ``z`` (already transformed) and evaluate it on history and future."""
    span = ds[-1] - ds[0]
    m = Prophet(
        growth="linear",
        seasonality_mode=settings.seasonality_mode,
        changepoint_prior_scale=settings.changepoint_prior_scale,
        changepoint_range=settings.changepoint_range,
        n_changepoints=int(min(25, max(0, len(z) // 4))),
        yearly_seasonality=False,
        weekly_seasonality=False,
        daily_seasonality=False,
        uncertainty_samples=0,
    )
    for name, period, order in seasonalities(step, span):
        m.add_seasonality(name=name, period=period, fourier_order=order)
    naive_ds = ds.tz_localize(None) if ds.tz is not None else ds
    naive_fut = future_ds.tz_localize(None) if future_ds.tz is not None else future_ds
    hist = pd.DataFrame({"ds": naive_ds, "y": z})
    with warnings.catch_warnings():
        # Prophet itself triggers pandas deprecation warnings; ours are fixed.
        warnings.filterwarnings("ignore", module=r"prophet(\.|$)")
        m.fit(hist, algorithm="LBFGS")
        pred = m.predict(pd.DataFrame({"ds": naive_ds.append(naive_fut)}))
    n = len(z)
    trend = pred["trend"].to_numpy(dtype="float64")
    add = pred["additive_terms"].to_numpy(dtype="float64")
    mult = pred["multiplicative_terms"].to_numpy(dtype="float64")
    fitted = trend[:n] * (1.0 + mult[:n]) + add[:n]
    deltas = np.asarray(m.params["delta"], dtype="float64").ravel()
    t_scale = float(m.t_scale.total_seconds()) if m.t_scale is not None else 1.0
    step_frac = step.total_seconds() / max(t_scale, 1.0)
    n_cp = len(m.changepoints_t) if m.changepoints_t is not None else 0
    lam = float(np.mean(np.abs(deltas))) if deltas.size else 0.0
    return Fit(
        trend_hist=trend[:n],
        add_hist=add[:n],
        mult_hist=mult[:n],
        trend_fut=trend[n:],
        add_fut=add[n:],
        mult_fut=mult[n:],
        residuals=z - fitted,
        cp_prob=min(1.0, n_cp * step_frac),
        cp_scale=lam * float(m.y_scale or 1.0) * step_frac,
    )

"""Prophet fitting, reduced to the arrays the simulator needs.

Prophet is used for its decomposition only (``uncertainty_samples=0``); the
uncertainty comes from our own vectorised simulation, which is much cheaper
than Prophet's per-sample predictive draws and can be calibrated.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import ModelFitError
from forecasting.prophet_import import install_lazy_plot
from forecasting.types import ModelSettings

# Prophet logs an error at import when plotly is missing and cmdstanpy logs
# every chain start/stop; a batch job must stay quiet.
logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
install_lazy_plot()  # matplotlib is not loaded for Prophet's plots until one is drawn

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

__all__ = ["Fit", "Prophet", "components", "fit", "seasonalities"]

DAY = pd.Timedelta(days=1)
# cmdstan's relative-gradient stopping rule for held-out fits (default 1e7).
QUICK_TOLERANCE = {"tol_rel_grad": 1e9}


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
    # Prophet's MAP parameters (scaled units): a starting point for refitting
    # the same data with other settings.
    params: dict[str, np.ndarray] | None = field(default=None, compare=False, repr=False)

    @property
    def fitted_hist(self) -> np.ndarray:
        return np.asarray(self.trend_hist * (1.0 + self.mult_hist) + self.add_hist)

    @property
    def mean_fut(self) -> np.ndarray:
        return np.asarray(self.trend_fut * (1.0 + self.mult_fut) + self.add_fut)


# Yearly seasonality from one year of history: most crossings of long
# capacity-like series come at a seasonal peak (a hot summer, a cold winter),
# so the simulated paths must carry it as soon as one cycle has been seen.
YEARLY_MIN_SPAN = pd.Timedelta(days=365)


def seasonalities(step: pd.Timedelta, span: pd.Timedelta) -> list[tuple[str, float, int]]:
    """Seasonal components the data can identify: (name, period in days, Fourier order)."""
    out: list[tuple[str, float, int]] = []
    if step < DAY and span >= 2 * DAY:
        out.append(("daily", 1.0, 4))
    if step <= DAY and span >= 14 * DAY:
        out.append(("weekly", 7.0, 3))
    if step <= 31 * DAY and span >= YEARLY_MIN_SPAN:
        out.append(("yearly", 365.25, 10 if step <= 7 * DAY else 4))
    return out


class _Prophet(Prophet):
    """Prophet with numpy shortcuts for its feature bookkeeping.

    ``regressor_column_matrix`` builds a pandas crosstab on every fit and
    ``fourier_series`` goes through pandas timedeltas; for the models built
    here (Fourier seasonalities, no holidays or regressors) both are a few
    numpy operations with the same result.
    """

    @staticmethod
    def fourier_series(dates: pd.Series, period: float, series_order: int) -> np.ndarray:
        if not series_order >= 1:
            raise ValueError("series_order must be >= 1")
        ns = np.asarray(dates.to_numpy(dtype="datetime64[ns]").astype("int64"), dtype="float64")
        return _fourier(ns / 86_400e9, period, series_order)

    def regressor_column_matrix(  # type: ignore[override]
        self, seasonal_features: pd.DataFrame, modes: dict[str, list[str]]
    ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
        if self.train_holiday_names is not None or self.extra_regressors:
            return super().regressor_column_matrix(seasonal_features, modes)  # type: ignore[arg-type,return-value]
        names = [str(c).split("_delim_")[0] for c in seasonal_features.columns]
        arr = np.array(names)
        cols: dict[str, np.ndarray] = {n: (arr == n).astype("int64") for n in set(names)}
        for mode in ("additive", "multiplicative"):
            member = np.isin(arr, modes[mode])
            if member.any():
                cols[mode + "_terms"] = member.astype("int64")
            modes[mode].append(mode + "_terms")
            modes[mode].append("extra_regressors_" + mode)
        modes[self.holidays_mode].append("holidays")
        frame = pd.DataFrame({k: cols[k] for k in sorted(cols)})
        for name in ("additive_terms", "multiplicative_terms"):
            if name not in frame:
                frame[name] = 0
        frame = frame.drop(columns="zeros", errors="ignore")
        frame.index.name = "col"
        return frame, modes


def _optimize(
    m: Prophet,
    hist: pd.DataFrame,
    start: dict[str, np.ndarray] | None = None,
    tolerance: dict[str, float] | None = None,
) -> None:
    """``m.fit(hist)`` (MAP, L-BFGS with Prophet's Newton fallback), writing
    the Stan inputs with the C JSON encoder: Prophet's writer walks every
    number in Python and costs more than the optimisation itself."""
    if float(hist["y"].min()) == float(hist["y"].max()):
        m.fit(hist, algorithm="LBFGS")  # Prophet's own constant-series shortcut
        return
    inputs = m.preprocess(hist)
    m._fit_regressor_models(hist)
    init = dataclasses.asdict(m.calculate_initial_params(inputs.K))
    if start is not None and all(
        np.size(start[k]) == np.size(init[k]) for k in ("k", "m", "delta", "beta")
    ):
        # Warm start from a fit of the same data under other settings: the
        # optimum moves little, so L-BFGS needs far fewer iterations.
        init = {
            "k": float(np.ravel(start["k"])[0]),
            "m": float(np.ravel(start["m"])[0]),
            "delta": np.ravel(start["delta"]).astype("float64"),
            "beta": np.ravel(start["beta"]).astype("float64"),
            "sigma_obs": max(float(np.ravel(start["sigma_obs"])[0]), 1e-6),
        }
    backend: Any = m.stan_backend
    inits, data = backend.prepare_data(init, dataclasses.asdict(inputs))
    paths = []
    try:
        for payload in (data, inits):
            fd, path = tempfile.mkstemp(suffix=".json", prefix="capplan_")
            paths.append(path)
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps(payload, default=_jsonable))
        backend.stan_fit = _optimize_with_fallbacks(backend.model, paths[0], paths[1], tolerance)
    finally:
        for path in paths:
            os.remove(path)
    fit = backend.stan_fit
    params = backend.stan_to_dict_numpy(fit.column_names, fit.optimized_params_np)
    for name in params:
        params[name] = params[name].reshape((1, -1))
    m.params = params
    m.stan_fit = fit
    if m.changepoints is None or len(m.changepoints) == 0:
        params["k"] = params["k"] + params["delta"].reshape(-1)
        params["delta"] = np.zeros(params["delta"].shape).reshape((-1, 1))


def _optimize_with_fallbacks(
    model: Any, data: str, inits: str, tolerance: dict[str, float] | None
) -> Any:
    """L-BFGS (quick tolerance if asked), then default L-BFGS, then Newton.

    Near-perfect series (no noise at all) can make L-BFGS's line search fail;
    Newton has no L-BFGS tolerances, so it is tried bare.
    """
    attempts: list[dict[str, Any]] = [{"algorithm": "LBFGS", "iter": 10_000, **(tolerance or {})}]
    if tolerance:
        attempts.append({"algorithm": "LBFGS", "iter": 10_000})
    attempts.append({"algorithm": "Newton", "iter": 10_000})
    failure: RuntimeError | None = None
    for options in attempts:
        try:
            return model.optimize(data=data, inits=inits, **options)
        except RuntimeError as exc:
            failure = exc
    raise ModelFitError(
        "the model could not be fitted to this history (the optimiser failed with every "
        "method); check for a degenerate series"
    ) from failure


def _shift(z: np.ndarray, settings: ModelSettings) -> float:
    """Offset removed from ``z`` before fitting (added back to the trend).

    Prophet scales the data by its largest absolute value, so its priors on
    trend changes and seasonal amplitudes are relative to the distance from
    zero: a series varying over a narrow band far from zero (CO2 in ppm, a
    log-transformed count) gets a much looser trend prior than the same
    shape near zero, and its forecast follows the last wiggles. Fitting the
    additive model to ``z - min(z)`` makes the priors relative to the data's
    range instead, whatever the units or transform; the model is otherwise
    the same. A multiplicative model is not shifted: there the seasonal
    terms are proportional to the trend's distance from zero.
    """
    if not settings.range_scaled or settings.seasonality_mode != "additive" or not len(z):
        return 0.0
    return float(np.min(z))


def _fourier(days: np.ndarray, period: float, order: int) -> np.ndarray:
    """Prophet's Fourier features (sin, cos of each order) at ``days`` since the epoch."""
    x = 2.0 * np.pi * days / float(period)
    out = np.empty((len(days), 2 * order))
    for i in range(order):
        out[:, 2 * i] = np.sin((i + 1) * x)
        out[:, 2 * i + 1] = np.cos((i + 1) * x)
    return out


def _jsonable(x: object) -> object:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def components(m: Prophet, ds: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trend, additive and multiplicative terms of a fitted (MAP) model at ``ds``.

    Equivalent to ``m.predict`` without uncertainty samples for the models
    built here (linear growth, Fourier seasonalities of one mode, no holidays
    or regressors, absmax scaling), but evaluated with numpy: ``predict``
    rebuilds feature frames through pandas and costs more than the fit.
    """
    ns = np.asarray(ds.as_unit("ns").asi8, dtype="float64")
    assert m.start is not None and m.t_scale is not None, "the model is not fitted"
    start = float(m.start.value)
    t_scale = float(m.t_scale.value)
    t = (ns - start) / t_scale
    params = m.params
    k = float(np.mean(params["k"]))
    m0 = float(np.mean(params["m"]))
    deltas = np.mean(np.atleast_2d(params["delta"]), axis=0)
    cps = np.asarray(m.changepoints_t if m.changepoints_t is not None else [], dtype="float64")
    y_scale = float(m.y_scale or 1.0)
    trend = np.asarray(Prophet.piecewise_linear(t, deltas, k, m0, cps), dtype="float64") * y_scale
    add = np.zeros(len(t))
    mult = np.zeros(len(t))
    if m.seasonalities:
        days = ns / 86_400e9
        feats = [
            _fourier(days, float(props["period"]), int(props["fourier_order"]))
            for props in m.seasonalities.values()
        ]
        x_mat = np.hstack(feats)
        beta = np.mean(np.atleast_2d(params["beta"]), axis=0)
        season = x_mat @ beta[: x_mat.shape[1]]
        if m.seasonality_mode == "multiplicative":
            mult = season
        else:
            add = season * y_scale
    return trend, add, mult


def fit(
    z: np.ndarray,
    ds: pd.DatetimeIndex,
    future_ds: pd.DatetimeIndex,
    settings: ModelSettings,
    step: pd.Timedelta,
    start: dict[str, np.ndarray] | None = None,
    quick: bool = False,
) -> Fit:
    """Fit Prophet to ``z`` (already transformed) and evaluate it on history and future.

    ``start``: parameters of a fit of the same ``z`` and ``ds`` (another
    changepoint prior, say) to start the optimiser from. ``quick``: stop
    L-BFGS at a looser gradient tolerance, for held-out fits whose only use
    is to compare settings (the objective then differs in the fifth digit).
    """
    span = ds[-1] - ds[0]
    m = _Prophet(
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
    shift = _shift(z, settings)
    hist = pd.DataFrame({"ds": naive_ds, "y": z - shift})
    with warnings.catch_warnings():
        # Prophet itself triggers pandas deprecation warnings; ours are fixed.
        warnings.filterwarnings("ignore", module=r"prophet(\.|$)")
        _optimize(m, hist, start, QUICK_TOLERANCE if quick else None)
    n = len(z)
    trend, add, mult = components(m, pd.DatetimeIndex(naive_ds.append(naive_fut)))
    trend = trend + shift
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
        params={k: np.asarray(v) for k, v in m.params.items()},
    )

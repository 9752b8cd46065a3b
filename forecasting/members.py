"""Simple trend members combined with Prophet's: drift, recent line, damped trend, Theta.

Each member is a future trend (level plus slope) of the deseasonalised history,
in the model's transformed units; Prophet's seasonality, the residual noise and
the trend uncertainty are added to every member alike by the simulation. They
differ in how much of the past they trust: the whole history (drift), its
recent part (the last-30 % line), a trend that fades (damped) or half of the
long-run slope on a smoothed level (Theta). Where one of them fails (a rise
that began days ago, a steep segment that has since flattened), the others
pull the combined crossing date back (M3/M4: combinations beat single models).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.model import Fit

MEMBERS = ("prophet", "drift", "recent_line", "damped", "theta")
_ALPHAS = np.array([0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9])
_DAMPING_PER_DAY = (0.8, 0.9, 0.95, 0.98)
_BETAS = (0.05, 0.2)  # trend smoothing as a share of the level smoothing


def deseasonalised(fit: Fit) -> np.ndarray:
    z = fit.fitted_hist + fit.residuals
    return np.asarray((z - fit.add_hist) / (1.0 + fit.mult_hist), dtype="float64")


def member_trends(
    fit: Fit, step: pd.Timedelta, names: tuple[str, ...], prophet_offset: float
) -> dict[str, np.ndarray]:
    """Future trend of each member at future steps 1..n (transformed units)."""
    d = deseasonalised(fit)
    k = np.arange(1, len(fit.trend_fut) + 1, dtype="float64")
    out: dict[str, np.ndarray] = {}
    for name in names:
        if name == "prophet":
            out[name] = fit.trend_fut + prophet_offset
        else:
            out[name] = _forecast(name, d, step, k)
    return out


def member_weights(
    fit: Fit, step: pd.Timedelta, names: tuple[str, ...], shrink: float
) -> dict[str, float]:
    """Weights from each member's held-out error on the recent history, shrunk
    toward equal weights by ``1 - shrink``.

    Each simple member is refitted on the deseasonalised history up to three
    recent origins and scored (mean squared error) on the steps after them;
    weights are inversely proportional to that error. Prophet is not refitted
    here (its decomposition is the expensive part): it gets the median of the
    others' errors, so the data only move weight among the simple members and
    toward or away from Prophet's share as a whole.
    """
    equal = {m: 1.0 / len(names) for m in names}
    d = deseasonalised(fit)
    n = len(d)
    h = max(2, n // 6)
    cuts = [c for c in (n - h, n - 2 * h, n - 3 * h) if c >= 5]
    if shrink <= 0 or not cuts:
        return equal
    k = np.arange(1, h + 1, dtype="float64")
    err: dict[str, float] = {}
    for name in names:
        if name == "prophet":
            continue
        e = [float(np.mean((_forecast(name, d[:c], step, k) - d[c : c + h]) ** 2)) for c in cuts]
        err[name] = float(np.mean(e))
    if "prophet" in names:
        err["prophet"] = float(np.median(list(err.values()))) if err else 1.0
    inv = {m: 1.0 / max(err[m], 1e-12) for m in names}
    total = sum(inv.values())
    return {m: shrink * inv[m] / total + (1.0 - shrink) * equal[m] for m in names}


def _forecast(name: str, d: np.ndarray, step: pd.Timedelta, k: np.ndarray) -> np.ndarray:
    if name == "drift":
        return _line(*_drift(d, step), k)
    if name == "recent_line":
        return _line(*_recent_line(d), k)
    if name == "damped":
        return _damped(d, step, k)
    if name == "theta":
        return _line(_ses_level(d), 0.5 * _ols_slope(d), k)
    raise ValueError(f"unknown member {name!r}; valid: {', '.join(MEMBERS)}")


def _line(level: float, slope: float, k: np.ndarray) -> np.ndarray:
    return np.asarray(level + slope * k, dtype="float64")


def _window(n: int, step: pd.Timedelta) -> int:
    """A day of sub-daily points or three points, within a quarter of the history."""
    w = int(pd.Timedelta(days=1) / step) if step < pd.Timedelta(days=1) else 3
    return max(1, min(w, n // 4))


def _drift(d: np.ndarray, step: pd.Timedelta) -> tuple[float, float]:
    """Last level and the mean change per step over the whole history (window means
    at both ends, so one noisy point does not set the slope)."""
    n = len(d)
    w = _window(n, step)
    first, last = float(np.mean(d[:w])), float(np.mean(d[-w:]))
    slope = (last - first) / max(1, n - w)
    return last + slope * (w - 1) / 2.0, slope


def _recent_line(d: np.ndarray) -> tuple[float, float]:
    n = len(d)
    m = max(3, int(np.ceil(0.3 * n)))
    x = np.arange(n - m, n, dtype="float64") - (n - 1)
    slope, intercept = np.polyfit(x, d[-m:], 1)
    return float(intercept), float(slope)


def _ols_slope(d: np.ndarray) -> float:
    x = np.arange(len(d), dtype="float64")
    return float(np.polyfit(x, d, 1)[0])


def _ses_level(d: np.ndarray) -> float:
    """Final level of simple exponential smoothing, alpha by one-step squared error."""
    level = np.full(len(_ALPHAS), d[0])
    sse = np.zeros(len(_ALPHAS))
    for v in d[1:]:
        e = v - level
        sse += e * e
        level = level + _ALPHAS * e
    return float(level[int(np.argmin(sse))])


def _damped(d: np.ndarray, step: pd.Timedelta, k: np.ndarray) -> np.ndarray:
    """Holt's damped trend, parameters by one-step squared error over a small grid."""
    per_day = pd.Timedelta(days=1) / step
    grid = [
        (a, a * b, phi ** (1.0 / per_day))
        for a in _ALPHAS
        for b in _BETAS
        for phi in _DAMPING_PER_DAY
    ]
    alpha = np.array([g[0] for g in grid])
    beta = np.array([g[1] for g in grid])
    phi = np.array([g[2] for g in grid])
    n = len(d)
    level = np.full(len(grid), d[0])
    trend = np.full(len(grid), (d[min(n - 1, 3)] - d[0]) / max(1, min(n - 1, 3)))
    sse = np.zeros(len(grid))
    for v in d[1:]:
        pred = level + phi * trend
        e = v - pred
        sse += e * e
        new_level = pred + alpha * e
        trend = phi * trend + beta * e
        level = new_level
    i = int(np.argmin(sse))
    cum = np.cumsum(phi[i] ** k)
    return np.asarray(level[i] + trend[i] * cum, dtype="float64")

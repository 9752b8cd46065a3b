"""Transforms that keep forecasts inside the physical range."""

from __future__ import annotations

import numpy as np

from forecasting.types import Transform

# Keeps logit/log finite at the bounds (0 % CPU, 100 % memory).
_EPS = 1e-3


def forward(y: np.ndarray, transform: Transform, bounds: tuple[float, float] | None) -> np.ndarray:
    if transform == "none":
        return np.asarray(y, dtype="float64")
    lo, hi = _bounds(bounds)
    if transform == "log":
        return np.asarray(np.log(np.maximum(y - lo, 0.0) + _offset(lo, hi)))
    p = np.clip((y - lo) / (hi - lo), _EPS, 1.0 - _EPS)
    return np.asarray(np.log(p / (1.0 - p)))


def inverse(z: np.ndarray, transform: Transform, bounds: tuple[float, float] | None) -> np.ndarray:
    if transform == "none":
        out = np.asarray(z, dtype="float64")
    elif transform == "log":
        lo, hi = _bounds(bounds)
        out = np.exp(np.minimum(z, 700.0)) - _offset(lo, hi) + lo
    else:
        lo, hi = _bounds(bounds)
        out = lo + (hi - lo) / (1.0 + np.exp(-np.clip(z, -700.0, 700.0)))
    return clip(out, bounds)


def clip(y: np.ndarray, bounds: tuple[float, float] | None) -> np.ndarray:
    if bounds is None:
        return np.asarray(y, dtype="float64")
    return np.asarray(np.clip(y, bounds[0], bounds[1]))


def allowed(bounds: tuple[float, float] | None, y: np.ndarray) -> tuple[Transform, ...]:
    """Transforms that make sense for these bounds and values."""
    if bounds is None:
        return ("none",)
    lo, hi = bounds
    if np.isfinite(hi) and np.isfinite(lo):
        return ("none", "logit")
    if np.isfinite(lo) and float(np.min(y)) >= lo:
        return ("none", "log")
    return ("none",)


def _bounds(bounds: tuple[float, float] | None) -> tuple[float, float]:
    if bounds is None:
        return (0.0, float("inf"))
    return bounds


def _offset(lo: float, hi: float) -> float:
    return 1e-3 if not np.isfinite(hi) else _EPS * (hi - lo)

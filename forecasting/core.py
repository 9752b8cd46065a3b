"""Shared steps of forecasting and validation: fit, level, simulate, read crossings."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from forecasting import model, transforms
from forecasting.prepare import Prepared
from forecasting.simulate import Grid, simulate
from forecasting.types import ModelSettings


def block_length(p: Prepared) -> int:
    if p.per_day:
        return int(pd.Timedelta(days=1) / p.step)
    if p.monthly:
        return 3
    return 7 if p.step <= pd.Timedelta(days=1) else 4


def level_window_steps(p: Prepared) -> int:
    """About a week of the most recent data (at least 3 points)."""
    if p.per_day:
        return int(pd.Timedelta(days=7) / p.step)
    return max(3, int(pd.Timedelta(days=7) / p.step))


def fit_series(
    y: np.ndarray,
    ds: pd.DatetimeIndex,
    future: pd.DatetimeIndex,
    settings: ModelSettings,
    step: pd.Timedelta,
    bounds: tuple[float, float] | None,
    start: dict[str, np.ndarray] | None = None,
    quick: bool = False,
) -> model.Fit:
    z = transforms.forward(y, settings.transform, bounds)
    return model.fit(z, ds, future, settings, step, start, quick)


def level_offset(fit: model.Fit, window: int) -> float:
    """Mean recent residual: how far the data sits from a trend that lags a level shift."""
    if window <= 0:
        return 0.0
    return float(np.mean(fit.residuals[-window:]))


def slope_unit(residuals: np.ndarray, block: int) -> float:
    """Standard error of a trend slope fitted to the recent half of the history.

    Per step, in transformed units. The residual variance is the long-run
    (batch-means) variance over blocks, so autocorrelated noise, which pins
    a slope down less well than independent noise, gives a larger error.
    """
    r = np.asarray(residuals, dtype="float64")
    n = max(3, len(r) // 2)
    r = r[-n:]
    var = float(np.var(r))
    k = n // max(1, block)
    if block > 1 and k >= 4:
        means = r[-k * block :].reshape(k, block).mean(axis=1)
        var = max(var, block * float(np.var(means, ddof=1)))
    return float(np.sqrt(12.0 * var / (n * (n * n - 1.0))))


def rng_for(seed: int, name: str) -> np.random.Generator:
    # crc32, not hash(): stable across processes, so results are reproducible.
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


@dataclass(frozen=True)
class Simulated:
    paths: np.ndarray  # (paths, periods)
    mean: np.ndarray  # (periods,) noise-free path


def run_scenario(
    fit: model.Fit,
    grid: Grid,
    p: Prepared,
    settings: ModelSettings,
    growth: float | None,
    kind: Literal["load", "cumulative"],
    bounds: tuple[float, float] | None,
    rng: np.random.Generator,
    n_paths: int | None = None,
    trend_fut: np.ndarray | None = None,
) -> Simulated:
    """Simulated paths of one scenario; ``trend_fut`` replaces the fitted future
    trend (a member's, which already includes its recent level)."""
    offset = level_offset(fit, settings.level_window)
    if trend_fut is not None:
        fit = replace(fit, trend_fut=trend_fut)
        offset = 0.0
    common = dict(
        growth=growth,
        kind=kind,
        transform=settings.transform,
        bounds=bounds,
        level_offset=offset,
        noise_scale=settings.noise_scale,
        trend_scale=settings.trend_uncertainty_scale,
        n_paths=n_paths or settings.n_paths,
        block=block_length(p),
        slope_sd=settings.slope_uncertainty_scale * slope_unit(fit.residuals, block_length(p)),
        period_stat=p.period_stat,
    )
    paths = simulate(fit, grid, rng=rng, **common)  # type: ignore[arg-type]
    mean = simulate(fit, grid, rng=rng, deterministic=True, **common)  # type: ignore[arg-type]
    return Simulated(paths, mean[0])

"""Shared steps of forecasting and validation: fit, level, simulate, read crossings."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from forecasting import model, transforms
from forecasting.prepare import Prepared
from forecasting.simulate import Grid, first_above, first_passage, quantile_index, simulate
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
) -> model.Fit:
    z = transforms.forward(y, settings.transform, bounds)
    return model.fit(z, ds, future, settings, step)


def level_offset(fit: model.Fit, window: int) -> float:
    """Mean recent residual: how far the data sits from a trend that lags a level shift."""
    if window <= 0:
        return 0.0
    return float(np.mean(fit.residuals[-window:]))


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
) -> Simulated:
    common = dict(
        growth=growth,
        kind=kind,
        transform=settings.transform,
        bounds=bounds,
        level_offset=level_offset(fit, settings.level_window),
        noise_scale=settings.noise_scale,
        trend_scale=settings.trend_uncertainty_scale,
        n_paths=n_paths or settings.n_paths,
        block=block_length(p),
    )
    paths = simulate(fit, grid, rng=rng, **common)  # type: ignore[arg-type]
    mean = simulate(fit, grid, rng=rng, deterministic=True, **common)  # type: ignore[arg-type]
    return Simulated(paths, mean[0])


@dataclass(frozen=True)
class PeriodCrossing:
    """Crossing as report-period indices (inf = beyond horizon)."""

    expected: float
    earliest: float
    latest: float


def crossing_periods(
    sim: Simulated, threshold: float, method: str, interval: tuple[float, float]
) -> PeriodCrossing:
    lo_q, hi_q = interval
    if method == "mean":
        lower = np.quantile(sim.paths, lo_q, axis=0)
        upper = np.quantile(sim.paths, hi_q, axis=0)
        return PeriodCrossing(
            first_above(sim.mean, threshold),
            first_above(upper, threshold),
            first_above(lower, threshold),
        )
    fp = first_passage(sim.paths, threshold)
    return PeriodCrossing(
        quantile_index(fp, 0.5), quantile_index(fp, lo_q), quantile_index(fp, hi_q)
    )

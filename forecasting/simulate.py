"""Vectorised simulation of future paths and first-passage crossing dates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from forecasting import transforms
from forecasting.model import Fit
from forecasting.types import Transform

# Steps simulated at once; bounds memory for hourly grains over long horizons.
_CHUNK = 4096
_F32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Grid:
    """Future time axis: simulation steps grouped into report periods (days or coarser)."""

    steps: pd.DatetimeIndex
    years: np.ndarray  # years since as-of at each step (>= 0)
    report_starts: np.ndarray  # index of the first step of each report period
    report_dates: tuple[pd.Timestamp, ...]


def make_grid(future: pd.DatetimeIndex, as_of: pd.Timestamp, per_day: bool) -> Grid:
    years = np.maximum((future - as_of) / pd.Timedelta(days=365.25), 0.0)
    if per_day:
        days = future.floor("1D")
        change = np.ones(len(days), dtype=bool)
        change[1:] = days[1:] != days[:-1]
        starts = np.flatnonzero(change)
        dates = tuple(days[starts])
    else:
        starts = np.arange(len(future))
        dates = tuple(future)
    return Grid(future, np.asarray(years, dtype="float64"), starts, dates)


def block_noise(
    residuals: np.ndarray, n_paths: int, n_steps: int, block: int, rng: np.random.Generator
) -> np.ndarray:
    """Moving-block bootstrap of residuals: keeps their autocorrelation, which
    matters for first passage (independent draws would cross too early)."""
    r = residuals - residuals.mean()
    n = len(r)
    block = max(1, min(block, n))
    n_blocks = -(-n_steps // block)
    starts = rng.integers(0, n - block + 1, size=(n_paths, n_blocks))
    windows = np.lib.stride_tricks.sliding_window_view(r, block)
    out: np.ndarray = windows[starts].reshape(n_paths, -1)[:, :n_steps]
    return out


def simulate(
    fit: Fit,
    grid: Grid,
    *,
    growth: float | None,
    kind: Literal["load", "cumulative"],
    transform: Transform,
    bounds: tuple[float, float] | None,
    level_offset: float,
    noise_scale: float,
    trend_scale: float,
    n_paths: int,
    block: int,
    rng: np.random.Generator,
    slope_sd: float = 0.0,
    deterministic: bool = False,
    period_stat: Literal["max", "mean"] = "max",
) -> np.ndarray:
    """Paths of the forecast, reduced to the max (or mean) within each report
    period: (paths, periods).

    Organic paths carry two kinds of trend uncertainty: the error of the
    fitted final slope (``slope_sd`` per step, one draw per path, so the error
    grows linearly with the horizon) and future changepoints (Prophet's own
    model, scaled by ``trend_scale``). Noise is a block bootstrap of residuals.
    """
    n_steps = len(grid.steps)
    p = 1 if deterministic else n_paths
    base_level = float(fit.trend_hist[-1]) + level_offset
    slope = float(fit.trend_fut[1] - fit.trend_fut[0]) if n_steps > 1 else 0.0
    out = np.empty((p, len(grid.report_starts)), dtype="float64")
    slope_state = np.zeros(p)
    level_state = np.zeros(p)
    slope_err = rng.normal(0.0, slope_sd, p) if not deterministic and slope_sd > 0 else np.zeros(p)
    cum_state = 0.0
    # Align chunks to report-period boundaries so a period's max is taken once.
    bounds_idx = _chunks(grid.report_starts, n_steps)
    for r0, r1 in bounds_idx:
        s0 = int(grid.report_starts[r0])
        s1 = int(grid.report_starts[r1]) if r1 < len(grid.report_starts) else n_steps
        c = s1 - s0
        mult = fit.mult_fut[s0:s1]
        add = fit.add_fut[s0:s1]
        if deterministic:
            noise = np.zeros((1, c))
        else:
            noise = noise_scale * block_noise(fit.residuals, p, c, block, rng)
        if growth is None:
            trend = fit.trend_fut[s0:s1] + level_offset
            if not deterministic:
                lv = slope_err[:, None] * np.arange(s0 + 1, s1 + 1, dtype="float64")
                if trend_scale > 0 and fit.cp_prob > 0 and fit.cp_scale > 0:
                    # Changepoints are rare: draw slope changes only where one occurs.
                    dslope = np.zeros((p, c))
                    hit = np.flatnonzero(rng.random(p * c) < fit.cp_prob)
                    dslope.flat[hit] = rng.laplace(0.0, fit.cp_scale * trend_scale, hit.size)
                    np.cumsum(dslope, axis=1, out=dslope)
                    dslope += slope_state[:, None]
                    slope_state = dslope[:, -1].copy()
                    np.cumsum(dslope, axis=1, out=dslope)
                    dslope += level_state[:, None]
                    level_state = dslope[:, -1].copy()
                    lv += dslope
                lv += trend
                lv *= 1.0 + mult
                lv += add
                lv += noise
                z = lv
            else:
                z = trend * (1.0 + mult) + add + noise
            x = transforms.inverse(z, transform, bounds)
        else:
            factor = (1.0 + growth) ** grid.years[s0:s1]
            if kind == "cumulative":
                # Disk: the daily increase grows, not the level.
                inc = max(slope, 0.0) * factor
                cum = cum_state + np.cumsum(inc)
                cum_state = float(cum[-1])
                mean_z = (base_level + cum) * (1.0 + mult) + add
                mean_x = transforms.inverse(mean_z, transform, bounds)
            else:
                base_x = transforms.inverse(base_level * (1.0 + mult) + add, transform, bounds)
                mean_x = transforms.clip(base_x * factor, bounds)
            z = transforms.forward(mean_x, transform, bounds) + noise
            x = transforms.inverse(z, transform, bounds)
        x = np.broadcast_to(x, (p, c))
        if r1 - r0 == c:  # one step per report period
            out[:, r0:r1] = x
        else:
            local = grid.report_starts[r0:r1] - s0
            if period_stat == "mean":
                sizes = np.diff(np.append(local, c))
                out[:, r0:r1] = np.add.reduceat(x, local, axis=1) / sizes
            else:
                out[:, r0:r1] = np.maximum.reduceat(x, local, axis=1)
    return out


def _chunks(starts: np.ndarray, n_steps: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    r0, n = 0, len(starts)
    while r0 < n:
        r1 = int(np.searchsorted(starts, int(starts[r0]) + _CHUNK, side="left"))
        r1 = min(max(r1, r0 + 1), n)
        out.append((r0, r1))
        r0 = r1
    return out


def quantiles(x: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """``np.quantile(x, qs, axis=0)`` (linear interpolation), via one sort in
    single precision: several times faster than numpy's partition along the
    strided axis, and 7 significant digits are plenty for a forecast. Values
    beyond single precision's range (a log-transformed path that explodes) are
    held at its largest value rather than cast to infinity, whose differences
    would make the interpolation NaN."""
    s = np.sort(np.clip(x, -_F32_MAX, _F32_MAX).astype("float32"), axis=0)
    n = s.shape[0]
    out = np.empty((len(qs), *s.shape[1:]), dtype="float64")
    for i, q in enumerate(qs):
        pos = q * (n - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, n - 1)
        a = s[lo].astype("float64")
        out[i] = a + (pos - lo) * (s[hi].astype("float64") - a)
    return out

"""When a threshold is crossed: the first-passage arithmetic of the engine.

Simulated paths (``forecasting.simulate``, run per scenario by
``forecasting.core.run_scenario``) become a crossing as report-period indices:
the median first passage over the paths with its quantiles for earliest and
latest, or, where validation chose it, where the mean and the interval bounds
cross. ``widen`` stretches the interval by the factor validation measured on
the series' own held-out crossings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting.core import Simulated
from forecasting.simulate import quantiles


def first_passage(paths: np.ndarray, threshold: float) -> np.ndarray:
    """Index of the first period above ``threshold`` per path; ``inf`` if never."""
    above = paths > threshold
    hit = above.any(axis=1)
    first: np.ndarray = np.argmax(above, axis=1).astype("float64")
    first[~hit] = np.inf
    return first


def quantile_index(values: np.ndarray, q: float) -> float:
    """Empirical quantile that is always one of the values (inf allowed)."""
    s = np.sort(values)
    k = int(np.clip(np.ceil(q * len(s)) - 1, 0, len(s) - 1))
    return float(s[k])


def first_above(curve: np.ndarray, threshold: float) -> float:
    above = np.flatnonzero(curve > threshold)
    return float(above[0]) if above.size else float("inf")


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
        lower, upper = quantiles(sim.paths, [lo_q, hi_q])
        return PeriodCrossing(
            first_above(sim.mean, threshold),
            first_above(upper, threshold),
            first_above(lower, threshold),
        )
    fp = first_passage(sim.paths, threshold)
    return PeriodCrossing(
        quantile_index(fp, 0.5), quantile_index(fp, lo_q), quantile_index(fp, hi_q)
    )


# Largest widening of the crossing interval (in log lead time) that
# validation may ask for; also used when too few held-out crossings exist
# for the conformal quantile to be defined.
MAX_WIDENING = 3.0


def _gaps(pc: PeriodCrossing) -> tuple[float, float, float]:
    """log(1 + expected) and the interval's lower/upper half-widths on that
    scale, each at least half a period (so all-paths-in-one-period sides widen)."""
    x = float(np.log1p(pc.expected))
    lo_min = x - float(np.log1p(max(pc.expected - 0.5, 0.0)))
    hi_min = float(np.log1p(pc.expected + 0.5)) - x
    lower = max(x - float(np.log1p(pc.earliest)), lo_min) if np.isfinite(pc.earliest) else 0.0
    upper = max(float(np.log1p(pc.latest)) - x, hi_min) if np.isfinite(pc.latest) else 0.0
    return x, lower, upper


def widen(pc: PeriodCrossing, w: float) -> PeriodCrossing:
    """Stretch earliest/latest away from expected by ``w`` in log(1 + periods).

    Lead times are positive and their errors roughly multiplicative, so the
    interval is scaled on a log scale; ``w = 1`` leaves it unchanged. Bounds
    beyond the horizon (``inf``) stay there; an earliest date never moves
    before the first period.
    """
    if w == 1.0 or not np.isfinite(pc.expected):
        return pc
    x, lower, upper = _gaps(pc)
    earliest, latest = pc.earliest, pc.latest
    if np.isfinite(earliest):
        earliest = min(earliest, float(np.floor(max(0.0, np.expm1(x - w * lower) + 1e-9))))
    if np.isfinite(latest):
        latest = max(latest, float(np.ceil(np.expm1(x + w * upper) - 1e-9)))
    return PeriodCrossing(pc.expected, earliest, latest)


def widening_score(pc: PeriodCrossing, actual: float) -> float:
    """Smallest ``w`` for which ``widen(pc, w)`` covers ``actual`` (conformal score)."""
    if pc.earliest <= actual <= pc.latest:
        return 1.0
    if not np.isfinite(pc.expected) or not np.isfinite(pc.earliest):
        return float("inf")
    x, lower, upper = _gaps(pc)
    if actual < pc.earliest:
        return float(max(1.0, (x - float(np.log1p(max(actual, 0.0)))) / lower))
    return float(max(1.0, (float(np.log1p(actual)) - x) / upper))

"""A seeded, synthetic utilisation history at the runbook's baseline.

It is what ``capplan demo`` runs on: realistic shapes (daily and weekly cycles,
steady growth, autocorrelated noise) whose latest month averages the runbook's
current figures (CPU about 40 %, memory about 60 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SeriesShape:
    service: str
    metric: str
    level: float  # mean over the last 30 days
    annual_growth: float
    daily_amplitude: float  # fraction of the level
    weekend_dip: float  # fraction of the level
    noise: float  # standard deviation, in the metric's unit
    cumulative: bool = False


DEFAULT_SHAPES: tuple[SeriesShape, ...] = (
    SeriesShape("backend", "cpu_percent", 40.0, 0.45, 0.35, 0.15, 2.0),
    SeriesShape("backend", "memory_percent", 60.0, 0.25, 0.08, 0.04, 1.0),
    SeriesShape("backend", "requests_per_second", 100.0, 0.5, 0.45, 0.2, 4.0),
    SeriesShape("backend", "response_time_p95_ms", 500.0, 0.1, 0.2, 0.05, 25.0),
    SeriesShape("backend", "error_rate_percent", 0.3, 0.0, 0.3, 0.0, 0.05),
    SeriesShape("backend", "active_users", 50.0, 0.5, 0.5, 0.3, 2.0),
    SeriesShape("backend", "active_agents", 500.0, 0.5, 0.1, 0.05, 5.0),
    SeriesShape("frontend", "cpu_percent", 25.0, 0.3, 0.4, 0.2, 1.5),
    SeriesShape("frontend", "memory_percent", 35.0, 0.05, 0.05, 0.02, 0.8),
    SeriesShape("postgres", "cpu_percent", 45.0, 0.4, 0.3, 0.15, 2.0),
    SeriesShape("postgres", "memory_percent", 62.0, 0.2, 0.05, 0.02, 0.8),
    SeriesShape("postgres", "disk_percent", 35.0, 0.5, 0.0, 0.0, 0.05, cumulative=True),
    SeriesShape("postgres", "db_connections_percent", 30.0, 0.5, 0.4, 0.2, 1.5),
    SeriesShape("redis", "cpu_percent", 20.0, 0.4, 0.3, 0.15, 1.0),
    SeriesShape("redis", "memory_percent", 55.0, 0.3, 0.05, 0.02, 0.8),
    SeriesShape("nginx", "cpu_percent", 12.0, 0.5, 0.4, 0.2, 0.8),
    SeriesShape("nginx", "memory_percent", 30.0, 0.1, 0.05, 0.02, 0.5),
    SeriesShape("nginx", "network_percent", 10.0, 0.5, 0.5, 0.2, 0.6),
    SeriesShape("monitoring", "cpu_percent", 35.0, 0.2, 0.1, 0.0, 1.5),
    SeriesShape("monitoring", "memory_percent", 65.0, 0.2, 0.03, 0.0, 0.8),
    SeriesShape("monitoring", "disk_percent", 45.0, 0.3, 0.0, 0.0, 0.05, cumulative=True),
)


def _ar1(rng: np.random.Generator, n: int, sigma: float, phi: float = 0.8) -> np.ndarray:
    shocks = rng.normal(0.0, sigma * np.sqrt(1 - phi**2), n)
    out = np.empty(n)
    out[0] = rng.normal(0.0, sigma)
    # A recurrence: each point depends on the previous one, so it cannot be vectorised.
    for i in range(1, n):
        out[i] = phi * out[i - 1] + shocks[i]
    return out


def generate_shape(shape: SeriesShape, index: pd.DatetimeIndex, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    years_to_end = (index[-1] - index).total_seconds().to_numpy() / (365.25 * 86400)
    hour = index.hour.to_numpy() + index.minute.to_numpy() / 60.0
    weekend = index.day_of_week.to_numpy() >= 5
    if shape.cumulative:
        # Disk fills along a compounding curve that ends at ``level``.
        values = shape.level * (1 + shape.annual_growth) ** (-years_to_end)
        return np.clip(values + rng.normal(0.0, shape.noise, len(index)), 0.0, 100.0)
    trend = shape.level * (1 + shape.annual_growth) ** (-years_to_end + 15 / 365.25)
    daily = shape.daily_amplitude * np.sin((hour - 9.0) / 24.0 * 2 * np.pi)
    values = trend * (1 + daily - shape.weekend_dip * weekend) + _ar1(rng, len(index), shape.noise)
    upper = 100.0 if shape.metric.endswith("percent") else np.inf
    clipped: np.ndarray = np.clip(values, 0.0, upper)
    return clipped


def sample_history(
    end: datetime,
    *,
    days: int = 396,
    step_minutes: int = 5,
    seed: int = 0,
    shapes: tuple[SeriesShape, ...] = DEFAULT_SHAPES,
) -> pd.DataFrame:
    """Long frame (timestamp, service, metric, value) of ``days`` ending before ``end``."""
    stop = (
        pd.Timestamp(end).tz_convert("UTC")
        if pd.Timestamp(end).tzinfo
        else pd.Timestamp(end, tz="UTC")
    )
    stop = stop.floor(f"{step_minutes}min")
    index = pd.date_range(
        end=stop - pd.Timedelta(minutes=step_minutes),
        periods=days * 24 * 60 // step_minutes,
        freq=f"{step_minutes}min",
    )
    frames = [
        pd.DataFrame(
            {
                "timestamp": index,
                "service": shape.service,
                "metric": shape.metric,
                "value": np.round(generate_shape(shape, index, seed + number), 3),
            }
        )
        for number, shape in enumerate(shapes)
    ]
    return pd.concat(frames, ignore_index=True)

"""Yearly seasonality from one year of history: crossings land on the seasonal peak."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import model
from forecasting.engine import forecast_series
from forecasting.types import ForecastScenario, Threshold

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

AS_OF = pd.Timestamp("2025-04-01", tz="UTC")


def test_a_year_of_daily_history_is_enough_for_yearly_seasonality() -> None:
    names = [
        name for name, _, _ in model.seasonalities(pd.Timedelta(days=1), pd.Timedelta(days=400))
    ]
    assert "yearly" in names
    short = model.seasonalities(pd.Timedelta(days=1), pd.Timedelta(days=300))
    assert "yearly" not in [name for name, _, _ in short]


def test_the_crossing_lands_on_next_summers_peak() -> None:
    # 15 months of daily peaks with a summer high (late July) and a slow rise:
    # a threshold just above last summer's peak is next crossed next summer.
    idx = pd.date_range(
        pd.Timestamp("2024-01-01", tz="UTC"), AS_OF - pd.Timedelta(days=1), freq="D"
    )
    doy = np.asarray(idx.day_of_year, dtype="float64")
    years = np.asarray((idx - idx[0]) / pd.Timedelta(days=365.25), dtype="float64")
    noise = np.random.default_rng(0).normal(0, 1.0, len(idx))
    values = 50 + 20 * np.cos(2 * np.pi * (doy - 205) / 365.25) + 4 * years + noise
    history = pd.Series(values, index=idx)
    threshold = float(history.max()) + 2.0
    crossing = forecast_series(
        history,
        thresholds=[Threshold("t", threshold, 0)],
        scenarios=[ForecastScenario("organic", None)],
        as_of=AS_OF,
        horizon_days=730,
        bounds=(0.0, float("inf")),
    ).crossings[0]
    assert crossing.expected is not None
    assert (
        pd.Timestamp("2025-06-01").date() <= crossing.expected <= pd.Timestamp("2025-09-15").date()
    )

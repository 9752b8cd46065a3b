"""Additive fits are equivariant to a shift of the data (range scaling)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import model
from forecasting.types import ModelSettings

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

DAY = pd.Timedelta(days=1)


def _series() -> tuple[np.ndarray, pd.DatetimeIndex, pd.DatetimeIndex]:
    t = np.arange(200, dtype="float64")
    rng = np.random.default_rng(3)
    z = 0.02 * t + np.sin(2 * np.pi * t / 7) + rng.normal(0.0, 0.3, t.size)
    ds = pd.date_range("2024-01-01", periods=t.size, freq="D", tz="UTC")
    future = pd.date_range(ds[-1] + DAY, periods=60, freq="D", tz="UTC")
    return z, ds, future


def test_shifted_data_gives_the_shifted_fit() -> None:
    z, ds, future = _series()
    s = ModelSettings()
    near = model.fit(z, ds, future, s, DAY)
    far = model.fit(z + 1000.0, ds, future, s, DAY)
    np.testing.assert_allclose(far.trend_fut - 1000.0, near.trend_fut, atol=1e-4)
    np.testing.assert_allclose(far.add_fut, near.add_fut, atol=1e-4)
    np.testing.assert_allclose(far.residuals, near.residuals, atol=1e-4)


def test_old_settings_keep_prophets_scaling() -> None:
    z, ds, future = _series()
    old = ModelSettings(range_scaled=False)
    near = model.fit(z, ds, future, old, DAY)
    far = model.fit(z + 1000.0, ds, future, old, DAY)
    # Far from zero Prophet's priors are relatively looser: a different fit.
    assert float(np.max(np.abs(far.trend_fut - 1000.0 - near.trend_fut))) > 1e-3

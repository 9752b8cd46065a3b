"""Organic trend, first passage vs mean, bounds, as-of cut-off, warm start, grains."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from forecasting.engine import forecast_series
from forecasting.types import ForecastScenario, Threshold
from tests.forecasting.helpers import AS_OF, daily, flat
from tests.runbook_settings import SCENARIOS

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

ORGANIC = [ForecastScenario("organic", None)]


def test_organic_linear_trend_crosses_near_truth() -> None:
    t = np.arange(300)
    rng = np.random.default_rng(5)
    h = daily(30.0 + 0.05 * t + rng.normal(0, 0.3, 300))  # 45 % at as-of, +0.05/day
    fc = forecast_series(h, thresholds=[Threshold("w", 70.0, 10)], scenarios=ORGANIC, as_of=AS_OF)
    c = fc.crossings[0]
    truth = AS_OF.date() + timedelta(days=500)
    assert c.expected is not None and abs((c.expected - truth).days) < 60
    assert c.earliest is not None and c.earliest <= c.expected


def test_already_exceeded_is_runway_zero() -> None:
    h = flat(75.0, days=60)
    fc = forecast_series(h, thresholds=[Threshold("w", 70.0, 10)], scenarios=SCENARIOS, as_of=AS_OF)
    for c in fc.crossings:
        assert c.already_exceeded and c.runway_days == 0 and c.expected == AS_OF.date()


def test_only_data_before_as_of_is_used() -> None:
    h = flat(40.0, days=120)
    spike = pd.concat([h, pd.Series([99.0] * 30, index=pd.date_range(AS_OF, periods=30, freq="D"))])
    args = dict(thresholds=[Threshold("w", 70.0, 10)], scenarios=SCENARIOS, as_of=AS_OF)
    assert forecast_series(h, **args).crossings == forecast_series(spike, **args).crossings  # type: ignore[arg-type]


def test_forecast_stays_within_bounds() -> None:
    t = np.arange(200)
    h = daily(np.clip(60 + 0.15 * t + np.random.default_rng(2).normal(0, 1, 200), 0, 100))
    fc = forecast_series(h, thresholds=[Threshold("w", 95.0, 10)], scenarios=SCENARIOS, as_of=AS_OF)
    for curve in fc.curves:
        assert max(curve.upper) <= 100.0 and min(curve.lower) >= 0.0


def test_warm_start_reuses_settings() -> None:
    h = flat(40.0, days=120, sd=0.5)
    args = dict(thresholds=[Threshold("w", 70.0, 10)], scenarios=SCENARIOS, as_of=AS_OF)
    first = forecast_series(h, **args)  # type: ignore[arg-type]
    again = forecast_series(h, settings=first.settings, **args)  # type: ignore[arg-type]
    assert again.validation == {} and again.settings == first.settings
    assert again.crossings == first.crossings


def test_monthly_series() -> None:
    idx = pd.date_range("2015-01-01", periods=72, freq="MS", tz="UTC")
    t = np.arange(72)
    y = 100 + 2.0 * t + 10 * np.sin(2 * np.pi * t / 12)
    fc = forecast_series(
        pd.Series(y, index=idx),
        thresholds=[Threshold("w", 300.0, 0)],
        scenarios=ORGANIC,
        as_of=idx[-1] + pd.Timedelta(days=31),
        bounds=(0.0, float("inf")),
    )
    c = fc.crossings[0]
    assert fc.grain.endswith("MS")
    assert c.expected is not None and 2020 <= c.expected.year <= 2027


def test_short_subdaily_series_uses_hourly_grain() -> None:
    idx = pd.date_range(
        end=pd.Timestamp(AS_OF) - pd.Timedelta(minutes=5), periods=288 * 20, freq="5min"
    )
    t = np.arange(len(idx)) / 288
    y = 20 + 1.0 * t + 5 * np.sin(2 * np.pi * t) + np.random.default_rng(0).normal(0, 1, len(t))
    fc = forecast_series(
        pd.Series(y, index=idx),
        thresholds=[Threshold("w", 60.0, 10)],
        scenarios=ORGANIC,
        as_of=AS_OF,
        horizon_days=120,
    )
    assert fc.grain == "1h"
    c = fc.crossings[0]
    assert c.expected is not None and 5 <= (c.expected - AS_OF.date()).days <= 40


def test_cumulative_disk_increments_grow() -> None:
    t = np.arange(200)
    h = daily(40 + 0.02 * t + np.random.default_rng(4).normal(0, 0.02, 200))  # 44 %, +0.02/day
    fc = forecast_series(
        h,
        thresholds=[Threshold("w", 80.0, 0)],
        scenarios=SCENARIOS,
        as_of=AS_OF,
        kind="cumulative",
        horizon_days=3000,
    )
    by = {c.scenario: c.expected for c in fc.crossings}
    assert by["aggressive"] is not None and by["moderate"] is not None
    assert by["conservative"] is not None
    assert by["aggressive"] < by["moderate"] < by["conservative"]

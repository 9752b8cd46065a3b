from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from forecasting.aggregation import rollup, sustained_peak

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow


def _samples() -> pd.Series:
    idx = pd.date_range("2025-01-01", periods=288 * 2, freq="5min", tz="UTC")
    y = np.full(len(idx), 10.0)
    y[100:102] = 90.0  # a 10-minute burst on day 1
    y[400] = 95.0  # a single 5-minute spike on day 2
    return pd.Series(y, index=idx)


def test_sustained_peak_rolling_mean() -> None:
    s = _samples()
    p10 = sustained_peak(s, 10)
    assert list(p10.round(6)) == [90.0, 52.5]
    # A window shorter than the sample interval degenerates to the sample max.
    p2 = sustained_peak(s, 2)
    assert list(p2) == [90.0, 95.0]


def test_unsorted_duplicates_gaps_and_nan() -> None:
    s = _samples()
    messy = pd.concat([s.iloc[300:], s.iloc[:300].drop(s.index[150:200])]).copy()
    messy.iloc[0] = np.nan
    p = sustained_peak(messy, 10)
    assert len(p) == 2 and p.iloc[0] == 90.0


def test_rollup_columns_and_hourly() -> None:
    r = rollup(_samples(), "1h", [5, 10])
    assert list(r.columns) == ["mean", "max", "p95", "count", "sustained_5m", "sustained_10m"]
    assert len(r) == 48 and int(r["count"].sum()) == 576


def test_fast_enough_for_the_store() -> None:
    idx = pd.date_range("2024-01-01", periods=105_120, freq="5min", tz="UTC")
    s = pd.Series(np.random.default_rng(0).random(len(idx)) * 100, index=idx)
    t0 = time.perf_counter()
    for _ in range(5):
        rollup(s, "1D", [5, 10])
    assert (time.perf_counter() - t0) / 5 < 1.0

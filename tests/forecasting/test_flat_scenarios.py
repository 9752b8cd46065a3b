"""SPEC 4 checks: flat series cross at ln(T/L)/ln(1+g) years under each scenario."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.aggregation import sustained_peak
from forecasting.engine import forecast_series
from forecasting.types import Threshold
from tests.forecasting.helpers import AS_OF, GROWTH, analytic_crossing, flat
from tests.runbook_settings import SCENARIOS

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

HORIZON = 1500  # conservative 40 -> 70 takes 3.07 years, past the default 3-year horizon


def _check(history: pd.Series, level: float, thresholds: list[Threshold]) -> None:
    fc = forecast_series(
        history,
        thresholds=thresholds,
        scenarios=SCENARIOS,
        as_of=AS_OF,
        horizon_days=HORIZON,
    )
    for c in fc.crossings:
        if c.scenario == "organic":
            continue
        want = analytic_crossing(level, c.threshold, GROWTH[c.scenario])
        assert c.expected is not None, c
        assert abs((c.expected - want).days) <= 2, (c, want)
        assert c.earliest is not None
        assert c.latest is not None
        assert c.earliest <= c.expected <= c.latest
        assert c.runway_days == (c.expected - AS_OF.date()).days
        assert not c.already_exceeded


def test_flat_cpu_40_crosses_70() -> None:
    _check(flat(40.0), 40.0, [Threshold("warning", 70.0, 10)])


def test_flat_memory_60_crosses_80_and_90() -> None:
    _check(
        flat(60.0, seed=2), 60.0, [Threshold("warning", 80.0, 10), Threshold("critical", 90.0, 5)]
    )


def test_daily_seasonality_with_flat_sustained_peak() -> None:
    # 5-minute CPU with a strong daily cycle peaking at 40 %: only the daily
    # sustained peak matters, not the intraday swing.
    idx = pd.date_range(
        end=pd.Timestamp(AS_OF) - pd.Timedelta(minutes=5), periods=288 * 120, freq="5min"
    )
    hours = (idx.hour + idx.minute / 60).to_numpy()
    rng = np.random.default_rng(3)
    raw = 25.0 + 15.0 * np.cos(2 * np.pi * (hours - 14) / 24) + rng.normal(0, 0.05, len(idx))
    peak = sustained_peak(pd.Series(raw, index=idx), 10)
    _check(peak, float(peak.median()), [Threshold("warning", 70.0, 10)])


def test_organic_flat_series_does_not_cross() -> None:
    fc = forecast_series(
        flat(40.0),
        thresholds=[Threshold("warning", 70.0, 10)],
        scenarios=SCENARIOS[:1],
        as_of=AS_OF,
    )
    assert fc.crossings[0].expected is None


@pytest.mark.parametrize("scenario", ["moderate"])
def test_deterministic(scenario: str) -> None:
    h = flat(40.0, sd=0.5)
    args = dict(
        thresholds=[Threshold("warning", 70.0, 10)],
        scenarios=[s for s in SCENARIOS if s.name == scenario],
        as_of=AS_OF,
    )
    a = forecast_series(h, **args)  # type: ignore[arg-type]
    b = forecast_series(h, **args)  # type: ignore[arg-type]
    assert a.crossings == b.crossings
    assert a.settings == b.settings

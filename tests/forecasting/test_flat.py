"""A perfectly constant history: organic stays flat, scenarios cross exactly on schedule."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from forecasting.engine import forecast_series
from forecasting.types import Threshold
from tests.runbook_settings import SCENARIOS

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

AS_OF = datetime(2026, 7, 1, tzinfo=UTC)


def constant(level: float, days: int = 60) -> pd.Series:
    index = pd.date_range(end=AS_OF - timedelta(days=1), periods=days, freq="D", tz="UTC")
    return pd.Series(level, index=index)


@pytest.mark.parametrize(("level", "threshold"), [(40.0, 70.0), (60.0, 80.0), (60.0, 90.0)])
def test_constant_series_crosses_at_the_growth_formula(level: float, threshold: float) -> None:
    result = forecast_series(
        constant(level),
        thresholds=[Threshold("warning", threshold, 10)],
        scenarios=SCENARIOS,
        as_of=AS_OF,
        horizon_days=1500,
    )
    by_scenario = {c.scenario: c for c in result.crossings}
    assert by_scenario["organic"].expected is None
    for scenario in SCENARIOS[1:]:
        assert scenario.annual_growth is not None
        years = math.log(threshold / level) / math.log(1 + scenario.annual_growth)
        want = AS_OF.date() + timedelta(days=years * 365.25)
        crossing = by_scenario[scenario.name]
        assert crossing.expected is not None
        assert abs((crossing.expected - want).days) <= 1
        assert crossing.earliest == crossing.expected == crossing.latest
    assert result.notes and "constant" in result.notes[0]


def test_constant_series_above_the_threshold_is_exceeded_now() -> None:
    result = forecast_series(
        constant(95.0),
        thresholds=[Threshold("critical", 90.0, 5)],
        scenarios=SCENARIOS,
        as_of=AS_OF,
    )
    assert all(c.already_exceeded and c.runway_days == 0 for c in result.crossings)


def test_constant_disk_never_fills() -> None:
    result = forecast_series(
        constant(50.0),
        thresholds=[Threshold("warning", 80.0, 0)],
        scenarios=SCENARIOS,
        as_of=AS_OF,
        kind="cumulative",
    )
    assert all(c.expected is None for c in result.crossings)

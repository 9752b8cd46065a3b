"""Short histories are forecast (hourly, wider interval, a note); below the rule, refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.engine import forecast_series
from forecasting.errors import InsufficientHistoryError
from forecasting.prepare import prepare
from forecasting.types import EnsembleOptions, ForecastScenario, Threshold

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

AS_OF = pd.Timestamp("2026-03-01", tz="UTC")
ORGANIC = [ForecastScenario("organic", None)]


def five_minute_cpu(days: float, rise_per_day: float = 1.5, seed: int = 0) -> pd.Series:
    idx = pd.date_range(AS_OF - pd.Timedelta(days=days), AS_OF, freq="5min", inclusive="left")
    t = np.asarray((idx - idx[0]) / pd.Timedelta(days=1), dtype="float64")
    hour = np.asarray(idx.hour + idx.minute / 60, dtype="float64")
    cycle = 5 * np.sin((hour - 8) / 24 * 2 * np.pi)
    noise = np.random.default_rng(seed).normal(0, 1.0, len(idx))
    return pd.Series(30 + rise_per_day * t + cycle + noise, index=idx)


def daily(values: np.ndarray) -> pd.Series:
    idx = pd.date_range(end=AS_OF - pd.Timedelta(days=1), periods=len(values), freq="D")
    return pd.Series(values, index=idx)


def forecast(history: pd.Series, threshold: float, **kwargs: object):
    return forecast_series(
        history,
        thresholds=[Threshold("t", threshold, 0)],
        scenarios=ORGANIC,
        as_of=AS_OF,
        horizon_days=60,
        **kwargs,  # type: ignore[arg-type]
    )


def test_five_days_of_five_minute_samples_are_forecast_hourly_with_a_note() -> None:
    result = forecast(five_minute_cpu(5), 45.0, period_stat="mean")
    assert result.grain == "1h"
    assert any("short history" in note for note in result.notes)
    organic = result.crossings[0]
    assert organic.expected is not None and organic.earliest is not None
    # The daily mean rises 1.5 a day from about 36.75 on the last day: 45 is ~5.5 days out.
    assert 1 <= (organic.expected - AS_OF.date()).days <= 15


def test_short_history_interval_is_widened() -> None:
    history = five_minute_cpu(5)
    narrow = forecast(history, 45.0, period_stat="mean", ensemble=EnsembleOptions(short_widening=1))
    wide = forecast(history, 45.0, period_stat="mean", ensemble=EnsembleOptions(short_widening=3))
    n, w = narrow.crossings[0], wide.crossings[0]
    assert n.expected == w.expected
    assert n.earliest is not None and w.earliest is not None
    assert w.earliest <= n.earliest
    assert (w.latest is None) or (n.latest is not None and w.latest >= n.latest)
    assert (w.earliest, w.latest) != (n.earliest, n.latest)


def test_under_two_days_of_sub_daily_samples_is_refused_naming_what_is_missing() -> None:
    with pytest.raises(InsufficientHistoryError, match=r"2 days of sub-daily samples.*have 1\.5"):
        forecast(five_minute_cpu(1.5), 45.0)


def test_six_daily_points_are_forecast_five_are_refused() -> None:
    rng = np.random.default_rng(3)
    six = daily(np.linspace(30, 40, 6) + rng.normal(0, 0.3, 6))
    result = forecast(six, 50.0)
    assert any("short history" in note for note in result.notes)
    assert result.crossings[0].earliest is not None
    with pytest.raises(InsufficientHistoryError, match=r"need at least 6 points at the 1D grain"):
        forecast(six.iloc[1:], 50.0)


def test_long_history_has_no_note() -> None:
    rng = np.random.default_rng(4)
    result = forecast(daily(np.linspace(30, 40, 60) + rng.normal(0, 0.3, 60)), 50.0)
    assert result.notes == ()


def test_mean_periods_summarise_the_day_by_its_mean() -> None:
    idx = pd.date_range(AS_OF - pd.Timedelta(days=3), AS_OF, freq="1h", inclusive="left")
    values = pd.Series(np.where(idx.hour == 12, 90.0, 10.0), index=idx)
    mean = prepare(values, AS_OF, "load", period_stat="mean")
    peak = prepare(values, AS_OF, "load")
    assert mean.current == pytest.approx((90 + 23 * 10) / 24)
    assert peak.current == 90.0
    result = forecast(values, 50.0, period_stat="mean")
    # Daily means sit near 13: a 50 daily mean is not in sight, although hourly peaks reach 90.
    assert result.crossings[0].already_exceeded is False
    assert result.crossings[0].expected is None or result.crossings[0].expected > AS_OF.date()


def test_same_input_gives_the_same_dates() -> None:
    history = five_minute_cpu(6, seed=5)
    first = forecast(history, 45.0, period_stat="mean")
    second = forecast(history, 45.0, period_stat="mean")
    assert first.crossings == second.crossings


def trace(days: float, shape: np.ndarray | None = None, seed: int = 0) -> pd.Series:
    """Five-minute samples with a daily cycle; ``shape(t_days)`` is the level."""
    idx = pd.date_range(AS_OF - pd.Timedelta(days=days), AS_OF, freq="5min", inclusive="left")
    hour = np.asarray(idx.hour + idx.minute / 60, dtype="float64")
    cycle = 5 * np.sin((hour - 8) / 24 * 2 * np.pi)
    noise = np.random.default_rng(seed).normal(0, 1.0, len(idx))
    return pd.Series(shape + cycle + noise, index=idx)


def days_since_start(days: float) -> np.ndarray:
    idx = pd.date_range(AS_OF - pd.Timedelta(days=days), AS_OF, freq="5min", inclusive="left")
    return np.asarray((idx - idx[0]) / pd.Timedelta(days=1), dtype="float64")


def test_a_recent_rise_reaches_the_forecast() -> None:
    # Flat at 30 for eight days, then +2.5 a day for four: the daily mean is
    # near 38.75 on the last day, so 50 comes about 4.5 days after as-of.
    t = days_since_start(12)
    history = trace(12, 30 + 2.5 * np.clip(t - 8, 0, None))
    organic = forecast(history, 50.0, period_stat="mean").crossings[0]
    assert organic.expected is not None
    assert 2 <= (organic.expected - AS_OF.date()).days <= 8


def test_an_old_steep_segment_does_not_dominate_once_flat() -> None:
    # +4 a day for five days, then flat at 40 for a week: 46 is not in sight.
    t = days_since_start(12)
    history = trace(12, 20 + 4 * np.minimum(t, 5), seed=1)
    combined = forecast(history, 46.0, period_stat="mean").crossings[0]
    alone = forecast(
        history, 46.0, period_stat="mean", ensemble=EnsembleOptions(members=("prophet",))
    ).crossings[0]
    assert alone.expected is not None
    assert combined.expected is None or combined.expected > alone.expected
    assert combined.expected is None or (combined.expected - AS_OF.date()).days >= 35

"""Interval calibration pieces and the fast Prophet path."""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd
import pytest

from forecasting.crossing import MAX_WIDENING, PeriodCrossing, widen, widening_score
from forecasting.engine import forecast_series
from forecasting.model import Prophet, _optimize, _Prophet, components
from forecasting.prepare import prepare
from forecasting.simulate import quantiles
from forecasting.types import ForecastScenario, ModelSettings, Threshold
from forecasting.validation import _CROSSING_FRACTIONS, _cutoffs, _Fold
from tests.forecasting.helpers import AS_OF, daily

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow


def _prophet(cls: type[Prophet], mode: Literal["additive", "multiplicative"]) -> Prophet:
    m = cls(
        seasonality_mode=mode,
        uncertainty_samples=0,
        yearly_seasonality=False,
        weekly_seasonality=False,
        daily_seasonality=False,
    )
    m.add_seasonality(name="weekly", period=7.0, fourier_order=3)
    return m


def test_fast_fit_and_components_match_prophet() -> None:
    ds = pd.date_range("2024-01-01", periods=200, freq="D")
    t = np.arange(200)
    y = 40 + 0.05 * t + 3 * np.sin(2 * np.pi * t / 7) + np.random.default_rng(0).normal(0, 1, 200)
    hist = pd.DataFrame({"ds": ds, "y": y})
    future = ds.append(pd.date_range(ds[-1] + pd.Timedelta(days=1), periods=60, freq="D"))
    modes: tuple[Literal["additive", "multiplicative"], ...] = ("additive", "multiplicative")
    for mode in modes:
        ref, fast = _prophet(Prophet, mode), _prophet(_Prophet, mode)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"prophet(\.|$)")
            ref.fit(hist.copy(), algorithm="LBFGS")
            pred = ref.predict(pd.DataFrame({"ds": future}))
        _optimize(fast, hist.copy())
        assert fast.train_component_cols is not None and ref.train_component_cols is not None
        assert list(fast.train_component_cols.columns) == list(ref.train_component_cols.columns)
        trend, add, mult = components(fast, pd.DatetimeIndex(future))
        yhat = trend * (1 + mult) + add
        np.testing.assert_allclose(yhat, pred["yhat"].to_numpy(), rtol=1e-3, atol=1e-2)
        # Evaluating the reference model with numpy reproduces its own predict.
        r_trend, r_add, r_mult = components(ref, pd.DatetimeIndex(future))
        np.testing.assert_allclose(r_trend, pred["trend"].to_numpy(), atol=1e-9)
        np.testing.assert_allclose(r_add, pred["additive_terms"].to_numpy(), atol=1e-9)
        np.testing.assert_allclose(r_mult, pred["multiplicative_terms"].to_numpy(), atol=1e-9)


def test_quantiles_match_numpy() -> None:
    x = np.random.default_rng(1).normal(50, 10, (101, 30))
    np.testing.assert_allclose(
        quantiles(x, [0.1, 0.5, 0.9]), np.quantile(x, [0.1, 0.5, 0.9], axis=0), atol=1e-4
    )


def test_widening_is_monotone_in_log_lead_time() -> None:
    pc = PeriodCrossing(expected=30.0, earliest=20.0, latest=45.0)
    assert widen(pc, 1.0) == pc
    wide = widen(pc, 2.0)
    assert wide.expected == 30.0 and wide.earliest < 20.0 and wide.latest > 45.0
    assert widen(PeriodCrossing(30.0, 20.0, float("inf")), 3.0).latest == float("inf")
    assert widen(PeriodCrossing(float("inf"), 20.0, float("inf")), 3.0).earliest == 20.0
    # The score is the least widening that covers the actual crossing.
    assert widening_score(pc, 25.0) == 1.0
    for actual in (8.0, 70.0):
        w = widening_score(pc, actual)
        assert w > 1.0
        cov = widen(pc, w)
        assert cov.earliest <= actual <= cov.latest


def test_validated_settings_carry_calibration() -> None:
    t = np.arange(240)
    rng = np.random.default_rng(7)
    noise = np.zeros(240)
    for k in range(1, 240):
        noise[k] = 0.6 * noise[k - 1] + rng.normal(0, 1.0)
    h = daily(30 + 0.05 * t + noise)
    fc = forecast_series(
        h,
        thresholds=[Threshold("w", 60.0, 10)],
        scenarios=[ForecastScenario("organic", None)],
        as_of=AS_OF,
    )
    s = fc.settings
    assert s.validated and 1.0 <= s.interval_widening <= MAX_WIDENING
    assert s.slope_uncertainty_scale >= 1.0 and s.noise_scale >= 1.0
    c = fc.crossings[0]
    assert c.expected is not None and c.earliest is not None and c.earliest <= c.expected
    assert c.latest is None or c.expected <= c.latest
    again = forecast_series(
        h,
        thresholds=[Threshold("w", 60.0, 10)],
        scenarios=[ForecastScenario("organic", None)],
        as_of=AS_OF,
    )
    assert again.crossings == fc.crossings and again.settings == s


def test_version_2_settings_load_with_calibration_defaults() -> None:
    v2 = {
        "seasonality_mode": "additive",
        "changepoint_prior_scale": 0.5,
        "transform": "logit",
        "trend_uncertainty_scale": 10.0,
        "interval": [0.1, 0.9],
        "version": 2,
    }
    s = ModelSettings.from_dict(v2)
    assert s.changepoint_prior_scale == 0.5 and s.trend_uncertainty_scale == 10.0
    assert s.slope_uncertainty_scale == 1.0 and s.interval_widening == 1.0
    assert ModelSettings.from_dict(s.to_dict()) == s


def test_older_fold_reads_crossings_past_its_holdout_window() -> None:
    """Several thresholds per held-out window from one simulation; the older
    fold's widening evidence uses all data its simulation spans (lead times
    up to twice the held-out window), the most recent fold's only its own."""
    t = np.arange(240)
    p = prepare(daily(30 + 0.1 * t + 2 * np.sin(t / 5)), AS_OF, "load")
    h, cuts = _cutoffs(len(p.y))
    s = ModelSettings()
    recent_fold, older_fold = (_Fold(p, c, h) for c in cuts)
    assert len(older_fold.test_y) == h and len(older_fold.cross_y) == 2 * h
    assert len(recent_fold.cross_y) == len(recent_fold.test_y) == h
    for fold in (recent_fold, older_fold):
        in_window, spanned = fold.crossings(fold.fit(s, (0.0, 100.0)), s, "load", (0.0, 100.0), 0)
        assert len(in_window) == len(spanned) == 2 * len(_CROSSING_FRACTIONS)
        if fold is recent_fold:
            assert spanned == in_window
        else:
            assert spanned != in_window

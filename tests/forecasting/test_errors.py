from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.engine import forecast_series
from forecasting.errors import (
    AllMissingError,
    AsOfBeforeDataError,
    ConstantSeriesError,
    InsufficientHistoryError,
)
from forecasting.prepare import prepare
from forecasting.types import Threshold
from tests.forecasting.helpers import AS_OF, daily
from tests.runbook_settings import SCENARIOS

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

ARGS = dict(thresholds=[Threshold("w", 70.0, 10)], scenarios=SCENARIOS, as_of=AS_OF)


def test_short_history_says_what_is_needed() -> None:
    with pytest.raises(InsufficientHistoryError, match=r"need at least 6 .*sub-daily.* have 5"):
        forecast_series(daily(np.linspace(30, 31, 5)), **ARGS)  # type: ignore[arg-type]


def test_constant_series_is_reported_by_prepare_unless_allowed() -> None:
    # The engine forecasts constant histories (see test_flat); the backtest's
    # preparation still refuses them, since no crossing can be learned there.
    with pytest.raises(ConstantSeriesError, match="constant"):
        prepare(daily(np.full(60, 40.0)), pd.Timestamp("2026-06-01", tz="UTC"), "load")


def test_all_missing() -> None:
    with pytest.raises(AllMissingError):
        forecast_series(daily(np.full(60, np.nan)), **ARGS)  # type: ignore[arg-type]


def test_as_of_before_data() -> None:
    h = daily(np.linspace(30, 40, 60), end=pd.Timestamp("2026-01-01", tz="UTC"))
    with pytest.raises(AsOfBeforeDataError, match="not after the first sample"):
        forecast_series(h, **ARGS)  # type: ignore[arg-type]


def test_errors_are_value_errors() -> None:
    assert issubclass(InsufficientHistoryError, ValueError)

from __future__ import annotations

import math
import warnings
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

AS_OF = datetime(2025, 1, 1, tzinfo=UTC)
GROWTH = {"conservative": 0.2, "moderate": 0.5, "aggressive": 1.0}


def daily(values: np.ndarray, end: datetime = AS_OF) -> pd.Series:
    idx = pd.date_range(end=pd.Timestamp(end) - pd.Timedelta(days=1), periods=len(values), freq="D")
    return pd.Series(values, index=idx)


def flat(level: float, days: int = 365, sd: float = 0.05, seed: int = 1) -> pd.Series:
    return daily(level + np.random.default_rng(seed).normal(0.0, sd, days))


def analytic_crossing(level: float, threshold: float, growth: float) -> date:
    years = math.log(threshold / level) / math.log(1.0 + growth)
    return (pd.Timestamp(AS_OF) + pd.Timedelta(days=years * 365.25)).date()


def strict_warnings() -> None:
    warnings.simplefilter("error")

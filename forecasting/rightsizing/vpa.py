"""The Kubernetes Vertical Pod Autoscaler's bounds, one of right-sizing's two floors.

Recommender defaults: target = p90 + 15% margin, on raw samples for CPU and
on daily peaks for memory (VPA keeps one memory peak per 24 h interval). The
bounds widen when the history is short: upper = p95 * 1.15 * (1 + 1/c),
lower = p50 * 1.15 * (1 + 0.001/c) ** -2, where c is the history's confidence
in days. VPA takes c = min(span in days, samples / 1440), which assumes one
sample a minute; here c = min(span, samples * median interval), the same idea
for any sampling rate (gaps lower it). VPA's exponential decay of old samples
is not applied: the lookback window already bounds the history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from forecasting.rightsizing.settings import RightsizingSettings

_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class VpaEstimate:
    lower: float
    target: float
    upper: float
    confidence_days: float


def history_confidence_days(index: pd.DatetimeIndex) -> float:
    """How many days of history the samples amount to (see the module docstring)."""
    if len(index) < 2:
        return 0.0
    span = (index[-1] - index[0]) / _DAY
    interval = pd.Series(index).diff().dropna().median() / _DAY
    return float(min(span, len(index) * interval))


def vpa_estimate(
    samples: pd.Series, settings: RightsizingSettings, *, daily_peaks: bool
) -> VpaEstimate:
    """VPA's lower bound, target and upper bound for ``samples`` (see the module docstring)."""
    confidence = history_confidence_days(pd.DatetimeIndex(samples.index))
    basis = samples.resample("1D").max().dropna() if daily_peaks else samples
    margin = 1.0 + settings.vpa_margin
    q = basis.quantile(
        [settings.vpa_lower_quantile, settings.vpa_target_quantile, settings.vpa_upper_quantile]
    )
    lower_q, target_q, upper_q = (float(v) for v in q.to_numpy())
    if confidence > 0:
        upper_mult = 1.0 + 1.0 / confidence
        lower_mult = (1.0 + 0.001 / confidence) ** -2
    else:
        upper_mult, lower_mult = math.inf, 0.0
    return VpaEstimate(
        lower=lower_q * margin * lower_mult,
        target=target_q * margin,
        upper=upper_q * margin * upper_mult,
        confidence_days=confidence,
    )

"""Usage series for right-sizing: the lookback window, percentiles, percent to absolute.

Every series is indexed by tz-aware time; windows are UTC, sorted and free of NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from forecasting.planning.capacity import CapacityInputError
from forecasting.rightsizing.settings import RightsizingSettings

# GB here are 2**30 bytes: the ``G``/``Gi`` Docker and Kubernetes limits people write.
BYTES_PER_GB = 2**30


@dataclass(frozen=True)
class UsagePercentiles:
    count: int
    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float


def _utc_index(series: pd.Series, field: str) -> pd.Series:
    if not isinstance(series.index, pd.DatetimeIndex):
        raise CapacityInputError(field, "must be indexed by timestamps")
    if series.index.tz is None:
        raise CapacityInputError(field, "timestamps must be time-zone aware (UTC)")
    out = series.copy()
    out.index = series.index.tz_convert("UTC").as_unit("ns")
    return out.sort_index()


def _clean_values(series: pd.Series, field: str) -> pd.Series:
    values = pd.to_numeric(series, errors="coerce").astype("float64")
    if values.isna().any() and not series.isna().all():
        bad = series[values.isna() & series.notna()]
        if not bad.empty:
            raise CapacityInputError(
                field, f"non-numeric value {bad.iloc[0]!r} at {bad.index[0].isoformat()}"
            )
    values = values.dropna()
    negative = values[values < 0]
    if not negative.empty:
        raise CapacityInputError(
            field, f"negative value {negative.iloc[0]!r} at {negative.index[0].isoformat()}"
        )
    return values


def lookback_window(
    series: pd.Series, as_of: pd.Timestamp, lookback_days: float, field: str
) -> pd.Series:
    """Samples in ``[as_of - lookback, as_of)``, UTC, sorted, without NaN.

    Raises ``CapacityInputError`` naming ``field`` when nothing is left.
    """
    as_of_utc = _utc_timestamp(as_of, "as_of")
    clean = _clean_values(_utc_index(series, field), field)
    start = as_of_utc - pd.Timedelta(days=lookback_days)
    window = clean[(clean.index >= start) & (clean.index < as_of_utc)]
    if window.empty:
        raise CapacityInputError(
            field,
            f"no data in the lookback window {start.isoformat()} .. {as_of_utc.isoformat()} "
            f"({lookback_days:g} days before as-of)",
        )
    return window


def _utc_timestamp(value: pd.Timestamp, field: str) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise CapacityInputError(field, "must be time-zone aware (UTC)")
    return stamp.tz_convert("UTC")


def usage_percentiles(series: pd.Series) -> UsagePercentiles:
    """Count, mean, p50/p90/p95/p99 (pandas ``quantile``, linear) and max of the values."""
    values = pd.to_numeric(series, errors="raise").astype("float64").dropna()
    if values.empty:
        raise CapacityInputError("usage", "no values to summarise")
    q = values.quantile([0.5, 0.9, 0.95, 0.99])
    return UsagePercentiles(
        count=int(values.size),
        mean=float(values.mean()),
        p50=float(q.loc[0.5]),
        p90=float(q.loc[0.9]),
        p95=float(q.loc[0.95]),
        p99=float(q.loc[0.99]),
        max=float(values.max()),
    )


def percent_to_absolute(
    percent: pd.Series, allocation_history: pd.Series, field: str = "allocation"
) -> pd.Series:
    """Absolute usage from percent-of-allocation samples.

    ``allocation_history`` holds absolute allocations (cores, bytes) indexed by
    the instant each took effect; every sample uses the allocation in force at
    its timestamp (the latest effective at or before it). A sample before the
    first effective date is an error naming ``field``.
    """
    samples = _utc_index(percent, "percent")
    history = _utc_index(allocation_history, field)
    if history.empty:
        raise CapacityInputError(field, "no allocation given")
    if history.index.has_duplicates:
        dup = history.index[history.index.duplicated()][0]
        raise CapacityInputError(field, f"two allocations take effect at {dup.isoformat()}")
    _clean_values(history, field)
    left = pd.DataFrame({"ts": samples.index, "percent": samples.to_numpy(dtype="float64")})
    right = pd.DataFrame({"ts": history.index, "allocation": history.to_numpy(dtype="float64")})
    merged = pd.merge_asof(left, right, on="ts", direction="backward")
    missing = merged["allocation"].isna()
    if missing.any():
        first = pd.Timestamp(merged.loc[missing, "ts"].iloc[0])
        raise CapacityInputError(
            field,
            f"no allocation in force at {first.isoformat()} "
            f"(the first takes effect at {history.index[0].isoformat()})",
        )
    absolute = merged["percent"].to_numpy() / 100.0 * merged["allocation"].to_numpy()
    return pd.Series(absolute, index=samples.index, name=percent.name)


def sizing_window(
    series: pd.Series, as_of: pd.Timestamp, settings: RightsizingSettings, field: str
) -> pd.Series:
    """The lookback window of ``series``, refused when it holds fewer than ``min_samples``."""
    window = lookback_window(series, as_of, settings.lookback_days, field)
    if window.size < settings.min_samples:
        raise CapacityInputError(
            field,
            f"only {window.size} sample(s) in the lookback window, "
            f"need at least {settings.min_samples}",
        )
    return window

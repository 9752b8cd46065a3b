from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.planning.capacity import CapacityInputError
from forecasting.planning.costs import Allocation
from forecasting.rightsizing.fleet import (
    BYTES_PER_GB,
    FormulaDemand,
    ServiceUsage,
    history_confidence_days,
    lookback_window,
    percent_to_absolute,
    rightsize,
    rightsize_cpu,
    rightsize_memory,
    rightsize_replicas,
    usage_percentiles,
    vpa_estimate,
)
from tests.runbook_settings import CAPACITY, PRICES, RIGHTSIZING

REAL = Path("/work/shared/data/real")
AS_OF = pd.Timestamp("2026-03-01", tz="UTC")
FRONTEND = Allocation(cores=1, memory_gb=2, replicas=2, horizontal=True)
BACKEND = Allocation(cores=2, memory_gb=4, replicas=2, horizontal=True)


def _series(level: float, noise: float, days: float = 30, seed: int = 0) -> pd.Series:
    index = pd.date_range(
        AS_OF - pd.Timedelta(days=days), AS_OF, freq="5min", inclusive="left", tz="UTC"
    )
    rng = np.random.default_rng(seed)
    values = np.clip(level + rng.normal(0.0, noise, len(index)), 0.0, None)
    return pd.Series(values, index=index)


# SOURCES.md reference percentiles (pandas quantile, linear), rounded to 2 decimals.
NAB_REFERENCE = {
    "nab_ec2_cpu_utilization_5f5533.csv": (4032, 43.11, 42.92, 50.99, 53.37, 68.09),
    "nab_ec2_cpu_utilization_fe7f93.csv": (4032, 5.78, 2.58, 28.76, 64.24, 99.67),
    "nab_ec2_cpu_utilization_825cc2.csv": (4032, 89.79, 92.45, 96.24, 97.17, 99.12),
    "nab_ec2_cpu_utilization_53ea38.csv": (4032, 1.83, 1.80, 2.02, 2.11, 2.66),
}


def _nab(name: str) -> pd.Series:
    frame = pd.read_csv(REAL / name)
    index = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"])).tz_localize("UTC")
    return pd.Series(frame["value"].to_numpy(dtype="float64"), index=index)


@pytest.mark.parametrize("name", sorted(NAB_REFERENCE))
def test_nab_ec2_cpu_percentiles_match_sources_md(name: str) -> None:
    n, mean, p50, p95, p99, peak = NAB_REFERENCE[name]
    stats = usage_percentiles(_nab(name))
    assert stats.count == n
    got = (stats.mean, stats.p50, stats.p95, stats.p99, stats.max)
    assert [round(v, 2) for v in got] == [mean, p50, p95, p99, peak]


def test_frontend_memory_near_35_percent_of_2gb_is_cut_to_at_most_1gb() -> None:
    usage = _series(0.35 * 2 * BYTES_PER_GB, 0.01 * 2 * BYTES_PER_GB)
    rec = rightsize_memory("frontend", usage, FRONTEND, PRICES, AS_OF, RIGHTSIZING)
    assert rec.action == "decrease"
    assert rec.unit == "GB"
    assert rec.recommended <= 1.0
    assert rec.recommended >= rec.evidence.krr if rec.evidence else False
    assert rec.monthly_cost_delta == pytest.approx(-(2.0 - rec.recommended) * 4.0 * 2)
    assert "50% scale-down trigger" in rec.reason


def test_backend_cpu_p95_over_70_percent_is_increased() -> None:
    usage = _series(0.66 * 2, 0.05 * 2)
    rec = rightsize_cpu("backend", usage, BACKEND, PRICES, AS_OF, RIGHTSIZING)
    assert rec.evidence is not None
    assert rec.evidence.headroom / 2 > 0.70
    assert rec.action == "increase"
    assert rec.recommended > 2.0
    grown = rec.evidence.headroom * 1.5 ** (30 / 365.25)
    assert grown / rec.recommended < 0.70
    assert rec.monthly_cost_delta > 0
    assert "above the 70% warning" in rec.reason


def test_mid_range_usage_is_kept() -> None:
    rec = rightsize_cpu("backend", _series(1.0, 0.05), BACKEND, PRICES, AS_OF, RIGHTSIZING)
    assert (rec.action, rec.recommended, rec.monthly_cost_delta) == ("keep", 2.0, 0.0)


def test_growth_before_next_review_triggers_increase_under_the_threshold() -> None:
    # p95 ~ 68.5% today, but moderate growth over a 90-day review pushes it past 70%.
    settings = replace(RIGHTSIZING, review_days=90)
    rec = rightsize_cpu("backend", _series(1.37, 0.0001), BACKEND, PRICES, AS_OF, settings)
    assert rec.action == "increase"
    assert "before the next review" in rec.reason
    assert rec.recommended >= 1.37 * 1.5 ** (90 / 365.25) / 0.7


def test_small_cut_is_kept_by_the_dead_band() -> None:
    # 0.1 GB used of 0.3 GB: the 0.25 GB minimum makes the cut only 17%; that
    # passes the default 10% dead band but not a 20% one.
    alloc = Allocation(cores=0.5, memory_gb=0.3)
    usage = _series(0.1 * BYTES_PER_GB, 0.001 * BYTES_PER_GB)
    rec = rightsize_memory("nginx", usage, alloc, PRICES, AS_OF, RIGHTSIZING)
    assert (rec.action, rec.recommended) == ("decrease", 0.25)
    wide = replace(RIGHTSIZING, dead_band=0.2)
    kept = rightsize_memory("nginx", usage, alloc, PRICES, AS_OF, wide)
    assert (kept.action, kept.recommended) == ("keep", 0.3)
    assert "dead band" in kept.reason


def test_short_history_widens_vpa_upper_bound_and_blocks_the_cut() -> None:
    usage = _series(0.2, 0.02, days=0.25)
    window = lookback_window(usage, AS_OF, 30, "cpu")
    vpa = vpa_estimate(window, RIGHTSIZING, daily_peaks=False)
    assert vpa.confidence_days == pytest.approx(0.25, abs=0.01)
    assert vpa.upper > 4 * vpa.target  # (1 + 1/0.25) = 5x the p95 estimate
    rec = rightsize_cpu(
        "backend", usage, Allocation(cores=1.2, memory_gb=4), PRICES, AS_OF, RIGHTSIZING
    )
    assert rec.action == "keep"
    assert "upper bound" in rec.reason


def test_confidence_counts_gaps() -> None:
    day = pd.date_range("2026-01-01", periods=288, freq="5min", tz="UTC")
    index = pd.DatetimeIndex([*day, pd.Timestamp("2026-01-11", tz="UTC")])
    assert history_confidence_days(index) == pytest.approx(289 / 288, rel=1e-3)


def test_only_data_strictly_before_as_of_is_used() -> None:
    usage = _series(0.2, 0.0)
    usage = pd.concat([usage, pd.Series([100.0], index=pd.DatetimeIndex([AS_OF]))])
    window = lookback_window(usage, AS_OF, 30, "cpu")
    assert window.max() == pytest.approx(0.2)


def test_lookback_with_no_data_names_the_field() -> None:
    old = _series(0.2, 0.01)
    with pytest.raises(CapacityInputError, match=r"^usage\.backend\.cpu_cores: no data"):
        rightsize_cpu("backend", old, BACKEND, PRICES, AS_OF + pd.Timedelta(days=60), RIGHTSIZING)


def test_naive_and_negative_series_are_rejected() -> None:
    usage = _series(0.2, 0.01)
    with pytest.raises(CapacityInputError, match="time-zone aware"):
        lookback_window(usage.tz_localize(None), AS_OF, 30, "cpu")
    usage.iloc[3] = -1.0
    with pytest.raises(CapacityInputError, match="negative value"):
        lookback_window(usage, AS_OF, 30, "cpu")


def test_missing_allocation_names_the_service() -> None:
    usage = [ServiceUsage("ghost", cpu_cores=_series(0.2, 0.01))]
    with pytest.raises(CapacityInputError, match=r"^allocations\.ghost: no allocation"):
        rightsize(usage, {"backend": BACKEND}, PRICES, AS_OF, RIGHTSIZING, capacity=CAPACITY)


def test_replicas_follow_the_backend_formula() -> None:
    rps = _series(280.0, 0.001)
    settings = replace(RIGHTSIZING, annual_growth=0.0, growth_scenario="flat")
    rec = rightsize_replicas("backend", rps, BACKEND, PRICES, AS_OF, settings, CAPACITY)
    assert (rec.recommended, rec.action) == (8.0, "increase")  # ceil(280/50)=6, +2
    assert rec.monthly_cost_delta == 6 * (2 * 30 + 4 * 4)


def test_database_and_redis_use_the_runbook_formulas_as_floors() -> None:
    allocations = {
        "postgres": Allocation(cores=2, memory_gb=4, storage_gb=2),
        "redis": Allocation(cores=0.5, memory_gb=2, storage_gb=10),
    }
    low_memory = _series(1.0 * BYTES_PER_GB, 0.01 * BYTES_PER_GB)
    usage = [
        ServiceUsage("postgres", memory_bytes=low_memory),
        ServiceUsage("redis", memory_bytes=low_memory),
    ]
    recs = rightsize(
        usage,
        allocations,
        PRICES,
        AS_OF,
        RIGHTSIZING,
        capacity=CAPACITY,
        demand=FormulaDemand(agents=2000, peak_users=200),
    )
    by_key = {(r.service, r.resource): r for r in recs}
    postgres_memory = by_key[("postgres", "memory")]
    assert (postgres_memory.action, postgres_memory.recommended) == ("increase", 6.0)
    assert "database formula for 2,000 agents" in postgres_memory.reason
    storage = by_key[("postgres", "storage")]
    assert (storage.action, storage.recommended) == ("increase", 3.0)
    # Redis: formula floor 1 GB; 1 GB used of 2 GB is 50%, not below the trigger.
    assert by_key[("redis", "memory")].action == "keep"


def test_percent_to_absolute_uses_the_allocation_in_force() -> None:
    index = pd.date_range("2026-01-01", periods=4, freq="12h", tz="UTC")
    percent = pd.Series([50.0, 50.0, 50.0, 50.0], index=index)
    history = pd.Series(
        [2.0, 1.0],
        index=pd.DatetimeIndex(
            [pd.Timestamp("2025-12-01", tz="UTC"), pd.Timestamp("2026-01-02", tz="UTC")]
        ),
    )
    absolute = percent_to_absolute(percent, history)
    assert absolute.tolist() == [1.0, 1.0, 0.5, 0.5]
    assert absolute.index.equals(index)


def test_percent_before_the_first_allocation_is_an_error() -> None:
    percent = pd.Series([10.0], index=pd.DatetimeIndex([pd.Timestamp("2025-01-01", tz="UTC")]))
    history = pd.Series([2.0], index=pd.DatetimeIndex([pd.Timestamp("2026-01-01", tz="UTC")]))
    with pytest.raises(
        CapacityInputError, match=r"^allocations\.backend\.cpu_cores: no allocation"
    ):
        percent_to_absolute(percent, history, "allocations.backend.cpu_cores")


def test_nab_series_through_percent_conversion() -> None:
    percent = _nab("nab_ec2_cpu_utilization_5f5533.csv")
    history = pd.Series([2.0], index=pd.DatetimeIndex([percent.index[0]]))
    cores = percent_to_absolute(percent, history)
    assert round(usage_percentiles(cores).p95, 4) == round(percent.quantile(0.95) / 50, 4)


def test_recommendation_json_shape() -> None:
    rec = rightsize_cpu("backend", _series(1.0, 0.05), BACKEND, PRICES, AS_OF, RIGHTSIZING)
    assert list(rec.to_dict()) == [
        "service",
        "resource",
        "unit",
        "current",
        "recommended",
        "action",
        "reason",
        "monthly_cost_delta",
    ]

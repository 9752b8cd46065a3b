"""Usage history for right-sizing, read from the store as absolute amounts per replica."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from forecasting.planning.costs import Allocation
from forecasting.rightsizing.fleet import FormulaDemand, ServiceUsage
from jobs.config import Config
from jobs.config.adapters import allocations as configured_allocations
from jobs.errors import NoDataError
from jobs.ingest import BYTES_PER_GB
from jobs.store.allocations import allocation_history
from jobs.store.rollups import read_rollups
from jobs.store.samples import read_samples
from jobs.store.series import SeriesInfo, list_series


def _history(engine: Engine, series: SeriesInfo | None, start: int, end: int) -> pd.Series | None:
    """Raw samples; once they are past retention, the hourly p95 stands in for them."""
    if series is None:
        return None
    raw = read_samples(engine, series.id, start, end)
    if len(raw):
        return raw
    hourly = read_rollups(engine, series.id, "hour", start, end)
    return hourly["p95"] if len(hourly) else None


def _per_replica(
    percent: pd.Series | None, allocations: pd.DataFrame, resource: str, scale: float
) -> pd.Series | None:
    """Percent of the allocation in force -> absolute amount for one replica."""
    if percent is None:
        return None
    history = allocations[allocations["resource"] == resource].sort_values("effective_from")
    if history.empty:
        return None
    probe = pd.DataFrame({"timestamp": percent.index})
    merged = pd.merge_asof(
        probe,
        history[["effective_from", "value"]],
        left_on="timestamp",
        right_on="effective_from",
        direction="backward",
    )
    per_replica = merged["value"].to_numpy() * scale
    return pd.Series(percent.to_numpy() / 100.0 * per_replica, index=percent.index)


def load_usage(
    engine: Engine, config: Config, as_of: datetime, lookback_days: float
) -> list[ServiceUsage]:
    end = int(as_of.timestamp())
    start = int((as_of - timedelta(days=lookback_days)).timestamp())
    by_key = {(s.key.service, s.key.metric): s for s in list_series(engine)}
    # A configuration changed since the last write is in force from now, as the
    # next write will record it.
    allocations = allocation_history(engine, config=config)
    usage = []
    for service in config.services:
        mine = allocations[allocations["service"] == service]
        cpu = _history(engine, by_key.get((service, "cpu_percent")), start, end)
        memory = _history(engine, by_key.get((service, "memory_percent")), start, end)
        rps = _history(engine, by_key.get((service, "requests_per_second")), start, end)
        usage.append(
            ServiceUsage(
                service=service,
                cpu_cores=_per_replica(cpu, mine, "cpu_cores", 1.0),
                memory_bytes=_per_replica(memory, mine, "memory_gb", float(BYTES_PER_GB)),
                requests_per_second=rps,
            )
        )
    if all(u.cpu_cores is None and u.memory_bytes is None for u in usage):
        raise NoDataError(
            f"rightsizing.lookback_days: no CPU or memory usage stored in the {lookback_days:g} "
            f"days before {as_of:%Y-%m-%d %H:%M} UTC; ingest data first or pick another --as-of"
        )
    return usage


def allocations_in_force(engine: Engine, config: Config, as_of: datetime) -> dict[str, Allocation]:
    """Each configured service's allocation as it stood at ``as_of`` (the configuration's
    where the history has nothing that early)."""
    history = allocation_history(engine, config=config)
    history = history[history["effective_from"] <= pd.Timestamp(as_of)]
    latest = history.groupby(["service", "resource"])["value"].last()
    current = configured_allocations(config)

    def at(service: str, resource: str, fallback: float) -> float:
        return float(latest.get((service, resource), fallback))

    return {
        name: replace(
            allocation,
            cores=at(name, "cpu_cores", allocation.cores),
            memory_gb=at(name, "memory_gb", allocation.memory_gb),
            storage_gb=at(name, "storage_gb", allocation.storage_gb),
            replicas=round(at(name, "replicas", allocation.replicas)),
        )
        for name, allocation in current.items()
    }


def formula_demand(engine: Engine, as_of: datetime, lookback_days: float) -> FormulaDemand:
    """Agents (recent mean) and peak concurrent users for the database and Redis formulas."""
    end = int(as_of.timestamp())
    start = int((as_of - timedelta(days=lookback_days)).timestamp())
    found: dict[str, float] = {}
    for series in list_series(engine):
        if series.key.metric in ("active_agents", "active_users"):
            values = _history(engine, series, start, end)
            if values is not None and len(values):
                reduce = values.mean() if series.key.metric == "active_agents" else values.max()
                found[series.key.metric] = max(found.get(series.key.metric, 0.0), float(reduce))
    return FormulaDemand(agents=found.get("active_agents"), peak_users=found.get("active_users"))

"""Storing long-format samples from any source: conversion, upsert, rollups."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from jobs.config import Config
from jobs.errors import CapplanError, InputFileError
from jobs.ingest.sources.csv_file import Problem, parse_samples_csv
from jobs.store.allocations import allocation_history, sync_from_config
from jobs.store.rollups import (
    RollupRows,
    refresh_rollups,
    rollups_from_memory,
    untouched_spans,
)
from jobs.store.samples import UpsertCounts, spans_of, upsert_samples
from jobs.store.series import SeriesKey, ensure_series
from jobs.store.transaction import writing

BYTES_PER_GB = 2**30  # allocations in "GB" follow Kubernetes' Gi: 2**30 bytes


@dataclass(frozen=True)
class IngestSummary:
    source: str
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int

    def line(self) -> str:
        return (
            f"{self.source}: {self.rows_read:,} rows read, {self.inserted:,} inserted, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged, {self.rejected:,} rejected"
        )


def threshold_durations(config: Config, metric: str) -> list[int]:
    """The sustained-peak windows (minutes) the rollups keep for ``metric``."""
    pair = config.thresholds.get(metric)
    if pair is None:
        return [0]
    return sorted({pair.warning.for_minutes, pair.critical.for_minutes, 0})


def to_stored_metrics(
    frame: pd.DataFrame, config: Config, allocations: pd.DataFrame
) -> pd.DataFrame:
    """Turns absolute usage (cores, bytes) into percent of the allocation in force then."""
    absolute_metrics = [m for m, spec in config.metrics.items() if spec.percent_of is not None]
    absolute = frame["metric"].isin(absolute_metrics)
    if not absolute.any():
        return frame
    converted = []
    for (service, metric), group in frame[absolute].groupby(["service", "metric"], sort=True):
        spec = config.metrics[str(metric)]
        assert spec.percent_of is not None
        assert spec.percent_metric is not None
        capacity = _capacity_at(allocations, str(service), spec.percent_of, group["timestamp"])
        if capacity.isna().any() or (capacity <= 0).any():
            raise CapplanError(
                f"services.{service}.{spec.percent_of}: no allocation in force for {metric} "
                f"samples from {group['timestamp'].min()}; cannot turn them into a percentage"
            )
        usage = group["value"].to_numpy(dtype=np.float64)
        if spec.percent_of != "cpu_cores":
            usage = usage / BYTES_PER_GB
        converted.append(
            group.assign(metric=spec.percent_metric, value=100.0 * usage / capacity.to_numpy())
        )
    return pd.concat([frame[~absolute], *converted], ignore_index=True)


def _capacity_at(
    allocations: pd.DataFrame, service: str, resource: str, timestamps: pd.Series
) -> pd.Series:
    """Total capacity at each timestamp: per-replica allocation x replicas (storage is shared)."""
    mine = allocations[allocations["service"] == service]

    def in_force(name: str) -> pd.Series:
        history = mine[mine["resource"] == name].sort_values("effective_from")
        if history.empty:
            return pd.Series(np.nan, index=timestamps.index)
        # merge_asof refuses keys of different resolutions (a source's ns against the
        # store's us), so both sides are brought to nanoseconds.
        probe = pd.DataFrame(
            {
                "timestamp": timestamps.dt.as_unit("ns").reset_index(drop=True),
                "order": np.arange(len(timestamps)),
            }
        )
        probe = probe.sort_values("timestamp")
        steps = history[["effective_from", "value"]].assign(
            effective_from=history["effective_from"].dt.as_unit("ns")
        )
        merged = pd.merge_asof(
            probe,
            steps,
            left_on="timestamp",
            right_on="effective_from",
            direction="backward",
        ).sort_values("order")
        return pd.Series(merged["value"].to_numpy(), index=timestamps.index)

    capacity = in_force(resource)
    if resource != "storage_gb":
        capacity = capacity * in_force("replicas").fillna(1.0)
    return capacity


def store_frame(
    bind: Engine | Connection,
    config: Config,
    frame: pd.DataFrame,
    on_batch: Callable[[int], None] | None = None,
    *,
    now: datetime | None = None,
) -> UpsertCounts:
    """Stores a validated long frame (timestamp UTC, service, metric, value).

    Allocations the configuration changed are recorded first, in force from ``now``.
    Allocations, series, samples and rollups go in one transaction (the caller's,
    when given a connection): a crash or an error leaves the store as it was.
    """
    if frame.empty:
        return UpsertCounts()
    with writing(bind) as connection:
        return _store(connection, config, frame, on_batch, now)


def _store(
    connection: Connection,
    config: Config,
    frame: pd.DataFrame,
    on_batch: Callable[[int], None] | None,
    now: datetime | None,
) -> UpsertCounts:
    sync_from_config(connection, config, now)
    frame = to_stored_metrics(frame, config, allocation_history(connection))
    groups = frame.groupby(["service", "metric"], sort=False)
    pairs = [(str(key[0]), str(key[1])) for key in groups.groups]  # type: ignore[index]
    units = {name: spec.unit for name, spec in config.metrics.items()}
    ids = ensure_series(connection, [SeriesKey(s, m) for s, m in pairs], units)
    id_by_group = np.array([ids[SeriesKey(s, m)] for s, m in pairs], dtype=np.int64)
    rows = (
        pd.DataFrame(
            {
                "series_id": id_by_group[groups.ngroup().to_numpy()],
                "ts": frame["timestamp"].dt.as_unit("s").astype("int64").to_numpy(),
                "value": frame["value"].to_numpy(dtype=np.float64),
            }
        )
        .sort_values(["series_id", "ts"], kind="stable")
        # One row per series and instant, the last given winning, as a re-ingest would.
        .drop_duplicates(["series_id", "ts"], keep="last")
    )
    durations = {ids[SeriesKey(s, m)]: threshold_durations(config, m) for s, m in pairs}
    spans = spans_of(rows)
    # Where the store holds nothing the new rows' rollups read, they come straight
    # from memory; otherwise the affected range is re-read after the upsert.
    untouched = untouched_spans(connection, spans, durations)
    fresh = rows[rows["series_id"].isin(list(untouched))]
    in_memory = {
        series_id: (
            group["ts"].to_numpy(dtype=np.int64),
            group["value"].to_numpy(dtype=np.float64),
        )
        for series_id, (_, group) in zip(
            [s.series_id for s in spans if s.series_id in untouched],
            fresh.groupby("series_id", sort=True),
            strict=True,
        )
    }
    computed: dict[int, RollupRows] = {}

    def compute() -> None:
        computed.update(rollups_from_memory(spans, durations, in_memory))

    counts = upsert_samples(connection, rows, on_batch, meanwhile=compute, absent=untouched)
    refresh_rollups(connection, spans, durations, computed)
    return counts


@dataclass(frozen=True)
class CheckedCsv:
    """A CSV file that passed its checks: the rows to store (timestamp, service, metric, value)."""

    path: str
    rows_read: int
    frame: pd.DataFrame
    rejected: int


def check_csv(
    bind: Engine | Connection,
    config: Config,
    path: Path,
    *,
    skip_invalid: bool = False,
    allow_mixed_offsets: bool = False,
    now: datetime | None = None,
) -> CheckedCsv:
    """Checks the whole file without writing; raises InputFileError unless it may be stored.

    Timestamps later than ``now`` (plus a small tolerance) are refused.
    """
    moment = now or datetime.now(UTC)
    parsed = parse_samples_csv(
        path,
        services=config.services,
        metrics=config.metrics,
        allow_mixed_offsets=allow_mixed_offsets,
        now=moment,
    )
    frame = parsed.frame
    out_of_range = (
        beyond_upper_bounds(frame, config, allocation_history(bind, config=config, now=moment))
        if not frame.empty
        else []
    )
    problems = sorted([*parsed.problems, *out_of_range], key=lambda p: p.line)
    if problems and (not skip_invalid or any(p.fatal for p in problems)):
        raise InputFileError(str(path), [str(p) for p in problems])
    if out_of_range:
        frame = frame[~frame["line"].isin([p.line for p in out_of_range])]
    return CheckedCsv(
        str(path), parsed.rows_read, frame.drop(columns="line"), len({p.line for p in problems})
    )


def store_checked(
    bind: Engine | Connection,
    config: Config,
    checked: CheckedCsv,
    on_batch: Callable[[int], None] | None = None,
    *,
    now: datetime | None = None,
) -> IngestSummary:
    counts = store_frame(bind, config, checked.frame, on_batch, now=now)
    return IngestSummary(
        checked.path,
        checked.rows_read,
        counts.inserted,
        counts.updated,
        counts.unchanged,
        checked.rejected,
    )


def ingest_csv(
    bind: Engine | Connection,
    config: Config,
    path: Path,
    *,
    skip_invalid: bool = False,
    allow_mixed_offsets: bool = False,
    on_batch: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> IngestSummary:
    """Checks the whole file, then stores it; a bad file stores nothing unless skip_invalid."""
    moment = now or datetime.now(UTC)
    checked = check_csv(
        bind,
        config,
        path,
        skip_invalid=skip_invalid,
        allow_mixed_offsets=allow_mixed_offsets,
        now=moment,
    )
    return store_checked(bind, config, checked, on_batch, now=moment)


def beyond_upper_bounds(
    frame: pd.DataFrame, config: Config, allocations: pd.DataFrame
) -> list[Problem]:
    """Rows (with a ``line`` column) whose stored value would exceed the metric's upper_bound.

    Absolute usage is judged after its conversion with the allocation in force:
    5000 % of an allocation is a wrong unit or a wrong allocation, not a load.
    """
    stored = to_stored_metrics(frame, config, allocations)
    bounds = {m: spec.upper_bound for m, spec in config.metrics.items()}
    limit = stored["metric"].map(bounds).astype("float64").to_numpy()
    with np.errstate(invalid="ignore"):
        over = stored["value"].to_numpy() > limit
    if not over.any():
        return []
    given = frame.set_index("line")
    problems = []
    for line, metric, value, bound in zip(
        stored["line"].to_numpy()[over],
        stored["metric"].to_numpy()[over],
        stored["value"].to_numpy()[over],
        limit[over],
        strict=True,
    ):
        source_metric = str(given.at[line, "metric"])
        source_value = float(given["value"].to_numpy()[given.index.get_loc(line)])
        if source_metric == metric:
            message = f"value {value:g} is above {metric}'s upper bound {bound:g}"
        else:
            message = (
                f"{source_metric} {source_value:g} is {value:,.0f} % of the allocation in force, "
                f"above {metric}'s upper bound {bound:g}"
            )
        problems.append(Problem(int(line), message))
    return problems


def ingest_csv_files(
    engine: Engine,
    config: Config,
    paths: Sequence[Path],
    *,
    skip_invalid: bool = False,
    allow_mixed_offsets: bool = False,
    on_batch: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> list[IngestSummary]:
    """Every file is checked before the first is stored: one bad file stores nothing."""
    moment = now or datetime.now(UTC)
    checked = [
        check_csv(
            engine,
            config,
            path,
            skip_invalid=skip_invalid,
            allow_mixed_offsets=allow_mixed_offsets,
            now=moment,
        )
        for path in paths
    ]
    # All files in one transaction: a crash stores none of them.
    with writing(engine) as connection:
        return [store_checked(connection, config, item, on_batch, now=moment) for item in checked]

"""Storing long-format samples from any source: conversion, upsert, rollups."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from jobs.config import Config
from jobs.errors import CapplanError, InputFileError
from jobs.sources.csv_file import parse_samples_csv
from jobs.store.allocations import allocation_history, seed_from_config
from jobs.store.rollups import refresh_rollups, untouched_spans
from jobs.store.samples import UpsertCounts, spans_of, upsert_samples
from jobs.store.series import SeriesKey, ensure_series

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
    engine: Engine,
    config: Config,
    frame: pd.DataFrame,
    on_batch: Callable[[int], None] | None = None,
) -> UpsertCounts:
    """Stores a validated long frame (timestamp UTC, service, metric, value)."""
    if frame.empty:
        return UpsertCounts()
    seed_from_config(engine, config)
    frame = to_stored_metrics(frame, config, allocation_history(engine))
    groups = frame.groupby(["service", "metric"], sort=False)
    pairs = [(str(key[0]), str(key[1])) for key in groups.groups]  # type: ignore[index]
    units = {name: spec.unit for name, spec in config.metrics.items()}
    ids = ensure_series(engine, [SeriesKey(s, m) for s, m in pairs], units)
    id_by_group = np.array([ids[SeriesKey(s, m)] for s, m in pairs], dtype=np.int64)
    rows = pd.DataFrame(
        {
            "series_id": id_by_group[groups.ngroup().to_numpy()],
            "ts": frame["timestamp"].dt.as_unit("s").astype("int64").to_numpy(),
            "value": frame["value"].to_numpy(dtype=np.float64),
        }
    ).sort_values(["series_id", "ts"], kind="stable")
    durations = {ids[SeriesKey(s, m)]: threshold_durations(config, m) for s, m in pairs}
    spans = spans_of(rows)
    # Where the store holds nothing near the new rows, rollups come straight from
    # memory; otherwise the affected buckets are re-read after the upsert.
    untouched = untouched_spans(engine, spans, durations)
    counts = upsert_samples(engine, rows, on_batch)
    fresh = rows[rows["series_id"].isin(list(untouched))]
    in_memory = {
        span.series_id: pd.Series(
            group["value"].to_numpy(),
            index=pd.to_datetime(group["ts"].to_numpy(), unit="s", utc=True),
        )
        for span, (_, group) in zip(
            [s for s in spans if s.series_id in untouched],
            fresh.groupby("series_id", sort=True),
            strict=True,
        )
    }
    refresh_rollups(engine, spans, durations, in_memory)
    return counts


def ingest_csv(
    engine: Engine,
    config: Config,
    path: Path,
    *,
    skip_invalid: bool = False,
    allow_mixed_offsets: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Checks the whole file, then stores it; a bad file stores nothing unless skip_invalid."""
    parsed = parse_samples_csv(
        path,
        services=config.services,
        metrics=config.metrics,
        allow_mixed_offsets=allow_mixed_offsets,
    )
    header_problem = any(p.line == 1 for p in parsed.problems)
    if parsed.problems and (not skip_invalid or header_problem):
        raise InputFileError(str(path), [str(p) for p in parsed.problems])
    counts = store_frame(engine, config, parsed.frame.drop(columns="line"), on_batch)
    return IngestSummary(
        str(path),
        parsed.rows_read,
        counts.inserted,
        counts.updated,
        counts.unchanged,
        len({p.line for p in parsed.problems}),
    )


def ingest_csv_files(
    engine: Engine,
    config: Config,
    paths: Sequence[Path],
    *,
    skip_invalid: bool = False,
    allow_mixed_offsets: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> list[IngestSummary]:
    return [
        ingest_csv(
            engine,
            config,
            path,
            skip_invalid=skip_invalid,
            allow_mixed_offsets=allow_mixed_offsets,
            on_batch=on_batch,
        )
        for path in paths
    ]

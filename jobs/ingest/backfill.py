"""One-off backfills of a past range, resumable after a crash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from jobs.config import Config
from jobs.ingest.prometheus_pull import PullResult, prometheus_settings, pull_prometheus
from jobs.ingest.sources.prometheus import ChunkCallback, plan_chunks


def backfill_source(start: datetime, end: datetime) -> str:
    """The watermark namespace of one backfill range: the same range resumes."""
    return f"backfill:{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"


def backfill_chunk_count(config: Config, start: datetime, end: datetime) -> int:
    settings = prometheus_settings(config)
    return len(plan_chunks(start, end, settings.step_seconds)) * len(settings.queries)


def backfill_ingest(
    engine: Engine,
    config: Config,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
    on_chunk: ChunkCallback | None = None,
) -> PullResult:
    """Pulls ``[start, end]``; each series resumes after its last stored instant."""
    if end <= start:
        raise ValueError(f"--to ({end:%Y-%m-%d}) must be after --from ({start:%Y-%m-%d})")
    return pull_prometheus(
        engine,
        config,
        prometheus_settings(config),
        source=backfill_source(start, end),
        floor=start,
        until=end,
        now=now,
        on_chunk=on_chunk,
    )

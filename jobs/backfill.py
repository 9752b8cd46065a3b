"""One-off backfills of a past range, resumable after a crash."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from jobs.config import Config
from jobs.ingest import IngestSummary, prometheus_settings, pull_prometheus
from jobs.sources.prometheus import ChunkCallback, plan_chunks
from jobs.store.watermarks import get_watermark


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
    on_chunk: ChunkCallback | None = None,
) -> list[IngestSummary]:
    if end <= start:
        raise ValueError(f"--to ({end:%Y-%m-%d}) must be after --from ({start:%Y-%m-%d})")
    settings = prometheus_settings(config)
    source = backfill_source(start, end)

    def start_of(metric: str) -> datetime:
        mark = get_watermark(engine, source, metric)
        return (
            start if mark is None else datetime.fromtimestamp(mark + settings.step_seconds, tz=UTC)
        )

    return pull_prometheus(
        engine,
        config,
        settings,
        start_of=start_of,
        until=end,
        watermark_source=source,
        on_chunk=on_chunk,
    )

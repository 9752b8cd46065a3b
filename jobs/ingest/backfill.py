"""One-off backfills of a past range, resumable after a crash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from jobs.config import Config
from jobs.ingest.pull import PullResult, pull, sources_to_pull
from jobs.ingest.sources import ChunkCallback


def backfill_source(name: str, start: datetime, end: datetime) -> str:
    """The watermark namespace of one source's backfill range: the same range resumes."""
    return f"backfill:{name}:{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"


def backfill_chunk_count(config: Config, start: datetime, end: datetime) -> int:
    return sum(
        len(source.windows(start, end)) * len(source.metrics) for source in sources_to_pull(config)
    )


def backfill_ingest(
    engine: Engine,
    config: Config,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
    on_chunk: ChunkCallback | None = None,
) -> PullResult:
    """Pulls ``[start, end]`` from every configured source.

    Each series resumes after its last stored instant; one metric or source
    failing does not stop the others.
    """
    if end <= start:
        raise ValueError(f"--to ({end:%Y-%m-%d}) must be after --from ({start:%Y-%m-%d})")
    result = PullResult()
    for source in sources_to_pull(config):
        result.add(
            pull(
                engine,
                config,
                source,
                namespace=backfill_source(source.name, start, end),
                floor=start,
                until=end,
                now=now,
                on_chunk=on_chunk,
            )
        )
    return result

"""Pulling the configured sources' metrics into the store, resumable per series.

A watermark is kept per namespace (the source's name, or a backfill range) and
series (query metric and service): the last instant actually stored for it,
never the end of the range that was asked for. The next pull of a metric starts
one step after the oldest of its series' marks (not earlier than ``floor``), so
a series that lags behind the others is asked again rather than skipped;
re-reading rows already stored is harmless, as the upsert is idempotent.

A metric that cannot be pulled (the source refused or never answered, its query
returned no series, or none for a configured service) is a failure: its marks
stay, the other metrics are still pulled, and the caller reports the run as
failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from jobs.config import Config
from jobs.errors import CapplanError, JobFailedError
from jobs.ingest.sources import ChunkCallback, Source, find, names
from jobs.ingest.storing import IngestSummary, store_frame
from jobs.store.samples import UpsertCounts
from jobs.store.watermarks import advance_watermarks, get_watermarks, series_key


def _iso(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def _short(label: str, limit: int = 60) -> str:
    # Label values come from the source and may be of any length.
    return label if len(label) <= limit else f"{label[:limit]}... ({len(label)} characters)"


@dataclass(frozen=True)
class MetricFailure:
    metric: str
    #: How the source was asked (``PromQL: ...``).
    query: str
    problem: str

    def line(self) -> str:
        # Source errors may already name the metric and the query.
        if self.query in self.problem:
            return self.problem
        return f"metric {self.metric!r}: {self.problem}; {self.query}"


@dataclass
class PullResult:
    summaries: list[IngestSummary] = field(default_factory=list)
    failures: list[MetricFailure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The titles of the sources pulled, as messages name them.
    titles: list[str] = field(default_factory=list)

    def add(self, other: PullResult) -> None:
        self.summaries.extend(other.summaries)
        self.failures.extend(other.failures)
        self.notes.extend(note for note in other.notes if note not in self.notes)
        self.titles.extend(other.titles)

    def headline(self) -> str:
        metrics = ", ".join(f.metric for f in self.failures)
        return (
            f"{len(self.failures)} of {len(self.summaries)} {' and '.join(self.titles)} "
            f"metric(s) failed ({metrics}); their watermarks stay, the next ingest asks again"
        )

    def error(self) -> str:
        """The headline and every failure: what the ledger records."""
        return f"{self.headline()}: " + "; ".join(f.line() for f in self.failures)


class PullFailedError(JobFailedError):
    """Some metrics failed (the others are stored); ``details`` names each one."""

    def __init__(self, result: PullResult) -> None:
        super().__init__(f"{result.headline()} (see the warnings above)")
        self.details = result.error()


def configured_source(config: Config, name: str) -> Source[Any]:
    """The source ``sources.<name>`` configures; an error when it asks for no metric."""
    kind = find(name)
    settings = config.sources.get(name)
    if settings is None or not settings.metric_queries():
        raise CapplanError(
            f"sources.{name}: no {kind.title} source configured "
            f"(set sources.{name} with one query per metric)"
        )
    return kind(settings)


def configured_sources(config: Config) -> list[Source[Any]]:
    """Every source with a section, in the registry's order."""
    return [
        configured_source(config, name) for name in names() if config.sources.get(name) is not None
    ]


def source_sections() -> str:
    """What a pull needs set: ``sources.prometheus`` (``or`` between several)."""
    return " or ".join(f"sources.{name}" for name in names())


def sources_to_pull(config: Config) -> list[Source[Any]]:
    """The configured sources; an error when there is none, as there is nothing to pull."""
    sources = configured_sources(config)
    if not sources:
        raise CapplanError(
            f"no source configured: set {source_sections()} with one query per metric"
        )
    return sources


def clamp_to_now(until: datetime, now: datetime) -> tuple[datetime, str | None]:
    """Nothing is stored for the future: an end past ``now`` becomes ``now``, with a note."""
    if until <= now:
        return until, None
    return now, f"the end {_iso(until)} is in the future: pulling up to now, {_iso(now)}"


def resume_start(
    engine: Engine,
    config: Config,
    source: Source[Any],
    namespace: str,
    metric: str,
    floor: datetime,
) -> datetime:
    """One step after the oldest stored instant of the metric's configured series."""
    keys = [series_key(metric, service) for service in config.services]
    marks = get_watermarks(engine, namespace, keys)
    if not marks:
        return floor
    resume = datetime.fromtimestamp(min(marks.values()) + source.step_seconds, tz=UTC)
    return max(resume, floor)


@dataclass
class _Tally:
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    rows_read: int = 0
    rejected: int = 0
    services_seen: set[str] = field(default_factory=set)


def _pull_metric(
    engine: Engine,
    config: Config,
    source: Source[Any],
    metric: str,
    start: datetime,
    end: datetime,
    namespace: str,
    tally: _Tally,
    on_chunk: ChunkCallback | None,
) -> str | None:
    """Stores the metric chunk by chunk; returns a problem when nothing could be stored."""
    configured = list(config.services)
    asked = bool(source.windows(start, end))
    for frame in source.fetch(metric, start, end, on_chunk):
        known = frame["service"].isin(configured)
        tally.rows_read += len(frame)
        tally.rejected += int((~known).sum())
        tally.services_seen.update(frame["service"].unique().tolist())
        kept = frame[known]
        tally.counts = tally.counts + store_frame(engine, config, kept)
        # Marks move only after the chunk is stored, and only to what was stored.
        newest = kept.groupby("service", sort=True)["timestamp"].max()
        advance_watermarks(
            engine,
            namespace,
            {
                series_key(metric, str(service)): int(stamp.timestamp())
                for service, stamp in newest.items()
            },
        )
    if not asked:
        return None  # nothing new to ask for yet
    window = f"between {_iso(start)} and {_iso(end)}"
    if not tally.services_seen:
        return f"the query returned no series {window} (is the metric name right?)"
    if tally.rows_read == tally.rejected:
        seen = ", ".join(_short(name) for name in sorted(tally.services_seen)[:10])
        return (
            f"the query returned series {window} only for services that are not configured "
            f"({seen}); {source.unmatched_services_hint()}"
        )
    return None


def pull(
    engine: Engine,
    config: Config,
    source: Source[Any],
    *,
    namespace: str,
    floor: datetime,
    until: datetime,
    since: datetime | None = None,
    now: datetime | None = None,
    on_chunk: ChunkCallback | None = None,
) -> PullResult:
    """Pulls every metric of ``source`` from ``since`` (else its series' marks) to ``until``.

    ``floor`` is where a metric without marks starts, and the earliest a resume
    goes back. One metric failing does not stop the others.
    """
    result = PullResult(titles=[source.title])
    end, note = clamp_to_now(until, now or datetime.now(UTC))
    if note is not None:
        result.notes.append(note)
    for metric in source.metrics:
        tally = _Tally()
        start = (
            since
            if since is not None
            else resume_start(engine, config, source, namespace, metric, floor)
        )
        try:
            problem = _pull_metric(
                engine, config, source, metric, start, end, namespace, tally, on_chunk
            )
        except CapplanError as exc:  # a source error, or data the store refuses
            problem = str(exc)
        if problem is not None:
            result.failures.append(MetricFailure(metric, source.describe(metric), problem))
        result.summaries.append(
            IngestSummary(
                f"{source.name} {metric}",
                tally.rows_read,
                tally.counts.inserted,
                tally.counts.updated,
                tally.counts.unchanged,
                tally.rejected,
            )
        )
    return result


def ingest_source(
    engine: Engine,
    config: Config,
    source: Source[Any],
    *,
    since: datetime | None,
    until: datetime,
    now: datetime | None = None,
    on_chunk: ChunkCallback | None = None,
) -> PullResult:
    """Regular pull from ``since``, else from the series' marks, else the retention window."""
    end, _ = clamp_to_now(until, now or datetime.now(UTC))
    return pull(
        engine,
        config,
        source,
        namespace=source.name,
        floor=end - timedelta(days=config.storage.raw_retention_days),
        until=until,
        since=since,
        now=now,
        on_chunk=on_chunk,
    )

"""Pulling the configured Prometheus queries into the store, resumable per series.

A watermark is kept per source and series (query metric and service): the last
instant actually stored for it, never the end of the range that was asked for.
The next pull of a metric starts one step after the oldest of its series' marks
(not earlier than ``floor``), so a series that lags behind the others is asked
again rather than skipped; re-reading rows already stored is harmless, as the
upsert is idempotent.

A metric that cannot be pulled (Prometheus refused or never answered, its query
returned no series, or none for a configured service) is a failure: its marks
stay, the other metrics are still pulled, and the caller reports the run as
failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from jobs.config import Config
from jobs.errors import CapplanError, JobFailedError
from jobs.ingest import IngestSummary, store_frame
from jobs.ingest.sources.prometheus import (
    ChunkCallback,
    PrometheusSettings,
    fetch_range,
    plan_chunks,
    render_query,
)
from jobs.store.samples import UpsertCounts
from jobs.store.watermarks import advance_watermarks, get_watermarks, series_key

PROMETHEUS_SOURCE = "prometheus"


def _iso(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def _short(label: str, limit: int = 60) -> str:
    # Label values come from Prometheus and may be of any length.
    return label if len(label) <= limit else f"{label[:limit]}... ({len(label)} characters)"


@dataclass(frozen=True)
class MetricFailure:
    metric: str
    promql: str
    problem: str

    def line(self) -> str:
        # Source errors already name the metric and the PromQL.
        if self.promql in self.problem:
            return self.problem
        return f"metric {self.metric!r}: {self.problem}; PromQL: {self.promql}"


@dataclass
class PullResult:
    summaries: list[IngestSummary] = field(default_factory=list)
    failures: list[MetricFailure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def headline(self) -> str:
        metrics = ", ".join(f.metric for f in self.failures)
        return (
            f"{len(self.failures)} of {len(self.summaries)} Prometheus metric(s) failed "
            f"({metrics}); their watermarks stay, the next ingest asks again"
        )

    def error(self) -> str:
        """The headline and every failure: what the ledger records."""
        return f"{self.headline()}: " + "; ".join(f.line() for f in self.failures)


class PullFailedError(JobFailedError):
    """Some metrics failed (the others are stored); ``details`` names each one."""

    def __init__(self, result: PullResult) -> None:
        super().__init__(f"{result.headline()} (see the warnings above)")
        self.details = result.error()


def prometheus_settings(config: Config) -> PrometheusSettings:
    source = config.sources.prometheus
    if source is None or not source.queries:
        raise CapplanError(
            "sources.prometheus: no Prometheus source configured "
            "(set sources.prometheus.url and one query per metric)"
        )
    return PrometheusSettings(
        base_url=source.url,
        service_label=source.service_label,
        step_seconds=source.step_seconds,
        timeout_seconds=source.timeout_seconds,
        max_attempts=source.max_attempts,
        queries=dict(source.queries),
    )


def clamp_to_now(until: datetime, now: datetime) -> tuple[datetime, str | None]:
    """Nothing is stored for the future: an end past ``now`` becomes ``now``, with a note."""
    if until <= now:
        return until, None
    return now, f"the end {_iso(until)} is in the future: pulling up to now, {_iso(now)}"


def resume_start(
    engine: Engine,
    config: Config,
    settings: PrometheusSettings,
    source: str,
    metric: str,
    floor: datetime,
) -> datetime:
    """One step after the oldest stored instant of the metric's configured series."""
    keys = [series_key(metric, service) for service in config.services]
    marks = get_watermarks(engine, source, keys)
    if not marks:
        return floor
    resume = datetime.fromtimestamp(min(marks.values()) + settings.step_seconds, tz=UTC)
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
    settings: PrometheusSettings,
    metric: str,
    start: datetime,
    end: datetime,
    source: str,
    tally: _Tally,
    on_chunk: ChunkCallback | None,
) -> str | None:
    """Stores the metric chunk by chunk; returns a problem when nothing could be stored."""
    configured = list(config.services)
    asked = bool(plan_chunks(start, end, settings.step_seconds))
    for frame in fetch_range(settings, metric, start, end, on_chunk=on_chunk):
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
            source,
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
            f"({seen}); check sources.prometheus.service_label and the services section"
        )
    return None


def pull_prometheus(
    engine: Engine,
    config: Config,
    settings: PrometheusSettings,
    *,
    source: str,
    floor: datetime,
    until: datetime,
    since: datetime | None = None,
    now: datetime | None = None,
    on_chunk: ChunkCallback | None = None,
) -> PullResult:
    """Pulls every configured metric from ``since`` (else its series' marks) to ``until``.

    ``floor`` is where a metric without marks starts, and the earliest a resume
    goes back. One metric failing does not stop the others.
    """
    result = PullResult()
    end, note = clamp_to_now(until, now or datetime.now(UTC))
    if note is not None:
        result.notes.append(note)
    for metric in sorted(settings.queries):
        tally = _Tally()
        start = (
            since
            if since is not None
            else resume_start(engine, config, settings, source, metric, floor)
        )
        try:
            problem = _pull_metric(
                engine, config, settings, metric, start, end, source, tally, on_chunk
            )
        except CapplanError as exc:  # a source error, or data the store refuses
            problem = str(exc)
        if problem is not None:
            result.failures.append(MetricFailure(metric, render_query(settings, metric), problem))
        result.summaries.append(
            IngestSummary(
                f"prometheus {metric}",
                tally.rows_read,
                tally.counts.inserted,
                tally.counts.updated,
                tally.counts.unchanged,
                tally.rejected,
            )
        )
    return result


def ingest_prometheus(
    engine: Engine,
    config: Config,
    *,
    since: datetime | None,
    until: datetime,
    now: datetime | None = None,
    on_chunk: ChunkCallback | None = None,
) -> PullResult:
    """Regular pull from ``since``, else from the series' marks, else the retention window."""
    settings = prometheus_settings(config)
    end, _ = clamp_to_now(until, now or datetime.now(UTC))
    return pull_prometheus(
        engine,
        config,
        settings,
        source=PROMETHEUS_SOURCE,
        floor=end - timedelta(days=config.storage.raw_retention_days),
        until=until,
        since=since,
        now=now,
        on_chunk=on_chunk,
    )

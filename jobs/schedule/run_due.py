"""``run-due``: which scheduled jobs are due, running them in order, under a database lease.

Jobs and their cron expressions come from ``config.schedule``: ``ingest``,
``forecast`` and one per report kind (``monthly``, ``quarterly``,
``annual``), each report followed by its publish step. A job is due when a
cron fire time has passed since its last successful run in the ledger, or its
last attempt failed.

- ``ingest`` and ``forecast`` run at most once per ``run-due``, for the latest
  fire time: an ingest resumes from its watermarks and a new forecast
  supersedes the missed ones, so running each missed fire would only repeat work.
- A report fire covers the last full period as of the fire time. After
  downtime every missed period is rendered and published, oldest first, up to
  ``schedule.max_catch_up`` (the most recent ones); on the very first run only
  the latest period is.

Dependencies: when ingest fails, nothing after it runs; when the forecast
fails, no report runs. They stay due and run at the next ``run-due``.

Only one ``run-due`` works at a time: it holds the ``run-due`` lease
(``jobs.schedule.lease``), renewed while it runs and released at the end. A holder
that crashed stops renewing and its lease expires after the TTL, after which
the next ``run-due`` takes over. Lease times are real wall-clock time, never
``--now``. An email sent by a run is claimed with the same TTL, so a run
killed while sending holds up its period no longer than its lease.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from croniter import croniter
from sqlalchemy import Engine, func, select
from sqlmodel import SQLModel

from jobs.config import Config
from jobs.errors import CapplanError, error_text, is_database_error
from jobs.periods import KINDS, Kind, ReportPeriod, check_kind, last_full_period, parse_period
from jobs.publishers.delivery import (
    ReportBuilder,
    default_report_builder,
    deliver,
    format_results,
    load_bundle,
    publish_job,
    render_and_stage,
)
from jobs.schedule.lease import DEFAULT_LEASE_TTL_SECONDS, Clock, Lease
from jobs.store import (
    ledger,
    schema,  # noqa: F401  (registers the tables)
)

logger = logging.getLogger(__name__)

SKIPPED = "skipped"
DONE_STATUSES = (ledger.SUCCEEDED, ledger.PARTIAL, SKIPPED)
JOBS: tuple[str, ...] = ("ingest", "forecast", *KINDS)
# Walking back over periods for catch-up stops here whatever the configuration.
MAX_PERIODS_SCANNED = 1000

_RUNS = SQLModel.metadata.tables["job_runs"]


# --- what is due -------------------------------------------------------------------------


def cron_of(config: Config, job: str) -> str:
    expression: str = getattr(config.schedule, job)
    return expression


def latest_fire(expression: str, now: datetime) -> datetime:
    """The most recent fire time at or before ``now``."""
    base = now.astimezone(UTC) + timedelta(seconds=1)
    fire: datetime = croniter(expression, base).get_prev(datetime)
    return fire.astimezone(UTC)


def next_fire(expression: str, now: datetime) -> datetime:
    fire: datetime = croniter(expression, now.astimezone(UTC)).get_next(datetime)
    return fire.astimezone(UTC)


def _fires_within(expression: str, start: datetime, end: datetime) -> bool:
    """Whether a fire time falls in [start, end]."""
    return latest_fire(expression, end) >= start


def fire_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _parse_key(key: str) -> datetime | None:
    try:
        return datetime.strptime(key, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _periods_with(engine: Engine, job: str, statuses: tuple[str, ...]) -> set[str]:
    with engine.connect() as connection:
        return set(
            connection.execute(
                select(_RUNS.c.period)
                .where(_RUNS.c.job == job, _RUNS.c.status.in_(statuses))
                .distinct()
            ).scalars()
        )


def _latest_done(engine: Engine, job: str) -> str | None:
    # Keys of one job share a format that sorts in time order (ISO instants, period labels).
    with engine.connect() as connection:
        value = connection.execute(
            select(func.max(_RUNS.c.period)).where(
                _RUNS.c.job == job, _RUNS.c.status.in_(DONE_STATUSES), _RUNS.c.period != ""
            )
        ).scalar_one_or_none()
    return None if value is None else str(value)


@dataclass(frozen=True)
class DueRun:
    job: str
    key: str
    fire: datetime
    period: ReportPeriod | None = None

    @property
    def title(self) -> str:
        return f"{self.job} {self.key}"


@dataclass
class DuePlan:
    runs: list[DueRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _due_once(engine: Engine, config: Config, job: str, now: datetime) -> DueRun | None:
    fire = latest_fire(cron_of(config, job), now)
    done = _latest_done(engine, job)
    done_at = _parse_key(done) if done else None
    if done_at is not None and done_at >= fire:
        return None
    return DueRun(job, fire_key(fire), fire)


def _valid_period(kind: Kind, label: str) -> ReportPeriod | None:
    try:
        return parse_period(kind, label)
    except ValueError:
        return None


def due_periods(
    engine: Engine, config: Config, kind: Kind, now: datetime
) -> tuple[list[ReportPeriod], list[ReportPeriod]]:
    """(due, skipped): report periods to render and publish, oldest first.

    Skipped are the older missed periods beyond ``schedule.max_catch_up``.
    """
    expression, limit = cron_of(config, kind), config.schedule.max_catch_up
    fire = latest_fire(expression, now)
    job = publish_job(kind)
    done = {label for label in _periods_with(engine, job, DONE_STATUSES)}
    done_periods = [p for p in (_valid_period(kind, label) for label in done) if p is not None]
    anchor = max(done_periods, default=None)
    candidates: list[ReportPeriod] = []
    period = last_full_period(kind, fire)
    if anchor is None:
        candidates.append(period)
    else:
        for _ in range(MAX_PERIODS_SCANNED):
            if period.end <= anchor.end:
                break
            # The period is produced when a fire falls between its end and the next one's.
            window_end = min(period.next().end - timedelta(seconds=1), now)
            if _fires_within(expression, period.end, window_end):
                candidates.append(period)
            period = period.previous()
    # Failed attempts are retried even if a later period went through.
    failed = _periods_with(engine, job, (ledger.FAILED,)) | _periods_with(
        engine, f"report:{kind}", (ledger.FAILED,)
    )
    for label in failed - done:
        retry = _valid_period(kind, label)
        if retry is not None and retry.end <= now and retry not in candidates:
            candidates.append(retry)
    candidates = sorted(set(candidates) - set(done_periods))
    return candidates[-limit:], candidates[:-limit]


def due_runs(engine: Engine, config: Config, now: datetime) -> DuePlan:
    """Every run due at ``now``, in dependency order."""
    plan = DuePlan()
    for job in ("ingest", "forecast"):
        once = _due_once(engine, config, job, now)
        if once is not None:
            plan.runs.append(once)
    for kind in KINDS:
        due, skipped = due_periods(engine, config, kind, now)
        if skipped:
            plan.notes.append(
                f"{kind}: {len(skipped)} older missed period(s) not caught up "
                f"({', '.join(p.label for p in skipped)}), beyond schedule.max_catch_up="
                f"{config.schedule.max_catch_up}; render them with capplan report {kind} --period"
            )
        for period in due:
            plan.runs.append(DueRun(kind, period.label, now, period))
    return plan


# --- running -----------------------------------------------------------------------------

JobStatus = Literal["succeeded", "partial", "skipped", "failed", "blocked"]
Outcome = tuple[str, dict[str, Any]]
JobRunner = Callable[[Engine, Config, datetime], Outcome]


def run_ingest(engine: Engine, config: Config, until: datetime) -> Outcome:
    """Pulls every configured source, then drops raw samples past retention.

    Retention applies whatever the source (CSV ingests too); rollups are kept.
    """
    from jobs.store.samples import prune_raw

    status, outputs = _pull(engine, config, until)
    cutoff = until - timedelta(days=config.storage.raw_retention_days)
    outputs["pruned_raw_rows"] = prune_raw(engine, int(cutoff.timestamp()))
    return status, outputs


def _pull(engine: Engine, config: Config, until: datetime) -> Outcome:
    from jobs.ingest.pull import PullResult, configured_sources, ingest_source, source_sections

    sources = configured_sources(config)
    if not sources:
        return SKIPPED, {"reason": f"no {source_sections()} configured"}
    pulled = PullResult()
    for source in sources:
        pulled.add(ingest_source(engine, config, source, since=None, until=until))
    outputs: dict[str, Any] = {"summaries": [s.line() for s in pulled.summaries]}
    if pulled.notes:
        outputs["notes"] = pulled.notes
    if pulled.failures:
        return ledger.FAILED, {**outputs, "error": pulled.error()}
    return ledger.SUCCEEDED, outputs


def run_forecast(engine: Engine, config: Config, as_of: datetime) -> Outcome:
    from jobs.forecast.fleet import forecast_fleet

    fleet = forecast_fleet(engine, config, as_of, store=True)
    failures = [
        f"{f.service} {f.metric} ({f.duration_minutes} min): {f.error}" for f in fleet.failures
    ]
    outputs: dict[str, Any] = {"rows": len(fleet.rows), "failures": failures[:50]}
    if failures and not fleet.series:
        # Nothing was forecast, so nothing was stored: the reports must wait for a retry.
        outputs["error"] = f"no series could be forecast, all {len(failures)} failed: " + "; ".join(
            failures[:3]
        )
        return ledger.FAILED, outputs
    exported = export_runway(engine, config, as_of)
    if exported is not None:
        outputs["prometheus"] = exported
    problem = failures or (exported or "").startswith("failed")
    return (ledger.PARTIAL if problem else ledger.SUCCEEDED), outputs


def export_runway(engine: Engine, config: Config, as_of: datetime) -> str | None:
    """Writes and pushes the fresh forecast's gauges (``publish.prometheus``), if configured.

    A failed export does not undo the forecast: it is recorded, and the next
    forecast exports again.
    """
    settings = config.publish.prometheus
    if settings is None:
        return None
    from jobs.exports.runway_metrics import push, runway_exposition, write_textfile

    done = []
    try:
        text, _notes = runway_exposition(engine, config, as_of + timedelta(seconds=1))
        if settings.textfile is not None:
            write_textfile(settings.textfile, text)
            done.append(f"wrote {settings.textfile}")
        if settings.pushgateway_url is not None:
            push(
                settings.pushgateway_url,
                settings.job,
                text,
                timeout=settings.timeout_seconds,
                max_attempts=settings.max_attempts,
            )
            done.append(f"pushed to {settings.pushgateway_url}")
    except (CapplanError, OSError) as exc:
        return f"failed: {error_text(exc)}" + (f" (after: {'; '.join(done)})" if done else "")
    return "; ".join(done)


@dataclass(frozen=True)
class Runners:
    """What each job does; None means the real one (looked up when the job runs)."""

    ingest: JobRunner | None = None
    forecast: JobRunner | None = None
    build_report: ReportBuilder | None = None

    def ingest_runner(self) -> JobRunner:
        return self.ingest or run_ingest

    def forecast_runner(self) -> JobRunner:
        return self.forecast or run_forecast

    def report_builder(self) -> ReportBuilder:
        return self.build_report or default_report_builder()


@dataclass(frozen=True)
class JobOutcome:
    job: str
    key: str
    status: JobStatus
    message: str = ""

    def line(self) -> str:
        return f"{self.job} {self.key}: {self.status}" + (
            f" - {self.message}" if self.message else ""
        )


@dataclass
class RunDueReport:
    outcomes: list[JobOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[JobOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def _run_recorded(
    engine: Engine, config: Config, due: DueRun, runner: JobRunner, moment: datetime
) -> JobOutcome:
    run_id = ledger.start_run(engine, due.job, due.key)
    try:
        status, outputs = runner(engine, config, moment)
    except Exception as exc:
        if not isinstance(exc, CapplanError) and not is_database_error(exc):  # one line each
            logger.error("%s failed", due.title, exc_info=True)
        ledger.finish_run(engine, run_id, ledger.FAILED, error=error_text(exc))
        return JobOutcome(due.job, due.key, "failed", error_text(exc))
    if status == ledger.FAILED:
        error = str(outputs.get("error", "failed"))
        ledger.finish_run(engine, run_id, ledger.FAILED, error=error, outputs=outputs)
        return JobOutcome(due.job, due.key, "failed", error)
    ledger.finish_run(engine, run_id, status, outputs=outputs)
    if status == SKIPPED:
        return JobOutcome(due.job, due.key, "skipped", str(outputs.get("reason", "")))
    if status == ledger.PARTIAL:
        failures = [str(item) for item in outputs.get("failures", [])]
        message = f"{len(failures)} item(s) failed: " + "; ".join(failures[:3])
        return JobOutcome(due.job, due.key, "partial", message)
    return JobOutcome(due.job, due.key, "succeeded")


def _run_report(
    engine: Engine,
    config: Config,
    due: DueRun,
    runners: Runners,
    *,
    env: Mapping[str, str],
    now: datetime,
    lease_ttl_seconds: int,
) -> list[JobOutcome]:
    assert due.period is not None
    period, kind = due.period, check_kind(due.job)
    outcomes: list[JobOutcome] = []
    try:
        bundle = load_bundle(config, period)
        if bundle is None:
            bundle = render_and_stage(engine, config, period, runners.report_builder(), now=now)
            outcomes.append(JobOutcome(f"report:{kind}", period.label, "succeeded", "rendered"))
    except Exception as exc:
        if not isinstance(exc, CapplanError):
            logger.error("report %s %s failed", kind, period.label, exc_info=True)
        outcomes.append(JobOutcome(f"report:{kind}", period.label, "failed", error_text(exc)))
        return outcomes
    try:
        results = deliver(engine, config, bundle, env=env, claim_ttl_seconds=lease_ttl_seconds)
    except Exception as exc:
        if not isinstance(exc, CapplanError):
            logger.error("publish %s %s failed", kind, period.label, exc_info=True)
        outcomes.append(JobOutcome(publish_job(kind), period.label, "failed", error_text(exc)))
        return outcomes
    outcomes.append(
        JobOutcome(publish_job(kind), period.label, "succeeded", "; ".join(format_results(results)))
    )
    return outcomes


def run_due(
    engine: Engine,
    config: Config,
    *,
    now: datetime,
    env: Mapping[str, str],
    runners: Runners | None = None,
    lease_ttl_seconds: int = DEFAULT_LEASE_TTL_SECONDS,
    clock: Clock = time.time,
    on_outcome: Callable[[JobOutcome], None] | None = None,
) -> RunDueReport:
    """Runs every job due at ``now`` under the ``run-due`` lease.

    Raises :class:`LeaseBusyError` when another process holds the lease.
    """
    runners = runners or Runners()
    report = RunDueReport()

    def record(outcome: JobOutcome) -> None:
        report.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    with Lease(engine, ttl_seconds=lease_ttl_seconds, clock=clock) as lease:
        # Decided under the lease, so two processes never both see a job as due.
        plan = due_runs(engine, config, now)
        report.notes.extend(plan.notes)
        blocked_by: str | None = None
        for due in plan.runs:
            lease.check()
            if blocked_by is not None:
                record(JobOutcome(due.job, due.key, "blocked", f"waits for {blocked_by}"))
                continue
            if due.job == "ingest":
                outcome = _run_recorded(engine, config, due, runners.ingest_runner(), now)
            elif due.job == "forecast":
                outcome = _run_recorded(engine, config, due, runners.forecast_runner(), due.fire)
            else:
                for outcome in _run_report(
                    engine, config, due, runners, env=env, now=now, lease_ttl_seconds=lease.ttl
                ):
                    record(outcome)
                continue
            record(outcome)
            if outcome.status == "failed":
                blocked_by = f"{due.job} {due.key}, which failed"
    return report

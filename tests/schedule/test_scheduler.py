"""run-due: what is due, dependency order, catch-up, retries and the database lease."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from jobs.config import Config, parse_config, runbook_config_text
from jobs.errors import CapplanError
from jobs.periods import ReportPeriod
from jobs.schedule.lease import (
    Lease,
    LeaseBusyError,
    LeaseLostError,
    acquire_lease,
    lease_record,
    release_lease,
    renew_lease,
)
from jobs.schedule.run_due import Outcome, Runners, due_runs, run_due
from jobs.store import ledger, open_store
from tests.conftest import Capplan

MONTH_END = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class StubReport:
    period: ReportPeriod
    pdf: bytes
    filename: str
    summary_text: str
    summary_html: str
    extras: tuple[tuple[str, bytes, str], ...] = ()


class Recorder:
    """Stub jobs that record their calls; ``fail`` makes the named calls raise."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail: set[str] = set()

    def _maybe_fail(self, name: str) -> None:
        self.calls.append(name)
        if name in self.fail:
            raise CapplanError(f"{name} broke on purpose")

    def ingest(self, engine: Engine, config: Config, moment: datetime) -> Outcome:
        self._maybe_fail(f"ingest {moment:%Y-%m-%dT%H:%M}")
        return ledger.SUCCEEDED, {}

    def forecast(self, engine: Engine, config: Config, moment: datetime) -> Outcome:
        self._maybe_fail(f"forecast {moment:%Y-%m-%dT%H:%M}")
        return ledger.SUCCEEDED, {}

    def build(self, engine: Engine, config: Config, period: ReportPeriod) -> StubReport:
        self._maybe_fail(f"{period.kind} {period.label}")
        pdf = b"%PDF-1.7\n" + f"{period.kind} {period.label}".encode() + b"\n%%EOF\n"
        return StubReport(period, pdf, "r.pdf", "summary", "<p>summary</p>")

    def runners(self) -> Runners:
        return Runners(ingest=self.ingest, forecast=self.forecast, build_report=self.build)

    def reports(self) -> list[str]:
        return [c for c in self.calls if not c.startswith(("ingest", "forecast"))]


def make_config(tmp_path: Path, **schedule: Any) -> Config:
    raw = yaml.safe_load(runbook_config_text())
    raw["schedule"] = {**raw.get("schedule", {}), **schedule}
    raw["publish"] = {"targets": ["local"], "local": {"directory": str(tmp_path / "out")}}
    return parse_config(raw, "test")


@pytest.fixture
def engine(database_url: str) -> Engine:
    return open_store(database_url)


def run(engine: Engine, config: Config, recorder: Recorder, now: datetime) -> list[str]:
    report = run_due(engine, config, now=now, env={}, runners=recorder.runners())
    return [outcome.line() for outcome in report.outcomes]


def statuses(engine: Engine, job: str) -> list[tuple[str, str]]:
    return [(r.period, r.status) for r in ledger.runs(engine, job)]


def test_month_end_runs_every_job_once_in_dependency_order(engine: Engine, tmp_path: Path) -> None:
    config, recorder = make_config(tmp_path), Recorder()
    report = run_due(engine, config, now=MONTH_END, env={}, runners=recorder.runners())
    assert [(o.job, o.key, o.status) for o in report.outcomes] == [
        ("ingest", "2026-11-01T06:00Z", "succeeded"),
        ("forecast", "2026-11-01T01:30Z", "succeeded"),
        ("report:monthly", "2026-10", "succeeded"),
        ("publish:monthly", "2026-10", "succeeded"),
        ("report:quarterly", "2026-Q3", "succeeded"),
        ("publish:quarterly", "2026-Q3", "succeeded"),
        ("report:annual", "2025", "succeeded"),
        ("publish:annual", "2025", "succeeded"),
    ]
    # The forecast runs as of its own fire time; reports cover the last full period.
    assert recorder.calls == [
        "ingest 2026-11-01T06:00",
        "forecast 2026-11-01T01:30",
        "monthly 2026-10",
        "quarterly 2026-Q3",
        "annual 2025",
    ]
    assert statuses(engine, "publish:monthly") == [("2026-10", "succeeded")]
    pdf = tmp_path / "out" / "monthly" / "2026-10" / "capacity-monthly-2026-10.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-1.7\nmonthly 2026-10")

    # The same instant again: nothing is due, nothing runs.
    assert run(engine, config, recorder, MONTH_END) == []
    assert len(recorder.calls) == 5
    assert due_runs(engine, config, MONTH_END).runs == []


def test_ingest_is_skipped_without_a_prometheus_source(engine: Engine, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    recorder = Recorder()
    runners = Runners(forecast=recorder.forecast, build_report=recorder.build)
    report = run_due(engine, config, now=MONTH_END, env={}, runners=runners)
    assert report.outcomes[0].line() == (
        "ingest 2026-11-01T06:00Z: skipped - no sources.prometheus configured"
    )
    assert statuses(engine, "ingest") == [("2026-11-01T06:00Z", "skipped")]


def test_catch_up_after_downtime_runs_each_missed_month_oldest_first(
    engine: Engine, tmp_path: Path
) -> None:
    config, recorder = make_config(tmp_path), Recorder()
    run(engine, config, recorder, datetime(2026, 9, 1, 6, 30, tzinfo=UTC))
    recorder.calls.clear()
    # Down from September to early January: October, November and December were missed.
    run(engine, config, recorder, datetime(2027, 1, 1, 7, 30, tzinfo=UTC))
    assert recorder.reports() == [
        "monthly 2026-09",
        "monthly 2026-10",
        "monthly 2026-11",
        "monthly 2026-12",
        "quarterly 2026-Q3",
        "quarterly 2026-Q4",
    ]
    # Ingest and forecast run once for the latest fire, not once per missed fire.
    assert [c for c in recorder.calls if c.startswith(("ingest", "forecast"))] == [
        "ingest 2027-01-01T07:30",
        "forecast 2027-01-01T01:30",
    ]


def test_catch_up_is_limited_by_max_catch_up(engine: Engine, tmp_path: Path) -> None:
    config, recorder = make_config(tmp_path, max_catch_up=2), Recorder()
    run(engine, config, recorder, datetime(2026, 10, 1, 7, 30, tzinfo=UTC))
    recorder.calls.clear()
    plan = due_runs(engine, config, datetime(2027, 1, 1, 6, 0, tzinfo=UTC))
    assert [(r.job, r.key) for r in plan.runs if r.job == "monthly"] == [
        ("monthly", "2026-11"),
        ("monthly", "2026-12"),
    ]
    assert any("1 older missed period(s)" in n and "2026-10" in n for n in plan.notes)
    run(engine, config, recorder, datetime(2027, 1, 1, 6, 0, tzinfo=UTC))
    assert recorder.reports() == ["monthly 2026-11", "monthly 2026-12"]
    # The period left behind stays behind: the next run-due does not go back for it.
    run(engine, config, recorder, datetime(2027, 1, 1, 6, 5, tzinfo=UTC))
    assert recorder.reports() == ["monthly 2026-11", "monthly 2026-12"]


def test_a_failed_report_is_recorded_then_retried_at_the_next_run(
    engine: Engine, tmp_path: Path
) -> None:
    config, recorder = make_config(tmp_path), Recorder()
    recorder.fail = {"monthly 2026-10"}
    report = run_due(engine, config, now=MONTH_END, env={}, runners=recorder.runners())
    assert [o.line() for o in report.failed] == [
        "report:monthly 2026-10: failed - monthly 2026-10 broke on purpose"
    ]
    failed = ledger.runs(engine, "report:monthly")
    assert [(r.period, r.status, r.error) for r in failed] == [
        ("2026-10", "failed", "monthly 2026-10 broke on purpose")
    ]
    assert statuses(engine, "publish:monthly") == []
    # Other kinds are independent of the monthly failure.
    assert statuses(engine, "publish:quarterly") == [("2026-Q3", "succeeded")]

    recorder.fail.clear()
    recorder.calls.clear()
    again = run_due(engine, config, now=MONTH_END, env={}, runners=recorder.runners())
    assert not again.failed
    assert recorder.calls == ["monthly 2026-10"]
    assert statuses(engine, "publish:monthly") == [("2026-10", "succeeded")]


def test_an_older_failed_period_is_retried_after_later_ones_succeed(
    engine: Engine, tmp_path: Path
) -> None:
    config, recorder = make_config(tmp_path), Recorder()
    recorder.fail = {"monthly 2026-10"}
    run(engine, config, recorder, MONTH_END)
    recorder.calls.clear()
    run(engine, config, recorder, datetime(2026, 12, 1, 6, 0, tzinfo=UTC))
    assert recorder.reports() == ["monthly 2026-10", "monthly 2026-11"]
    recorder.fail.clear()
    recorder.calls.clear()
    run(engine, config, recorder, datetime(2026, 12, 1, 6, 10, tzinfo=UTC))
    assert recorder.reports() == ["monthly 2026-10"]


def test_a_failed_ingest_blocks_what_depends_on_it(engine: Engine, tmp_path: Path) -> None:
    config, recorder = make_config(tmp_path), Recorder()
    recorder.fail = {"ingest 2026-11-01T06:00"}
    report = run_due(engine, config, now=MONTH_END, env={}, runners=recorder.runners())
    assert [o.status for o in report.outcomes] == ["failed"] + ["blocked"] * 4
    assert recorder.calls == ["ingest 2026-11-01T06:00"]
    assert statuses(engine, "ingest") == [("2026-11-01T06:00Z", "failed")]
    assert statuses(engine, "forecast") == []

    recorder.fail.clear()
    recorder.calls.clear()
    run(engine, config, recorder, datetime(2026, 11, 1, 6, 10, tzinfo=UTC))
    assert recorder.calls[0] == "ingest 2026-11-01T06:10"
    assert recorder.reports() == ["monthly 2026-10", "quarterly 2026-Q3", "annual 2025"]


def test_a_forecast_in_which_every_series_failed_is_a_failure(
    engine: Engine, tmp_path: Path
) -> None:
    import pandas as pd

    from jobs.ingest import store_frame

    config, recorder = make_config(tmp_path), Recorder()
    index = pd.date_range("2026-10-29", "2026-11-01", freq="1h", tz="UTC", inclusive="left")
    frame = pd.DataFrame(
        {"timestamp": index, "service": "backend", "metric": "cpu_percent", "value": 40.0}
    )
    store_frame(engine, config, frame)  # three days: too little history for any forecast
    runners = Runners(ingest=recorder.ingest, build_report=recorder.build)
    report = run_due(engine, config, now=MONTH_END, env={}, runners=runners)

    forecast = report.outcomes[1]
    assert (forecast.job, forecast.status) == ("forecast", "failed")
    assert "no series could be forecast" in forecast.message
    assert "insufficient history" in forecast.message
    assert [o.status for o in report.outcomes[2:]] == ["blocked"] * 3
    assert recorder.reports() == []  # no report goes out on a forecast that has nothing
    [run_record] = ledger.runs(engine, "forecast")
    assert run_record.status == "failed"
    assert run_record.error is not None and "no series could be forecast" in run_record.error
    assert run_record.outputs["failures"]
    # Still due: the next run-due tries again.
    assert "forecast" in [r.job for r in due_runs(engine, config, MONTH_END).runs]


def test_a_staged_report_is_not_rendered_again_when_only_publishing_failed(
    engine: Engine, tmp_path: Path
) -> None:
    config, recorder = make_config(tmp_path), Recorder()
    run(engine, config, recorder, MONTH_END)
    # Pretend the monthly publish failed: the retry delivers the staged files.
    ledger.finish_run(
        engine,
        ledger.runs(engine, "publish:monthly")[0].id,
        ledger.FAILED,
        error="s3 was down",
    )
    recorder.calls.clear()
    run(engine, config, recorder, MONTH_END)
    assert recorder.calls == []
    assert statuses(engine, "publish:monthly") == [
        ("2026-10", "failed"),
        ("2026-10", "succeeded"),
    ]


def test_invalid_cron_expression_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(CapplanError, match=r"schedule\.monthly: .*not a valid cron expression"):
        make_config(tmp_path, monthly="0 6 32 * *")


# --- the lease ---------------------------------------------------------------------------


def test_lease_is_exclusive_until_released(engine: Engine) -> None:
    assert acquire_lease(engine, "job", "host-a:1", 60, now=1000)
    assert not acquire_lease(engine, "job", "host-b:2", 60, now=1001)
    assert acquire_lease(engine, "job", "host-a:1", 60, now=1002)  # re-entrant for its holder
    release_lease(engine, "job", "host-b:2")  # not the holder: no effect
    assert not acquire_lease(engine, "job", "host-b:2", 60, now=1003)
    release_lease(engine, "job", "host-a:1")
    assert acquire_lease(engine, "job", "host-b:2", 60, now=1004)
    assert lease_record(engine, "job") is not None


def test_a_crashed_holders_lease_expires_and_is_taken_over(engine: Engine) -> None:
    # host-a took the lease and died without releasing or renewing it.
    assert acquire_lease(engine, "run-due", "host-a:1", 60, now=1000)
    assert not acquire_lease(engine, "run-due", "host-b:2", 60, now=1059)
    assert acquire_lease(engine, "run-due", "host-b:2", 60, now=1060)
    record = lease_record(engine, "run-due")
    assert record is not None
    assert (record.holder, record.expires_at) == ("host-b:2", 1120)
    # The old holder, if it comes back, cannot renew what it lost.
    assert not renew_lease(engine, "run-due", "host-a:1", 60, now=1061)
    assert renew_lease(engine, "run-due", "host-b:2", 60, now=1061)


class FakeClock:
    """Seconds since the epoch that move only when the test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_run_due_refuses_to_start_while_another_holds_the_lease(
    engine: Engine, tmp_path: Path
) -> None:
    config, recorder = make_config(tmp_path), Recorder()
    assert acquire_lease(engine, "run-due", "other-host:99", 600, now=1000)
    with pytest.raises(LeaseBusyError, match="other-host:99"):
        run_due(
            engine,
            config,
            now=MONTH_END,
            env={},
            runners=recorder.runners(),
            clock=FakeClock(1599),
        )
    assert recorder.calls == []
    assert ledger.runs(engine) == []


def test_run_due_takes_over_after_the_crashed_holders_lease_expired(
    engine: Engine, tmp_path: Path
) -> None:
    config, recorder = make_config(tmp_path), Recorder()
    assert acquire_lease(engine, "run-due", "crashed-host:1", 600, now=1000)
    report = run_due(
        engine, config, now=MONTH_END, env={}, runners=recorder.runners(), clock=FakeClock(1600)
    )
    assert not report.failed
    assert "monthly 2026-10" in recorder.calls
    assert lease_record(engine) is None  # released at the end


def test_the_lease_is_renewed_while_the_holder_works(engine: Engine) -> None:
    clock = FakeClock(1000)
    with Lease(engine, name="slow", ttl_seconds=60, clock=clock) as lease:
        first = lease_record(engine, "slow")
        clock.advance(50)
        assert lease.renew()  # what the renewing thread does every ttl/3
        later = lease_record(engine, "slow")
        clock.advance(30)  # past the first expiry, within the renewed one
        lease.check()
    assert first is not None and later is not None
    assert (first.expires_at, later.expires_at) == (1060, 1110)
    assert lease_record(engine, "slow") is None


def test_a_lease_taken_over_cannot_be_renewed(engine: Engine) -> None:
    clock = FakeClock(1000)
    with Lease(engine, name="taken", ttl_seconds=60, holder="host-a:1", clock=clock) as lease:
        clock.advance(60)  # renewals stalled for a whole TTL: another host takes over
        assert acquire_lease(engine, "taken", "host-b:2", 60, now=clock())
        assert not lease.renew()
        with pytest.raises(LeaseLostError, match="lease was lost"):
            lease.check()
    # Leaving the block does not release what another host now holds.
    record = lease_record(engine, "taken")
    assert record is not None and record.holder == "host-b:2"


def test_a_lost_lease_stops_the_holder_before_the_next_job(engine: Engine) -> None:
    clock = FakeClock(1000)
    with Lease(engine, name="lost", ttl_seconds=60, clock=clock) as lease:
        clock.advance(61)  # renewals stalled past the TTL: another host may hold it now
        with pytest.raises(LeaseLostError, match="lease was lost"):
            lease.check()


def test_schedule_lists_jobs_with_last_and_next_run(
    capplan: Capplan, database_url: str, tmp_path: Path
) -> None:
    config_path = tmp_path / "capplan.yaml"
    config = make_config(tmp_path)
    config_path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    engine = open_store(database_url)
    recorder = Recorder()
    run(engine, config, recorder, MONTH_END)
    output = capplan("schedule", "--now", "2026-11-15T00:00", config=config_path).output
    lines = {line.split()[0]: line for line in output.splitlines() if line}
    assert "0 6 1 * *" in lines["monthly"]
    assert "2026-10" in lines["monthly"] and "succeeded" in lines["monthly"]
    assert "2026-12-01 06:00" in lines["monthly"]
    assert "2026-11-15 00:15" in lines["ingest"]
    assert "never" not in output


def test_scheduled_ingest_applies_raw_retention(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    from jobs.config import runbook_config
    from jobs.ingest import store_frame
    from jobs.schedule.run_due import run_ingest
    from jobs.store import open_store
    from jobs.store.rollups import read_rollups
    from jobs.store.samples import read_samples
    from jobs.store.series import list_series

    config = runbook_config()
    engine = open_store(f"sqlite:///{tmp_path / 'retention.db'}")
    index = pd.date_range("2026-01-01", "2026-03-01", freq="1h", tz="UTC", inclusive="left")
    frame = pd.DataFrame(
        {
            "timestamp": index,
            "service": "backend",
            "metric": "cpu_percent",
            "value": np.full(len(index), 40.0),
        }
    )
    store_frame(engine, config, frame)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    status, outputs = run_ingest(engine, config, now)
    assert status == "skipped"  # no Prometheus source, yet retention still applies
    (series,) = list_series(engine)
    kept = read_samples(engine, series.id, 0, 2**40)
    assert kept.index.min() >= pd.Timestamp(now) - pd.Timedelta(days=35)
    assert outputs["pruned_raw_rows"] == len(frame) - len(kept) > 0
    assert len(read_rollups(engine, series.id, "day", 0, 2**40)) == 59
    engine.dispose()

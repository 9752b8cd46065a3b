"""capplan ingest --prometheus and capplan backfill against a real Prometheus."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import Engine

from jobs.config import Config, load_config, runbook_config_text
from jobs.errors import CapplanError
from jobs.ingest.backfill import backfill_source
from jobs.schedule.run_due import Outcome, Runners, run_due
from jobs.store import open_store
from tests.conftest import Capplan, repo_path
from tests.servers.prometheus import (
    STEP_SECONDS,
    FaultServer,
    Forward,
    Hang,
    PrometheusServer,
    Respond,
    unavailable,
)

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow


def prometheus_config(tmp_path: Path, url: str, server: PrometheusServer, **extra: object) -> Path:
    data = yaml.safe_load(runbook_config_text())
    data["sources"] = {
        "prometheus": {
            "url": url,
            "service_label": server.service_label,
            "step_seconds": server.step_seconds,
            "timeout_seconds": 5,
            "queries": dict(server.queries),
            **extra,
        }
    }
    path = tmp_path / f"prometheus-{abs(hash(url))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def stored(database_url: str) -> pd.DataFrame:
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        frame = pd.read_sql_query(
            "SELECT p.ts, s.service, s.metric, p.value FROM samples p "
            "JOIN series s ON s.id = p.series_id",
            db,
        )
    frame["timestamp"] = pd.to_datetime(frame.pop("ts"), unit="s", utc=True).dt.as_unit("ns")
    return frame.sort_values(["metric", "timestamp", "service"], ignore_index=True)[
        ["timestamp", "service", "metric", "value"]
    ]


def iso(stamp: object) -> str:
    return pd.Timestamp(stamp).strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[arg-type]


def test_ninety_days_stored_exactly_as_generated(
    capplan: Capplan, tmp_path: Path, database_url: str, prometheus_server: PrometheusServer
) -> None:
    server = prometheus_server
    config = prometheus_config(tmp_path, server.base_url, server)
    start, end = server.start, server.start + timedelta(days=90)
    out = capplan(
        "ingest", "--prometheus", "--since", iso(start), "--until", iso(end), config=config
    )
    assert "prometheus cpu_percent" in out.output and "prometheus memory_percent" in out.output
    expected = server.samples[server.samples["timestamp"] <= pd.Timestamp(end)]
    actual = stored(database_url)
    assert len(actual) == len(expected) > 90 * 288 * 3 * 2 - 10
    np.testing.assert_array_equal(actual["value"].to_numpy(), expected["value"].to_numpy())
    pd.testing.assert_frame_equal(actual, expected.reset_index(drop=True), check_dtype=False)

    # Without --since the next pull resumes at the watermark: nothing new, nothing twice.
    again = capplan("ingest", "--prometheus", "--until", iso(end), config=config)
    assert "0 rows read" in again.output
    assert len(stored(database_url)) == len(expected)


def test_prometheus_down_is_retried_then_recorded(
    capplan: Capplan, tmp_path: Path, database_url: str, prometheus_server: PrometheusServer
) -> None:
    with FaultServer() as fault:
        fault.script(then=unavailable())
        config = prometheus_config(tmp_path, fault.base_url, prometheus_server, max_attempts=2)
        result = capplan(
            "ingest",
            "--prometheus",
            "--since",
            iso(prometheus_server.start),
            "--until",
            iso(prometheus_server.start + timedelta(days=1)),
            config=config,
            expect=1,
        )
        # Each metric is tried (one failing metric does not stop the others), twice each.
        assert len(fault.requests) == 2 * len(prometheus_server.queries)
    assert "Traceback" not in result.output
    assert fault.base_url in result.output
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        (status, error) = db.execute("SELECT status, error FROM job_runs").fetchone()
    assert status == "failed" and fault.base_url in error


def run_backfill(config: Path, database_url: str, start: str, end: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobs.cli",
            "--database",
            database_url,
            "--config",
            str(config),
            "backfill",
            "--from",
            start,
            "--to",
            end,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def watermarks(database_url: str) -> list[tuple[str, int]]:
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        try:
            return db.execute("SELECT key, ts FROM watermarks ORDER BY key").fetchall()
        except sqlite3.OperationalError:
            return []


def test_backfill_killed_mid_run_resumes_without_loss_or_duplicates(
    tmp_path: Path, database_url: str, prometheus_server: PrometheusServer
) -> None:
    server = prometheus_server
    start, end = iso(server.start), iso(server.start + timedelta(days=90))
    with FaultServer() as fault:
        # Two chunks go through, then Prometheus stalls: the process is killed
        # while it waits, after storing some chunks and before the rest.
        fault.script(Forward(server.base_url), Forward(server.base_url), then=Hang(60))
        config = prometheus_config(tmp_path, fault.base_url, server, timeout_seconds=60)
        process = run_backfill(config, database_url, start, end)
        deadline = time.monotonic() + 60
        while len(fault.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert process.poll() is None, process.communicate()[0].decode()
        process.send_signal(signal.SIGKILL)
        process.communicate()
    partial = stored(database_url)
    marks = watermarks(database_url)
    expected = server.samples[server.samples["timestamp"] <= pd.Timestamp(end)]
    assert 0 < len(partial) < len(expected)
    assert marks, "the stored chunks must have moved the watermark"

    direct = prometheus_config(tmp_path, server.base_url, server)
    finished = run_backfill(direct, database_url, start, end)
    output = finished.communicate(timeout=300)[0].decode()
    assert finished.returncode == 0, output
    actual = stored(database_url)
    assert not actual.duplicated(["timestamp", "service", "metric"]).any()
    pd.testing.assert_frame_equal(actual, expected.reset_index(drop=True), check_dtype=False)
    # The re-run did not start over: it asked only for what was missing.
    assert "prometheus cpu_percent" in output


# --------------------------------------------------------------------------- README templates


def forecast_elsewhere(engine: Engine, config: Config, moment: datetime) -> Outcome:
    raise CapplanError("the forecast is tested elsewhere")


def quiet_runners() -> Runners:
    """Real ingest; the forecast fails on purpose so no report is rendered after it."""
    return Runners(forecast=forecast_elsewhere)


def readme_prometheus_source() -> dict[str, Any]:
    """The ``sources.prometheus`` block of the README's configuration example, verbatim."""
    readme = repo_path("README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    sources = [
        yaml.safe_load(block)["sources"]["prometheus"]
        for block in blocks
        if "sources:" in block and "prometheus:" in block
    ]
    assert len(sources) == 1, "the README shows one sources.prometheus example"
    source: dict[str, Any] = sources[0]
    return source


def readme_config(tmp_path: Path, url: str, server: PrometheusServer) -> Path:
    """The runbook configuration with the README's Prometheus source, pointed at ``url``."""
    data = yaml.safe_load(runbook_config_text())
    source = readme_prometheus_source()
    assert set(source["queries"]) == {"cpu_cores", "memory_bytes"}
    data["sources"] = {"prometheus": {**source, "url": url, "timeout_seconds": 5}}
    assert server.service_label == "service"  # the README relies on the default label
    path = tmp_path / "readme-prometheus.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def expected_percent(server: PrometheusServer, start: datetime, end: datetime) -> pd.DataFrame:
    """The README templates' answers over [start, end] as percent of the runbook allocations."""
    totals = {  # per-replica allocation x replicas in jobs/config/runbook.yaml
        ("backend", "cpu_cores"): 2 * 2.0,
        ("frontend", "cpu_cores"): 1 * 2.0,
        ("postgres", "cpu_cores"): 2.0,
        ("backend", "memory_bytes"): 4 * 2.0 * 2**30,
        ("frontend", "memory_bytes"): 2 * 2.0 * 2**30,
        ("postgres", "memory_bytes"): 4.0 * 2**30,
    }
    usage = server.usage
    usage = usage[
        (usage["timestamp"] >= pd.Timestamp(start)) & (usage["timestamp"] <= pd.Timestamp(end))
    ]
    total = [totals[(s, m)] for s, m in zip(usage["service"], usage["metric"], strict=True)]
    stored_as = usage["metric"].map({"cpu_cores": "cpu_percent", "memory_bytes": "memory_percent"})
    frame = usage.assign(metric=stored_as, value=100.0 * usage["value"] / np.array(total))
    return frame.sort_values(["metric", "timestamp", "service"], ignore_index=True)


def assert_stored_as_percent(database_url: str, expected: pd.DataFrame) -> None:
    actual = stored(database_url)
    assert len(actual) == len(expected) > 0
    pd.testing.assert_frame_equal(
        actual[["timestamp", "service", "metric"]],
        expected[["timestamp", "service", "metric"]],
        check_dtype=False,
    )
    np.testing.assert_allclose(actual["value"], expected["value"], rtol=1e-12, atol=0)


def test_readme_templates_ingest_absolute_usage_as_percent(
    capplan: Capplan, tmp_path: Path, database_url: str, prometheus_server: PrometheusServer
) -> None:
    server = prometheus_server
    config = readme_config(tmp_path, server.base_url, server)
    start, end = server.start, server.start + timedelta(days=2)
    out = capplan(
        "ingest", "--prometheus", "--since", iso(start), "--until", iso(end), config=config
    )
    assert "prometheus cpu_cores" in out.output and "prometheus memory_bytes" in out.output
    assert_stored_as_percent(database_url, expected_percent(server, start, end))
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        assert db.execute("SELECT status FROM job_runs").fetchall() == [("succeeded",)]


def test_readme_templates_backfill(
    capplan: Capplan, tmp_path: Path, database_url: str, prometheus_server: PrometheusServer
) -> None:
    server = prometheus_server
    config = readme_config(tmp_path, server.base_url, server)
    start, end = server.start + timedelta(days=1), server.start + timedelta(days=3)
    capplan("backfill", "--from", iso(start), "--to", iso(end), config=config)
    assert_stored_as_percent(database_url, expected_percent(server, start, end))


def test_readme_templates_in_run_due(
    tmp_path: Path, database_url: str, prometheus_server: PrometheusServer
) -> None:
    server = prometheus_server
    config = load_config(readme_config(tmp_path, server.base_url, server))
    engine = open_store(database_url)
    now = server.start + timedelta(days=3, minutes=1)  # just after an ingest fire
    report = run_due(engine, config, now=now, env={}, runners=quiet_runners())
    ingest = [o for o in report.outcomes if o.job == "ingest"]
    assert [o.status for o in ingest] == ["succeeded"], ingest
    # The first scheduled pull reaches raw_retention_days back: the whole history so far.
    assert_stored_as_percent(database_url, expected_percent(server, server.start, now))


# --------------------------------------------------------------------------- watermarks


def series_marks(database_url: str, source: str = "prometheus") -> dict[str, int]:
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        rows = db.execute("SELECT key, ts FROM watermarks WHERE source = ?", (source,)).fetchall()
    return {str(key): int(ts) for key, ts in rows}


def last_stored(database_url: str) -> dict[str, int]:
    """The newest stored instant of each series, keyed like the watermarks."""
    frame = stored(database_url)
    newest = frame.groupby(["metric", "service"], as_index=False)["timestamp"].max()
    return {
        f"{metric}/{service}": int(stamp.timestamp())
        for metric, service, stamp in zip(
            newest["metric"], newest["service"], newest["timestamp"], strict=True
        )
    }


def ledger_rows(database_url: str) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        return db.execute("SELECT job, status, error FROM job_runs ORDER BY id").fetchall()


def test_future_until_is_clamped_and_the_watermark_is_the_last_stored_instant(
    capplan: Capplan, tmp_path: Path, database_url: str, prometheus_server: PrometheusServer
) -> None:
    server = prometheus_server
    config = prometheus_config(tmp_path, server.base_url, server)
    since = server.end - timedelta(days=2)
    future = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=90)
    out = capplan(
        "ingest", "--prometheus", "--since", iso(since), "--until", iso(future), config=config
    )

    assert f"--until: the end {iso(future)} is in the future: pulling up to now" in out.output
    marks = series_marks(database_url)
    assert marks == last_stored(database_url)
    assert len(marks) == len(server.queries) * 3
    # The last stored instant, at most one lookback after the last sample: not the future.
    assert max(marks.values()) <= int(server.end.timestamp()) + 300

    # Re-reading an older range stores nothing new and moves no mark back.
    capplan("ingest", "--prometheus", "--since", iso(since), "--until", iso(since), config=config)
    assert series_marks(database_url) == marks

    # The next regular pull resumes after the stored data, not after the requested end:
    # Prometheus has nothing newer, so it is a failure and the watermarks stay.
    later = server.end + timedelta(days=1)
    again = capplan("ingest", "--prometheus", "--until", iso(later), config=config, expect=1)
    asked_from = pd.Timestamp(min(marks.values()) + server.step_seconds, unit="s")
    assert f"returned no series between {iso(asked_from)} and {iso(later)}" in again.output
    assert series_marks(database_url) == marks


def broken_queries(server: PrometheusServer) -> dict[str, str]:
    return {
        **server.queries,
        # A misspelled metric name: valid PromQL that matches nothing.
        "disk_percent": "max by ({service_label}) (capplan_disk_percnt)",
        # Not PromQL at all: Prometheus answers 400 bad_data.
        "error_rate_percent": "max by ({service_label}) (capplan_cpu_percent",
    }


def assert_failed_metrics_reported(output: str, database_url: str, job: str) -> None:
    for promql in (
        "max by (service) (capplan_disk_percnt)",
        "max by (service) (capplan_cpu_percent",
    ):
        assert promql in output
    warnings = [line for line in output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, output
    (error,) = [line for line in output.splitlines() if line.startswith("Error:")]
    assert "2 of 4 Prometheus metric(s) failed (disk_percent, error_rate_percent)" in error
    assert "'disk_percent'" in warnings[0] and "returned no series" in warnings[0]
    assert "'error_rate_percent'" in warnings[1] and "bad_data" in warnings[1]
    assert "Traceback" not in output
    (recorded,) = [row for row in ledger_rows(database_url) if row[0] == job]
    assert recorded[1] == "failed"
    assert recorded[2] is not None
    assert "disk_percent" in recorded[2] and "error_rate_percent" in recorded[2]


def test_query_without_series_or_refused_fails_that_metric_only(
    capplan: Capplan, tmp_path: Path, database_url: str, prometheus_server: PrometheusServer
) -> None:
    server = prometheus_server
    with FaultServer() as fault:
        fault.script(then=Forward(server.base_url))
        config = prometheus_config(tmp_path, fault.base_url, server)
        data = yaml.safe_load(config.read_text())
        data["sources"]["prometheus"]["queries"] = broken_queries(server)
        config.write_text(yaml.safe_dump(data))
        start, end = server.start, server.start + timedelta(days=2)
        result = capplan(
            "ingest",
            "--prometheus",
            "--since",
            iso(start),
            "--until",
            iso(end),
            config=config,
            expect=1,
        )
        refused = [r for r in fault.requests if r.form.get("query", "").endswith("percent")]
    assert len(refused) == 1, "a query Prometheus refuses as bad_data is not retried"
    assert_failed_metrics_reported(result.output, database_url, "ingest")
    # The metrics around the failing ones were stored, with their watermarks.
    expected = server.samples[server.samples["timestamp"] <= pd.Timestamp(end)]
    pd.testing.assert_frame_equal(
        stored(database_url), expected.reset_index(drop=True), check_dtype=False
    )
    marks = series_marks(database_url)
    assert marks == last_stored(database_url)
    assert not [key for key in marks if key.startswith(("disk_percent", "error_rate_percent"))]


def test_backfill_with_a_failing_metric_fails_and_renders_no_report(
    capplan: Capplan, tmp_path: Path, database_url: str, prometheus_server: PrometheusServer
) -> None:
    server = prometheus_server
    config = prometheus_config(tmp_path, server.base_url, server)
    data = yaml.safe_load(config.read_text())
    data["sources"]["prometheus"]["queries"] = broken_queries(server)
    config.write_text(yaml.safe_dump(data))
    # The range holds the end of October 2024: a monthly report would follow the ingest.
    start, end = server.start + timedelta(days=29), server.start + timedelta(days=31, hours=1)
    result = capplan(
        "backfill",
        "--from",
        iso(start),
        "--to",
        iso(end),
        "--reports",
        "monthly",
        config=config,
        expect=1,
    )
    assert_failed_metrics_reported(result.output, database_url, "backfill")
    assert "monthly 2024-10" not in result.output
    assert not (tmp_path / "out").exists()
    assert len(stored(database_url)) > 0
    marks = series_marks(database_url, backfill_source("prometheus", start, end))
    assert marks == last_stored(database_url)


def test_run_due_ingest_with_a_failing_metric_is_a_failed_step(
    tmp_path: Path, database_url: str, prometheus_server: PrometheusServer
) -> None:
    server = prometheus_server
    path = prometheus_config(tmp_path, server.base_url, server)
    data = yaml.safe_load(path.read_text())
    data["sources"]["prometheus"]["queries"] = broken_queries(server)
    path.write_text(yaml.safe_dump(data))
    engine = open_store(database_url)
    now = server.start + timedelta(days=2, minutes=1)
    report = run_due(engine, load_config(path), now=now, env={}, runners=quiet_runners())
    by_job = {o.job: o for o in report.outcomes}
    assert by_job["ingest"].status == "failed"
    assert "disk_percent" in by_job["ingest"].message
    assert by_job["forecast"].status == "blocked"
    (recorded,) = [row for row in ledger_rows(database_url) if row[0] == "ingest"]
    assert recorded[1] == "failed" and "capplan_disk_percnt" in str(recorded[2])
    marks = series_marks(database_url)
    assert marks == last_stored(database_url) and len(marks) == 6


def test_unexpected_error_in_a_prometheus_ingest_is_recorded_as_failed(
    capplan: Capplan,
    tmp_path: Path,
    database_url: str,
    prometheus_server: PrometheusServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_conversion(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    # Stands for any bug below the command (the MergeError of pandas was one).
    monkeypatch.setattr("jobs.ingest.storing.to_stored_metrics", broken_conversion)
    server = prometheus_server
    config = prometheus_config(tmp_path, server.base_url, server)
    start, end = server.start, server.start + timedelta(days=1)
    with pytest.raises(RuntimeError, match="disk on fire"):
        capplan("ingest", "--prometheus", "--since", iso(start), "--until", iso(end), config=config)
    assert ledger_rows(database_url) == [("ingest", "failed", "RuntimeError: disk on fire")]
    assert series_marks(database_url) == {}


def matrix(series: dict[str, tuple[datetime, datetime]], step: int) -> Respond:
    """A query_range answer with one series per service over [first, last]."""
    result = []
    for service, (first, last) in series.items():
        stamps = range(int(first.timestamp()), int(last.timestamp()) + 1, step)
        values = [[stamp, f"{10 + (stamp // step) % 7}"] for stamp in stamps]
        result.append({"metric": {"service": service}, "values": values})
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    return Respond(200, body)


def test_a_lagging_series_is_asked_again_from_its_own_last_instant(
    capplan: Capplan, tmp_path: Path, database_url: str, prometheus_server: PrometheusServer
) -> None:
    start = prometheus_server.start
    hour, half = start + timedelta(hours=1), start + timedelta(minutes=30)
    later = start + timedelta(hours=2)
    step = prometheus_server.step_seconds
    with FaultServer() as fault:
        # frontend's last half hour is not in Prometheus yet at the first pull.
        fault.script(
            matrix({"backend": (start, hour), "frontend": (start, half)}, step),
            matrix({"backend": (start, later), "frontend": (start, later)}, step),
        )
        config = prometheus_config(tmp_path, fault.base_url, prometheus_server)
        data = yaml.safe_load(config.read_text())
        data["sources"]["prometheus"]["queries"] = {"cpu_percent": "max by (service) (cpu)"}
        config.write_text(yaml.safe_dump(data))
        capplan(
            "ingest", "--prometheus", "--since", iso(start), "--until", iso(hour), config=config
        )
        assert series_marks(database_url) == {
            "cpu_percent/backend": int(hour.timestamp()),
            "cpu_percent/frontend": int(half.timestamp()),
        }
        capplan("ingest", "--prometheus", "--until", iso(later), config=config)
        second = fault.requests[1].form
    assert int(second["start"]) == int(half.timestamp()) + step
    rows = stored(database_url)
    per_service = rows.groupby("service")["timestamp"].agg(["min", "max", "count"])
    for service in ("backend", "frontend"):
        assert per_service.loc[service, "count"] == 2 * 3600 // step + 1
        assert per_service.loc[service, "max"] == pd.Timestamp(later)
    assert set(series_marks(database_url).values()) == {int(later.timestamp())}


def test_series_only_for_unconfigured_services_fail_the_metric(
    capplan: Capplan, tmp_path: Path, database_url: str, prometheus_server: PrometheusServer
) -> None:
    start = prometheus_server.start
    end = start + timedelta(hours=1)
    long_name = "x" * 5000
    with FaultServer() as fault:
        fault.script(then=matrix({"billing": (start, end), long_name: (start, end)}, STEP_SECONDS))
        config = prometheus_config(tmp_path, fault.base_url, prometheus_server)
        data = yaml.safe_load(config.read_text())
        data["sources"]["prometheus"]["queries"] = {"cpu_percent": "max by (service) (cpu)"}
        config.write_text(yaml.safe_dump(data))
        result = capplan(
            "ingest",
            "--prometheus",
            "--since",
            iso(start),
            "--until",
            iso(end),
            config=config,
            expect=1,
        )
    assert "only for services that are not configured (billing, xxx" in result.output
    assert "(5000 characters)" in result.output and long_name not in result.output
    assert "26 rejected" in result.output
    assert series_marks(database_url) == {}


def test_backfill_to_the_future_is_clamped_and_marks_what_was_stored(
    capplan: Capplan, tmp_path: Path, database_url: str, prometheus_server: PrometheusServer
) -> None:
    server = prometheus_server
    config = prometheus_config(tmp_path, server.base_url, server)
    start = server.end - timedelta(days=1)
    future = pd.Timestamp.now(tz="UTC").floor("min") + pd.Timedelta(days=90)
    result = capplan("backfill", "--from", iso(start), "--to", iso(future), config=config)
    assert f"--to: the end {iso(future)} is in the future: pulling up to now" in result.output
    marks = series_marks(database_url, backfill_source("prometheus", start, future.to_pydatetime()))
    assert marks == last_stored(database_url)
    assert max(marks.values()) <= int(server.end.timestamp()) + server.step_seconds

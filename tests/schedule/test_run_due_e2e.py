"""``capplan run-due`` end to end: real forecast and report, SeaweedFS, aiosmtpd, SQLite.

A small history (60 days, two services) keeps each run to seconds; the
quarterly and annual reports of the simulated month end are recorded as
already published, so the month end renders only the monthly report. The
slow-relay test swaps in a quick report builder: what it checks is the
email claim, and the other tests render the real report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

import jobs.schedule.run_due
from jobs.config import Config, parse_config, runbook_config_text
from jobs.ingest import store_frame
from jobs.ingest.sources.sample import sample_history
from jobs.periods import ReportPeriod
from jobs.publishers.delivery import ReportBuilder
from jobs.store import ledger, open_store
from tests.conftest import Capplan
from tests.publish_support import publish_section, s3_prefix
from tests.report_support import pdfinfo, pdftotext
from tests.servers.seaweedfs import S3Server
from tests.servers.smtp import SmtpServer

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

MONTH_END = "2026-11-01T06:00:00Z"
SERVICES = ("backend", "postgres")
PDF_NAME = "capacity-monthly-2026-10.pdf"


def write_config(
    tmp_path: Path, *, s3: S3Server | None = None, smtp: SmtpServer | None = None, **email: Any
) -> tuple[Path, Config]:
    raw: dict[str, Any] = yaml.safe_load(runbook_config_text())
    raw["services"] = {name: raw["services"][name] for name in SERVICES}
    raw["publish"] = publish_section(
        tmp_path,
        s3=s3,
        smtp=smtp,
        prefix=f"e2e-{uuid.uuid4().hex[:10]}",
        recipients={"monthly": ["infra-leads@example.org"]},
        **email,
    )
    config = parse_config(raw, "e2e")
    path = tmp_path / "capplan.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path, config


def prepare_store(database_url: str, config: Config, *, forecast_done: bool = False) -> Engine:
    engine = open_store(database_url)
    history = sample_history(datetime(2026, 11, 1, tzinfo=UTC), days=60, seed=0)
    store_frame(engine, config, history[history["service"].isin(SERVICES)])
    done = [("publish:quarterly", "2026-Q3"), ("publish:annual", "2025")]
    if forecast_done:
        done.append(("forecast", "2026-11-01T01:30Z"))
    for job, period in done:
        ledger.finish_run(engine, ledger.start_run(engine, job, period), ledger.SUCCEEDED)
    return engine


@dataclass(frozen=True)
class QuickReport:
    period: ReportPeriod
    pdf: bytes
    filename: str
    summary_text: str
    summary_html: str
    extras: tuple[tuple[str, bytes, str], ...] = ()


def quick_builder() -> ReportBuilder:
    def build(engine: Engine, config: Config, period: ReportPeriod) -> QuickReport:
        pdf = b"%PDF-1.7\n" + period.label.encode() * 1000 + b"\n%%EOF\n"
        return QuickReport(period, pdf, "r.pdf", "Monthly capacity review", "<p>review</p>")

    return build


def assert_is_the_monthly_report(pdf: Path) -> None:
    """A real PDF that poppler reads back as October 2026's monthly review."""
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert pdfinfo(pdf)["Title"] == "Monthly capacity review – October 2026"
    assert "October 2026" in pdftotext(pdf, first=1, last=1)
    assert "Monthly capacity review · 2026-10" in pdftotext(pdf, first=2, last=2)


def runs(engine: Engine, job: str) -> list[tuple[str, str]]:
    return [(r.period, r.status) for r in ledger.runs(engine, job)]


def test_month_end_uploads_and_emails_once(
    capplan: Capplan, database_url: str, tmp_path: Path, s3_env: S3Server, smtp: SmtpServer
) -> None:
    config_path, config = write_config(tmp_path, s3=s3_env, smtp=smtp)
    engine = prepare_store(database_url, config)

    first = capplan("run-due", "--now", MONTH_END, config=config_path)
    assert first.output == ""  # all went well: nothing for cron to mail
    assert runs(engine, "report:monthly") == [("2026-10", "succeeded")]
    assert runs(engine, "publish:monthly") == [("2026-10", "succeeded")]
    assert runs(engine, "forecast") == [("2026-11-01T01:30Z", "succeeded")]
    assert runs(engine, "ingest") == [("2026-11-01T06:00Z", "skipped")]

    staged = tmp_path / "out" / "monthly" / "2026-10" / PDF_NAME
    assert_is_the_monthly_report(staged)
    local_pdf = staged.read_bytes()
    key = f"{s3_prefix(config)}/monthly/2026-10/{PDF_NAME}"
    stored = s3_env.client().get_object(Bucket=s3_env.bucket, Key=key)
    assert stored["Body"].read() == local_pdf
    assert stored["ContentType"] == "application/pdf"
    metadata = stored["Metadata"]
    assert metadata["period"] == "2026-10"
    assert metadata["config-hash"] == config.fingerprint()
    assert metadata["generated-at"] == "2026-11-01T06:00:00Z"
    assert metadata["data-watermark"] == "2026-10-31T23:55:00Z"
    listed = s3_env.client().list_objects_v2(Bucket=s3_env.bucket, Prefix=f"{s3_prefix(config)}/")
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in listed["Contents"]) == [
        PDF_NAME,
        "manifest.json",
    ]

    [received] = smtp.received
    assert received.rcpt_tos == ("infra-leads@example.org",)
    [attachment] = received.message.iter_attachments()
    assert attachment.get_filename() == PDF_NAME
    assert attachment.get_content() == local_pdf
    summary = received.message.get_body(("plain",))
    assert summary is not None and "Monthly capacity review 2026-10" in summary.get_content()

    # The same month end again: nothing is due, nothing is uploaded or sent.
    second = capplan("run-due", "-v", "--now", MONTH_END, config=config_path)
    assert "nothing due" in second.output
    assert len(smtp.received) == 1
    assert runs(engine, "publish:monthly") == [("2026-10", "succeeded")]
    # An explicit publish is idempotent too.
    third = capplan("publish", "monthly", "--period", "2026-10", config=config_path)
    assert "s3: unchanged" in third.output and "email: unchanged" in third.output
    assert len(smtp.received) == 1


def test_wrong_s3_credentials_fail_then_the_next_run_completes_without_duplicates(
    capplan: Capplan,
    database_url: str,
    tmp_path: Path,
    s3_env: S3Server,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_path, config = write_config(tmp_path, s3=s3_env, smtp=smtp)
    engine = prepare_store(database_url, config, forecast_done=True)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")

    failed = capplan("run-due", "--now", MONTH_END, config=config_path, expect=1)
    assert "access denied" in failed.output
    assert "1 job(s) failed: publish:monthly 2026-10" in failed.output
    [attempt] = ledger.runs(engine, "publish:monthly")
    assert attempt.status == "failed"
    assert attempt.error is not None and "access denied" in attempt.error
    assert smtp.received == []
    # The report was rendered by the real builder and staged before the upload failed.
    staged = tmp_path / "out" / "monthly" / "2026-10" / PDF_NAME
    assert_is_the_monthly_report(staged)
    rendered = staged.read_bytes()

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_env.secret_key)
    retried = capplan("run-due", "-v", "--now", "2026-11-01T06:15:00Z", config=config_path)
    assert "publish:monthly 2026-10: succeeded" in retried.output
    # Delivered from what was rendered: no second rendering, one email.
    assert runs(engine, "report:monthly") == [("2026-10", "succeeded")]
    assert runs(engine, "publish:monthly") == [("2026-10", "failed"), ("2026-10", "succeeded")]
    assert len(smtp.received) == 1
    key = f"{s3_prefix(config)}/monthly/2026-10/{PDF_NAME}"
    uploaded = s3_env.client().get_object(Bucket=s3_env.bucket, Key=key)["Body"].read()
    assert uploaded == staged.read_bytes() == rendered
    assert capplan("run-due", "--now", "2026-11-01T06:30:00Z", config=config_path).output == ""
    assert len(smtp.received) == 1


def test_a_slow_relay_is_mailed_once_and_the_failure_reported_once(
    capplan: Capplan,
    database_url: str,
    tmp_path: Path,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_path, config = write_config(tmp_path, smtp=smtp, timeout_seconds=0.5, max_attempts=4)
    engine = prepare_store(database_url, config, forecast_done=True)
    monkeypatch.setattr(jobs.schedule.run_due, "default_report_builder", quick_builder)
    smtp.delay_reply(2.0)

    failed = capplan("run-due", "--now", MONTH_END, config=config_path, expect=1)
    assert "publish:monthly 2026-10: failed" in failed.output
    assert "never confirmed" in failed.output and "--resend" in failed.output
    assert len(smtp.received) == 1

    # The next run retries the publish step, which does not send the email again.
    smtp.delay_reply(0)
    retried = capplan("run-due", "--now", "2026-11-01T06:15:00Z", config=config_path)
    assert retried.output == ""
    assert len(smtp.received) == 1
    assert runs(engine, "publish:monthly") == [("2026-10", "failed"), ("2026-10", "succeeded")]
    schedule = capplan("schedule", "--now", "2026-11-01T06:20:00Z", config=config_path)
    assert "email monthly 2026-10: unconfirmed" in schedule.output


def test_two_run_due_processes_started_together_run_the_job_once(
    database_url: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    config_path, config = write_config(tmp_path, smtp=smtp)
    engine = prepare_store(database_url, config, forecast_done=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPPLAN_", "AWS_"))}
    env.update(CAPPLAN_CONFIG=str(config_path), CAPPLAN_DATABASE_URL=database_url)
    argv = [sys.executable, "-m", "jobs.cli", "run-due", "--now", MONTH_END]
    processes = [
        subprocess.Popen(
            argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    # Real processes, with their library logs and warnings: all went well, so neither
    # prints a word (cron mails any output).
    assert outputs == [("", ""), ("", "")]
    assert runs(engine, "report:monthly") == [("2026-10", "succeeded")]
    assert runs(engine, "publish:monthly") == [("2026-10", "succeeded")]
    assert len(smtp.received) == 1

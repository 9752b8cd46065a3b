"""The publish step against real servers: SeaweedFS (S3, auth enforced) and aiosmtpd."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import Engine

from jobs.config import Config, parse_config, runbook_config_text
from jobs.errors import CapplanError, ConfigError
from jobs.ingest import store_frame
from jobs.periods import ReportPeriod, parse_period, periods_between
from jobs.publishers import PublisherConfigError, PublishError
from jobs.publishers.delivery import (
    DeliveryError,
    backfill_reports,
    data_watermark,
    deliver,
    email_record,
    load_bundle,
    publish_report,
    stage_report,
)
from jobs.store import ledger, open_store
from tests.conftest import Capplan
from tests.publish_support import publish_section, s3_prefix
from tests.servers.seaweedfs import S3Server
from tests.servers.smtp import SmtpServer

PERIOD = parse_period("monthly", "2026-10")
GENERATED = datetime(2026, 11, 1, 6, 0, 5, tzinfo=UTC)
PDF = b"%PDF-1.7\n" + hashlib.sha256(b"capacity").digest() * 400 + b"\n%%EOF\n"


@dataclass(frozen=True)
class StubReport:
    period: ReportPeriod
    pdf: bytes
    filename: str
    summary_text: str
    summary_html: str
    extras: tuple[tuple[str, bytes, str], ...] = ()


def report(period: ReportPeriod = PERIOD, pdf: bytes = PDF, **extra: Any) -> StubReport:
    return StubReport(
        period,
        pdf,
        f"capacity-{period.kind}-{period.label}.pdf",
        f"{period.kind.title()} capacity review {period.label}: postgres disk in 143 days.",
        f"<p>{period.kind.title()} review <b>{period.label}</b></p>",
        **extra,
    )


def make_config(
    tmp_path: Path,
    *,
    s3: S3Server | None = None,
    smtp: SmtpServer | None = None,
    prefix: str | None = None,
    **email: Any,
) -> Config:
    raw = yaml.safe_load(runbook_config_text())
    raw["publish"] = publish_section(tmp_path, s3=s3, smtp=smtp, prefix=prefix, **email)
    return parse_config(raw, "test")


@pytest.fixture
def engine(database_url: str) -> Engine:
    return open_store(database_url)


def object_key(config: Config, name: str, period: ReportPeriod = PERIOD) -> str:
    return f"{s3_prefix(config)}/{period.kind}/{period.label}/{name}"


def attachments(server: SmtpServer) -> list[list[tuple[str | None, bytes]]]:
    return [
        [(part.get_filename(), part.get_content()) for part in message.iter_attachments()]
        for message in server.messages
    ]


def plain_text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    text: str = body.get_content()
    return text


def publish_runs(engine: Engine, kind: str = "monthly") -> list[tuple[str, str]]:
    return [(r.period, r.status) for r in ledger.runs(engine, f"publish:{kind}")]


def test_report_is_uploaded_with_metadata_and_emailed_once(
    engine: Engine, tmp_path: Path, s3_env: S3Server, smtp: SmtpServer
) -> None:
    config = make_config(tmp_path, s3=s3_env, smtp=smtp)
    index = pd.date_range("2026-10-01", "2026-10-31 23:55", freq="5min", tz="UTC")
    store_frame(
        engine,
        config,
        pd.DataFrame(
            {
                "timestamp": index,
                "service": "backend",
                "metric": "cpu_percent",
                "value": np.full(len(index), 40.0),
            }
        ),
    )
    csv = b"scenario,quarter,cost\nmoderate,Q1,100\n"
    rendered = report(extras=(("budget-2027.csv", csv, "text/csv"),))
    bundle = stage_report(engine, config, rendered, generated_at=GENERATED)
    results = deliver(engine, config, bundle, env=s3_env.env())

    assert [(r.publisher, r.status) for r in results] == [
        ("local", "uploaded"),  # written by staging just now
        ("local", "uploaded"),
        ("local", "uploaded"),
        ("s3", "uploaded"),
        ("s3", "uploaded"),
        ("s3", "uploaded"),
        ("email", "sent"),
    ]
    client = s3_env.client()
    pdf = client.get_object(
        Bucket=s3_env.bucket, Key=object_key(config, "capacity-monthly-2026-10.pdf")
    )
    assert pdf["Body"].read() == PDF
    assert pdf["ContentType"] == "application/pdf"
    metadata = {
        "kind": "monthly",
        "period": "2026-10",
        "generated-at": "2026-11-01T06:00:05Z",
        "config-hash": config.fingerprint(),
        "data-watermark": "2026-10-31T23:55:00Z",
    }
    assert {k: v for k, v in pdf["Metadata"].items() if k != "content-md5"} == metadata
    budget = client.get_object(Bucket=s3_env.bucket, Key=object_key(config, "budget-2027.csv"))
    assert (budget["Body"].read(), budget["ContentType"]) == (csv, "text/csv")
    manifest_object = client.get_object(
        Bucket=s3_env.bucket, Key=object_key(config, "manifest.json")
    )
    manifest = json.loads(manifest_object["Body"].read())
    assert manifest["period"] == "2026-10"
    assert manifest["data_watermark"] == "2026-10-31T23:55:00Z"
    assert manifest["config_hash"] == config.fingerprint()
    assert [(f["name"], f["bytes"], f["sha256"]) for f in manifest["files"]] == [
        ("capacity-monthly-2026-10.pdf", len(PDF), hashlib.sha256(PDF).hexdigest()),
        ("budget-2027.csv", len(csv), hashlib.sha256(csv).hexdigest()),
    ]

    # Emailed with the PDF attached (never the budget files), the summary in the body.
    [received] = smtp.received
    assert received.rcpt_tos == ("ops@example.org",)
    assert received.message["Subject"] == "Capacity review: monthly report 2026-10"
    assert attachments(smtp) == [[("capacity-monthly-2026-10.pdf", PDF)]]
    assert "postgres disk in 143 days" in plain_text(received.message)
    sent = email_record(engine, "monthly", "2026-10")
    assert sent is not None and sent.status == "sent"
    assert sent.message_id == received.message["Message-ID"]

    # Published again, from the staged files as a re-run reads them: nothing new is
    # written, uploaded or sent.
    staged = load_bundle(config, PERIOD)
    assert staged == bundle
    again = deliver(engine, config, staged, env=s3_env.env())
    assert {(r.publisher, r.status) for r in again} == {
        ("local", "unchanged"),
        ("s3", "unchanged"),
        ("email", "unchanged"),
    }
    assert "already sent" in again[-1].detail
    assert len(smtp.received) == 1
    assert publish_runs(engine) == [("2026-10", "succeeded"), ("2026-10", "succeeded")]

    # Unless a resend is asked for.
    resent = deliver(engine, config, bundle, env=s3_env.env(), resend=True)
    assert resent[-1].status == "sent"
    assert len(smtp.received) == 2


def test_publish_report_stages_then_delivers(
    engine: Engine, tmp_path: Path, smtp: SmtpServer
) -> None:
    config = make_config(tmp_path, smtp=smtp)
    results = publish_report(engine, config, report(), env={}, now=GENERATED)
    assert [r.status for r in results] == ["uploaded", "uploaded", "sent"]
    assert results[0].detail == f"{len(PDF)} bytes"
    staged = load_bundle(config, PERIOD)
    assert staged is not None
    assert staged.pdf == PDF
    assert staged.generated_at == GENERATED
    assert (tmp_path / "out" / "monthly" / "2026-10" / "capacity-monthly-2026-10.pdf").is_file()
    assert publish_runs(engine) == [("2026-10", "succeeded")]
    # Rendered again later (new generated-at), it is still not mailed twice.
    later = publish_report(engine, config, report(), env={}, now=datetime.now(UTC))
    assert later[-1].status == "unchanged"
    assert len(smtp.received) == 1


def test_large_pdf_is_emailed_as_a_presigned_link(
    engine: Engine, tmp_path: Path, s3_env: S3Server, smtp: SmtpServer
) -> None:
    config = make_config(tmp_path, s3=s3_env, smtp=smtp, max_attachment_bytes=1024)
    bundle = stage_report(engine, config, report(), generated_at=GENERATED)
    deliver(engine, config, bundle, env=s3_env.env())

    [message] = smtp.messages
    assert list(message.iter_attachments()) == []
    text = plain_text(message)
    url = next(word for word in text.split() if word.startswith("http://127.0.0.1"))
    assert object_key(config, "capacity-monthly-2026-10.pdf") in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == PDF


def test_kinds_without_recipients_are_not_mailed(
    engine: Engine, tmp_path: Path, smtp: SmtpServer
) -> None:
    config = make_config(tmp_path, smtp=smtp)
    quarter = parse_period("quarterly", "2026-Q3")
    bundle = stage_report(engine, config, report(quarter), generated_at=GENERATED)
    results = deliver(engine, config, bundle, env={})
    assert {r.publisher for r in results} == {"local"}
    assert smtp.received == []


def test_wrong_s3_credentials_fail_clearly_then_the_retry_delivers_once(
    engine: Engine, tmp_path: Path, s3_env: S3Server, smtp: SmtpServer
) -> None:
    config = make_config(tmp_path, s3=s3_env, smtp=smtp)
    bundle = stage_report(engine, config, report(), generated_at=GENERATED)
    wrong = {**s3_env.env(), "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    with pytest.raises(PublishError, match="access denied") as info:
        deliver(engine, config, bundle, env=wrong)
    assert "not-the-secret" not in str(info.value)
    [failed] = ledger.runs(engine, "publish:monthly")
    assert failed.status == "failed"
    assert failed.error is not None and "access denied" in failed.error
    assert smtp.received == []  # nothing is mailed before storage worked

    deliver(engine, config, bundle, env=s3_env.env())
    deliver(engine, config, bundle, env=s3_env.env())
    assert len(smtp.received) == 1
    assert publish_runs(engine) == [
        ("2026-10", "failed"),
        ("2026-10", "succeeded"),
        ("2026-10", "succeeded"),
    ]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_s3_down_fails_after_bounded_retries_then_the_retry_completes(
    engine: Engine, tmp_path: Path, s3_env: S3Server, smtp: SmtpServer
) -> None:
    prefix = f"down-{uuid.uuid4().hex[:8]}"
    up = make_config(tmp_path, s3=s3_env, smtp=smtp, prefix=prefix)
    raw = up.model_dump(mode="json")
    raw["publish"]["s3"]["endpoint_url"] = f"http://127.0.0.1:{closed_port()}"
    down = parse_config(raw, "test")
    bundle = stage_report(engine, down, report(), generated_at=GENERATED)
    with pytest.raises(PublishError, match="endpoint unreachable"):
        deliver(engine, down, bundle, env=s3_env.env())
    assert publish_runs(engine) == [("2026-10", "failed")]
    assert smtp.received == []

    results = deliver(engine, up, bundle, env=s3_env.env())
    assert [r.status for r in results if r.publisher != "local"] == [
        "uploaded",
        "uploaded",
        "sent",
    ]
    assert len(smtp.received) == 1


def test_smtp_refusing_fails_clearly_then_the_retry_sends_once_without_reuploading(
    engine: Engine, tmp_path: Path, s3_env: S3Server, smtp: SmtpServer
) -> None:
    config = make_config(tmp_path, s3=s3_env, smtp=smtp)
    bundle = stage_report(engine, config, report(), generated_at=GENERATED)
    smtp.refuse(554)
    with pytest.raises(PublishError, match="permanent refusal 554"):
        deliver(engine, config, bundle, env=s3_env.env())
    [failed] = ledger.runs(engine, "publish:monthly")
    assert failed.error is not None and "554" in failed.error
    assert email_record(engine, "monthly", "2026-10") is None  # the claim was given back

    smtp.clear()
    results = deliver(engine, config, bundle, env=s3_env.env())
    assert [(r.publisher, r.status) for r in results if r.publisher != "local"] == [
        ("s3", "unchanged"),
        ("s3", "unchanged"),
        ("email", "sent"),
    ]
    assert len(smtp.received) == 1


def test_concurrent_publishers_email_a_period_once(
    database_url: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    config = make_config(tmp_path, smtp=smtp)
    engine = open_store(database_url)
    bundle = stage_report(engine, config, report(), generated_at=GENERATED)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def publish() -> None:
        own = open_store(database_url)  # as a separate process would
        barrier.wait()
        try:
            results = deliver(own, config, bundle, env={})
            outcomes.append(results[-1].status)
        except CapplanError as exc:
            outcomes.append(f"error: {exc}")

    threads = [threading.Thread(target=publish) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(smtp.received) == 1
    assert outcomes.count("sent") == 1
    assert all(o == "unchanged" or "sending it right now" in o for o in outcomes if o != "sent")


def test_missing_smtp_login_variable_fails_before_any_delivery(
    engine: Engine, tmp_path: Path, s3_env: S3Server, smtp_starttls: SmtpServer
) -> None:
    config = make_config(
        tmp_path,
        s3=s3_env,
        smtp=smtp_starttls,
        security="starttls",
        username_env="CAPPLAN_SMTP_USER",
        password_env="CAPPLAN_SMTP_PASSWORD",
    )
    bundle = stage_report(engine, config, report(), generated_at=GENERATED)
    with pytest.raises(PublisherConfigError, match=r"publish\.email\.username_env"):
        deliver(engine, config, bundle, env=s3_env.env())
    listed = s3_env.client().list_objects_v2(Bucket=s3_env.bucket, Prefix=object_key(config, ""))
    assert listed.get("KeyCount", 0) == 0


def test_an_altered_staged_file_is_refused(engine: Engine, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    stage_report(engine, config, report(), generated_at=GENERATED)
    pdf = tmp_path / "out" / "monthly" / "2026-10" / "capacity-monthly-2026-10.pdf"
    pdf.write_bytes(PDF + b"tampered")
    with pytest.raises(DeliveryError, match=r"differs from what .*manifest\.json records"):
        load_bundle(config, PERIOD)
    assert load_bundle(config, parse_period("monthly", "2026-09")) is None


def test_data_watermark_is_the_last_sample_before_the_period_end(
    engine: Engine, config: Config
) -> None:
    assert data_watermark(engine, PERIOD.end) is None
    index = pd.date_range("2026-10-30", "2026-11-02", freq="1h", tz="UTC")
    frame = pd.DataFrame(
        {"timestamp": index, "service": "redis", "metric": "cpu_percent", "value": 10.0}
    )
    store_frame(engine, config, frame)
    assert data_watermark(engine, PERIOD.end) == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("publish", "fragment"),
    [
        ({"targets": ["s3"]}, "publish: .*'s3' is listed but the s3 section is missing"),
        ({"targets": ["ftp"]}, r"publish\.targets\.0"),
        ({"s3": {"bucket": "reports", "aws_secret_access_key": "x"}}, r"publish\.s3: .*AWS chain"),
        ({"email": {"host": "mail", "from_address": "nobody"}}, r"publish\.email\.from_address"),
        ({"local": {"directory": "out", "extra": 1}}, r"publish\.local\.extra"),
    ],
)
def test_publish_config_errors_name_the_field(publish: dict[str, Any], fragment: str) -> None:
    raw = yaml.safe_load(runbook_config_text())
    raw["publish"] = publish
    with pytest.raises(ConfigError, match=fragment):
        parse_config(raw, "test")


def test_publish_command_delivers_a_staged_report(
    capplan: Capplan, database_url: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    config = make_config(tmp_path, smtp=smtp)
    config_path = tmp_path / "capplan.yaml"
    config_path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    stage_report(open_store(database_url), config, report(), generated_at=GENERATED)

    first = capplan("publish", "monthly", "--period", "2026-10", config=config_path)
    assert "email: sent" in first.output
    second = capplan("publish", "monthly", "--period", "2026-10", config=config_path)
    assert "email: unchanged" in second.output and "already sent" in second.output
    third = capplan("publish", "monthly", "--period", "2026-10", "--resend", config=config_path)
    assert "email: sent" in third.output
    assert len(smtp.received) == 2

    bad = capplan("publish", "monthly", "--period", "2026-13", config=config_path, expect=2)
    assert "month must be 01 to 12" in bad.output


def test_backfilled_reports_are_mailed_only_when_asked(
    engine: Engine, tmp_path: Path, smtp: SmtpServer
) -> None:
    config = make_config(tmp_path, smtp=smtp)
    periods = periods_between("monthly", datetime(2026, 7, 1, tzinfo=UTC), PERIOD.end)
    assert [p.label for p in periods] == ["2026-07", "2026-08", "2026-09", "2026-10"]

    def build(engine: Engine, config: Config, period: ReportPeriod) -> StubReport:
        return report(period)

    backfill_reports(engine, config, periods[:2], env={}, build=build)
    assert publish_runs(engine) == []  # rendered and staged only
    assert load_bundle(config, periods[0]) is not None
    backfill_reports(engine, config, periods[2:], env={}, build=build, publish=True)
    assert publish_runs(engine) == [("2026-09", "succeeded"), ("2026-10", "succeeded")]
    assert smtp.received == []
    backfill_reports(engine, config, periods[2:], env={}, build=build, publish=True, email=True)
    assert [m["Subject"] for m in smtp.messages] == [
        "Capacity review: monthly report 2026-09",
        "Capacity review: monthly report 2026-10",
    ]
    with pytest.raises(ValueError, match="email needs publish"):
        backfill_reports(engine, config, periods, env={}, build=build, email=True)

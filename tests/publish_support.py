"""The publish section of a test configuration, pointed at the test's S3 and SMTP servers."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from jobs.config import Config
from jobs.publishers import S3Settings
from tests.servers.seaweedfs import S3Server
from tests.servers.smtp import SmtpServer


def publish_section(
    tmp_path: Path,
    *,
    s3: S3Server | None = None,
    smtp: SmtpServer | None = None,
    prefix: str | None = None,
    recipients: dict[str, list[str]] | None = None,
    **email: Any,
) -> dict[str, Any]:
    """local always; s3 and email when their server is given; short timeouts and retries."""
    publish: dict[str, Any] = {"targets": ["local"], "local": {"directory": str(tmp_path / "out")}}
    if s3 is not None:
        publish["targets"].append("s3")
        publish["s3"] = {
            "endpoint_url": s3.endpoint_url,
            "region": s3.region,
            "bucket": s3.bucket,
            "prefix": prefix or f"t-{uuid.uuid4().hex[:10]}",
            "max_attempts": 2,
            "connect_timeout_seconds": 1,
            "read_timeout_seconds": 10,
        }
    if smtp is not None:
        publish["targets"].append("email")
        publish["email"] = {
            "host": smtp.host,
            "port": smtp.port,
            "security": "plain",
            "from_address": "capplan@example.org",
            "recipients": recipients
            or {"monthly": ["ops@example.org"], "annual": ["finance@example.org"]},
            "timeout_seconds": 5,
            "max_attempts": 2,
            "retry_wait_seconds": 0.01,
            **email,
        }
    return publish


def s3_prefix(config: Config) -> str:
    """The key prefix of the configured s3 section."""
    s3 = config.publish.settings("s3")
    assert isinstance(s3, S3Settings)
    return s3.prefix

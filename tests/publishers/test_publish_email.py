from __future__ import annotations

import hashlib
import html
import socket
import urllib.request
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import ValidationError

from jobs.publishers import (
    Artifact,
    EmailPublisher,
    EmailSettings,
    EmailUnconfirmedError,
    PublisherConfigError,
    PublishError,
    ReportDelivery,
    S3Publisher,
    S3Settings,
)
from jobs.publishers.smtp import human_duration
from tests.servers.seaweedfs import S3Server
from tests.servers.smtp import SmtpServer

PDF = b"%PDF-1.7\n" + hashlib.sha256(b"report").digest() * 300 + b"\n%%EOF\n"
RECIPIENTS = {
    "monthly": ["ops@example.org", "lead@example.org"],
    "quarterly": ["planning@example.org"],
    "annual": ["finance@example.org"],
}


def delivery(body: bytes = PDF, period: str = "2026-10", **overrides: Any) -> ReportDelivery:
    fields: dict[str, Any] = {
        "kind": "monthly",
        "period": period,
        "subject": f"Capacity review {period} <backend & postgres>",
        "pdf": Artifact(
            f"monthly/{period}/capacity-monthly-{period}.pdf",
            body,
            "application/pdf",
            {"period": period},
        ),
        "summary_text": "Runway: postgres disk reaches 80% in 143 days.",
        "summary_html": "<p>Runway: <b>postgres</b> disk reaches 80% in 143 days.</p>",
    }
    fields.update(overrides)
    return ReportDelivery(**fields)


def settings(server: SmtpServer, **overrides: Any) -> EmailSettings:
    raw: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": "plain" if server.mode == "plain" else server.mode,
        "from_address": "capplan@example.org",
        "recipients": RECIPIENTS,
        "ca_file": str(server.ca_file) if server.ca_file else None,
        "timeout_seconds": 5,
        "max_attempts": 3,
        "retry_wait_seconds": 0.01,
    }
    if server.username:
        raw.update(username_env="CAPPLAN_SMTP_USER", password_env="CAPPLAN_SMTP_PASSWORD")
    raw.update(overrides)
    return EmailSettings.model_validate(raw)


def login_env(server: SmtpServer) -> dict[str, str]:
    assert server.username
    assert server.password
    return {"CAPPLAN_SMTP_USER": server.username, "CAPPLAN_SMTP_PASSWORD": server.password}


def parts(message: EmailMessage) -> dict[str, Any]:
    text = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    attachments = list(message.iter_attachments())
    return {
        "text": text.get_content() if isinstance(text, EmailMessage) else None,
        "html": html_part.get_content() if isinstance(html_part, EmailMessage) else None,
        "attachments": attachments,
    }


def test_sends_text_html_and_pdf_attachment(smtp: SmtpServer) -> None:
    result = EmailPublisher(settings(smtp), env={}).send(delivery())

    assert result.status == "sent"
    assert [r.rcpt_tos for r in smtp.received] == [("ops@example.org", "lead@example.org")]
    message = smtp.messages[0]
    assert message["Subject"] == "Capacity review 2026-10 <backend & postgres>"
    assert message["From"] == "capplan@example.org"
    assert message["Message-ID"] == result.message_id
    assert message.get_content_type() == "multipart/mixed"
    got = parts(message)
    assert "postgres disk reaches 80% in 143 days" in got["text"]
    assert "<b>postgres</b>" in got["html"]
    assert "&lt;backend &amp; postgres&gt;" in got["html"]
    [attachment] = got["attachments"]
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "capacity-monthly-2026-10.pdf"
    assert attachment.get_content() == PDF


def test_message_id_is_deterministic_per_kind_period_and_recipients(smtp: SmtpServer) -> None:
    publisher = EmailPublisher(settings(smtp), env={})
    first = publisher.message_id(delivery())
    assert first == publisher.message_id(delivery(body=b"%PDF other bytes"))
    assert first == publisher.message_id(
        delivery(recipients=("LEAD@example.org", "ops@example.org"))
    )
    assert first != publisher.message_id(delivery(period="2026-11"))
    assert first != publisher.message_id(delivery(kind="quarterly"))
    assert first != publisher.message_id(delivery(recipients=("ops@example.org",)))
    assert first.startswith("<capplan.monthly.2026-10.")
    assert first.endswith("@example.org>")


def test_recipients_follow_kind_unless_overridden(smtp: SmtpServer) -> None:
    publisher = EmailPublisher(settings(smtp), env={})
    publisher.send(delivery(kind="annual"))
    publisher.send(delivery(recipients=("cto@example.org",)))
    assert [r.rcpt_tos for r in smtp.received] == [
        ("finance@example.org",),
        ("cto@example.org",),
    ]


def test_no_recipients_for_kind_is_a_clear_error(smtp: SmtpServer) -> None:
    publisher = EmailPublisher(settings(smtp, recipients={"monthly": []}), env={})
    with pytest.raises(PublishError, match=r"no recipients .*email\.recipients\.annual"):
        publisher.send(delivery(kind="annual"))
    assert smtp.received == []


def test_starttls_with_login(smtp_starttls: SmtpServer) -> None:
    publisher = EmailPublisher(settings(smtp_starttls), env=login_env(smtp_starttls))
    result = publisher.send(delivery())

    [received] = smtp_starttls.received
    assert received.tls
    assert received.login == smtp_starttls.username
    assert result.message_id == received.message["Message-ID"]
    assert parts(received.message)["attachments"][0].get_content() == PDF


def test_implicit_tls_with_login(smtps: SmtpServer) -> None:
    EmailPublisher(settings(smtps), env=login_env(smtps)).send(delivery())
    [received] = smtps.received
    assert received.tls
    assert received.login == smtps.username


def test_wrong_password_fails_once_and_names_the_variables(smtp_starttls: SmtpServer) -> None:
    env = {**login_env(smtp_starttls), "CAPPLAN_SMTP_PASSWORD": "wrong"}
    with pytest.raises(PublishError) as info:
        EmailPublisher(settings(smtp_starttls), env=env).send(delivery())
    message = str(info.value)
    assert "authentication failed" in message
    assert "CAPPLAN_SMTP_PASSWORD" in message
    assert "after 1 attempt" in message
    assert "wrong" not in message
    assert smtp_starttls.received == []


def test_untrusted_certificate_is_refused(smtp_starttls: SmtpServer) -> None:
    publisher = EmailPublisher(settings(smtp_starttls, ca_file=None), env=login_env(smtp_starttls))
    with pytest.raises(PublishError, match=r"TLS failure.*after 1 attempt"):
        publisher.send(delivery())
    assert smtp_starttls.received == []


def test_missing_login_variable_is_named() -> None:
    config = EmailSettings.model_validate(
        {
            "host": "127.0.0.1",
            "from_address": "capplan@example.org",
            "username_env": "CAPPLAN_SMTP_USER",
            "password_env": "CAPPLAN_SMTP_PASSWORD",
        }
    )
    with pytest.raises(PublisherConfigError, match=r"publish\.email\.password_env"):
        EmailPublisher(config, env={"CAPPLAN_SMTP_USER": "capplan"})


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"security": "plain", "username_env": "U", "password_env": "P"}, "unencrypted"),
        ({"username_env": "U", "password_env": "hunter2!"}, "NAME of an environment variable"),
        ({"username_env": "U"}, "given together"),
        ({"from_address": "not an address"}, "not a plain email address"),
        ({"recipients": {"weekly": ["a@example.org"]}}, "weekly"),
        ({"security": "ssl"}, "security"),
    ],
)
def test_settings_name_the_bad_field(overrides: dict[str, Any], fragment: str) -> None:
    raw = {"host": "127.0.0.1", "from_address": "capplan@example.org", **overrides}
    with pytest.raises(ValidationError, match=fragment):
        EmailSettings.model_validate(raw)


def test_default_ports_follow_security() -> None:
    base = {"host": "mail.example.org", "from_address": "capplan@example.org"}
    assert EmailSettings.model_validate(base).effective_port == 587
    assert EmailSettings.model_validate({**base, "security": "tls"}).effective_port == 465


def test_large_pdf_is_linked_from_s3_instead_of_attached(
    smtp: SmtpServer, s3_env: S3Server
) -> None:
    s3 = S3Publisher(
        S3Settings(
            endpoint_url=s3_env.endpoint_url,
            bucket=s3_env.bucket,
            prefix="email-links",
            max_attempts=1,
        )
    )
    report = delivery()
    s3.put(report.pdf)
    asked: list[int] = []

    def link(artifact: Artifact, seconds: int) -> str:
        asked.append(seconds)
        return s3.presigned_url(artifact.key, seconds)

    publisher = EmailPublisher(
        settings(smtp, max_attachment_bytes=len(PDF) - 1, link_expires_seconds=3600),
        env={},
        link_provider=link,
    )
    publisher.send(report)

    assert asked == [3600]
    got = parts(smtp.messages[0])
    assert got["attachments"] == []
    url = next(word for word in got["text"].split() if word.startswith("http"))
    assert url.startswith(f"{s3_env.endpoint_url}/{s3_env.bucket}/email-links/monthly/")
    assert "too large to attach" in got["text"]
    assert f'href="{html.escape(url)}"' in got["html"]
    assert "capacity-monthly-2026-10.pdf</a>" in got["html"]
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == PDF


def test_pdf_at_the_limit_is_still_attached(smtp: SmtpServer) -> None:
    publisher = EmailPublisher(settings(smtp, max_attachment_bytes=len(PDF)), env={})
    publisher.send(delivery())
    assert parts(smtp.messages[0])["attachments"][0].get_content() == PDF


def test_large_pdf_without_link_provider_is_a_clear_error(smtp: SmtpServer) -> None:
    publisher = EmailPublisher(settings(smtp, max_attachment_bytes=1024), env={})
    with pytest.raises(PublishError, match="over the 1 KB attachment limit"):
        publisher.send(delivery())
    assert smtp.received == []


def test_temporary_refusal_is_retried_then_delivered_once(smtp: SmtpServer) -> None:
    smtp.refuse(451, times=2)
    result = EmailPublisher(settings(smtp), env={}).send(delivery())
    assert result.status == "sent"
    assert smtp.handler.attempts == 3
    assert len(smtp.received) == 1


def test_temporary_refusal_gives_up_after_bounded_attempts(smtp: SmtpServer) -> None:
    smtp.refuse(451)
    with pytest.raises(PublishError, match=r"temporary refusal 451.*after 3 attempt"):
        EmailPublisher(settings(smtp), env={}).send(delivery())
    assert smtp.handler.attempts == 3
    assert smtp.received == []


def test_permanent_refusal_is_not_retried(smtp: SmtpServer) -> None:
    smtp.refuse(550)
    with pytest.raises(PublishError, match=r"permanent refusal 550.*after 1 attempt"):
        EmailPublisher(settings(smtp), env={}).send(delivery())
    assert smtp.handler.attempts == 1


def test_server_down_fails_after_bounded_attempts(smtp: SmtpServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    publisher = EmailPublisher(settings(smtp, port=port), env={})
    with pytest.raises(PublishError, match=r"connection refused.*after 3 attempt") as info:
        publisher.send(delivery())
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_a_reply_slower_than_the_timeout_is_unconfirmed_and_not_retried(smtp: SmtpServer) -> None:
    # The relay takes the message, then answers after the client gave up: whether it
    # will deliver is unknown, so sending another copy could duplicate it.
    smtp.delay_reply(2.0)
    publisher = EmailPublisher(settings(smtp, timeout_seconds=0.5), env={})
    with pytest.raises(EmailUnconfirmedError, match=r"never confirmed.*after 1 attempt") as info:
        publisher.send(delivery())
    assert len(smtp.received) == 1
    assert info.value.message_id == smtp.messages[0]["Message-ID"]


def test_a_temporary_refusal_of_the_message_is_an_answer_and_is_retried(
    smtp: SmtpServer,
) -> None:
    smtp.refuse(451, times=1)  # the server says it did not take it: safe to retry
    seen: list[str] = []

    class Gate:
        def begin(self, message_id: str) -> None:
            seen.append(f"begin {message_id}")

        def refused(self) -> None:
            seen.append("refused")

    result = EmailPublisher(settings(smtp), env={}).send(delivery(), handover=Gate())
    assert result.status == "sent"
    assert len(smtp.received) == 1
    assert seen == [f"begin {result.message_id}", "refused", f"begin {result.message_id}"]


def test_a_gate_that_refuses_stops_before_the_content_is_sent(smtp: SmtpServer) -> None:
    class Lost:
        def begin(self, message_id: str) -> None:
            raise PublishError("email", "monthly 2026-10", "the send was claimed by another")

        def refused(self) -> None:
            raise AssertionError("not reached")

    with pytest.raises(PublishError, match="claimed by another"):
        EmailPublisher(settings(smtp), env={}).send(delivery(), handover=Lost())
    assert smtp.received == []
    assert smtp.handler.attempts == 0


def test_a_fresh_message_id_differs_from_the_first(smtp: SmtpServer) -> None:
    publisher = EmailPublisher(settings(smtp), env={})
    first = publisher.message_id(delivery())
    fresh = publisher.message_id(delivery(), fresh=True)
    assert fresh != first and fresh != publisher.message_id(delivery(), fresh=True)
    assert fresh.startswith("<capplan.monthly.2026-10.") and fresh.endswith("@example.org>")
    result = publisher.send(delivery(), message_id=fresh)
    assert smtp.messages[0]["Message-ID"] == result.message_id == fresh


def test_link_expiry_is_written_as_a_duration(smtp: SmtpServer) -> None:
    publisher = EmailPublisher(
        settings(smtp, max_attachment_bytes=1024, link_expires_seconds=600),
        env={},
        link_provider=lambda artifact, seconds: f"https://example.org/{artifact.key}",
    )
    publisher.send(delivery())
    text = parts(smtp.messages[0])["text"]
    assert "download it within 10 minutes:" in text


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (60, "1 minute"),
        (600, "10 minutes"),
        (3600, "1 hour"),
        (5400, "1 hour 30 minutes"),
        (86400, "1 day"),
        (7 * 86400, "7 days"),
        (90060, "1 day 1 hour 1 minute"),
        (61, "1 minute 1 second"),
    ],
)
def test_durations_read_as_words(seconds: int, words: str) -> None:
    assert human_duration(seconds) == words

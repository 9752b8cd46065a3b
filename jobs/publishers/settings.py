"""Validated settings of each publisher.

Kept apart from the publishers themselves so that loading the configuration
does not import boto3 or the SMTP machinery.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from jobs.publishers.base import PublisherSettings, ReportKind

# Network waits beyond an hour are typos; infinite ones hang a cron job forever.
MAX_WAIT_SECONDS = 3600.0
Seconds = Annotated[float, Field(gt=0, le=MAX_WAIT_SECONDS)]


class LocalSettings(PublisherSettings):
    directory: Path = Path("reports")


_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_CREDENTIAL_FIELDS = frozenset(
    {
        "access_key",
        "access_key_id",
        "aws_access_key_id",
        "secret_key",
        "secret_access_key",
        "aws_secret_access_key",
        "session_token",
        "aws_session_token",
        "credentials",
        "password",
    }
)


class S3Settings(PublisherSettings):
    # A refused access key must not be echoed back into logs by the error text.
    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, allow_inf_nan=False
    )

    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    prefix: str = ""
    addressing_style: Literal["path", "virtual"] = "path"
    server_side_encryption: Literal["AES256", "aws:kms"] | None = None
    sse_kms_key_id: str | None = None
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    connect_timeout_seconds: Seconds = 5.0
    read_timeout_seconds: Seconds = 60.0

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            found = sorted(
                str(name)
                for name in data
                if str(name).lower().replace("-", "_") in _CREDENTIAL_FIELDS
            )
            if found:
                raise ValueError(
                    f"{', '.join(found)}: S3 credentials are not accepted in the configuration; "
                    "capplan takes them from the standard AWS chain (AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws/credentials, or an "
                    "instance/pod role)"
                )
        return data

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not _BUCKET_RE.match(value) or ".." in value:
            raise ValueError(
                f"{value!r} is not a valid S3 bucket name (3-63 characters: lowercase "
                "letters, digits, '.', '-')"
            )
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+/?$", value):
            raise ValueError(f"{value!r} must be an http:// or https:// URL with no path")
        return value.rstrip("/") if value else value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip("/")
        if any(part in ("", ".", "..") for part in value.split("/")) and value:
            raise ValueError(f"{value!r}: prefix parts must not be empty, '.' or '..'")
        return value

    @model_validator(mode="after")
    def _kms_key(self) -> S3Settings:
        if self.sse_kms_key_id and self.server_side_encryption != "aws:kms":
            raise ValueError("sse_kms_key_id requires server_side_encryption: aws:kms")
        return self


_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "plain": 25}
DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


def check_address(value: str) -> str:
    _, address = parseaddr(value)
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain or address != value.strip():
        raise ValueError(f"{value!r} is not a plain email address (user@example.org)")
    return address


class Recipients(PublisherSettings):
    monthly: tuple[str, ...] = ()
    quarterly: tuple[str, ...] = ()
    annual: tuple[str, ...] = ()

    @field_validator("monthly", "quarterly", "annual")
    @classmethod
    def _addresses(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_address(value) for value in values)


class EmailSettings(PublisherSettings):
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    security: Literal["starttls", "tls", "plain"] = "starttls"
    from_address: str
    recipients: Recipients = Recipients()
    username_env: str | None = None
    password_env: str | None = None
    ca_file: Path | None = None
    max_attachment_bytes: Annotated[int, Field(ge=0)] = DEFAULT_MAX_ATTACHMENT_BYTES
    link_expires_seconds: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = 7 * 24 * 3600
    timeout_seconds: Seconds = 30.0
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 4
    retry_wait_seconds: Annotated[float, Field(ge=0, le=MAX_WAIT_SECONDS)] = 2.0

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str) -> str:
        return check_address(value)

    @field_validator("username_env", "password_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        # The value is never echoed: a mistaken one is likely the secret itself.
        if value is not None and not _ENV_NAME_RE.fullmatch(value):
            raise ValueError(
                "must be the NAME of an environment variable (letters, digits and '_', "
                "e.g. CAPPLAN_SMTP_PASSWORD), not the secret itself"
            )
        return value

    @model_validator(mode="after")
    def _login_needs_tls(self) -> EmailSettings:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("username_env and password_env must be given together")
        if self.security == "plain" and self.username_env is not None:
            raise ValueError(
                "security 'plain' sends the password unencrypted; use 'starttls' or 'tls' to log in"
            )
        return self

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]

    def recipients_for(self, kind: ReportKind) -> list[str]:
        return list(getattr(self.recipients, kind))

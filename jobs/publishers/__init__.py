"""Publishers: delivery steps run after rendering, looked up by name."""

from __future__ import annotations

from jobs.errors import CapplanError
from jobs.publishers.base import (
    Artifact,
    Publisher,
    PublisherConfigError,
    PublishError,
    PublisherSettings,
    PublishResult,
    ReportDelivery,
    ReportKind,
)
from jobs.publishers.local import LocalPublisher, LocalSettings
from jobs.publishers.s3 import S3Publisher, S3PublishError, S3Settings
from jobs.publishers.smtp import EmailPublisher, EmailSettings, LinkProvider

PUBLISHERS: dict[str, type[Publisher]] = {
    cls.name: cls for cls in (LocalPublisher, S3Publisher, EmailPublisher)
}


class UnknownPublisherError(CapplanError, KeyError):
    exit_code = 2

    def __str__(self) -> str:
        # KeyError would repr() the message and wrap it in quotes.
        return str(self.args[0])


def find(name: str) -> type[Publisher]:
    try:
        return PUBLISHERS[name]
    except KeyError:
        valid = ", ".join(repr(known) for known in PUBLISHERS)
        raise UnknownPublisherError(
            f"unknown publisher {name!r}; valid publishers: {valid}"
        ) from None


__all__ = [
    "PUBLISHERS",
    "Artifact",
    "EmailPublisher",
    "EmailSettings",
    "LinkProvider",
    "LocalPublisher",
    "LocalSettings",
    "PublishError",
    "PublishResult",
    "Publisher",
    "PublisherConfigError",
    "PublisherSettings",
    "ReportDelivery",
    "ReportKind",
    "S3PublishError",
    "S3Publisher",
    "S3Settings",
    "UnknownPublisherError",
    "find",
]

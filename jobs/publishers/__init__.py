"""Publishers: delivery steps run after rendering, looked up by name."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobs.errors import CapplanError
from jobs.publishers.base import (
    Artifact,
    EmailUnconfirmedError,
    OncePublisher,
    Publisher,
    PublisherConfigError,
    PublishError,
    PublisherSettings,
    PublishResult,
    ReportDelivery,
    ReportKind,
)
from jobs.publishers.settings import EmailSettings, LocalSettings, S3Settings

if TYPE_CHECKING:
    from jobs.publishers.local import LocalPublisher
    from jobs.publishers.s3 import S3Publisher, S3PublishError
    from jobs.publishers.smtp import EmailPublisher, LinkProvider


@dataclass(frozen=True)
class Registration:
    """A publisher by name: its ``publish.<name>`` section and where its class is.

    The class (``"module:Class"``) loads on first use, so that reading the
    configuration does not import boto3; the settings model must be as light.
    """

    settings: type[PublisherSettings]
    publisher: str


#: Every publisher there is; a new one is a module and its line here.
REGISTRY: dict[str, Registration] = {
    "local": Registration(LocalSettings, "jobs.publishers.local:LocalPublisher"),
    "s3": Registration(S3Settings, "jobs.publishers.s3:S3Publisher"),
    "email": Registration(EmailSettings, "jobs.publishers.smtp:EmailPublisher"),
}
_LAZY = {
    "LocalPublisher": "jobs.publishers.local",
    "S3Publisher": "jobs.publishers.s3",
    "S3PublishError": "jobs.publishers.s3",
    "EmailPublisher": "jobs.publishers.smtp",
    "LinkProvider": "jobs.publishers.smtp",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class UnknownPublisherError(CapplanError, KeyError):
    exit_code = 2

    def __str__(self) -> str:
        # KeyError would repr() the message and wrap it in quotes.
        return str(self.args[0])


def registration(name: str) -> Registration:
    if name not in REGISTRY:
        valid = ", ".join(repr(known) for known in REGISTRY)
        raise UnknownPublisherError(f"unknown publisher {name!r}; valid publishers: {valid}")
    return REGISTRY[name]


def find(name: str) -> type[Publisher]:
    module, _, attribute = registration(name).publisher.partition(":")
    found: type[Publisher] = getattr(importlib.import_module(module), attribute)
    return found


__all__ = [
    "REGISTRY",
    "Artifact",
    "EmailPublisher",
    "EmailSettings",
    "EmailUnconfirmedError",
    "LinkProvider",
    "LocalPublisher",
    "LocalSettings",
    "OncePublisher",
    "PublishError",
    "PublishResult",
    "Publisher",
    "PublisherConfigError",
    "PublisherSettings",
    "Registration",
    "ReportDelivery",
    "ReportKind",
    "S3PublishError",
    "S3Publisher",
    "S3Settings",
    "UnknownPublisherError",
    "find",
    "registration",
]

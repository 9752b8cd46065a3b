"""What every publisher shares: the artifacts it delivers, its result and its errors."""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from jobs.errors import CapplanError

ReportKind = Literal["monthly", "quarterly", "annual"]
PublishStatus = Literal["uploaded", "unchanged", "sent", "unconfirmed"]

PDF_CONTENT_TYPE = "application/pdf"


class PublishError(CapplanError):
    """A delivery that failed after its retries; the cause is chained with ``from``."""

    def __init__(self, publisher: str, target: str, reason: str) -> None:
        self.publisher = publisher
        self.target = target
        self.reason = reason
        super().__init__(f"{publisher}: publishing to {target} failed: {reason}")


class EmailUnconfirmedError(PublishError):
    """The message was handed over but its acceptance never confirmed: it may have arrived.

    Sending it again could deliver it twice, so it is not retried.
    """

    def __init__(self, publisher: str, target: str, reason: str, message_id: str) -> None:
        self.message_id = message_id
        super().__init__(publisher, target, reason)


class PublisherConfigError(CapplanError):
    """Settings or environment a publisher cannot work with, found before any delivery."""

    exit_code = 2


def _check_key(key: str) -> None:
    # Keys become file paths (local) and object keys (S3): anything that could
    # climb out of the output root or mean different things on the two is refused.
    if not key or key.startswith("/") or "\\" in key:
        raise ValueError(f"artifact key must be a relative POSIX path, got {key!r}")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts) or posixpath.normpath(key) != key:
        raise ValueError(f"artifact key must be normalised (no '', '.', '..' parts), got {key!r}")


@dataclass(frozen=True)
class Artifact:
    """One file to deliver: ``key`` is relative, e.g. ``monthly/2026-10/capacity-...pdf``.

    ``metadata`` carries period, generated-at, config-hash and data-watermark; it
    becomes S3 user metadata, so keys and values must be plain ASCII.
    """

    key: str
    body: bytes
    content_type: str
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_key(self.key)
        for name, value in self.metadata.items():
            if not (name.isascii() and value.isascii()):
                raise ValueError(f"artifact metadata must be ASCII: {name!r}={value!r}")
        # Frozen in depth: a caller mutating its dict afterwards must not change
        # what gets compared and uploaded.
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def filename(self) -> str:
        return posixpath.basename(self.key)


@dataclass(frozen=True)
class ReportDelivery:
    """A rendered report ready to deliver.

    ``extras`` (budget exports, the period manifest) are stored next to the PDF by
    the storage publishers and never mailed. ``recipients``, when not empty,
    overrides the email publisher's per-kind list.
    """

    kind: ReportKind
    period: str
    subject: str
    pdf: Artifact
    summary_text: str
    summary_html: str
    recipients: tuple[str, ...] = ()
    extras: tuple[Artifact, ...] = ()

    @property
    def artifacts(self) -> tuple[Artifact, ...]:
        return (self.pdf, *self.extras)


@dataclass(frozen=True)
class PublishResult:
    publisher: str
    target: str
    status: PublishStatus
    detail: str = ""
    message_id: str | None = None


class PublisherSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Publisher(ABC):
    """A delivery step run after rendering; ``publish`` is safe to repeat.

    Its settings model is named by its registration (``jobs.publishers``), so
    that reading the configuration does not import the publisher.
    """

    name: ClassVar[str]
    #: Where it comes among the targets: lower first, whatever order they are listed in.
    order: ClassVar[int]

    @classmethod
    @abstractmethod
    def build(
        cls,
        settings: PublisherSettings,
        *,
        env: Mapping[str, str],
        built: Mapping[str, Publisher],
    ) -> Publisher:
        """The publisher for its validated ``settings``.

        ``env`` is where credentials are read; ``built`` holds the targets that
        come before it, by name.
        """

    @abstractmethod
    def publish(self, delivery: ReportDelivery) -> list[PublishResult]:
        """Deliver ``delivery``; raise :class:`PublishError` when it cannot."""


class HandOver(Protocol):
    """Told when a message's content is about to go out, and of a refusal after it."""

    def begin(self, message_id: str) -> None:
        """The content goes out next; raising here stops the attempt before it does."""

    def refused(self) -> None:
        """The server answered the content with a refusal: the message was not taken."""


class OncePublisher(Publisher):
    """A publisher whose delivery reaches people: a repeat would reach them twice.

    Delivery sends it once per (kind, period) under a claim in the ledger
    (``jobs.publishers.email_once``) instead of calling ``publish``, and never
    retries a send whose outcome is unknown.
    """

    @abstractmethod
    def recipients(self, delivery: ReportDelivery) -> list[str]:
        """Who receives ``delivery``; none means it is not sent."""

    @abstractmethod
    def target(self, delivery: ReportDelivery) -> str:
        """Where ``delivery`` goes, as results and the ledger name it."""

    @abstractmethod
    def message_id(self, delivery: ReportDelivery, *, fresh: bool = False) -> str:
        """The same delivery always gets the same ID; ``fresh`` makes a deliberate resend new."""

    @abstractmethod
    def send(
        self,
        delivery: ReportDelivery,
        *,
        message_id: str | None = None,
        handover: HandOver | None = None,
    ) -> PublishResult:
        """Send once; ``handover`` hears of the moment the content goes out."""

"""The default target: a local directory, so the main job needs no server at all."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from jobs.files import atomic_write
from jobs.publishers.base import (
    Artifact,
    Publisher,
    PublishError,
    PublisherSettings,
    PublishResult,
    ReportDelivery,
)
from jobs.publishers.settings import LocalSettings


class LocalPublisher(Publisher):
    name: ClassVar[str] = "local"
    order: ClassVar[int] = 10

    def __init__(self, settings: LocalSettings) -> None:
        self.settings = settings

    @classmethod
    def build(
        cls,
        settings: PublisherSettings,
        *,
        env: Mapping[str, str],
        built: Mapping[str, Publisher],
    ) -> LocalPublisher:
        assert isinstance(settings, LocalSettings)  # the registration names LocalSettings
        return cls(settings)

    @property
    def root(self) -> Path:
        return self.settings.directory

    def path_for(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def publish(self, delivery: ReportDelivery) -> list[PublishResult]:
        return [self.put(artifact) for artifact in delivery.artifacts]

    def put(self, artifact: Artifact) -> PublishResult:
        path = self.path_for(artifact.key)
        try:
            if path.is_file() and path.read_bytes() == artifact.body:
                return PublishResult(self.name, str(path), "unchanged")
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, artifact.body)
        except OSError as exc:
            raise PublishError(self.name, str(path), f"{type(exc).__name__}: {exc}") from exc
        return PublishResult(self.name, str(path), "uploaded", f"{len(artifact.body)} bytes")

"""The default target: a local directory, so the main job needs no server at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import ClassVar

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
    settings_model: ClassVar[type[PublisherSettings]] = LocalSettings

    def __init__(self, settings: LocalSettings) -> None:
        self.settings = settings

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
            _atomic_write(path, artifact.body)
        except OSError as exc:
            raise PublishError(self.name, str(path), f"{type(exc).__name__}: {exc}") from exc
        return PublishResult(self.name, str(path), "uploaded", f"{len(artifact.body)} bytes")


def _atomic_write(path: Path, body: bytes) -> None:
    # Readers (and a crash mid-write) see either the old file or the new one,
    # never a truncated PDF: write beside it, flush to disk, then rename over it.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(body)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise

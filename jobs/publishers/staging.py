"""Staging: a rendered report becomes a bundle of files under ``publish.local.directory``.

A report period is laid out as ``<kind>/<period>/``: the PDF
``capacity-<kind>-<period>.pdf``, the report's extras (the annual budget
CSV/XLSX) and ``manifest.json``, which names every file with its size and
SHA-256 and carries the metadata (period, generated-at, config hash, data
watermark) and the executive summary. Delivery reads the staged files back, so
a re-run sends the very bytes that were rendered.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, func, select
from sqlmodel import SQLModel

from jobs.config import Config
from jobs.errors import CapplanError
from jobs.periods import ReportPeriod, parse_period
from jobs.publishers import Artifact, PublishResult, ReportDelivery
from jobs.publishers.base import PDF_CONTENT_TYPE
from jobs.publishers.local import LocalPublisher
from jobs.store import schema  # noqa: F401  (registers the tables)

MANIFEST_NAME = "manifest.json"
MANIFEST_CONTENT_TYPE = "application/json"

_SAMPLES = SQLModel.metadata.tables["samples"]
_ROLLUPS = SQLModel.metadata.tables["rollups"]
_SERIES = SQLModel.metadata.tables["series"]


class RenderedReportLike(Protocol):
    """What ``jobs.reports.build_report`` returns (only what delivery reads)."""

    @property
    def period(self) -> ReportPeriod: ...
    @property
    def pdf(self) -> bytes: ...
    @property
    def summary_text(self) -> str: ...
    @property
    def summary_html(self) -> str: ...
    @property
    def extras(self) -> tuple[tuple[str, bytes, str], ...]: ...


ReportBuilder = Callable[[Engine, Config, ReportPeriod], RenderedReportLike]


class DeliveryError(CapplanError):
    """A staged report that cannot be used as it is (missing or altered files)."""


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def period_prefix(period: ReportPeriod) -> str:
    return f"{period.kind}/{period.label}"


@dataclass(frozen=True)
class ReportBundle:
    """A rendered report with the metadata it is delivered with.

    ``staged`` is what staging wrote when this bundle was staged in this
    process (the local target's results); a bundle read back with
    :func:`load_bundle` has none.
    """

    period: ReportPeriod
    pdf: bytes
    summary_text: str
    summary_html: str
    extras: tuple[tuple[str, bytes, str], ...]
    generated_at: datetime
    config_hash: str
    data_watermark: datetime | None
    staged: tuple[PublishResult, ...] = field(default=(), compare=False, repr=False)

    @property
    def metadata(self) -> dict[str, str]:
        return {
            "kind": self.period.kind,
            "period": self.period.label,
            "generated-at": iso(self.generated_at),
            "config-hash": self.config_hash,
            "data-watermark": iso(self.data_watermark) if self.data_watermark else "none",
        }

    def _files(self) -> list[tuple[str, bytes, str]]:
        return [(self.period.pdf_filename, self.pdf, PDF_CONTENT_TYPE), *self.extras]

    def manifest(self) -> bytes:
        document: dict[str, Any] = {
            "kind": self.period.kind,
            "period": self.period.label,
            "start": iso(self.period.start),
            "end": iso(self.period.end),
            "generated_at": iso(self.generated_at),
            "config_hash": self.config_hash,
            "data_watermark": iso(self.data_watermark) if self.data_watermark else None,
            "files": [
                {
                    "name": name,
                    "content_type": content_type,
                    "bytes": len(body),
                    "sha256": hashlib.sha256(body).hexdigest(),
                }
                for name, body, content_type in self._files()
            ],
            "summary_text": self.summary_text,
            "summary_html": self.summary_html,
        }
        return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode()

    def artifacts(self) -> tuple[Artifact, ...]:
        prefix, metadata = period_prefix(self.period), self.metadata
        files = [
            Artifact(f"{prefix}/{name}", body, content_type, metadata)
            for name, body, content_type in self._files()
        ]
        manifest = Artifact(
            f"{prefix}/{MANIFEST_NAME}", self.manifest(), MANIFEST_CONTENT_TYPE, metadata
        )
        return (*files, manifest)

    def delivery(self) -> ReportDelivery:
        pdf, *rest = self.artifacts()
        kind = self.period.kind
        return ReportDelivery(
            kind=kind,
            period=self.period.label,
            subject=f"Capacity review: {kind} report {self.period.label}",
            pdf=pdf,
            summary_text=self.summary_text,
            summary_html=self.summary_html,
            extras=tuple(rest),
        )


def data_watermark(engine: Engine, before: datetime) -> datetime | None:
    """The latest instant with stored data strictly before ``before`` (raw, else hourly)."""
    cutoff = int(before.timestamp())
    latest: int | None = None
    with engine.connect() as connection:
        for series_id in connection.execute(select(_SERIES.c.id)).scalars():
            # Per series, so both backends answer from the primary key index.
            found = connection.execute(
                select(func.max(_SAMPLES.c.ts)).where(
                    _SAMPLES.c.series_id == series_id, _SAMPLES.c.ts < cutoff
                )
            ).scalar_one_or_none()
            if found is None:
                found = connection.execute(
                    select(func.max(_ROLLUPS.c.bucket)).where(
                        _ROLLUPS.c.series_id == series_id,
                        _ROLLUPS.c.grain == "hour",
                        _ROLLUPS.c.bucket < cutoff,
                    )
                ).scalar_one_or_none()
            if found is not None and (latest is None or int(found) > latest):
                latest = int(found)
    return None if latest is None else datetime.fromtimestamp(latest, tz=UTC)


def bundle_report(
    engine: Engine, config: Config, report: RenderedReportLike, *, generated_at: datetime
) -> ReportBundle:
    return ReportBundle(
        period=report.period,
        pdf=report.pdf,
        summary_text=report.summary_text,
        summary_html=report.summary_html,
        extras=tuple(report.extras),
        generated_at=generated_at,
        config_hash=config.fingerprint(),
        data_watermark=data_watermark(engine, report.period.end),
    )


def local_publisher(config: Config) -> LocalPublisher:
    """The ``publish.local`` publisher; reports are staged there even when it is no target."""
    return LocalPublisher(config.publish.local)


def stage_bundle(config: Config, bundle: ReportBundle) -> list[PublishResult]:
    """Keep the rendered report in ``publish.local.directory`` (the manifest last)."""
    local = local_publisher(config)
    return [local.put(artifact) for artifact in bundle.artifacts()]


def stage_report(
    engine: Engine, config: Config, report: RenderedReportLike, *, generated_at: datetime
) -> ReportBundle:
    bundle = bundle_report(engine, config, report, generated_at=generated_at)
    return dataclasses.replace(bundle, staged=tuple(stage_bundle(config, bundle)))


def staged_directory(config: Config, period: ReportPeriod) -> Path:
    return local_publisher(config).path_for(period_prefix(period))


def load_bundle(config: Config, period: ReportPeriod) -> ReportBundle | None:
    """The staged report of ``period``, or None if it was never staged here."""
    folder = staged_directory(config, period)
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        return None
    try:
        document = json.loads(manifest_path.read_text(encoding="utf-8"))
        files: list[tuple[str, bytes, str]] = []
        for entry in document["files"]:
            name = str(entry["name"])
            body = (folder / name).read_bytes()
            if hashlib.sha256(body).hexdigest() != entry["sha256"]:
                raise DeliveryError(
                    f"{folder / name} differs from what {manifest_path} records; render the "
                    f"report again (capplan report {period.kind} --period {period.label})"
                )
            files.append((name, body, str(entry["content_type"])))
        stored = parse_period(str(document["kind"]), str(document["period"]))
        watermark = document["data_watermark"]
        bundle = ReportBundle(
            period=stored,
            pdf=files[0][1],
            summary_text=str(document["summary_text"]),
            summary_html=str(document["summary_html"]),
            extras=tuple(files[1:]),
            generated_at=_parse_iso(str(document["generated_at"])),
            config_hash=str(document["config_hash"]),
            data_watermark=_parse_iso(str(watermark)) if watermark else None,
        )
    except DeliveryError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise DeliveryError(
            f"{manifest_path}: cannot read the staged report ({type(exc).__name__}: {exc}); "
            f"render it again (capplan report {period.kind} --period {period.label})"
        ) from exc
    if stored != period or files[0][0] != period.pdf_filename:
        raise DeliveryError(f"{manifest_path} describes {stored.kind} {stored.label}, not this")
    return bundle

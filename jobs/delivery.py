"""The publish step: a rendered report becomes artifacts, staged locally, then delivered.

A report period is laid out as ``<kind>/<period>/``: the PDF
``capacity-<kind>-<period>.pdf``, the report's extra files (the annual budget
CSV/XLSX) and ``manifest.json``, which names every file with its size and
SHA-256 and carries the metadata (period, generated-at, config hash, data
watermark) and the executive summary. Every rendered report is staged in
``publish.local.directory``; ``capplan publish`` and the scheduler deliver
from there, so a re-run sends the very bytes that were rendered.

Delivery runs the configured targets in a fixed order, local, then s3, then
email, and stops at the first failure. Storage targets are idempotent (the
same bytes are reported as unchanged). Email is sent once per (kind, period):
the send is claimed in the ``email_deliveries`` table before it happens, so
neither a re-run nor a concurrent ``capplan publish`` sends it twice, unless
``resend`` is asked for.

Credentials are read from the ``env`` mapping the command passes in, never
from ``os.environ`` here.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from jobs.config import Config
from jobs.errors import CapplanError
from jobs.periods import ReportPeriod, parse_period
from jobs.publishers import (
    Artifact,
    EmailPublisher,
    LocalPublisher,
    PublisherConfigError,
    PublishError,
    PublishResult,
    ReportDelivery,
    S3Publisher,
)
from jobs.publishers.base import PDF_CONTENT_TYPE
from jobs.store import (
    ledger,
    schema,  # noqa: F401  (registers the tables)
)

MANIFEST_NAME = "manifest.json"
MANIFEST_CONTENT_TYPE = "application/json"
# A claim older than this is taken to belong to a process that died mid-send.
STALE_EMAIL_CLAIM_SECONDS = 30 * 60

_EMAILS = SQLModel.metadata.tables["email_deliveries"]
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


def publish_job(kind: str) -> str:
    """The ledger job name of the publish step of ``kind`` reports."""
    return f"publish:{kind}"


def report_job(kind: str) -> str:
    """The ledger job name of the render step of ``kind`` reports."""
    return f"report:{kind}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def pdf_name(period: ReportPeriod) -> str:
    return f"capacity-{period.kind}-{period.label}.pdf"


def period_prefix(period: ReportPeriod) -> str:
    return f"{period.kind}/{period.label}"


@dataclass(frozen=True)
class ReportBundle:
    """A rendered report with the metadata it is delivered with."""

    period: ReportPeriod
    pdf: bytes
    summary_text: str
    summary_html: str
    extras: tuple[tuple[str, bytes, str], ...]
    generated_at: datetime
    config_hash: str
    data_watermark: datetime | None

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
        return [(pdf_name(self.period), self.pdf, PDF_CONTENT_TYPE), *self.extras]

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


def _local(config: Config) -> LocalPublisher:
    return LocalPublisher(config.publish.local)


def stage_bundle(config: Config, bundle: ReportBundle) -> list[PublishResult]:
    """Keep the rendered report in ``publish.local.directory`` (the manifest last)."""
    local = _local(config)
    return [local.put(artifact) for artifact in bundle.artifacts()]


def stage_report(
    engine: Engine, config: Config, report: RenderedReportLike, *, generated_at: datetime
) -> ReportBundle:
    bundle = bundle_report(engine, config, report, generated_at=generated_at)
    stage_bundle(config, bundle)
    return bundle


def staged_directory(config: Config, period: ReportPeriod) -> Path:
    return _local(config).path_for(period_prefix(period))


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
    if stored != period or files[0][0] != pdf_name(period):
        raise DeliveryError(f"{manifest_path} describes {stored.kind} {stored.label}, not this")
    return bundle


def aws_session(env: Mapping[str, str]) -> boto3.session.Session:
    """A boto3 session on the standard AWS credential chain, keys and profile taken from ``env``."""
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    try:
        if key and secret:
            return boto3.session.Session(
                aws_access_key_id=key,
                aws_secret_access_key=secret,
                aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
            )
        profile = env.get("AWS_PROFILE")
        # Otherwise the rest of the chain: shared files, container or instance role.
        return boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
    except BotoCoreError as exc:
        raise PublisherConfigError(f"s3: cannot set up AWS credentials: {exc}") from exc


@dataclass
class Publishers:
    """The configured publishers, in delivery order."""

    local: LocalPublisher | None
    s3: S3Publisher | None
    email: EmailPublisher | None


def make_publishers(
    config: Config, *, env: Mapping[str, str], session: boto3.session.Session | None = None
) -> Publishers:
    """Builds every configured publisher first, so missing settings fail before any delivery."""
    publish = config.publish
    targets = set(publish.targets)
    s3: S3Publisher | None = None
    if "s3" in targets:
        assert publish.s3 is not None  # the config validator guarantees it
        s3 = S3Publisher(publish.s3, session=session or aws_session(env))
    email: EmailPublisher | None = None
    if "email" in targets:
        assert publish.email is not None
        link_provider = None
        if s3 is not None:
            storage = s3

            def link_provider(artifact: Artifact, seconds: int) -> str:
                return storage.presigned_url(artifact.key, seconds)

        email = EmailPublisher(publish.email, env=env, link_provider=link_provider)
    local = _local(config) if "local" in targets else None
    return Publishers(local, s3, email)


def holder_id() -> str:
    """Who is acting: host, process and a random part (unique across hosts and restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class EmailRecord:
    kind: str
    period: str
    status: str
    holder: str
    claimed_at: int
    sent_at: int | None
    message_id: str | None
    recipients: str


def email_record(engine: Engine, kind: str, period: str) -> EmailRecord | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(_EMAILS).where(_EMAILS.c.kind == kind, _EMAILS.c.period == period)
        ).one_or_none()
    return None if row is None else EmailRecord(*row)


def _claim_email(
    engine: Engine, kind: str, period: str, holder: str, *, resend: bool, now: int
) -> EmailRecord | None:
    """Claims the send of (kind, period); returns the earlier record when it was already sent.

    The claim is an INSERT on the primary key, or a conditional UPDATE of the row
    as it was read, so exactly one process wins however many try at once.
    """
    where = (_EMAILS.c.kind == kind, _EMAILS.c.period == period)
    try:
        with engine.begin() as connection:
            connection.execute(
                _EMAILS.insert().values(
                    kind=kind,
                    period=period,
                    status="sending",
                    holder=holder,
                    claimed_at=now,
                    recipients="",
                )
            )
        return None
    except IntegrityError:
        pass
    existing = email_record(engine, kind, period)
    if existing is None:  # deleted in between by a failed sender: try once more
        return _claim_email(engine, kind, period, holder, resend=resend, now=now)
    if existing.status == "sent" and not resend:
        return existing
    if existing.status == "sending" and now - existing.claimed_at < STALE_EMAIL_CLAIM_SECONDS:
        raise PublishError(
            "email",
            f"{kind} report {period}",
            f"another process ({existing.holder}) is sending it right now",
        )
    with engine.begin() as connection:
        won = connection.execute(
            _EMAILS.update()
            .where(
                *where,
                _EMAILS.c.holder == existing.holder,
                _EMAILS.c.claimed_at == existing.claimed_at,
                _EMAILS.c.status == existing.status,
            )
            .values(status="sending", holder=holder, claimed_at=now)
        ).rowcount
    if not won:
        raise PublishError(
            "email", f"{kind} report {period}", "another process claimed it at the same moment"
        )
    return None


@contextmanager
def _email_claim(
    engine: Engine, kind: str, period: str, *, resend: bool
) -> Iterator[EmailRecord | None]:
    """Yields None when this process must send (then records it), else the earlier send."""
    holder = holder_id()
    where = (_EMAILS.c.kind == kind, _EMAILS.c.period == period, _EMAILS.c.holder == holder)
    previous = email_record(engine, kind, period)
    earlier = _claim_email(engine, kind, period, holder, resend=resend, now=int(time.time()))
    if earlier is not None:
        yield earlier
        return
    try:
        yield None
    except BaseException:
        with engine.begin() as connection:
            if previous is not None and previous.status == "sent":
                # A failed resend: the earlier send still stands.
                connection.execute(
                    _EMAILS.update()
                    .where(*where)
                    .values(status="sent", holder=previous.holder, claimed_at=previous.claimed_at)
                )
            else:
                connection.execute(_EMAILS.delete().where(*where))
        raise


def _record_sent(engine: Engine, kind: str, period: str, result: PublishResult) -> None:
    with engine.begin() as connection:
        connection.execute(
            _EMAILS.update()
            .where(_EMAILS.c.kind == kind, _EMAILS.c.period == period)
            .values(
                status="sent",
                sent_at=int(time.time()),
                message_id=result.message_id,
                recipients=result.target,
            )
        )


def publish_bundle(
    engine: Engine,
    config: Config,
    bundle: ReportBundle,
    *,
    env: Mapping[str, str],
    resend: bool = False,
    send_email: bool = True,
    publishers: Publishers | None = None,
) -> list[PublishResult]:
    """Delivers a staged report to every configured target: local, then s3, then email.

    Raises :class:`PublishError` at the first target that fails; what was
    delivered before stays delivered and a re-run skips it.
    """
    chosen = publishers or make_publishers(config, env=env)
    delivery = bundle.delivery()
    results: list[PublishResult] = []
    if chosen.local is not None:
        results += chosen.local.publish(delivery)
    if chosen.s3 is not None:
        results += chosen.s3.publish(delivery)
    if chosen.email is not None and send_email:
        kind, label = bundle.period.kind, bundle.period.label
        if not chosen.email.recipients(delivery):
            return results  # no recipients for this kind: it is not mailed
        with _email_claim(engine, kind, label, resend=resend) as earlier:
            if earlier is not None:
                when = iso(datetime.fromtimestamp(earlier.sent_at or earlier.claimed_at, tz=UTC))
                results.append(
                    PublishResult(
                        "email",
                        earlier.recipients,
                        "unchanged",
                        f"already sent {when} ({earlier.message_id}); --resend sends it again",
                        message_id=earlier.message_id,
                    )
                )
                return results
            sent = chosen.email.send(delivery)
            _record_sent(engine, kind, label, sent)
            results.append(sent)
    return results


def _result_outputs(results: Sequence[PublishResult]) -> dict[str, Any]:
    return {
        "results": [
            {"publisher": r.publisher, "target": r.target, "status": r.status, "detail": r.detail}
            | ({"message_id": r.message_id} if r.message_id else {})
            for r in results
        ]
    }


def deliver(
    engine: Engine,
    config: Config,
    bundle: ReportBundle,
    *,
    env: Mapping[str, str],
    resend: bool = False,
    send_email: bool = True,
    publishers: Publishers | None = None,
) -> list[PublishResult]:
    """:func:`publish_bundle`, recorded in the ledger as ``publish:<kind>`` for the period."""
    run_id = ledger.start_run(engine, publish_job(bundle.period.kind), bundle.period.label)
    try:
        results = publish_bundle(
            engine,
            config,
            bundle,
            env=env,
            resend=resend,
            send_email=send_email,
            publishers=publishers,
        )
    except CapplanError as exc:
        ledger.finish_run(engine, run_id, ledger.FAILED, error=str(exc))
        raise
    except Exception as exc:
        ledger.finish_run(engine, run_id, ledger.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    ledger.finish_run(engine, run_id, ledger.SUCCEEDED, outputs=_result_outputs(results))
    return results


def publish_report(
    engine: Engine,
    config: Config,
    report: RenderedReportLike,
    *,
    env: Mapping[str, str],
    resend: bool = False,
    now: datetime | None = None,
) -> list[PublishResult]:
    """Stages a freshly rendered report and delivers it (``capplan report ... --publish``)."""
    bundle = stage_report(engine, config, report, generated_at=now or datetime.now(UTC))
    return deliver(engine, config, bundle, env=env, resend=resend)


def render_and_stage(
    engine: Engine,
    config: Config,
    period: ReportPeriod,
    build: ReportBuilder,
    *,
    now: datetime,
) -> ReportBundle:
    """Renders ``period`` and stages it, recorded in the ledger as ``report:<kind>``."""
    run_id = ledger.start_run(engine, report_job(period.kind), period.label)
    try:
        report = build(engine, config, period)
        bundle = stage_report(engine, config, report, generated_at=now)
    except Exception as exc:
        error = str(exc) if isinstance(exc, CapplanError) else f"{type(exc).__name__}: {exc}"
        ledger.finish_run(engine, run_id, ledger.FAILED, error=error)
        raise
    outputs = {"directory": str(staged_directory(config, period)), "pdf_bytes": len(bundle.pdf)}
    ledger.finish_run(engine, run_id, ledger.SUCCEEDED, outputs=outputs)
    return bundle


def default_report_builder() -> ReportBuilder:
    """``jobs.reports.build_report``, imported when a report is rendered (WeasyPrint is heavy)."""
    from jobs.reports import build_report

    def build(engine: Engine, config: Config, period: ReportPeriod) -> RenderedReportLike:
        return build_report(engine, config, period)

    return build


def format_results(results: Sequence[PublishResult]) -> list[str]:
    lines = []
    for result in results:
        detail = f" ({result.detail})" if result.detail else ""
        lines.append(f"{result.publisher}: {result.status} {result.target}{detail}")
    return lines


def backfill_reports(
    engine: Engine,
    config: Config,
    periods: Sequence[ReportPeriod],
    *,
    env: Mapping[str, str],
    publish: bool = False,
    email: bool = False,
    build: ReportBuilder | None = None,
    now: datetime | None = None,
) -> list[ReportBundle]:
    """Renders past periods (each as of its end) and stages them.

    A backfill delivers only with ``publish`` and emails only with ``email``
    (which needs ``publish``); the once-per-period email rule still holds.
    """
    if email and not publish:
        raise ValueError("email needs publish: a backfill emails only what it publishes")
    builder = build or default_report_builder()
    publishers = make_publishers(config, env=env) if publish else None
    bundles = []
    for period in periods:
        bundle = render_and_stage(engine, config, period, builder, now=now or datetime.now(UTC))
        if publishers is not None:
            deliver(engine, config, bundle, env=env, send_email=email, publishers=publishers)
        bundles.append(bundle)
    return bundles

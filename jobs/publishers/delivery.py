"""The publish step: a staged report is delivered, each run recorded in the ledger.

Every rendered report is staged in ``publish.local.directory`` first
(``jobs.publishers.staging``); ``capplan publish`` and the scheduler deliver from there.
Delivery runs the configured targets (``jobs.publishers.setup``) in their
publishers' order (local, then s3, then email) and stops at the first failure.
Storage targets are idempotent (the same bytes are reported as unchanged). A
publisher that reaches people (email, a ``OncePublisher``) sends once per
(kind, period) (``jobs.publishers.email_once``); a send whose acceptance the
server never confirmed is recorded as unconfirmed and left to the operator
(``--resend``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from jobs.config import Config
from jobs.errors import error_text
from jobs.periods import ReportPeriod
from jobs.publishers import EmailUnconfirmedError, OncePublisher, PublishResult
from jobs.publishers.email_once import (
    UNCONFIRMED,
    EmailRecord,
    email_claim,
    email_record,
    email_records,
)
from jobs.publishers.local import LocalPublisher
from jobs.publishers.setup import Publishers, make_publishers
from jobs.publishers.staging import (
    MANIFEST_CONTENT_TYPE,
    MANIFEST_NAME,
    DeliveryError,
    RenderedReportLike,
    ReportBuilder,
    ReportBundle,
    bundle_report,
    data_watermark,
    iso,
    load_bundle,
    period_prefix,
    stage_bundle,
    stage_report,
    staged_directory,
)
from jobs.schedule.lease import DEFAULT_LEASE_TTL_SECONDS, holder_id
from jobs.store import ledger

__all__ = [
    "MANIFEST_CONTENT_TYPE",
    "MANIFEST_NAME",
    "UNCONFIRMED",
    "DeliveryError",
    "EmailRecord",
    "Publishers",
    "RenderedReportLike",
    "ReportBuilder",
    "ReportBundle",
    "backfill_reports",
    "bundle_report",
    "data_watermark",
    "default_report_builder",
    "deliver",
    "email_record",
    "email_records",
    "format_results",
    "holder_id",
    "iso",
    "load_bundle",
    "make_publishers",
    "period_prefix",
    "publish_bundle",
    "publish_job",
    "publish_report",
    "render_and_stage",
    "report_job",
    "stage_bundle",
    "stage_report",
    "staged_directory",
]


def publish_job(kind: str) -> str:
    """The ledger job name of the publish step of ``kind`` reports."""
    return f"publish:{kind}"


def report_job(kind: str) -> str:
    """The ledger job name of the render step of ``kind`` reports."""
    return f"report:{kind}"


def publish_bundle(
    engine: Engine,
    config: Config,
    bundle: ReportBundle,
    *,
    env: Mapping[str, str],
    resend: bool = False,
    send_email: bool = True,
    publishers: Publishers | None = None,
    claim_ttl_seconds: int = DEFAULT_LEASE_TTL_SECONDS,
) -> list[PublishResult]:
    """Delivers a staged report to every configured target, in delivery order.

    Raises :class:`PublishError` at the first target that fails; what was
    delivered before stays delivered and a re-run skips it. An email whose
    acceptance was never confirmed raises :class:`EmailUnconfirmedError`; a
    re-run reports it as unconfirmed and does not send it again.
    ``send_email`` False skips the publishers that deliver once (email).
    ``claim_ttl_seconds`` is how long the email claim outlives a killed sender.
    """
    chosen = make_publishers(config, env=env) if publishers is None else publishers
    delivery = bundle.delivery()
    results: list[PublishResult] = []
    for publisher in chosen:
        if isinstance(publisher, LocalPublisher) and bundle.staged:
            # The staging directory is the local target: a bundle staged just now was
            # delivered there by staging, and saying "unchanged" would hide that.
            results += bundle.staged
        elif isinstance(publisher, OncePublisher):
            if send_email:
                results += _send_once(
                    engine, publisher, bundle, resend=resend, claim_ttl_seconds=claim_ttl_seconds
                )
        else:
            results += publisher.publish(delivery)
    return results


def _send_once(
    engine: Engine,
    publisher: OncePublisher,
    bundle: ReportBundle,
    *,
    resend: bool,
    claim_ttl_seconds: int,
) -> list[PublishResult]:
    """Sends unless the period was sent (or handed over) before; nothing without recipients.

    The claims (``email_deliveries``) are keyed by (kind, period) alone: they
    serve one such publisher, email; a second would need its name in the key.
    """
    delivery = bundle.delivery()
    kind, label = bundle.period.kind, bundle.period.label
    if not publisher.recipients(delivery):
        return []  # no recipients for this kind: it is not sent
    with email_claim(
        engine,
        kind,
        label,
        resend=resend,
        target=publisher.target(delivery),
        ttl_seconds=claim_ttl_seconds,
    ) as claim:
        if claim.earlier is not None:
            return [_earlier_result(publisher.name, claim.earlier)]
        message_id = publisher.message_id(delivery, fresh=resend)
        try:
            sent = publisher.send(delivery, message_id=message_id, handover=claim)
        except EmailUnconfirmedError as exc:
            raise EmailUnconfirmedError(
                exc.publisher,
                exc.target,
                f"{exc.reason}; check with the recipients, and if it did not arrive, "
                f"send it again with: capplan publish {kind} --period {label} --resend",
                exc.message_id,
            ) from exc
        claim.record_sent(sent)
        return [sent]


def _earlier_result(publisher: str, earlier: EmailRecord) -> PublishResult:
    when = iso(datetime.fromtimestamp(earlier.sent_at or earlier.claimed_at, tz=UTC))
    if earlier.status == UNCONFIRMED:
        return PublishResult(
            publisher,
            earlier.recipients,
            "unconfirmed",
            f"handed to the server {when} ({earlier.message_id}), which never confirmed it; "
            "not sent again: check with the recipients, --resend sends it again",
            message_id=earlier.message_id,
        )
    return PublishResult(
        publisher,
        earlier.recipients,
        "unchanged",
        f"already sent {when} ({earlier.message_id}); --resend sends it again",
        message_id=earlier.message_id,
    )


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
    claim_ttl_seconds: int = DEFAULT_LEASE_TTL_SECONDS,
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
            claim_ttl_seconds=claim_ttl_seconds,
        )
    except Exception as exc:
        ledger.finish_run(engine, run_id, ledger.FAILED, error=error_text(exc))
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
        ledger.finish_run(engine, run_id, ledger.FAILED, error=error_text(exc))
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

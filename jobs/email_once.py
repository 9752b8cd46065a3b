"""Email is sent once per (kind, period), claimed in ``email_deliveries`` first.

The claim is taken before the send, so neither a re-run nor a concurrent
``capplan publish`` sends a report twice, unless ``resend`` is asked for.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from jobs.publishers import PublishError, PublishResult
from jobs.store import schema  # noqa: F401  (registers the tables)

# A claim older than this is taken to belong to a process that died mid-send.
STALE_EMAIL_CLAIM_SECONDS = 30 * 60

_EMAILS = SQLModel.metadata.tables["email_deliveries"]


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
def email_claim(
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


def record_sent(engine: Engine, kind: str, period: str, result: PublishResult) -> None:
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

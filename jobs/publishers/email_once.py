"""Email is sent once per (kind, period), claimed in ``email_deliveries`` first.

A row goes through these states:

- ``sending``: claimed, the message content not handed over yet. The
  claimant holds the lease ``email:<kind>:<period>`` (``jobs.schedule.lease``) while
  it works, renewed as long as it lives; if it dies, the lease lapses after
  its TTL (run-due's ``--lease-ttl``) and the next publisher takes the claim
  over and sends: nothing had gone out.
- ``unconfirmed``: recorded just before the content goes to the server; it
  stays so when the server's answer never comes (a timeout, a dropped
  connection, the process killed). The message may have arrived, so it is
  not sent again unless ``resend`` is asked for.
- ``sent``: the server accepted it.

So neither a re-run nor a concurrent ``capplan publish`` sends a report twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from jobs.publishers import PublishError, PublishResult
from jobs.schedule.lease import (
    DEFAULT_LEASE_TTL_SECONDS,
    Lease,
    LeaseBusyError,
    LeaseLostError,
    holder_id,
)
from jobs.store import schema  # noqa: F401  (registers the tables)

SENDING, UNCONFIRMED, SENT = "sending", "unconfirmed", "sent"

_EMAILS = SQLModel.metadata.tables["email_deliveries"]

__all__ = [
    "SENDING",
    "SENT",
    "UNCONFIRMED",
    "EmailClaim",
    "EmailRecord",
    "email_claim",
    "email_record",
    "email_records",
    "holder_id",
]


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


def email_records(engine: Engine, status: str | None = None) -> list[EmailRecord]:
    query = select(_EMAILS).order_by(_EMAILS.c.kind, _EMAILS.c.period)
    if status is not None:
        query = query.where(_EMAILS.c.status == status)
    with engine.connect() as connection:
        return [EmailRecord(*row) for row in connection.execute(query)]


def lease_name(kind: str, period: str) -> str:
    return f"email:{kind}:{period}"


class EmailClaim:
    """The right to send (kind, period), or the earlier send that makes it unnecessary.

    It is also the publisher's hand-over gate (``jobs.publishers.base.HandOver``):
    the row turns ``unconfirmed`` before the content goes out.
    """

    def __init__(
        self,
        engine: Engine,
        kind: str,
        period: str,
        *,
        lease: Lease,
        target: str,
        earlier: EmailRecord | None = None,
    ) -> None:
        self.engine, self.kind, self.period = engine, kind, period
        self.lease, self.target, self.earlier = lease, target, earlier
        self.handed_over = False

    @property
    def holder(self) -> str:
        return self.lease.holder

    def _update(self, current: str, **values: object) -> int:
        with self.engine.begin() as connection:
            changed: int = connection.execute(
                _EMAILS.update()
                .where(
                    _EMAILS.c.kind == self.kind,
                    _EMAILS.c.period == self.period,
                    _EMAILS.c.holder == self.holder,
                    _EMAILS.c.status == current,
                )
                .values(**values)
            ).rowcount
        return changed

    def _lost(self, why: str) -> PublishError:
        return PublishError(
            "email", f"{self.kind} report {self.period}", f"{why}; nothing was sent by this run"
        )

    def begin(self, message_id: str) -> None:
        """Records the send as unconfirmed, or refuses when the claim is no longer ours."""
        try:
            self.lease.check()
        except LeaseLostError as exc:
            raise self._lost("the claim on it lapsed (its lease was not renewed)") from exc
        taken = self._update(
            SENDING,
            status=UNCONFIRMED,
            sent_at=int(time.time()),
            message_id=message_id,
            recipients=self.target,
        )
        if not taken:
            raise self._lost("another process took over the claim on it")
        self.handed_over = True

    def refused(self) -> None:
        """The server refused the content: nothing went out, the claim is ``sending`` again."""
        self._update(UNCONFIRMED, status=SENDING, sent_at=None)
        self.handed_over = False

    def record_sent(self, result: PublishResult) -> None:
        self._update(
            UNCONFIRMED,
            status=SENT,
            sent_at=int(time.time()),
            message_id=result.message_id,
            recipients=result.target,
        )


def _take(
    engine: Engine, kind: str, period: str, holder: str, previous: EmailRecord | None
) -> None:
    """Claims the row as it was read: an INSERT, or an UPDATE conditional on ``previous``."""
    now = int(time.time())
    conflict = PublishError(
        "email", f"{kind} report {period}", "another process claimed it at the same moment"
    )
    if previous is None:
        try:
            with engine.begin() as connection:
                connection.execute(
                    _EMAILS.insert().values(
                        kind=kind,
                        period=period,
                        status=SENDING,
                        holder=holder,
                        claimed_at=now,
                        recipients="",
                    )
                )
        except IntegrityError as exc:
            raise conflict from exc
        return
    with engine.begin() as connection:
        won = connection.execute(
            _EMAILS.update()
            .where(
                _EMAILS.c.kind == kind,
                _EMAILS.c.period == period,
                _EMAILS.c.holder == previous.holder,
                _EMAILS.c.claimed_at == previous.claimed_at,
                _EMAILS.c.status == previous.status,
            )
            .values(status=SENDING, holder=holder, claimed_at=now)
        ).rowcount
    if not won:
        raise conflict


def _give_back(engine: Engine, claim: EmailClaim, previous: EmailRecord | None) -> None:
    where = (
        _EMAILS.c.kind == claim.kind,
        _EMAILS.c.period == claim.period,
        _EMAILS.c.holder == claim.holder,
        _EMAILS.c.status == SENDING,
    )
    with engine.begin() as connection:
        if previous is not None and previous.status in (SENT, UNCONFIRMED):
            # A failed resend: the earlier send still stands.
            connection.execute(
                _EMAILS.update()
                .where(*where)
                .values(
                    status=previous.status, holder=previous.holder, claimed_at=previous.claimed_at
                )
            )
        else:
            connection.execute(_EMAILS.delete().where(*where))


@contextmanager
def email_claim(
    engine: Engine,
    kind: str,
    period: str,
    *,
    resend: bool,
    target: str = "",
    ttl_seconds: int = DEFAULT_LEASE_TTL_SECONDS,
) -> Iterator[EmailClaim]:
    """Yields a claim: with ``earlier`` set when it was already sent (or handed over).

    On an error the claim is given back, unless the message was handed over
    already: then it stays ``unconfirmed``.
    """
    lease = Lease(engine, name=lease_name(kind, period), ttl_seconds=ttl_seconds)
    try:
        lease.__enter__()
    except LeaseBusyError as exc:
        who = exc.record.holder if exc.record else "another process"
        raise PublishError(
            "email",
            f"{kind} report {period}",
            f"another process ({who}) is sending it right now; if that process is gone, "
            f"its claim lapses within {ttl_seconds} s",
        ) from exc
    try:
        previous = email_record(engine, kind, period)
        if previous is not None and previous.status in (SENT, UNCONFIRMED) and not resend:
            yield EmailClaim(engine, kind, period, lease=lease, target=target, earlier=previous)
            return
        # Nothing recorded, a resend, or a 'sending' row whose claimant's lease lapsed
        # (we hold it now): that one died before handing the message over.
        _take(engine, kind, period, lease.holder, previous)
        claim = EmailClaim(engine, kind, period, lease=lease, target=target)
        try:
            yield claim
        except BaseException:
            if not claim.handed_over:
                _give_back(engine, claim, previous)
            raise
    finally:
        lease.__exit__(None, None, None)

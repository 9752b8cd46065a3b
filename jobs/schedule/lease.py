"""Named leases in the database: one holder at a time, renewed while it lives.

A lease is a row of the ``leases`` table, taken with an atomic conditional
UPDATE (or INSERT when the row does not exist yet) and renewed from a
background thread every third of its TTL. A holder that dies stops renewing,
and its lease is free for the next one once the TTL has passed. Times are
real wall-clock time; hosts sharing a database need reasonably synchronised
clocks (well within the TTL).

``run-due`` holds the ``run-due`` lease; each email send holds
``email:<kind>:<period>`` (``jobs.publishers.email_once``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import SQLModel

from jobs.errors import CapplanError
from jobs.store import schema  # noqa: F401  (registers the tables)

logger = logging.getLogger(__name__)

LEASE_NAME = "run-due"
DEFAULT_LEASE_TTL_SECONDS = 600  # also the default of run-due --lease-ttl

_LEASES = SQLModel.metadata.tables["leases"]

Clock = Callable[[], float]


def holder_id() -> str:
    """Who is acting: host, process and a random part (unique across hosts and restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class LeaseRecord:
    name: str
    holder: str
    acquired_at: int
    expires_at: int


def acquire_lease(engine: Engine, name: str, holder: str, ttl_seconds: int, now: float) -> bool:
    """Takes ``name`` if it is free, expired or already ours; True when we hold it."""
    stamp = int(now)
    values = {"holder": holder, "acquired_at": stamp, "expires_at": stamp + ttl_seconds}
    with engine.begin() as connection:
        taken = connection.execute(
            update(_LEASES)
            .where(
                _LEASES.c.name == name,
                or_(_LEASES.c.expires_at <= stamp, _LEASES.c.holder == holder),
            )
            .values(**values)
        ).rowcount
    if taken:
        return True
    try:
        with engine.begin() as connection:
            connection.execute(_LEASES.insert().values(name=name, **values))
    except IntegrityError:
        return False  # the row exists and someone else holds it
    return True


def renew_lease(engine: Engine, name: str, holder: str, ttl_seconds: int, now: float) -> bool:
    """Extends our lease; False when it is no longer ours (it expired and was taken)."""
    with engine.begin() as connection:
        renewed = connection.execute(
            update(_LEASES)
            .where(_LEASES.c.name == name, _LEASES.c.holder == holder)
            .values(expires_at=int(now) + ttl_seconds)
        ).rowcount
    return bool(renewed)


def release_lease(engine: Engine, name: str, holder: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            _LEASES.delete().where(_LEASES.c.name == name, _LEASES.c.holder == holder)
        )


def lease_record(engine: Engine, name: str = LEASE_NAME) -> LeaseRecord | None:
    with engine.connect() as connection:
        row = connection.execute(select(_LEASES).where(_LEASES.c.name == name)).one_or_none()
    return (
        None if row is None else LeaseRecord(row.name, row.holder, row.acquired_at, row.expires_at)
    )


class LeaseBusyError(CapplanError):
    """Another process holds the lease; not a failure, so the exit code is 0."""

    exit_code = 0

    def __init__(self, record: LeaseRecord | None, name: str = LEASE_NAME) -> None:
        self.record = record
        who = f"{record.holder} until {_iso(record.expires_at)}" if record else "another process"
        super().__init__(f"another {name} is in progress ({who}); nothing done")


class LeaseLostError(CapplanError):
    pass


class Lease:
    """Holds a lease for a ``with`` block, renewing it from a background thread.

    ``clock`` gives the time in seconds since the epoch (the wall clock by
    default); expiry and renewal are reckoned by it alone.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        name: str = LEASE_NAME,
        ttl_seconds: int = DEFAULT_LEASE_TTL_SECONDS,
        holder: str | None = None,
        clock: Clock = time.time,
    ) -> None:
        if ttl_seconds < 3:
            raise ValueError("the lease TTL must be at least 3 seconds")
        self.engine, self.name, self.ttl = engine, name, ttl_seconds
        self.holder = holder or holder_id()
        self.clock = clock
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None
        self._expires = 0.0

    @property
    def lost(self) -> bool:
        return self._lost.is_set() or self.clock() >= self._expires

    def check(self) -> None:
        if self.lost:
            raise LeaseLostError(
                f"the {self.name} lease was lost (not renewed within {self.ttl}s); "
                "stopping before the next job, re-run to continue"
            )

    def __enter__(self) -> Lease:
        now = self.clock()
        if not acquire_lease(self.engine, self.name, self.holder, self.ttl, now):
            raise LeaseBusyError(lease_record(self.engine, self.name), self.name)
        self._expires = now + self.ttl
        self._thread = threading.Thread(target=self._renew, name=f"lease-{self.name}", daemon=True)
        self._thread.start()
        return self

    def renew(self) -> bool:
        """Extends the lease by a TTL from now; False once it is lost (then :meth:`check` raises).

        The background thread calls this every third of the TTL.
        """
        now = self.clock()
        try:
            if not renew_lease(self.engine, self.name, self.holder, self.ttl, now):
                self._lost.set()
                return False
        except SQLAlchemyError as exc:  # a busy database: try again at the next tick
            logger.warning("renewing the %s lease failed: %s", self.name, exc)
            return True
        self._expires = now + self.ttl
        return True

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            if not self.renew():
                return

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            release_lease(self.engine, self.name, self.holder)
        except SQLAlchemyError as exc:  # it expires on its own
            logger.warning("releasing the %s lease failed: %s", self.name, exc)

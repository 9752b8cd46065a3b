"""The job-run ledger: every run is recorded with its status, error and outputs.

A run records the process running it (pid and host). A process killed with
``kill -9`` (or dying of an error nobody caught) cannot record its own end, so
the next command marks such runs ``abandoned``: on the same host, once their
process is gone. Runs on other hosts are left alone: their liveness cannot be
seen from here.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update
from sqlmodel import SQLModel

from jobs.store import schema  # noqa: F401  (registers the tables)

_TABLE = SQLModel.metadata.tables["job_runs"]

RUNNING, SUCCEEDED, FAILED, PARTIAL = "running", "succeeded", "failed", "partial"
ABANDONED = "abandoned"


@dataclass(frozen=True)
class RunRecord:
    id: int
    job: str
    period: str
    status: str
    started_at: int
    finished_at: int | None
    error: str | None
    outputs: dict[str, Any]
    pid: int | None = None
    host: str | None = None


def start_run(engine: Engine, job: str, period: str = "", now: int | None = None) -> int:
    with engine.begin() as connection:
        result = connection.execute(
            _TABLE.insert().values(
                job=job,
                period=period,
                status=RUNNING,
                started_at=int(time.time()) if now is None else now,
                outputs="{}",
                pid=os.getpid(),
                host=this_host(),
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def finish_run(
    engine: Engine,
    run_id: int,
    status: str,
    *,
    error: str | None = None,
    outputs: dict[str, Any] | None = None,
    now: int | None = None,
) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(_TABLE)
            .where(_TABLE.c.id == run_id)
            .values(
                status=status,
                finished_at=int(time.time()) if now is None else now,
                error=error,
                outputs=json.dumps(outputs or {}, sort_keys=True, default=str),
            )
        )


def runs(engine: Engine, job: str | None = None, period: str | None = None) -> list[RunRecord]:
    query = select(_TABLE).order_by(_TABLE.c.id)
    if job is not None:
        query = query.where(_TABLE.c.job == job)
    if period is not None:
        query = query.where(_TABLE.c.period == period)
    with engine.connect() as connection:
        return [
            RunRecord(
                row.id,
                row.job,
                row.period,
                row.status,
                row.started_at,
                row.finished_at,
                row.error,
                json.loads(row.outputs),
                row.pid,
                row.host,
            )
            for row in connection.execute(query)
        ]


def this_host() -> str:
    return socket.gethostname()[:200]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    return True


def abandon_dead_runs(engine: Engine, now: int | None = None) -> list[RunRecord]:
    """Marks 'running' runs of this host whose process is gone as abandoned; returns them."""
    host = this_host()
    with engine.connect() as connection:
        candidates = connection.execute(
            select(_TABLE.c.id, _TABLE.c.pid).where(
                _TABLE.c.status == RUNNING, _TABLE.c.host == host, _TABLE.c.pid.is_not(None)
            )
        ).fetchall()
    dead = [row.id for row in candidates if row.pid != os.getpid() and not _alive(row.pid)]
    if not dead:
        return []
    stamp = int(time.time()) if now is None else now
    with engine.begin() as connection:
        connection.execute(
            update(_TABLE)
            # Still 'running': a run that ended meanwhile keeps its own status.
            .where(_TABLE.c.id.in_(dead), _TABLE.c.status == RUNNING)
            .values(
                status=ABANDONED,
                finished_at=stamp,
                error="abandoned: its process ended without recording an outcome "
                "(killed, or stopped by an unexpected error)",
            )
        )
    return [run for run in runs(engine) if run.id in set(dead)]

"""The job-run ledger: every run is recorded with its status, error and outputs."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update
from sqlmodel import SQLModel

from jobs.store import schema  # noqa: F401  (registers the tables)

_TABLE = SQLModel.metadata.tables["job_runs"]

RUNNING, SUCCEEDED, FAILED, PARTIAL = "running", "succeeded", "failed", "partial"


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


def start_run(engine: Engine, job: str, period: str = "", now: int | None = None) -> int:
    with engine.begin() as connection:
        result = connection.execute(
            _TABLE.insert().values(
                job=job,
                period=period,
                status=RUNNING,
                started_at=int(time.time()) if now is None else now,
                outputs="{}",
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
            )
            for row in connection.execute(query)
        ]

"""Ordered schema migrations. Each step runs once, in order, inside a transaction."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection, Engine, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlmodel import SQLModel

from jobs.errors import SchemaVersionError, StoreError
from jobs.store import schema

Migration = Callable[[Connection], None]


def _create(*tables: type[SQLModel]) -> Migration:
    def step(connection: Connection) -> None:
        for table in tables:
            SQLModel.metadata.tables[str(table.__tablename__)].create(connection)

    return step


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (
        1,
        "series, samples, rollups, allocations, ledger, watermarks",
        _create(
            schema.Series,
            schema.Sample,
            schema.Rollup,
            schema.RollupPeak,
            schema.Allocation,
            schema.JobRun,
            schema.Watermark,
        ),
    ),
    (
        2,
        "stored forecasts: runs, model settings, crossings, weekly projections",
        _create(
            schema.ForecastRun, schema.ForecastModel, schema.ForecastCrossing, schema.ForecastPoint
        ),
    ),
    (
        3,
        "scheduling and delivery: the run-due lease, emailed report periods",
        _create(schema.Lease, schema.EmailDelivery),
    ),
]

LATEST_VERSION = MIGRATIONS[-1][0]


def current_version(engine: Engine) -> int:
    if not inspect(engine).has_table("schema_version"):
        return 0
    with engine.connect() as connection:
        versions = connection.execute(select(schema.SchemaVersion.version)).scalars().all()  # type: ignore[call-overload]
    return max(versions, default=0)


MIGRATION_ATTEMPTS = 5


def migrate(engine: Engine) -> int:
    """Brings the schema to the latest version; returns the version reached.

    Two processes opening a new database at once (two cron jobs, say) race to
    apply the same step; each step is one transaction, so the loser's fails
    and it re-reads the version and carries on from there.
    """
    for attempt in range(MIGRATION_ATTEMPTS):
        try:
            return _migrate_once(engine)
        except (OperationalError, IntegrityError, ProgrammingError) as exc:
            if attempt == MIGRATION_ATTEMPTS - 1:
                raise StoreError(f"cannot prepare the database schema: {exc}") from exc
            time.sleep(0.2 * (attempt + 1))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot prepare the database schema: {exc}") from exc
    raise AssertionError("unreachable")


def _migrate_once(engine: Engine) -> int:
    version = current_version(engine)
    if version > LATEST_VERSION:
        raise SchemaVersionError(
            f"the database schema is version {version}, newer than this capplan "
            f"understands ({LATEST_VERSION}); upgrade capplan"
        )
    if version == 0 and not inspect(engine).has_table("schema_version"):
        with engine.begin() as connection:
            _create(schema.SchemaVersion)(connection)
    for number, _description, step in MIGRATIONS:
        if number <= version:
            continue
        with engine.begin() as connection:
            step(connection)
            connection.execute(
                SQLModel.metadata.tables["schema_version"].insert(),
                {"version": number, "applied_at": int(time.time())},
            )
        version = number
    return version

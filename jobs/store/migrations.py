"""Ordered schema migrations. Each step runs once, in order, inside a transaction."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlmodel import SQLModel

from jobs.errors import SchemaVersionError, StoreError
from jobs.store import schema

Migration = Callable[[Connection], None]

# Each version's tables are spelled out here as they were when it shipped, not
# taken from ``schema`` (today's definitions): a step must build the same tables
# on a fresh install as it did on the databases already upgraded through it.


def _tables(*build: Callable[[MetaData], Table]) -> Migration:
    def step(connection: Connection) -> None:
        metadata = MetaData()
        for make in build:
            make(metadata).create(connection)

    return step


def _statements(*ddl: str) -> Migration:
    def step(connection: Connection) -> None:
        for statement in ddl:
            connection.exec_driver_sql(statement)

    return step


def _schema_version_v1(m: MetaData) -> Table:
    return Table(
        "schema_version",
        m,
        Column("version", Integer, primary_key=True),
        Column("applied_at", BigInteger, nullable=False),
    )


def _series_v1(m: MetaData) -> Table:
    return Table(
        "series",
        m,
        Column("id", Integer, primary_key=True),
        Column("service", String(200), nullable=False),
        Column("metric", String(200), nullable=False),
        Column("labels", Text, nullable=False),
        Column("unit", String(50), nullable=False),
        UniqueConstraint("service", "metric", "labels"),
    )


def _samples_v1(m: MetaData) -> Table:
    return Table(
        "samples",
        m,
        Column("series_id", Integer, primary_key=True),
        Column("ts", BigInteger, primary_key=True),
        Column("value", Float, nullable=False),
        sqlite_with_rowid=False,
    )


def _rollups_v1(m: MetaData) -> Table:
    return Table(
        "rollups",
        m,
        Column("series_id", Integer, primary_key=True),
        Column("grain", String(8), primary_key=True),
        Column("bucket", BigInteger, primary_key=True),
        Column("mean", Float, nullable=False),
        Column("max", Float, nullable=False),
        Column("p95", Float, nullable=False),
        Column("count", Integer, nullable=False),
        sqlite_with_rowid=False,
    )


def _rollup_peaks_v1(m: MetaData) -> Table:
    return Table(
        "rollup_peaks",
        m,
        Column("series_id", Integer, primary_key=True),
        Column("grain", String(8), primary_key=True),
        Column("duration_minutes", Integer, primary_key=True),
        Column("bucket", BigInteger, primary_key=True),
        Column("value", Float, nullable=False),
        sqlite_with_rowid=False,
    )


def _allocations_v1(m: MetaData) -> Table:
    return Table(
        "allocations",
        m,
        Column("id", Integer, primary_key=True),
        Column("service", String(200), nullable=False),
        Column("resource", String(50), nullable=False),
        Column("value", Float, nullable=False),
        Column("effective_from", BigInteger, nullable=False),
        Column("source", String(50), nullable=False),
        UniqueConstraint("service", "resource", "effective_from"),
    )


def _job_runs_v1(m: MetaData) -> Table:
    return Table(
        "job_runs",
        m,
        Column("id", Integer, primary_key=True),
        Column("job", String(100), nullable=False),
        Column("period", String(50), nullable=False),
        Column("status", String(20), nullable=False),
        Column("started_at", BigInteger, nullable=False),
        Column("finished_at", BigInteger, nullable=True),
        Column("error", Text, nullable=True),
        Column("outputs", Text, nullable=False),
        Index("ix_job_runs_job_period", "job", "period"),
    )


def _watermarks_v1(m: MetaData) -> Table:
    return Table(
        "watermarks",
        m,
        Column("source", String(100), primary_key=True),
        Column("key", String(400), primary_key=True),
        Column("ts", BigInteger, nullable=False),
    )


def _forecast_runs_v2(m: MetaData) -> Table:
    return Table(
        "forecast_runs",
        m,
        Column("id", Integer, primary_key=True),
        Column("as_of", BigInteger, nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("config_hash", String(64), nullable=False),
        Index("ix_forecast_runs_as_of", "as_of"),
    )


def _forecast_models_v2(m: MetaData) -> Table:
    return Table(
        "forecast_models",
        m,
        Column("run_id", Integer, primary_key=True),
        Column("series_id", Integer, primary_key=True),
        Column("duration_minutes", Integer, primary_key=True),
        Column("settings", Text, nullable=False),
        Column("validation", Text, nullable=False),
        Column("history_end", BigInteger, nullable=False),
    )


def _forecast_crossings_v2(m: MetaData) -> Table:
    return Table(
        "forecast_crossings",
        m,
        Column("run_id", Integer, primary_key=True),
        Column("series_id", Integer, primary_key=True),
        Column("level", String(20), primary_key=True),
        Column("scenario", String(50), primary_key=True),
        Column("threshold", Float, nullable=False),
        Column("duration_minutes", Integer, nullable=False),
        Column("expected", String(10), nullable=True),
        Column("earliest", String(10), nullable=True),
        Column("latest", String(10), nullable=True),
        Column("runway_days", Integer, nullable=True),
        Column("already_exceeded", Integer, nullable=False),
    )


def _forecast_points_v2(m: MetaData) -> Table:
    return Table(
        "forecast_points",
        m,
        Column("run_id", Integer, primary_key=True),
        Column("series_id", Integer, primary_key=True),
        Column("duration_minutes", Integer, primary_key=True),
        Column("scenario", String(50), primary_key=True),
        Column("day", BigInteger, primary_key=True),
        Column("median", Float, nullable=False),
        Column("lower", Float, nullable=False),
        Column("upper", Float, nullable=False),
        sqlite_with_rowid=False,
    )


def _leases_v3(m: MetaData) -> Table:
    return Table(
        "leases",
        m,
        Column("name", String(100), primary_key=True),
        Column("holder", String(200), nullable=False),
        Column("acquired_at", BigInteger, nullable=False),
        Column("expires_at", BigInteger, nullable=False),
    )


def _email_deliveries_v3(m: MetaData) -> Table:
    return Table(
        "email_deliveries",
        m,
        Column("kind", String(20), primary_key=True),
        Column("period", String(50), primary_key=True),
        Column("status", String(20), nullable=False),
        Column("holder", String(200), nullable=False),
        Column("claimed_at", BigInteger, nullable=False),
        Column("sent_at", BigInteger, nullable=True),
        Column("message_id", String(400), nullable=True),
        Column("recipients", Text, nullable=False),
    )


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (
        1,
        "series, samples, rollups, allocations, ledger, watermarks",
        _tables(
            _series_v1,
            _samples_v1,
            _rollups_v1,
            _rollup_peaks_v1,
            _allocations_v1,
            _job_runs_v1,
            _watermarks_v1,
        ),
    ),
    (
        2,
        "stored forecasts: runs, model settings, crossings, weekly projections",
        _tables(
            _forecast_runs_v2, _forecast_models_v2, _forecast_crossings_v2, _forecast_points_v2
        ),
    ),
    (
        3,
        "scheduling and delivery: the run-due lease, emailed report periods",
        _tables(_leases_v3, _email_deliveries_v3),
    ),
    (
        4,
        "ledger: the process (pid, host) of each run, to tell an abandoned run from a live one",
        _statements(
            "ALTER TABLE job_runs ADD COLUMN pid INTEGER",
            "ALTER TABLE job_runs ADD COLUMN host VARCHAR(200)",
        ),
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
            _tables(_schema_version_v1)(connection)
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

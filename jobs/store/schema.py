"""Table definitions. Timestamps are UTC epoch seconds (BIGINT) everywhere.

Integer epochs keep the hot samples table narrow and compare identically on
SQLite and PostgreSQL; conversion to datetimes happens at the edges.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class SchemaVersion(SQLModel, table=True):
    __tablename__ = "schema_version"
    version: int = Field(primary_key=True)
    applied_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class Series(SQLModel, table=True):
    __tablename__ = "series"
    __table_args__ = (UniqueConstraint("service", "metric", "labels"),)
    id: int | None = Field(default=None, primary_key=True)
    service: str = Field(sa_column=Column(String(200), nullable=False))
    metric: str = Field(sa_column=Column(String(200), nullable=False))
    labels: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    unit: str = Field(default="", sa_column=Column(String(50), nullable=False))


class Sample(SQLModel, table=True):
    __tablename__ = "samples"
    __table_args__ = {"sqlite_with_rowid": False}
    series_id: int = Field(sa_column=Column(Integer, primary_key=True))
    ts: int = Field(sa_column=Column(BigInteger, primary_key=True))
    value: float = Field(sa_column=Column(Float, nullable=False))


class Rollup(SQLModel, table=True):
    """Hourly ('hour') and daily ('day') aggregates of one series."""

    __tablename__ = "rollups"
    __table_args__ = {"sqlite_with_rowid": False}
    series_id: int = Field(sa_column=Column(Integer, primary_key=True))
    grain: str = Field(sa_column=Column(String(8), primary_key=True))
    bucket: int = Field(sa_column=Column(BigInteger, primary_key=True))
    mean: float = Field(sa_column=Column(Float, nullable=False))
    max: float = Field(sa_column=Column(Float, nullable=False))
    p95: float = Field(sa_column=Column(Float, nullable=False))
    count: int = Field(sa_column=Column(Integer, nullable=False))


class RollupPeak(SQLModel, table=True):
    """Per bucket, the maximum of the rolling ``duration_minutes`` mean (sustained peak)."""

    __tablename__ = "rollup_peaks"
    __table_args__ = {"sqlite_with_rowid": False}
    series_id: int = Field(sa_column=Column(Integer, primary_key=True))
    grain: str = Field(sa_column=Column(String(8), primary_key=True))
    duration_minutes: int = Field(sa_column=Column(Integer, primary_key=True))
    bucket: int = Field(sa_column=Column(BigInteger, primary_key=True))
    value: float = Field(sa_column=Column(Float, nullable=False))


class AllocationRow(SQLModel, table=True):
    """An allocation in force from ``effective_from`` until the next one for that resource."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("service", "resource", "effective_from"),)
    id: int | None = Field(default=None, primary_key=True)
    service: str = Field(sa_column=Column(String(200), nullable=False))
    resource: str = Field(sa_column=Column(String(50), nullable=False))
    value: float = Field(sa_column=Column(Float, nullable=False))
    effective_from: int = Field(sa_column=Column(BigInteger, nullable=False))
    source: str = Field(default="config", sa_column=Column(String(50), nullable=False))


class JobRun(SQLModel, table=True):
    """The ledger: one row per job run attempt."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_period", "job", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(sa_column=Column(String(100), nullable=False))
    period: str = Field(default="", sa_column=Column(String(50), nullable=False))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    started_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    finished_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    outputs: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    # The process that runs it: a 'running' run whose process is gone was abandoned.
    pid: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    host: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))


class Watermark(SQLModel, table=True):
    """How far a source (or a backfill) has been read, so a re-run resumes there."""

    __tablename__ = "watermarks"
    source: str = Field(sa_column=Column(String(100), primary_key=True))
    key: str = Field(sa_column=Column(String(400), primary_key=True))
    ts: int = Field(sa_column=Column(BigInteger, nullable=False))


class ForecastRun(SQLModel, table=True):
    """One forecast of the fleet as of an instant, with the config it used."""

    __tablename__ = "forecast_runs"
    __table_args__ = (Index("ix_forecast_runs_as_of", "as_of"),)
    id: int | None = Field(default=None, primary_key=True)
    as_of: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    config_hash: str = Field(sa_column=Column(String(64), nullable=False))


class ForecastModel(SQLModel, table=True):
    """The model settings chosen for one series and window, so they can be reused and audited."""

    __tablename__ = "forecast_models"
    run_id: int = Field(sa_column=Column(Integer, primary_key=True))
    series_id: int = Field(sa_column=Column(Integer, primary_key=True))
    duration_minutes: int = Field(sa_column=Column(Integer, primary_key=True))
    settings: str = Field(sa_column=Column(Text, nullable=False))
    validation: str = Field(sa_column=Column(Text, nullable=False))
    history_end: int = Field(sa_column=Column(BigInteger, nullable=False))


class ForecastCrossing(SQLModel, table=True):
    """One row of the runway table: series x threshold x scenario. Dates are ISO strings."""

    __tablename__ = "forecast_crossings"
    run_id: int = Field(sa_column=Column(Integer, primary_key=True))
    series_id: int = Field(sa_column=Column(Integer, primary_key=True))
    level: str = Field(sa_column=Column(String(20), primary_key=True))
    scenario: str = Field(sa_column=Column(String(50), primary_key=True))
    threshold: float = Field(sa_column=Column(Float, nullable=False))
    duration_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    expected: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    earliest: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    latest: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    runway_days: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    already_exceeded: bool = Field(sa_column=Column(Integer, nullable=False))


class ForecastPoint(SQLModel, table=True):
    """Weekly projected values (a year ahead), compared with actuals by later reports."""

    __tablename__ = "forecast_points"
    __table_args__ = {"sqlite_with_rowid": False}
    run_id: int = Field(sa_column=Column(Integer, primary_key=True))
    series_id: int = Field(sa_column=Column(Integer, primary_key=True))
    duration_minutes: int = Field(sa_column=Column(Integer, primary_key=True))
    scenario: str = Field(sa_column=Column(String(50), primary_key=True))
    day: int = Field(sa_column=Column(BigInteger, primary_key=True))
    median: float = Field(sa_column=Column(Float, nullable=False))
    lower: float = Field(sa_column=Column(Float, nullable=False))
    upper: float = Field(sa_column=Column(Float, nullable=False))


class LeaseRow(SQLModel, table=True):
    """A named lock shared through the database: held by ``holder`` until ``expires_at``."""

    __tablename__ = "leases"
    name: str = Field(sa_column=Column(String(100), primary_key=True))
    holder: str = Field(sa_column=Column(String(200), nullable=False))
    acquired_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class EmailDelivery(SQLModel, table=True):
    """One row per report period emailed: claimed ('sending') before the send, then 'sent'."""

    __tablename__ = "email_deliveries"
    kind: str = Field(sa_column=Column(String(20), primary_key=True))
    period: str = Field(sa_column=Column(String(50), primary_key=True))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    holder: str = Field(sa_column=Column(String(200), nullable=False))
    claimed_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    sent_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    message_id: str | None = Field(default=None, sa_column=Column(String(400), nullable=True))
    recipients: str = Field(default="", sa_column=Column(Text, nullable=False))

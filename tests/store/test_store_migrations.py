"""Migrations: each version's tables are frozen, and a populated database of the first
version (tests/store/fixtures/store_v1.sql) upgrades to today's schema with its rows intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, create_engine, inspect, text
from sqlmodel import SQLModel

from jobs.config import Config
from jobs.ingest import store_frame
from jobs.store import open_store, schema  # noqa: F401  (registers the tables)
from jobs.store.ledger import runs, start_run
from jobs.store.migrations import LATEST_VERSION, current_version

FIXTURE = Path(__file__).parent / "fixtures" / "store_v1.sql"
TABLES_V1 = ("allocations", "job_runs", "rollup_peaks", "rollups", "samples", "series")


def shape(engine: Engine) -> dict[str, Any]:
    """What queries rely on: columns (type, nullable), keys, unique constraints, indexes."""
    inspector = inspect(engine)
    found: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        found[table] = {
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ),
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "unique": sorted(
                tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(str(c) for c in i["column_names"]))
                for i in inspector.get_indexes(table)
            ),
        }
    return found


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in TABLES_V1
        }


def load_fixture(path: Path) -> str:
    with sqlite3.connect(path) as db:
        db.executescript(FIXTURE.read_text())
    return f"sqlite:///{path}"


def test_a_populated_first_version_store_upgrades(tmp_path: Path, config: Config) -> None:
    url = load_fixture(tmp_path / "old.db")
    plain = create_engine(url)
    assert current_version(plain) == 1
    before = counts(plain)
    assert min(before.values()) > 0
    plain.dispose()

    engine = open_store(url)
    assert current_version(engine) == LATEST_VERSION
    assert counts(engine) == before
    fresh = open_store(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert shape(engine) == shape(fresh)
    # The upgraded store takes today's writes.
    start_run(engine, "ingest")
    assert [run.status for run in runs(engine, "ingest")] == ["succeeded", "running"]
    more = pd.DataFrame(
        {
            "timestamp": pd.date_range("2025-06-01T02:00Z", periods=12, freq="5min"),
            "service": "backend",
            "metric": "cpu_percent",
            "value": 50.0,
        }
    )
    assert store_frame(engine, config, more).inserted == 12


def test_migrations_build_exactly_the_tables_the_code_queries(tmp_path: Path) -> None:
    migrated = open_store(f"sqlite:///{tmp_path / 'migrated.db'}")
    modelled = create_engine(f"sqlite:///{tmp_path / 'modelled.db'}")
    SQLModel.metadata.create_all(modelled)
    assert shape(migrated) == shape(modelled)


def test_postgres_migrations_build_the_modelled_tables(postgres_url: str) -> None:
    migrated = open_store(postgres_url)
    found = shape(migrated)
    migrated.dispose()
    modelled = create_engine(postgres_url)
    with modelled.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    SQLModel.metadata.create_all(modelled)
    assert shape(modelled) == found
    modelled.dispose()

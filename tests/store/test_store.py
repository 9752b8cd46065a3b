"""The store: schema versions, WAL, rollups from raw samples, retention, allocations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from jobs.config import Config
from jobs.errors import SchemaVersionError
from jobs.ingest import store_frame
from jobs.store import open_store
from jobs.store.allocations import allocation_history
from jobs.store.ledger import FAILED, finish_run, runs, start_run
from jobs.store.migrations import LATEST_VERSION, current_version
from jobs.store.rollups import read_peaks, read_rollups
from jobs.store.samples import prune_raw, read_samples
from jobs.store.series import list_series


def frame(service: str, metric: str, index: pd.DatetimeIndex, values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"timestamp": index, "service": service, "metric": metric, "value": values})


def test_schema_is_versioned_and_reopening_is_a_no_op(database_url: str) -> None:
    engine = open_store(database_url)
    assert current_version(engine) == LATEST_VERSION
    engine = open_store(database_url)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version FROM schema_version")).scalars().all()
        mode = connection.execute(text("PRAGMA journal_mode")).scalar_one()
    assert versions == list(range(1, LATEST_VERSION + 1))
    assert mode == "wal"


def test_a_newer_schema_is_refused(database_url: str) -> None:
    engine = open_store(database_url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO schema_version VALUES (999, 0)"))
    with pytest.raises(SchemaVersionError, match="newer than this capplan"):
        open_store(database_url)


def test_rollups_hold_mean_max_p95_and_sustained_peaks(database_url: str, config: Config) -> None:
    engine = open_store(database_url)
    index = pd.date_range("2026-01-01", periods=288 * 2, freq="5min", tz="UTC")
    values = np.full(len(index), 40.0)
    # Day one: a single 5-minute spike and a 10-minute plateau at 90.
    values[100] = 100.0
    values[200:202] = 90.0
    store_frame(engine, config, frame("backend", "cpu_percent", index, values))
    (series,) = list_series(engine)
    start, end = int(index[0].timestamp()), int(index[-1].timestamp()) + 300
    daily = read_rollups(engine, series.id, "day", start, end)
    assert list(daily["count"]) == [288, 288]
    assert daily["max"].iloc[0] == 100.0 and daily["max"].iloc[1] == 40.0
    assert daily["mean"].iloc[0] == pytest.approx((40 * 285 + 100 + 180) / 288)
    # 10-minute window: the spike averages to 70, the plateau holds 90.
    assert list(read_peaks(engine, series.id, "day", 10, start, end)) == [90.0, 40.0]
    # 5-minute window: a single sample, the spike itself.
    assert list(read_peaks(engine, series.id, "day", 5, start, end)) == [100.0, 40.0]
    assert len(read_rollups(engine, series.id, "hour", start, end)) == 48


def test_rollups_see_windows_that_straddle_ingests(database_url: str, config: Config) -> None:
    # The 10-minute windows of day 2 reach back into day 1 and across both ingests.
    engine = open_store(database_url)
    index = pd.date_range("2026-01-01T23:50", periods=4, freq="5min", tz="UTC")
    values = np.array([10.0, 10.0, 90.0, 10.0])
    store_frame(engine, config, frame("backend", "cpu_percent", index[:3], values[:3]))
    store_frame(engine, config, frame("backend", "cpu_percent", index[3:], values[3:]))
    (series,) = list_series(engine)
    day2 = int(pd.Timestamp("2026-01-02", tz="UTC").timestamp())
    assert list(read_peaks(engine, series.id, "day", 10, day2, day2 + 86400)) == [50.0]
    assert list(read_peaks(engine, series.id, "day", 10, day2 - 86400, day2)) == [10.0]


def test_retention_drops_raw_samples_but_keeps_rollups(database_url: str, config: Config) -> None:
    engine = open_store(database_url)
    index = pd.date_range("2026-01-01", periods=288 * 10, freq="5min", tz="UTC")
    store_frame(engine, config, frame("redis", "memory_percent", index, np.full(len(index), 55.0)))
    (series,) = list_series(engine)
    cutoff = int(pd.Timestamp("2026-01-08", tz="UTC").timestamp())
    assert prune_raw(engine, cutoff) == 288 * 7
    everything = (0, 2**40)
    assert len(read_samples(engine, series.id, *everything)) == 288 * 3
    assert len(read_rollups(engine, series.id, "day", *everything)) == 10


def test_allocation_changes_apply_from_their_effective_date(
    database_url: str, config: Config
) -> None:
    engine = open_store(database_url)
    index = pd.DatetimeIndex(["2026-01-01T00:00Z", "2026-02-01T00:00Z"])
    first_seen = pd.Timestamp("2026-01-01", tz="UTC").to_pydatetime()
    store_frame(
        engine, config, frame("nginx", "cpu_cores", index[:1], np.array([0.25])), now=first_seen
    )
    # Right-sizing doubled nginx CPU; the edited configuration is first seen mid-January.
    doubled = config.services["nginx"].model_copy(update={"cpu_cores": 1.0})
    edited = config.model_copy(update={"services": {**config.services, "nginx": doubled}})
    edit_seen = pd.Timestamp("2026-01-15", tz="UTC").to_pydatetime()
    store_frame(
        engine, edited, frame("nginx", "cpu_cores", index[1:], np.array([0.25])), now=edit_seen
    )
    (series,) = list_series(engine)
    assert series.key.metric == "cpu_percent"
    assert list(read_samples(engine, series.id, 0, 2**40)) == [50.0, 25.0]
    history = allocation_history(engine, "nginx")
    assert list(history[history["resource"] == "cpu_cores"]["value"]) == [0.5, 1.0]


def test_ledger_records_runs(database_url: str) -> None:
    engine = open_store(database_url)
    run = start_run(engine, "report-monthly", "2026-10", now=100)
    finish_run(engine, run, FAILED, error="S3 down", outputs={"tried": 3}, now=160)
    (record,) = runs(engine, "report-monthly")
    assert (record.status, record.error, record.outputs, record.finished_at) == (
        "failed",
        "S3 down",
        {"tried": 3},
        160,
    )


def test_database_file_is_plain_sqlite(database_url: str, config: Config, tmp_path: Path) -> None:
    engine = open_store(database_url)
    index = pd.date_range("2026-01-01", periods=3, freq="5min", tz="UTC")
    store_frame(engine, config, frame("backend", "cpu_percent", index, np.array([1.0, 2.0, 3.0])))
    engine.dispose()
    with sqlite3.connect(tmp_path / "capplan.db") as db:
        assert db.execute("SELECT COUNT(*) FROM samples").fetchone() == (3,)


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    # Several processes opening a brand-new database at once must all succeed.
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'race.db'}"
    code = "import sys; from jobs.store import open_store; open_store(sys.argv[1])"
    processes = [subprocess.Popen([sys.executable, "-c", code, url]) for _ in range(4)]
    assert [p.wait(timeout=120) for p in processes] == [0, 0, 0, 0]
    engine = open_store(url)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version FROM schema_version")).scalars().all()
    assert sorted(versions) == list(range(1, LATEST_VERSION + 1))

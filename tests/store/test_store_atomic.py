"""Atomic ingests: a CSV ingest killed at any point leaves the store as it was or as a
complete run leaves it, a re-run completes it, and the killed run is marked abandoned."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, text

from jobs.store import ledger
from tests.conftest import Capplan

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

TABLES = {
    "series": "SELECT service, metric, labels, unit FROM series ORDER BY service, metric",
    "samples": "SELECT s.service, s.metric, x.ts, x.value FROM samples x "
    "JOIN series s ON s.id = x.series_id ORDER BY 1, 2, 3",
    "rollups": "SELECT s.service, s.metric, r.grain, r.bucket, r.mean, r.max, r.p95, r.count "
    "FROM rollups r JOIN series s ON s.id = r.series_id ORDER BY 1, 2, 3, 4",
    "peaks": "SELECT s.service, s.metric, p.grain, p.duration_minutes, p.bucket, p.value "
    "FROM rollup_peaks p JOIN series s ON s.id = p.series_id ORDER BY 1, 2, 3, 4, 5",
    "allocations": "SELECT service, resource, value, effective_from FROM allocations "
    "ORDER BY 1, 2, 4",
}

Snapshot = dict[str, list[tuple[object, ...]]]


def snapshot(path: Path) -> Snapshot:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        found = {
            name: [tuple(r) for r in connection.execute(text(q))] for name, q in TABLES.items()
        }
    engine.dispose()
    return found


def statuses(path: Path) -> list[str]:
    engine: Engine = create_engine(f"sqlite:///{path}")
    found = [run.status for run in ledger.runs(engine)]
    engine.dispose()
    return found


def write_csv(path: Path, start: str, days: int, seed: int) -> None:
    index = pd.date_range(start, periods=days * 288, freq="5min", tz="UTC")
    rng = np.random.default_rng(seed)
    frames = [
        pd.DataFrame(
            {
                "timestamp": index.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "service": service,
                "metric": metric,
                "value": np.round(rng.uniform(10, 90, len(index)), 3),
            }
        )
        for service, metric in [
            ("backend", "cpu_percent"),
            ("backend", "memory_percent"),
            ("frontend", "cpu_percent"),
            ("postgres", "cpu_percent"),
            ("postgres", "disk_percent"),
        ]
    ]
    pd.concat(frames).to_csv(path, index=False)


def copy_db(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)


def start_ingest(db: Path, csv: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "jobs.cli", "--database", f"sqlite:///{db}"]
    with Path(f"{db}.stderr").open("wb") as errors:
        return subprocess.Popen(
            [*command, "ingest", "--csv", str(csv)],
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )


def finished(process: subprocess.Popen[bytes], db: Path) -> None:
    assert process.wait(timeout=300) == 0, Path(f"{db}.stderr").read_text()


def wal_size(db: Path) -> int:
    try:
        return Path(f"{db}-wal").stat().st_size
    except FileNotFoundError:
        return 0


def test_a_killed_csv_ingest_leaves_the_store_as_before_or_after(tmp_path: Path) -> None:
    base, old_csv, new_csv = tmp_path / "base.db", tmp_path / "old.csv", tmp_path / "new.csv"
    write_csv(old_csv, "2025-10-01", days=20, seed=1)
    # Overlaps the stored days with other values, and adds later ones.
    write_csv(new_csv, "2025-10-11", days=40, seed=2)
    Capplan(f"sqlite:///{base}")("ingest", "--csv", str(old_csv))
    before = snapshot(base)

    reference = tmp_path / "reference.db"
    copy_db(base, reference)
    started = time.monotonic()
    complete = start_ingest(reference, new_csv)
    finished(complete, reference)
    took = time.monotonic() - started
    after = snapshot(reference)
    assert after != before

    # Kill points: by time from the start, and by how much the transaction has written.
    points: list[tuple[str, float]] = [
        ("time", 0.3 * took),
        ("wal", 200_000),
        ("wal", 2_000_000),
        ("time", 0.8 * took),
        ("time", 0.97 * took),
    ]
    outcomes = []
    for kind, at in points:
        db = tmp_path / "killed.db"
        copy_db(base, db)
        process = start_ingest(db, new_csv)
        began = time.monotonic()
        while process.poll() is None:
            reached = time.monotonic() - began if kind == "time" else wal_size(db)
            if reached >= at:
                break
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        state = snapshot(db)
        assert state in (before, after), (kind, at)
        outcomes.append("before" if state == before else "after")
        # A re-run completes it, and the killed run does not stay 'running'.
        rerun = start_ingest(db, new_csv)
        finished(rerun, db)
        assert snapshot(db) == after
        recorded = statuses(db)
        assert ledger.RUNNING not in recorded
        assert recorded[-1] == ledger.SUCCEEDED
    assert "before" in outcomes


def test_a_failing_command_writes_nothing(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    write_csv(good, "2025-10-01", days=2, seed=1)
    bad.write_text(
        "timestamp,service,metric,value\n"
        "2025-10-05T00:00:00Z,backend,cpu_percent,10\n"
        "2025-10-05T00:05:00Z,backend,cpu_percent,ten\n"
    )
    db = tmp_path / "capplan.db"
    result = Capplan(f"sqlite:///{db}")("ingest", "--csv", str(good), str(bad), expect=2)
    assert "bad.csv" in result.output
    assert all(rows == [] for rows in snapshot(db).values())
    assert statuses(db) == [ledger.FAILED]


def test_an_unexpected_error_is_recorded_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = tmp_path / "good.csv"
    write_csv(csv, "2025-10-01", days=1, seed=1)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("jobs.ingest.storing.refresh_rollups", broken)
    db = tmp_path / "capplan.db"
    with pytest.raises(RuntimeError):
        Capplan(f"sqlite:///{db}")("ingest", "--csv", str(csv))
    assert statuses(db) == [ledger.FAILED]
    assert all(rows == [] for rows in snapshot(db).values())


def test_an_unexpected_backfill_error_is_recorded_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr("jobs.publishers.delivery.backfill_reports", broken)
    db = tmp_path / "capplan.db"
    with pytest.raises(RuntimeError):
        Capplan(f"sqlite:///{db}")(
            "backfill", "--from", "2025-01-01", "--to", "2025-03-01", "--reports", "monthly"
        )
    assert statuses(db) == [ledger.FAILED]


def test_the_next_command_marks_a_dead_run_abandoned(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'capplan.db'}"
    capplan = Capplan(url)
    capplan("schedule")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        engine = create_engine(url)
        host = ledger.this_host()
        with engine.begin() as connection:
            for job, pid, where in [
                ("ingest", dead.pid, host),
                ("forecast", alive.pid, host),
                ("backfill", dead.pid, "another-host"),
            ]:
                connection.execute(
                    text(
                        "INSERT INTO job_runs (job, period, status, started_at, outputs, pid, "
                        "host) VALUES (:job, '', 'running', 0, '{}', :pid, :host)"
                    ),
                    {"job": job, "pid": pid, "host": where},
                )
        shown = capplan("schedule").output
        assert (
            f"abandoned: ingest (ad hoc) started 1970-01-01 00:00 (pid {dead.pid} on {host})"
            in (shown)
        )
        by_job = {run.job: run for run in ledger.runs(engine)}
        assert by_job["ingest"].status == ledger.ABANDONED
        assert by_job["ingest"].finished_at is not None
        # A live process, or one on a host whose processes cannot be seen, keeps running.
        assert by_job["forecast"].status == ledger.RUNNING
        assert by_job["backfill"].status == ledger.RUNNING
        engine.dispose()
    finally:
        alive.kill()
        alive.wait()

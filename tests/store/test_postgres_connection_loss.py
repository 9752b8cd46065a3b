"""A PostgreSQL connection lost in the middle of an ingest: one line, run marked, re-run works."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from jobs.store import ledger, open_store
from tests.conftest import REPO

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

ROWS = 150_000


def _csv(tmp_path: Path) -> Path:
    index = pd.date_range("2026-06-01", periods=ROWS // 3, freq="1min", tz="UTC")
    rng = np.random.default_rng(9)
    frames = [
        pd.DataFrame(
            {
                "timestamp": index.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "service": service,
                "metric": "cpu_percent",
                "value": np.round(40 + rng.normal(0, 3, len(index)), 3),
            }
        )
        for service in ("backend", "frontend", "postgres")
    ]
    path = tmp_path / "usage.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def _terminate_capplan_mid_write(admin_url: str, process: subprocess.Popen[str]) -> int:
    """Ends capplan's backend while it runs a statement on the sample tables."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    deadline = time.monotonic() + 120
    try:
        with admin.connect() as connection:
            while time.monotonic() < deadline and process.poll() is None:
                killed = connection.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = 'capplan' AND state = 'active' "
                        "AND datname = current_database() AND pid <> pg_backend_pid() "
                        "AND query NOT ILIKE '%job_runs%' "
                        "AND (query ILIKE '%samples%' OR query ILIKE '%rollup%')"
                    )
                ).scalar_one()
                if killed:
                    return int(killed)
                time.sleep(0.02)
    finally:
        admin.dispose()
    return 0


def test_lost_connection_mid_ingest(postgres_url: str, tmp_path: Path) -> None:
    path = _csv(tmp_path)
    open_store(postgres_url).dispose()  # schema in place: the kill lands in the ingest
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "jobs.cli", "--database", postgres_url, "ingest", str(path)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        killed = _terminate_capplan_mid_write(postgres_url, process)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert killed >= 1, (stdout, stderr)

    assert process.returncode == 1, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: lost the connection to the database at 127.0.0.1:")
    assert "re-run" in lines[0]
    for leaked in ("SQL", "INSERT", "SELECT", "parameters", "backend", "cpu_percent"):
        assert leaked not in stderr

    engine = open_store(postgres_url)
    try:
        [run] = ledger.runs(engine, "ingest")
        assert run.status == ledger.FAILED
        assert run.error is not None and run.error == lines[0].removeprefix("Error: ")

        rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        assert rerun.returncode == 0, rerun.stderr
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT COUNT(*) FROM samples")).scalar_one()
        assert stored == ROWS
        assert [r.status for r in ledger.runs(engine, "ingest")] == [
            ledger.FAILED,
            ledger.SUCCEEDED,
        ]
    finally:
        engine.dispose()


def test_lost_raw_driver_connection_is_recognised(postgres_url: str) -> None:
    """COPY runs on psycopg's own connection: its errors are not SQLAlchemy's."""
    import psycopg

    from jobs.errors import error_text, is_database_error
    from jobs.store.database import database_failure

    conninfo = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as victim:
        pid = victim.info.backend_pid
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        try:
            victim.execute("SELECT 'Secret-Param' AS v")
        except psycopg.Error as exc:
            caught: BaseException = exc
        else:
            raise AssertionError("the terminated connection still answered")
    assert is_database_error(caught)
    message = database_failure(caught)
    assert message.startswith("lost the connection to the database: "), message
    assert "Secret-Param" not in message and "\n" not in message
    assert error_text(caught) == message

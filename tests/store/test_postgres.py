"""The scale-out path: the same ingest, rollups and forecasts on a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from jobs.store import open_store
from jobs.store.migrations import LATEST_VERSION, current_version
from tests.conftest import Capplan

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow


def test_ingest_rollups_and_forecast_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    capplan = Capplan(postgres_url)
    index = pd.date_range("2026-03-01", "2026-05-01", freq="5min", tz="UTC", inclusive="left")
    rng = np.random.default_rng(5)
    values = (
        40 + 10 * np.sin(np.arange(len(index)) / 288 * 2 * np.pi) + rng.normal(0, 1, len(index))
    )
    frame = pd.DataFrame(
        {
            "timestamp": index.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "service": "backend",
            "metric": "cpu_percent",
            "value": np.round(values, 3),
        }
    )
    path = tmp_path / "cpu.csv"
    frame.to_csv(path, index=False)
    first = capplan("ingest", str(path)).output
    assert f"{len(frame):,} inserted, 0 updated, 0 unchanged" in first
    again = capplan("ingest", str(path)).output
    assert f"0 inserted, 0 updated, {len(frame):,} unchanged" in again

    engine = open_store(postgres_url)
    assert current_version(engine) == LATEST_VERSION
    with engine.connect() as connection:
        samples = connection.execute(text("SELECT COUNT(*) FROM samples")).scalar_one()
        days = connection.execute(
            text("SELECT COUNT(*) FROM rollups WHERE grain = 'day'")
        ).scalar_one()
        peak = connection.execute(
            text(
                "SELECT MAX(value) FROM rollup_peaks WHERE grain = 'day' AND duration_minutes = 10"
            )
        ).scalar_one()
    assert (samples, days) == (len(frame), 61)
    assert 49.0 < peak < 56.0

    out = capplan("forecast", "--as-of", "2026-05-01", "--format", "json", "--workers", "1").stdout
    rows = json.loads(out)["rows"]
    assert len(rows) == 8
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT COUNT(*) FROM forecast_crossings")).scalar_one()
    assert stored == 8
    engine.dispose()

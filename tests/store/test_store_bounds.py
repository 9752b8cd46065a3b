"""The store's work grows with the samples, not with the time between them or the length of
a configured window: extreme instants and windows store cleanly or not at all."""

from __future__ import annotations

import resource
import time

import numpy as np
import pandas as pd
from sqlalchemy import text

from jobs.config import Config
from jobs.ingest import store_frame
from jobs.store import open_store
from jobs.store.series import list_series


def frame(stamps: list[str], values: list[float]) -> pd.DataFrame:
    index = pd.DatetimeIndex([pd.Timestamp(s, tz="UTC") for s in stamps]).as_unit("s")
    return pd.DataFrame(
        {"timestamp": index, "service": "backend", "metric": "cpu_percent", "value": values}
    )


def rows(url: str, table: str) -> list[tuple[object, ...]]:
    engine = open_store(url)
    with engine.connect() as connection:
        found = [tuple(r) for r in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
    engine.dispose()
    return found


def test_samples_millennia_apart_roll_up_without_a_dense_array(
    database_url: str, config: Config
) -> None:
    engine = open_store(database_url)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    store_frame(engine, config, frame(["0001-01-01T00:00:00", "9999-12-31T23:00:00"], [5, 7]))
    assert time.perf_counter() - started < 10
    # An hourly array over the span would be 87.6 million rows (700 MB of float64 alone).
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown_kb < 200_000
    (series,) = list_series(engine)
    with engine.connect() as connection:
        hourly = connection.execute(
            text("SELECT bucket, mean, count FROM rollups WHERE grain = 'hour' ORDER BY bucket")
        ).fetchall()
    first = int(pd.Timestamp("0001-01-01", tz="UTC").as_unit("s").timestamp())
    last = int(pd.Timestamp("9999-12-31T23:00", tz="UTC").as_unit("s").timestamp())
    assert [tuple(r) for r in hourly] == [(first, 5.0, 1), (last, 7.0, 1)]
    assert series.key.metric == "cpu_percent"


def test_an_absurd_window_length_does_not_break_the_store(
    database_url: str, config: Config
) -> None:
    # Config validation bounds for_minutes; the store must cope regardless.
    pair = config.thresholds["cpu_percent"]
    huge = pair.model_copy(
        update={"warning": pair.warning.model_copy(update={"for_minutes": 10**12})}
    )
    absurd = config.model_copy(update={"thresholds": {**config.thresholds, "cpu_percent": huge}})
    index = pd.date_range("2026-01-01", periods=288 * 2, freq="5min", tz="UTC")
    values = np.arange(len(index), dtype=np.float64)
    store_frame(
        open_store(database_url),
        absurd,
        pd.DataFrame(
            {"timestamp": index, "service": "backend", "metric": "cpu_percent", "value": values}
        ),
    )
    peaks = [r for r in rows(database_url, "rollup_peaks") if r[2] == 10**12 and r[1] == "day"]
    # A window longer than all history averages everything up to each instant.
    assert [p[4] for p in peaks] == [143.5, 287.5]

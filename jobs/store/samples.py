"""Raw samples: idempotent bulk upsert, reads and retention.

The write path avoids per-row Python objects: SQLite gets the DB-API
``executemany`` directly, PostgreSQL a COPY into a staging table and one
set-based upsert (see ``bulk``). Writes run on the caller's connection, so a
file's samples and their rollups commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text

from jobs.store import schema  # noqa: F401  (registers the tables)
from jobs.store.bulk import copy_insert, copy_upsert, dbapi_connection, overlapped
from jobs.store.database import is_sqlite

BATCH_ROWS = 50_000

_SQLITE_UPSERT = (
    "INSERT INTO samples (series_id, ts, value) VALUES (?, ?, ?) "
    "ON CONFLICT(series_id, ts) DO UPDATE SET value = excluded.value "
    "WHERE samples.value IS NOT excluded.value"
)


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


@dataclass(frozen=True)
class SeriesSpan:
    """The time range of new rows for one series; used to refresh its rollups."""

    series_id: int
    start: int
    end: int


def _count_in_spans(connection: Connection, spans: Sequence[SeriesSpan]) -> int:
    query = text(
        "SELECT COUNT(*) FROM samples WHERE series_id = :sid AND ts >= :start AND ts <= :end"
    )
    total = 0
    for span in spans:
        total += connection.execute(
            query, {"sid": span.series_id, "start": span.start, "end": span.end}
        ).scalar_one()
    return int(total)


def spans_of(frame: pd.DataFrame) -> list[SeriesSpan]:
    grouped = frame.groupby("series_id", sort=True)["ts"].agg(["min", "max"])
    return [
        SeriesSpan(int(sid), int(low), int(high))
        for sid, low, high in zip(
            grouped.index.to_numpy(),
            grouped["min"].to_numpy(),
            grouped["max"].to_numpy(),
            strict=True,
        )
    ]


def upsert_samples(
    connection: Connection,
    frame: pd.DataFrame,
    on_batch: Callable[[int], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
    absent: Collection[int] = (),
) -> UpsertCounts:
    """Writes ``frame`` (series_id, ts, value; one row per series and ts) in the
    caller's transaction. ``meanwhile`` (work needing no database) runs during the
    server's work on PostgreSQL, after the write on SQLite. ``absent``: series known
    to have no stored sample in the frame's range (PostgreSQL copies them in directly).

    Re-writing an identical value changes nothing, which is what makes a
    re-ingest of the same file leave the same rows.
    """
    if frame.empty:
        return UpsertCounts()
    series_ids = frame["series_id"].to_numpy(dtype=np.int64)
    stamps = frame["ts"].to_numpy(dtype=np.int64)
    values = frame["value"].to_numpy(dtype=np.float64)
    # Series in ``absent`` had no rows in their span: all of theirs are inserted.
    spans = [span for span in spans_of(frame) if span.series_id not in absent]
    before = _count_in_spans(connection, spans)
    if is_sqlite(connection.engine):
        changed = _sqlite_upsert(connection, series_ids, stamps, values, on_batch)
        if meanwhile is not None:
            meanwhile()
    else:
        new = np.isin(series_ids, np.fromiter(absent, dtype=np.int64))
        written: list[int] = []

        def write() -> None:
            written.append(
                copy_insert(
                    connection,
                    "samples",
                    {"series_id": series_ids[new], "ts": stamps[new], "value": values[new]},
                )
            )
            old = ~new
            if old.any():
                columns = {"series_id": series_ids[old], "ts": stamps[old], "value": values[old]}
                written.append(copy_upsert(connection, "samples", columns, update=["value"]))

        overlapped(write, meanwhile or (lambda: None))
        changed = sum(written)
        if on_batch is not None:
            on_batch(len(frame))
    known_new = int(np.isin(series_ids, np.fromiter(absent, dtype=np.int64)).sum())
    inserted = _count_in_spans(connection, spans) - before + known_new
    updated = changed - inserted
    return UpsertCounts(inserted, updated, len(frame) - inserted - updated)


def _sqlite_upsert(
    connection: Connection,
    series_ids: np.ndarray,
    stamps: np.ndarray,
    values: np.ndarray,
    on_batch: Callable[[int], None] | None,
) -> int:
    rows = list(zip(series_ids.tolist(), stamps.tolist(), values.tolist(), strict=True))
    changed = 0
    cursor = dbapi_connection(connection).cursor()
    try:
        for start in range(0, len(rows), BATCH_ROWS):
            batch = rows[start : start + BATCH_ROWS]
            cursor.executemany(_SQLITE_UPSERT, batch)
            changed += max(cursor.rowcount, 0)
            if on_batch is not None:
                on_batch(len(batch))
    finally:
        cursor.close()
    return changed


_READ = text(
    "SELECT ts, value FROM samples WHERE series_id = :sid AND ts >= :start "
    "AND ts < :end ORDER BY ts"
)


def read_sample_arrays(
    connection: Connection, series_id: int, start: int, end: int
) -> tuple[np.ndarray, np.ndarray]:
    """(epoch seconds, values) of the samples with start <= ts < end, in time order."""
    data = connection.execute(_READ, {"sid": series_id, "start": start, "end": end}).fetchall()
    ts = np.fromiter((row[0] for row in data), dtype=np.int64, count=len(data))
    values = np.fromiter((row[1] for row in data), dtype=np.float64, count=len(data))
    return ts, values


def read_samples(engine: Engine, series_id: int, start: int, end: int) -> pd.Series:
    """Samples with start <= ts < end as a float Series on a UTC DatetimeIndex."""
    with engine.connect() as connection:
        ts, values = read_sample_arrays(connection, series_id, start, end)
    return pd.Series(values, index=pd.to_datetime(ts, unit="s", utc=True), name="value")


def prune_raw(engine: Engine, before: int) -> int:
    """Deletes raw samples older than ``before``; their rollups are kept."""
    with engine.begin() as connection:
        result = connection.execute(
            text("DELETE FROM samples WHERE ts < :before"), {"before": before}
        )
        return max(result.rowcount, 0)

"""Raw samples: idempotent bulk upsert, reads and retention.

The write path uses the DB-API ``executemany`` directly: building ORM objects
for millions of rows costs more than the insert itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text
from sqlalchemy.dialects import postgresql
from sqlmodel import SQLModel

from jobs.store import schema  # noqa: F401  (registers the tables)
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


def _count_in_spans(engine: Engine, spans: Sequence[SeriesSpan]) -> int:
    query = text(
        "SELECT COUNT(*) FROM samples WHERE series_id = :sid AND ts >= :start AND ts <= :end"
    )
    total = 0
    with engine.connect() as connection:
        for span in spans:
            total += connection.execute(
                query, {"sid": span.series_id, "start": span.start, "end": span.end}
            ).scalar_one()
    return total


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
    engine: Engine,
    frame: pd.DataFrame,
    on_batch: Callable[[int], None] | None = None,
) -> UpsertCounts:
    """Writes ``frame`` (series_id, ts, value) so that series + ts is one row.

    Re-writing an identical value changes nothing, which is what makes a
    re-ingest of the same file leave the same rows.
    """
    if frame.empty:
        return UpsertCounts()
    spans = spans_of(frame)
    before = _count_in_spans(engine, spans)
    rows = list(
        zip(
            frame["series_id"].to_numpy(dtype=np.int64).tolist(),
            frame["ts"].to_numpy(dtype=np.int64).tolist(),
            frame["value"].to_numpy(dtype=np.float64).tolist(),
            strict=True,
        )
    )
    changed = 0
    if is_sqlite(engine):
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for start in range(0, len(rows), BATCH_ROWS):
                batch = rows[start : start + BATCH_ROWS]
                cursor.executemany(_SQLITE_UPSERT, batch)
                changed += max(cursor.rowcount, 0)
                if on_batch is not None:
                    on_batch(len(batch))
            raw.commit()
        finally:
            raw.close()
    else:
        changed = _upsert_generic(engine, rows, on_batch)
    after = _count_in_spans(engine, spans)
    inserted = after - before
    updated = changed - inserted
    return UpsertCounts(inserted, updated, len(rows) - inserted - updated)


def _upsert_generic(
    engine: Engine,
    rows: list[tuple[int, int, float]],
    on_batch: Callable[[int], None] | None,
) -> int:
    table = SQLModel.metadata.tables["samples"]
    statement = postgresql.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["series_id", "ts"],
        set_={"value": statement.excluded.value},
        where=table.c.value.is_distinct_from(statement.excluded.value),
    )
    # Rows skipped by the WHERE clause are not returned, so the returned rows
    # are exactly those inserted or changed (rowcount is unreliable for batches).
    returning = statement.returning(table.c.series_id)
    changed = 0
    with engine.begin() as connection:
        for start in range(0, len(rows), BATCH_ROWS):
            batch = rows[start : start + BATCH_ROWS]
            result = connection.execute(
                returning, [{"series_id": s, "ts": t, "value": v} for s, t, v in batch]
            )
            changed += len(result.all())
            if on_batch is not None:
                on_batch(len(batch))
    return changed


def read_samples(engine: Engine, series_id: int, start: int, end: int) -> pd.Series:
    """Samples with start <= ts < end as a float Series on a UTC DatetimeIndex."""
    with engine.connect() as connection:
        result = connection.execute(
            text(
                "SELECT ts, value FROM samples WHERE series_id = :sid AND ts >= :start "
                "AND ts < :end ORDER BY ts"
            ),
            {"sid": series_id, "start": start, "end": end},
        )
        data = result.fetchall()
    ts = np.fromiter((row[0] for row in data), dtype=np.int64, count=len(data))
    values = np.fromiter((row[1] for row in data), dtype=np.float64, count=len(data))
    return pd.Series(values, index=pd.to_datetime(ts, unit="s", utc=True), name="value")


def prune_raw(engine: Engine, before: int) -> int:
    """Deletes raw samples older than ``before``; their rollups are kept."""
    with engine.begin() as connection:
        result = connection.execute(
            text("DELETE FROM samples WHERE ts < :before"), {"before": before}
        )
        return max(result.rowcount, 0)

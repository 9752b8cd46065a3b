"""Hourly and daily rollups, recomputed from raw samples for the buckets new rows touch.

Daily sustained peaks cannot be merged from hourly ones (a window straddling an
hour boundary belongs to neither), so affected buckets are recomputed from the
raw samples, including the ``D`` minutes before the first one for the windows
that reach back into the previous bucket.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text
from sqlalchemy.dialects import postgresql
from sqlmodel import SQLModel

from forecasting.aggregation import rollup
from jobs.store.database import is_sqlite
from jobs.store.samples import SeriesSpan, read_samples

DAY = 86_400
GRAINS = {"hour": "1h", "day": "1D"}


RollupRow = tuple[int, str, int, float, float, float, int]
PeakRow = tuple[int, str, int, int, float]


@dataclass(frozen=True)
class RollupRows:
    rollups: list[RollupRow]
    peaks: list[PeakRow]


def _epoch_seconds(index: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(index.as_unit("s").asi8, dtype=np.int64)


def compute_rollup_rows(
    series_id: int, samples: pd.Series, durations: Sequence[int], start: int, end: int
) -> RollupRows:
    """Rollup rows for buckets starting in [start, end), durations in minutes (0 = max)."""
    positive = sorted({d for d in durations if d > 0})
    rollups: list[RollupRow] = []
    peaks: list[PeakRow] = []
    for grain, freq in GRAINS.items():
        frame = rollup(samples, freq, positive)
        buckets = _epoch_seconds(pd.DatetimeIndex(frame.index))
        keep = (buckets >= start) & (buckets < end)
        frame = frame[keep]
        bucket_list = buckets[keep].tolist()
        rollups.extend(
            zip(
                [series_id] * len(bucket_list),
                [grain] * len(bucket_list),
                bucket_list,
                frame["mean"].tolist(),
                frame["max"].tolist(),
                frame["p95"].tolist(),
                frame["count"].tolist(),
                strict=True,
            )
        )
        for duration in sorted(set(durations)):
            column = "max" if duration <= 0 else f"sustained_{duration}m"
            values = frame[column].to_numpy()
            present = ~np.isnan(values)  # NaN: no complete window in this bucket
            kept = np.asarray(bucket_list, dtype=np.int64)[present].tolist()
            peaks.extend(
                zip(
                    [series_id] * len(kept),
                    [grain] * len(kept),
                    [duration] * len(kept),
                    kept,
                    values[present].tolist(),
                    strict=True,
                )
            )
    return RollupRows(rollups, peaks)


def _window(span: SeriesSpan, durations: Sequence[int]) -> tuple[int, int, int]:
    """(first bucket start, end of last bucket, reach in seconds) that new rows in span affect."""
    reach = max(durations, default=0) * 60
    start = span.start - span.start % DAY
    end_point = span.end + reach
    return start, end_point - end_point % DAY + DAY, reach


def untouched_spans(
    engine: Engine, spans: Sequence[SeriesSpan], durations: Mapping[int, Sequence[int]]
) -> set[int]:
    """Series with no stored sample anywhere their new rows' buckets (and windows) reach."""
    query = text(
        "SELECT 1 FROM samples WHERE series_id = :sid AND ts >= :start AND ts < :end LIMIT 1"
    )
    untouched = set()
    with engine.connect() as connection:
        for span in spans:
            start, end, reach = _window(span, durations.get(span.series_id, (0,)))
            found = connection.execute(
                query, {"sid": span.series_id, "start": start - reach, "end": end}
            ).first()
            if found is None:
                untouched.add(span.series_id)
    return untouched


def refresh_rollups(
    engine: Engine,
    spans: Sequence[SeriesSpan],
    durations: Mapping[int, Sequence[int]],
    in_memory: Mapping[int, pd.Series] | None = None,
) -> int:
    """Recomputes the rollups of every bucket the spans touch; returns buckets written.

    ``in_memory`` holds, for series whose affected window had no stored samples
    before this write, exactly the rows just written, sparing a re-read.
    """
    written = 0
    for span in spans:
        series_durations = list(durations.get(span.series_id, ())) or [0]
        start, end, reach = _window(span, series_durations)
        if in_memory is not None and span.series_id in in_memory:
            samples = in_memory[span.series_id]
        else:
            samples = read_samples(engine, span.series_id, start - reach, end)
        rows = compute_rollup_rows(span.series_id, samples, series_durations, start, end)
        with engine.begin() as connection:
            _replace(connection, "rollups", rows.rollups)
            _replace(connection, "rollup_peaks", rows.peaks)
        written += len(rows.rollups)
    return written


def _replace(connection: Connection, name: str, rows: Sequence[tuple[object, ...]]) -> None:
    if not rows:
        return
    table = SQLModel.metadata.tables[name]
    columns = [column.name for column in table.columns]
    if is_sqlite(connection.engine):
        placeholders = ", ".join("?" * len(columns))
        connection.exec_driver_sql(
            f"INSERT OR REPLACE INTO {name} ({', '.join(columns)}) VALUES ({placeholders})",
            list(rows),
        )
        return
    statement = postgresql.insert(table)
    keys = [column.name for column in table.primary_key.columns]
    statement = statement.on_conflict_do_update(
        index_elements=keys,
        set_={c: statement.excluded[c] for c in columns if c not in keys},
    )
    connection.execute(statement, [dict(zip(columns, row, strict=True)) for row in rows])


def read_peaks(
    engine: Engine, series_id: int, grain: str, duration_minutes: int, start: int, end: int
) -> pd.Series:
    """Sustained peaks per bucket for start <= bucket < end, on a UTC DatetimeIndex."""
    with engine.connect() as connection:
        data = connection.execute(
            text(
                "SELECT bucket, value FROM rollup_peaks WHERE series_id = :sid AND grain = :grain "
                "AND duration_minutes = :d AND bucket >= :start AND bucket < :end ORDER BY bucket"
            ),
            {"sid": series_id, "grain": grain, "d": duration_minutes, "start": start, "end": end},
        ).fetchall()
    index = pd.to_datetime([row[0] for row in data], unit="s", utc=True)
    return pd.Series([row[1] for row in data], index=index, dtype="float64", name="value")


def read_rollups(engine: Engine, series_id: int, grain: str, start: int, end: int) -> pd.DataFrame:
    """mean/max/p95/count per bucket for start <= bucket < end."""
    with engine.connect() as connection:
        frame = pd.DataFrame(
            connection.execute(
                text(
                    "SELECT bucket, mean, max, p95, count FROM rollups WHERE series_id = :sid "
                    "AND grain = :grain AND bucket >= :start AND bucket < :end ORDER BY bucket"
                ),
                {"sid": series_id, "grain": grain, "start": start, "end": end},
            ).fetchall(),
            columns=["bucket", "mean", "max", "p95", "count"],
        )
    frame.index = pd.to_datetime(frame.pop("bucket").astype("int64"), unit="s", utc=True)
    return frame

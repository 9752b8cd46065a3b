"""Hourly and daily rollups, recomputed from raw samples for the buckets new rows touch.

Daily sustained peaks cannot be merged from hourly ones (a window straddling an
hour boundary belongs to neither), so affected buckets are recomputed from the
raw samples, including those before the first one that the windows reaching
back into the previous bucket need (see ``forecasting.aggregation``: a window's
mean depends on the samples of two window-wide blocks, so the reads start at a
block boundary and the result is the same whatever else is stored).

Everything works on integer epoch seconds: no calendar range to overflow and no
array sized by the time between samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text
from sqlmodel import SQLModel

from forecasting.aggregation import rollup_epochs, window_means
from jobs.store.bulk import copy_insert, copy_upsert
from jobs.store.database import is_sqlite
from jobs.store.samples import SeriesSpan, read_sample_arrays

DAY = 86_400
GRAINS = {"hour": 3_600, "day": DAY}
# Longer windows than any span of stored time behave alike; the cap keeps the
# arithmetic in int64 whatever a configuration asks for.
MAX_WINDOW_SECONDS = 2**40


RollupRow = tuple[int, str, int, float, float, float, int]
PeakRow = tuple[int, str, int, int, float]


@dataclass(frozen=True)
class RollupRows:
    rollups: list[RollupRow]
    peaks: list[PeakRow]


def window_seconds(duration_minutes: int) -> int:
    return min(int(duration_minutes) * 60, MAX_WINDOW_SECONDS)


def compute_rollup_rows(
    series_id: int,
    ts: np.ndarray,
    values: np.ndarray,
    durations: Sequence[int],
    start: int,
    end: int,
) -> RollupRows:
    """Rollup rows for buckets starting in [start, end), durations in minutes (0 = max).

    ``ts`` (sorted, distinct epoch seconds) must reach back to ``read_start``.
    """
    positive = sorted({d for d in durations if d > 0})
    means = {f"sustained_{d}m": window_means(ts, values, window_seconds(d)) for d in positive}
    rollups: list[RollupRow] = []
    peaks: list[PeakRow] = []
    for grain, width in GRAINS.items():
        frame = rollup_epochs(ts, values, width, means)
        buckets = np.asarray(frame.index, dtype=np.int64)
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
            peak_values = frame[column].to_numpy(dtype=np.float64)
            present = ~np.isnan(peak_values)
            kept = np.asarray(bucket_list, dtype=np.int64)[present].tolist()
            peaks.extend(
                zip(
                    [series_id] * len(kept),
                    [grain] * len(kept),
                    [duration] * len(kept),
                    kept,
                    peak_values[present].tolist(),
                    strict=True,
                )
            )
    return RollupRows(rollups, peaks)


@dataclass(frozen=True)
class RollupWindow:
    """The buckets new rows affect, [start, end), and the samples they need, from read_start."""

    start: int
    end: int
    read_start: int


def affected(span: SeriesSpan, durations: Sequence[int]) -> RollupWindow:
    windows = [window_seconds(d) for d in durations if d > 0]
    reach = max(windows, default=0)
    start = span.start - span.start % DAY
    end_point = span.end + reach
    end = end_point - end_point % DAY + DAY
    # A window ending in the first bucket needs its own block and the one before.
    read_start = min([start, *((start - w) // w * w for w in windows)])
    return RollupWindow(start, end, read_start)


def untouched_spans(
    connection: Connection,
    spans: Sequence[SeriesSpan],
    durations: Mapping[int, Sequence[int]],
) -> set[int]:
    """Series with no stored sample anywhere their new rows' rollups read from."""
    query = text(
        "SELECT 1 FROM samples WHERE series_id = :sid AND ts >= :start AND ts < :end LIMIT 1"
    )
    untouched = set()
    for span in spans:
        window = affected(span, durations.get(span.series_id, (0,)))
        found = connection.execute(
            query, {"sid": span.series_id, "start": window.read_start, "end": window.end}
        ).first()
        if found is None:
            untouched.add(span.series_id)
    return untouched


def rollups_from_memory(
    spans: Sequence[SeriesSpan],
    durations: Mapping[int, Sequence[int]],
    in_memory: Mapping[int, tuple[np.ndarray, np.ndarray]],
) -> dict[int, RollupRows]:
    """Rollup rows of the series in ``in_memory``: (ts, values) of series whose rollups
    read no stored sample before this write, i.e. exactly the rows being written."""
    computed = {}
    for span in spans:
        if span.series_id not in in_memory:
            continue
        series_durations = list(durations.get(span.series_id, ())) or [0]
        window = affected(span, series_durations)
        ts, values = in_memory[span.series_id]
        computed[span.series_id] = compute_rollup_rows(
            span.series_id, ts, values, series_durations, window.start, window.end
        )
    return computed


def refresh_rollups(
    connection: Connection,
    spans: Sequence[SeriesSpan],
    durations: Mapping[int, Sequence[int]],
    computed: Mapping[int, RollupRows] | None = None,
) -> int:
    """Recomputes the rollups of every bucket the spans touch; returns buckets written.

    ``computed`` holds the rows already computed from memory (see
    ``rollups_from_memory``); the others are computed from the stored samples.
    The caller's transaction holds the samples and their rollups together.
    """
    rollups: list[RollupRow] = []
    peaks: list[PeakRow] = []
    absent = _without_rollups(connection, spans, durations, set(computed or ()))
    for span in spans:
        rows = (computed or {}).get(span.series_id)
        if rows is None:
            series_durations = list(durations.get(span.series_id, ())) or [0]
            window = affected(span, series_durations)
            ts, values = read_sample_arrays(
                connection, span.series_id, window.read_start, window.end
            )
            rows = compute_rollup_rows(
                span.series_id, ts, values, series_durations, window.start, window.end
            )
        rollups.extend(rows.rollups)
        peaks.extend(rows.peaks)
    _replace(connection, "rollups", rollups, absent)
    _replace(connection, "rollup_peaks", peaks, absent)
    return len(rollups)


def _without_rollups(
    connection: Connection,
    spans: Sequence[SeriesSpan],
    durations: Mapping[int, Sequence[int]],
    candidates: set[int],
) -> set[int]:
    """Of ``candidates``, the series with no stored rollup in the buckets being written
    (rollups outlive pruned raw samples, so no samples does not mean no rollups)."""
    if is_sqlite(connection.engine) or not candidates:
        return set()
    windows = [
        affected(span, durations.get(span.series_id, (0,)))
        for span in spans
        if span.series_id in candidates
    ]
    # One query per table over the union of the ranges: a series found there is
    # upserted (correct either way), the rest are copied in.
    bounds = {
        "ids": sorted(candidates),
        "start": min(w.start for w in windows),
        "end": max(w.end for w in windows),
    }
    present: set[int] = set()
    for table in ("rollups", "rollup_peaks"):
        present.update(
            connection.execute(
                text(
                    f"SELECT DISTINCT series_id FROM {table} WHERE series_id = ANY(:ids) "
                    "AND bucket >= :start AND bucket < :end"
                ),
                bounds,
            ).scalars()
        )
    return candidates - present


def _replace(
    connection: Connection, name: str, rows: Sequence[tuple[object, ...]], absent: set[int]
) -> None:
    """Writes rows, replacing stored ones; series in ``absent`` have none stored there."""
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
    keys = {column.name for column in table.primary_key.columns}
    grain = columns.index("grain")
    for value in sorted({str(row[grain]) for row in rows}):
        for new in (True, False):
            mine = [row for row in rows if row[grain] == value and (row[0] in absent) == new]
            if not mine:
                continue
            data: dict[str, object] = {
                column: (value if column == "grain" else np.asarray([row[k] for row in mine]))
                for k, column in enumerate(columns)
            }
            if new:
                copy_insert(connection, name, data)
            else:
                copy_upsert(connection, name, data, update=[c for c in columns if c not in keys])


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

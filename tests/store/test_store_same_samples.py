"""The same samples give the same rollups, sustained peaks and report bytes, however they
arrived: in one run, in chunks, newest chunk first (a backfill), or as a shuffled CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from jobs.config import Config, runbook_config
from jobs.ingest import store_frame
from jobs.ingest.sources.sample import sample_history
from jobs.periods import parse_period
from jobs.reports import build_report
from jobs.store import open_store
from tests.conftest import Capplan
from tests.report_support import shapes

END = datetime(2026, 1, 1, tzinfo=UTC)


def history(days: int) -> pd.DataFrame:
    frame = sample_history(END, days=days, seed=3, shapes=shapes())
    # Values with full float precision, where rounding differences show.
    noise = np.random.default_rng(11).uniform(0, 1, len(frame)) / 3
    return frame.assign(value=frame["value"] + noise)


def chunks(frame: pd.DataFrame, hours: int) -> list[pd.DataFrame]:
    """Pieces split at odd instants (``hours`` + 37 minutes apart), as scheduled pulls are."""
    start = frame["timestamp"].min()
    piece = (frame["timestamp"] - start) // pd.Timedelta(hours=hours, minutes=37)
    return [group for _, group in frame.groupby(piece, sort=True)]


def dump(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    queries = {
        "rollups": "SELECT s.service, s.metric, r.grain, r.bucket, r.mean, r.max, r.p95, "
        "r.count FROM rollups r JOIN series s ON s.id = r.series_id "
        "ORDER BY s.service, s.metric, r.grain, r.bucket",
        "peaks": "SELECT s.service, s.metric, p.grain, p.duration_minutes, p.bucket, p.value "
        "FROM rollup_peaks p JOIN series s ON s.id = p.series_id "
        "ORDER BY s.service, s.metric, p.grain, p.duration_minutes, p.bucket",
        "samples": "SELECT s.service, s.metric, x.ts, x.value FROM samples x "
        "JOIN series s ON s.id = x.series_id ORDER BY s.service, s.metric, x.ts",
    }
    with engine.connect() as connection:
        return {
            name: [tuple(row) for row in connection.execute(text(sql))]
            for name, sql in queries.items()
        }


def test_rollups_and_peaks_do_not_depend_on_how_samples_arrived(
    tmp_path: Path, config: Config
) -> None:
    frame = history(days=12)
    one_go = open_store(f"sqlite:///{tmp_path / 'one.db'}")
    store_frame(one_go, config, frame)
    expected = dump(one_go)
    assert len(expected["peaks"]) > 1000

    in_chunks = open_store(f"sqlite:///{tmp_path / 'chunks.db'}")
    for piece in chunks(frame, hours=5):
        store_frame(in_chunks, config, piece)
    assert dump(in_chunks) == expected

    backfilled = open_store(f"sqlite:///{tmp_path / 'backfill.db'}")
    for piece in reversed(chunks(frame, hours=29)):
        store_frame(backfilled, config, piece)
    assert dump(backfilled) == expected

    csv_path = tmp_path / "shuffled.csv"
    shuffled = frame.sample(frac=1.0, random_state=5)
    shuffled.assign(timestamp=shuffled["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
        csv_path, index=False
    )
    csv_url = f"sqlite:///{tmp_path / 'csv.db'}"
    Capplan(csv_url)("ingest", "--csv", str(csv_path))
    assert dump(open_store(csv_url)) == expected


def test_the_same_samples_render_the_same_pdf(tmp_path: Path) -> None:
    config = runbook_config()
    frame = history(days=40)
    period = parse_period("monthly", "2025-12")
    one_go = open_store(f"sqlite:///{tmp_path / 'one.db'}")
    store_frame(one_go, config, frame)
    in_chunks = open_store(f"sqlite:///{tmp_path / 'chunks.db'}")
    for piece in chunks(frame, hours=47):
        store_frame(in_chunks, config, piece)
    first = build_report(one_go, config, period, workers=1)
    second = build_report(in_chunks, config, period, workers=1)
    assert second.summary_text == first.summary_text
    assert second.pdf == first.pdf


def test_postgres_stores_the_same_rows_as_sqlite(
    tmp_path: Path, config: Config, postgres_url: str
) -> None:
    # Bulk COPY for new series, set-based upserts for stored ones, values that change.
    frame = history(days=6)
    sqlite = open_store(f"sqlite:///{tmp_path / 'one.db'}")
    store_frame(sqlite, config, frame)
    postgres = open_store(postgres_url)
    pieces = chunks(frame, hours=31)
    for piece in pieces[:3]:
        store_frame(postgres, config, piece.assign(value=piece["value"] + 1))
    counts = [store_frame(postgres, config, piece) for piece in reversed(pieces)]
    assert sum(c.updated for c in counts) == sum(len(p) for p in pieces[:3])
    assert sum(c.inserted for c in counts) == sum(len(p) for p in pieces[3:])
    assert dump(postgres) == dump(sqlite)
    postgres.dispose()

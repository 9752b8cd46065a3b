"""Ingest benchmark: capplan's CSV ingest against a plain sqlite3 executemany script.

Both parse the same 1,000,000-row long CSV (100 series) into the same samples
table; capplan also validates every row and maintains hourly and daily rollups.
Target: capplan at no less than half the plain script's rows per second.

    .venv/bin/python bench/ingest_bench.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from jobs.config import Config, parse_config, runbook_config_text
from jobs.ingest import ingest_csv
from jobs.store import open_store

SERIES = 100
METRICS = (
    "cpu_percent",
    "memory_percent",
    "network_percent",
    "db_connections_percent",
    "error_rate_percent",
)
TARGET_RATIO = 0.5


def bench_config() -> Config:
    data = yaml.safe_load(runbook_config_text())
    data["services"] = {
        f"svc{n:02d}": {"cpu_cores": 2, "memory_gb": 4} for n in range(SERIES // len(METRICS))
    }
    return parse_config(data, "<bench>")


def write_csv(path: Path, rows: int) -> None:
    per_series = rows // SERIES
    index = pd.date_range("2026-01-01", periods=per_series, freq="5min", tz="UTC")
    stamps = index.strftime("%Y-%m-%dT%H:%M:%SZ")
    rng = np.random.default_rng(0)
    with path.open("w") as handle:
        handle.write("timestamp,service,metric,value\n")
        for n in range(SERIES):
            service, metric = f"svc{n // len(METRICS):02d}", METRICS[n % len(METRICS)]
            values = np.round(rng.uniform(0, 100, per_series), 3)
            frame = pd.DataFrame({"t": stamps, "s": service, "m": metric, "v": values})
            frame.to_csv(handle, header=False, index=False)


PLAIN_SCHEMA = """
CREATE TABLE series (id INTEGER PRIMARY KEY, service TEXT, metric TEXT, UNIQUE(service, metric));
CREATE TABLE samples (series_id INTEGER, ts INTEGER, value REAL,
                      PRIMARY KEY (series_id, ts)) WITHOUT ROWID;
"""


def plain_sqlite(csv_path: Path, db_path: Path) -> int:
    """What a capable engineer writes in ten minutes: csv + executemany, no checks."""
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(PLAIN_SCHEMA)
    ids: dict[tuple[str, str], int] = {}
    batch: list[tuple[int, int, float]] = []
    count = 0
    with csv_path.open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for stamp, service, metric, value in reader:
            key = (service, metric)
            if key not in ids:
                db.execute("INSERT INTO series (service, metric) VALUES (?, ?)", key)
                ids[key] = db.execute(
                    "SELECT id FROM series WHERE service=? AND metric=?", key
                ).fetchone()[0]
            ts = int(datetime.fromisoformat(stamp).timestamp())
            batch.append((ids[key], ts, float(value)))
            if len(batch) == 50_000:
                db.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?)", batch)
                count += len(batch)
                batch.clear()
    db.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?)", batch)
    count += len(batch)
    db.commit()
    db.close()
    return count


def capplan_ingest(csv_path: Path, db_path: Path) -> int:
    engine = open_store(f"sqlite:///{db_path}")
    summary = ingest_csv(engine, bench_config(), csv_path)
    engine.dispose()
    return summary.inserted


def timed(
    run: Callable[[Path, Path], int], csv_path: Path, work: Path, name: str
) -> tuple[float, int]:
    db_path = work / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    start = time.perf_counter()
    rows = run(csv_path, db_path)
    return time.perf_counter() - start, rows


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="best of K runs each")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv_path = work / "samples.csv"
        write_csv(csv_path, args.rows)
        plain = capplan = float("inf")
        for _ in range(args.repeat):
            seconds, plain_rows = timed(plain_sqlite, csv_path, work, "plain")
            plain = min(plain, seconds)
            seconds, capplan_rows = timed(capplan_ingest, csv_path, work, "capplan")
            capplan = min(capplan, seconds)
    assert plain_rows == capplan_rows, (plain_rows, capplan_rows)
    plain_rate, capplan_rate = plain_rows / plain, capplan_rows / capplan
    ratio = capplan_rate / plain_rate
    print(f"ingest: {plain_rows:,} rows, {SERIES} series")
    print(f"  plain sqlite3 executemany : {plain_rate:>10,.0f} rows/s ({plain:.2f} s)")
    print(f"  capplan ingest + rollups  : {capplan_rate:>10,.0f} rows/s ({capplan:.2f} s)")
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(f"  ratio capplan/plain       : {ratio:.2f} ({verdict} the {TARGET_RATIO} target)")
    return {"plain_rows_per_s": plain_rate, "capplan_rows_per_s": capplan_rate, "ratio": ratio}


if __name__ == "__main__":
    main()

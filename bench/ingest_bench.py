"""Ingest benchmark: capplan's CSV ingest against a plain sqlite3 executemany script.

Both parse the same 1,000,000-row long CSV (100 series) into the same samples
table; capplan also validates every row and maintains hourly and daily rollups.
Target: capplan at no less than half the plain script's rows per second.

The same ingest into PostgreSQL (a throwaway server started here, as the test
suite does, from Debian's postgresql package) must reach 0.8x capplan's SQLite
rate in the same run.

    .venv/bin/python bench/ingest_bench.py [--rows N] [--repeat K] [--no-postgres]
"""

from __future__ import annotations

import argparse
import csv
import glob
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
POSTGRES_TARGET_RATIO = 0.8


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
    return _ingest(f"sqlite:///{db_path}", csv_path)


def _ingest(url: str, csv_path: Path) -> int:
    engine = open_store(url)
    summary = ingest_csv(engine, bench_config(), csv_path)
    engine.dispose()
    return summary.inserted


@contextmanager
def postgres_server(work: Path) -> Iterator[tuple[Path, list[str]]]:
    """A PostgreSQL on a free loopback port (as 'postgres' when run as root); yields the
    bin directory and the connection arguments for its client tools."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SystemExit("PostgreSQL's initdb was not found: apt-get install postgresql")
    bin_dir = Path(found[-1]).parent
    prefix: list[str] = []
    root = work / "postgres"
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    for path in (root, data, sockets):
        path.mkdir()
    log.touch()
    if os.geteuid() == 0:
        prefix = ["runuser", "-u", "postgres", "--"]
        work.chmod(0o755)
        for path in (root, data, sockets, log):
            shutil.chown(path, "postgres", "postgres")
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "--auth=trust", "-U", "capplan"]
    subprocess.run(
        [*prefix, *initdb, "--encoding=UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    # As in the test suite (tests/servers/postgres.py): a throwaway server without fsync.
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log)]
    subprocess.run(
        [*pg_ctl, "-o", options, "-w", "-t", "60", "start"], check=True, capture_output=True
    )
    try:
        yield bin_dir, ["-h", "127.0.0.1", "-p", str(port), "-U", "capplan"]
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True)


def postgres_ingest(bin_dir: Path, connect: list[str], name: str) -> Callable[[Path, Path], int]:
    """A fresh database (created before the clock starts) and the ingest into it."""
    subprocess.run(
        [str(bin_dir / "dropdb"), *connect, "--if-exists", name], check=True, capture_output=True
    )
    subprocess.run([str(bin_dir / "createdb"), *connect, name], check=True)
    host, port, user = connect[1], connect[3], connect[5]

    def run(csv_path: Path, _db_path: Path) -> int:
        return _ingest(f"postgresql+psycopg://{user}@{host}:{port}/{name}", csv_path)

    return run


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
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv_path = work / "samples.csv"
        write_csv(csv_path, args.rows)
        csv_path.chmod(0o644)
        plain = capplan = postgres = float("inf")
        postgres_rows = 0
        with contextlib_nullable(not args.no_postgres, work) as server:
            for _ in range(args.repeat):
                seconds, plain_rows = timed(plain_sqlite, csv_path, work, "plain")
                plain = min(plain, seconds)
                seconds, capplan_rows = timed(capplan_ingest, csv_path, work, "capplan")
                capplan = min(capplan, seconds)
                if server is not None:
                    run = postgres_ingest(*server, "bench")
                    seconds, postgres_rows = timed(run, csv_path, work, "postgres")
                    postgres = min(postgres, seconds)
    assert plain_rows == capplan_rows, (plain_rows, capplan_rows)
    plain_rate, capplan_rate = plain_rows / plain, capplan_rows / capplan
    ratio = capplan_rate / plain_rate
    print(f"ingest: {plain_rows:,} rows, {SERIES} series")
    print(f"  plain sqlite3 executemany : {plain_rate:>10,.0f} rows/s ({plain:.2f} s)")
    print(f"  capplan ingest + rollups  : {capplan_rate:>10,.0f} rows/s ({capplan:.2f} s)")
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(f"  ratio capplan/plain       : {ratio:.2f} ({verdict} the {TARGET_RATIO} target)")
    result = {"plain_rows_per_s": plain_rate, "capplan_rows_per_s": capplan_rate, "ratio": ratio}
    if postgres_rows:
        assert postgres_rows == capplan_rows, (postgres_rows, capplan_rows)
        postgres_rate = postgres_rows / postgres
        pg_ratio = postgres_rate / capplan_rate
        print(f"  capplan into PostgreSQL   : {postgres_rate:>10,.0f} rows/s ({postgres:.2f} s)")
        verdict = "meets" if pg_ratio >= POSTGRES_TARGET_RATIO else "MISSES"
        print(
            f"  ratio PostgreSQL/SQLite   : {pg_ratio:.2f} "
            f"({verdict} the {POSTGRES_TARGET_RATIO} target)"
        )
        result.update({"postgres_rows_per_s": postgres_rate, "postgres_ratio": pg_ratio})
    return result


@contextmanager
def contextlib_nullable(wanted: bool, work: Path) -> Iterator[tuple[Path, list[str]] | None]:
    if not wanted:
        yield None
        return
    with postgres_server(work) as server:
        yield server


if __name__ == "__main__":
    main()

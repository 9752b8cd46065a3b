"""Shared data for the report tests: a short seeded history in a SQLite store.

Three services, 100 days of 5-minute samples ending 2026-01-01 (so December
2025, 2025-Q4 and 2025 are all reportable as of that instant), and a forecast
run stored as of 2025-12-01 so December's report can compare with it.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from jobs.config import Config, runbook_config
from jobs.forecast.fleet import FleetForecast, forecast_fleet
from jobs.ingest import store_frame
from jobs.ingest.sources.sample import DEFAULT_SHAPES, SeriesShape, sample_history
from jobs.store import open_store

END = datetime(2026, 1, 1, tzinfo=UTC)
PREVIOUS_RUN = datetime(2025, 12, 1, tzinfo=UTC)
DAYS = 100
SERIES = {
    ("backend", "cpu_percent"),
    ("backend", "memory_percent"),
    ("frontend", "cpu_percent"),
    ("postgres", "cpu_percent"),
    ("postgres", "disk_percent"),
}
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "reports"


def shapes() -> tuple[SeriesShape, ...]:
    return tuple(s for s in DEFAULT_SHAPES if (s.service, s.metric) in SERIES)


def fill_store(url: str, config: Config, *, end: datetime = END, days: int = DAYS) -> Engine:
    engine = open_store(url)
    frame = sample_history(end, days=days, seed=config.forecast.seed, shapes=shapes())
    store_frame(engine, config, frame)
    return engine


def pdftotext(pdf: Path, *, first: int | None = None, last: int | None = None) -> str:
    args = ["pdftotext", "-layout"]
    if first is not None:
        args += ["-f", str(first)]
    if last is not None:
        args += ["-l", str(last)]
    return subprocess.run([*args, str(pdf), "-"], check=True, capture_output=True, text=True).stdout


def pdfinfo(pdf: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    info = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    return info


def page_images(pdf: Path, name: str, *, resolution: int = 80) -> list[Path]:
    """Renders every page to test-artifacts/reports/<name>-N.png for a person to look at."""
    target = ARTIFACTS / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", str(resolution), str(pdf), str(target / "page")], check=True
    )
    return sorted(target.glob("page-*.png"))


@dataclass(frozen=True)
class SharedStore:
    url: str
    path: Path
    engine: Engine
    fleet: FleetForecast


@functools.cache
def shared_store() -> SharedStore:
    """Built once per test process: the store, a forecast stored as of 2025-12-01, and the
    fleet forecast as of 2026-01-01 (what every report of the shared periods uses)."""
    folder = Path(tempfile.mkdtemp(prefix="capplan-report-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "capplan.db"
    url = f"sqlite:///{path}"
    config = runbook_config()
    engine = fill_store(url, config)
    forecast_fleet(engine, config, PREVIOUS_RUN, workers=1, store=True)
    fleet = forecast_fleet(engine, config, END, workers=1, store=False)
    return SharedStore(url, path, engine, fleet)


def copy_store(shared: SharedStore, folder: Path) -> str:
    """A private copy of the shared database (for tests that write to it)."""
    target = folder / "copy.db"
    with sqlite3.connect(shared.path) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return f"sqlite:///{target}"

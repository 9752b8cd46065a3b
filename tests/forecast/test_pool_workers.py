"""Forecast worker processes die with the process that started them (``kill -9`` included).

run-due and ``capplan forecast`` are started as real processes over a store
big enough to keep two workers busy; once the workers exist the parent is
killed with SIGKILL, and every process it left behind must be gone within
seconds instead of lingering with the store open.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from jobs.config import parse_config, runbook_config_text
from jobs.ingest import store_frame
from jobs.ingest.sources.sample import sample_history
from jobs.store import open_store
from tests.publish_support import publish_section

MONTH_END = "2026-11-01T06:00:00Z"
SERVICES = ("backend", "frontend", "postgres", "redis")
GONE_WITHIN_SECONDS = 10


def write_store(tmp_path: Path, database_url: str) -> Path:
    raw: dict[str, Any] = yaml.safe_load(runbook_config_text())
    raw["services"] = {name: raw["services"][name] for name in SERVICES}
    raw["publish"] = publish_section(tmp_path)
    config = parse_config(raw, "workers")
    path = tmp_path / "capplan.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    history = sample_history(datetime(2026, 11, 1, tzinfo=UTC), days=120, seed=0)
    store_frame(open_store(database_url), config, history[history["service"].isin(SERVICES)])
    return path


def busy_workers(parent: psutil.Process, timeout: float = 120) -> list[psutil.Process]:
    """Waits until the pool's workers exist: processes forked by the pool's fork server."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert parent.is_running() and parent.status() != psutil.STATUS_ZOMBIE, "exited early"
        try:
            tree = parent.children(recursive=True)
            pids = {p.pid for p in tree}
            workers = [p for p in tree if p.ppid() in pids and p.ppid() != parent.pid]
        except psutil.NoSuchProcess:
            continue
        if len(workers) >= 2:
            return workers
        time.sleep(0.05)
    raise AssertionError("the forecast workers never started")


def gone(process: psutil.Process) -> bool:
    try:
        # An exited orphan may wait a moment for its new parent to reap it.
        return bool(process.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize(
    "command",
    [
        ["run-due", "--now", MONTH_END],
        ["forecast", "--as-of", MONTH_END, "--workers", "2"],
    ],
    ids=["run-due", "forecast"],
)
def test_killing_the_parent_ends_every_worker(
    tmp_path: Path, database_url: str, command: list[str]
) -> None:
    config_path = write_store(tmp_path, database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPPLAN_")}
    env.update(CAPPLAN_CONFIG=str(config_path), CAPPLAN_DATABASE_URL=database_url)
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs.cli", *command],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        parent = psutil.Process(process.pid)
        workers = busy_workers(parent)
        # Workers come from a fork server, never from a fork of the (threaded) parent.
        assert all(w.ppid() != parent.pid for w in workers)
        left = parent.children(recursive=True)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + GONE_WITHIN_SECONDS
    while time.monotonic() < deadline and not all(gone(p) for p in left):
        time.sleep(0.1)
    alive = [p for p in left if not gone(p)]
    for survivor in alive:
        survivor.kill()
    assert not alive, f"still running {GONE_WITHIN_SECONDS} s after the parent died: {alive}"

"""Fleet scale: ``capplan forecast`` over N stored series on Dask (1, then 2 workers) and a pool.

The store holds N series of 13 months of hourly CPU means (the shapes of
forecast_bench.py; hourly so that 400 series ingest in about a minute: the
forecast reads daily sustained peaks either way), two threshold windows and
four scenarios each. A real ``dask scheduler`` and ``dask worker`` processes
(``--nthreads 1``, engine preloaded) are started on loopback; each run is a
``capplan forecast --executor dask`` process on a fresh copy of the store,
timed from start to exit, first with one worker, then with two. The same
fleet then runs through the local process pool (``--workers 2``).

Usage: .venv/bin/python bench/fleet_bench.py [--series N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fleet_support import Fleet, adopt_orphans, capplan, capplan_env, load, stored_fleet, timed

FREQ = "1h"
DASK = str(Path(sys.executable).with_name("dask"))


class Cluster:
    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.file = folder / "scheduler.json"
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []

    def start_scheduler(self) -> str:
        self.file.unlink(missing_ok=True)
        self._start(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
            "--scheduler-file",
            str(self.file),
        )
        deadline = time.monotonic() + 120
        while not self.file.exists() or not self.file.read_text().strip():
            if time.monotonic() > deadline:
                sys.exit("the dask scheduler did not start")
            time.sleep(0.1)
        return str(json.loads(self.file.read_text())["address"])

    def add_worker(self, expected: int) -> None:
        self._start(
            [DASK, "worker", "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
            "--host",
            "127.0.0.1",
            "--memory-limit",
            "0",
            "--preload",
            "forecasting.engine",
            "--scheduler-file",
            str(self.file),
        )
        self.wait_for(expected)

    def wait_for(self, workers: int) -> None:
        from distributed import Client

        client = Client(scheduler_file=str(self.file), timeout="60s")  # type: ignore[no-untyped-call]
        try:
            client.wait_for_workers(workers, timeout=180)
        finally:
            client.close()  # type: ignore[no-untyped-call]

    def _start(self, command: list[str], *more: str) -> None:
        self.processes.append(
            subprocess.Popen(
                [*command, *more],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def pids(self) -> set[int]:
        return {p.pid for p in self.processes}

    def worker_pids(self) -> set[int]:
        return {p.pid for p in self.processes[1:]}

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def cluster(folder: Path, env: dict[str, str]) -> Iterator[Cluster]:
    running = Cluster(folder, env)
    try:
        yield running
    finally:
        running.stop()


def tree_cpu(pids: set[int]) -> float:
    """CPU seconds used so far by these processes, their descendants and reaped children."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for process in tree:
            try:
                t = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system + t.children_user + t.children_system
    return total


@dataclass(frozen=True)
class Run:
    series: int
    wall: float
    cpu: float  # capplan's process tree and, on Dask, the workers'

    def line(self, name: str) -> str:
        return (
            f"{name}: {self.series / self.wall:.2f} series/s, "
            f"{self.cpu / self.series:.2f} CPU s/series, "
            f"{self.cpu / self.wall:.2f} cores busy on average; {load()}"
        )


def run(fleet: Fleet, series: int, env: dict[str, str], *args: str, dask: Cluster | None) -> Run:
    """One run on a fresh copy of the store."""
    fresh = stored_fleet(fleet.database.parent, series, FREQ)
    workers = dask.worker_pids() if dask else set()
    before = tree_cpu(workers)
    timing = timed(capplan(fresh, *args), env, dask.pids() if dask else set())
    return Run(series, timing.wall, timing.cpu + tree_cpu(workers) - before)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=400)
    ap.add_argument("--keep", type=Path, help="build the store here once and reuse it")
    args = ap.parse_args()
    env = capplan_env()
    adopt_orphans()
    n = args.series
    with tempfile.TemporaryDirectory(prefix="capplan-fleet-") as tmp:
        start = time.perf_counter()
        fleet = stored_fleet(args.keep or Path(tmp) / "store", n, FREQ)
        print(f"store of {n} series ready in {time.perf_counter() - start:.0f} s; {load()}")
        with cluster(Path(tmp), env) as dask:
            address = dask.start_scheduler()
            on_dask = ("--executor", "dask", "--scheduler", address)
            dask.add_worker(1)
            one = run(fleet, n, env, *on_dask, dask=dask)
            print(one.line("dask, 1 worker "), flush=True)
            dask.add_worker(2)
            two = run(fleet, n, env, *on_dask, dask=dask)
            print(two.line("dask, 2 workers"), flush=True)
        pool = run(fleet, n, env, "--workers", "2", dask=None)
        print(pool.line("process pool, 2 workers"))
    print(f"series: {n} stored x 13 months of hourly samples, 2 thresholds, 4 scenarios")
    print(
        f"dask speed-up from 1 to 2 workers: {one.wall / two.wall:.2f}x "
        f"(target >= 1.7x on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()

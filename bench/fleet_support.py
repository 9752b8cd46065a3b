"""A stored fleet of synthetic CPU series and timing of whole processes, for the forecast benches.

The store is built once through the ingest path into a folder (reused when
``--keep`` names one) and each timed run gets a fresh copy of its database,
so no run warm-starts from another's stored settings. Timings count wall
time and the CPU time of the process and every descendant: this process
adopts orphans (a pool's fork server, say) and reaps them, so none escape.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


@dataclass(frozen=True)
class Fleet:
    config: Path
    database: Path
    csvs: list[Path]  # the raw samples of each series, for the naive side
    as_of: pd.Timestamp

    @property
    def url(self) -> str:
        return f"sqlite:///{self.database}"


def fleet_config(count: int) -> dict[str, object]:
    from jobs.config import runbook_config_text

    raw = yaml.safe_load(runbook_config_text())
    raw["services"] = {
        f"svc{i:03d}": {"cpu_cores": 2, "memory_gb": 4, "replicas": 1} for i in range(count)
    }
    raw["storage"] = {**raw.get("storage", {}), "raw_retention_days": 400}
    return raw  # type: ignore[no-any-return]


def _build(folder: Path, count: int, freq: str) -> pd.Timestamp:
    from forecast_bench import make_series

    from jobs.config import parse_config
    from jobs.ingest import store_frame
    from jobs.store import open_store

    raw_config = fleet_config(count)
    config_path = folder / "capplan.yaml"
    config_path.write_text(yaml.safe_dump(raw_config, sort_keys=False))
    config = parse_config(raw_config, str(config_path))
    engine = open_store(f"sqlite:///{folder / 'pristine.db'}")
    end = pd.Timestamp(0, tz="UTC")
    for i in range(count):
        series = make_series(i)
        end = pd.Timestamp(series.index[-1]) + pd.Timedelta(minutes=5)
        if freq != "5min":
            series = series.resample(freq).mean()
        frame = pd.DataFrame(
            {
                "timestamp": series.index,
                "service": f"svc{i:03d}",
                "metric": "cpu_percent",
                "value": series.to_numpy(),
            }
        )
        store_frame(engine, config, frame)
        frame[["timestamp", "value"]].to_csv(folder / f"svc{i:03d}.csv", index=False)
    engine.dispose()
    return end


def stored_fleet(folder: Path, count: int, freq: str = "5min") -> Fleet:
    """``count`` series of 13 months at ``freq``, built once into ``folder``; a fresh database."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / f"built-{count}-{freq}"
    if not marker.exists():
        for old in folder.glob("*"):
            old.unlink()
        marker.write_text(_build(folder, count, freq).isoformat())
    shutil.copy(folder / "pristine.db", folder / "fleet.db")
    return Fleet(
        folder / "capplan.yaml",
        folder / "fleet.db",
        sorted(folder.glob("svc*.csv")),
        pd.Timestamp(marker.read_text()),
    )


def capplan_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPPLAN_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "bench")])
    return env


def capplan(fleet: Fleet, *args: str) -> list[str]:
    """The command line of ``capplan forecast`` over the fleet."""
    return [
        sys.executable,
        "-m",
        "jobs.cli",
        "--config",
        str(fleet.config),
        "--database",
        fleet.url,
        "forecast",
        "--as-of",
        fleet.as_of.isoformat(),
        *args,
    ]


def adopt_orphans() -> None:
    """Become the reaper of our descendants, so their CPU time is counted when they end."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap_all(deadline: float, keep: set[int]) -> list[int]:
    """Waits for every descendant not in ``keep``; returns the stragglers' pids."""
    while time.monotonic() < deadline:
        left = [p.pid for p in psutil.Process().children() if p.pid not in keep]
        if not left:
            return []
        for pid in left:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    return [p.pid for p in psutil.Process().children() if p.pid not in keep]


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float  # user + system of the process and every descendant


def timed(command: list[str], env: dict[str, str], keep: set[int] | None = None) -> Timing:
    """Runs ``command`` to its end and the end of everything it started.

    ``keep``: our own long-lived children (a Dask cluster) to leave alone.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    stragglers = _reap_all(time.monotonic() + 30, keep or set())
    if stragglers:
        sys.exit(f"processes {stragglers} left running by {' '.join(command[:4])}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu)


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"

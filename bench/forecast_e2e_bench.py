"""End to end: ``capplan forecast`` over a stored fleet, against the naive way, both as processes.

A fleet of N series (13 months of 5-minute CPU samples each, the shapes of
forecast_bench.py) is stored in a SQLite file through the ingest path.
capplan: one ``capplan forecast`` process over the whole fleet (both
thresholds, four scenarios, results stored), timed from start to the exit
of everything it started. Naive: one Python process that reads a sample of
the same series from CSV and, per threshold, fits Prophet with its defaults
on hourly means and predicts three years hourly (forecast_bench.naive).
Each figure is seconds per series, start-up included; the ratio is taken on
wall time (the target) and on CPU time (steadier on a shared machine).

Usage: .venv/bin/python bench/forecast_e2e_bench.py [--series N] [--naive-sample K] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fleet_support import adopt_orphans, capplan, capplan_env, load, stored_fleet, timed

NAIVE_SCRIPT = """
import sys
import pandas as pd
from forecast_bench import CPU, naive
for path in sys.argv[1:]:
    frame = pd.read_csv(path)
    raw = pd.Series(frame["value"].to_numpy(), index=pd.to_datetime(frame["timestamp"], utc=True))
    as_of = raw.index[-1] + pd.Timedelta(minutes=5)
    for threshold in CPU:
        naive(raw, as_of, threshold.value)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=12)
    ap.add_argument("--naive-sample", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="build the store here once and reuse it")
    args = ap.parse_args()
    env = capplan_env()
    adopt_orphans()
    with tempfile.TemporaryDirectory(prefix="capplan-e2e-") as tmp:
        fleet = stored_fleet(args.keep or Path(tmp), args.series)
        print(f"before: {load()}")
        ours = timed(capplan(fleet), env)
        sample = fleet.csvs[: args.naive_sample]
        naive = timed([sys.executable, "-c", NAIVE_SCRIPT, *map(str, sample)], env)
    n, k = args.series, len(sample)
    print(f"series: {n} stored x 13 months of 5-minute samples, 2 thresholds, 4 scenarios")
    print(
        f"capplan forecast (one process, start-up included): {ours.wall / n:.2f} s/series wall, "
        f"{ours.cpu / n:.2f} s/series CPU"
    )
    print(
        f"naive Prophet (one process, sample of {k}): {naive.wall / k:.2f} s/series wall, "
        f"{naive.cpu / k:.2f} s/series CPU"
    )
    print(
        f"end-to-end speed-up: {(naive.wall / k) / (ours.wall / n):.1f}x wall (target >= 20x), "
        f"{(naive.cpu / k) / (ours.cpu / n):.1f}x CPU; after: {load()}"
    )


if __name__ == "__main__":
    main()

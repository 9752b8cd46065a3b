"""Runs every benchmark; each prints capplan's figure, its same-run baseline and the ratio.

    .venv/bin/python bench/run.py [--quick] [NAME ...]

Each benchmark runs in its own process so memory figures are its own.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    # name: (script, default arguments, --quick arguments)
    "ingest": ("ingest_bench.py", [], ["--rows", "200000", "--repeat", "1"]),
    "forecast": ("forecast_bench.py", [], ["--series", "6", "--naive-sample", "1"]),
    "forecast-e2e": ("forecast_e2e_bench.py", [], ["--series", "4", "--naive-sample", "1"]),
    "fleet": ("fleet_bench.py", [], ["--series", "12"]),
    "report": ("report_bench.py", [], ["--services", "5", "--days", "30"]),
    "accuracy": ("accuracy.py", ["--jobs", "2"], ["--quick", "--jobs", "2"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    parser.add_argument("names", nargs="*", help=f"default: all of {', '.join(BENCHMARKS)}")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; valid: {', '.join(BENCHMARKS)}")
    failed = []
    for name in args.names or list(BENCHMARKS):
        script, default_args, quick_args = BENCHMARKS[name]
        print(f"== {name}", flush=True)
        command = [
            sys.executable,
            str(HERE / script),
            *(quick_args if args.quick else default_args),
        ]
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(name)
    if failed:
        sys.exit(f"benchmark(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()

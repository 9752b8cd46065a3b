"""Runs every benchmark; each prints capplan's figure, its same-run baseline and the ratio.

.venv/bin/python bench/run.py [--quick]
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

BENCHMARKS: dict[str, tuple[str, list[str]]] = {
    "ingest": ("ingest_bench", []),
}
QUICK_ARGS: dict[str, list[str]] = {
    "ingest": ["--rows", "200000", "--repeat", "1"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="default: all")
    args = parser.parse_args()
    for name in args.names or list(BENCHMARKS):
        module_name, default_args = BENCHMARKS[name]
        module = importlib.import_module(module_name)
        print(f"== {name}", flush=True)
        module.main(QUICK_ARGS[name] if args.quick else default_args)


if __name__ == "__main__":
    main()

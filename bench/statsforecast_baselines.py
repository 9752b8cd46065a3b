"""statsforecast's AutoETS and AutoTheta on a batch of histories: the first step above a threshold.

    .venv-statsforecast/bin/python bench/statsforecast_baselines.py IN.json OUT.json

Runs in its own virtualenv (``make bench-venv``): statsforecast pins pandas below the
project's. IN maps a case id to {"values": [...], "steps": n, "season": m, "threshold": t};
OUT maps it to {"ets": {"step", "seconds", "refused"}, "theta": {...}}, where step is the
1-based forecast step first above the threshold (null when none is). All cases run in one
process, so numba's compilation is paid once, before the first timed fit.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def _models(season: int, n: int) -> dict[str, Any]:
    from statsforecast.models import AutoETS, AutoTheta  # type: ignore[import-not-found]

    # As the statsmodels baselines did: no season without two full cycles and a margin.
    m = season if n >= 2 * season + 2 else 1
    return {"ets": AutoETS(season_length=m), "theta": AutoTheta(season_length=m)}


def first_step_above(mean: np.ndarray, threshold: float) -> int | None:
    above = np.flatnonzero(np.asarray(mean, dtype="float64") > threshold)
    return int(above[0]) + 1 if above.size else None


def run_case(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    y = np.asarray(case["values"], dtype="float64")
    out: dict[str, dict[str, Any]] = {}
    for name, model in _models(int(case["season"]), len(y)).items():
        start = time.perf_counter()
        try:
            mean = model.forecast(y=y, h=int(case["steps"]))["mean"]
            row: dict[str, Any] = {"step": first_step_above(mean, float(case["threshold"]))}
        except Exception as exc:  # a refusal scores as no crossing, like the other baselines
            row = {"step": None, "refused": f"{type(exc).__name__}: {exc}"[:200]}
        row["seconds"] = time.perf_counter() - start
        out[name] = row
    return out


def main() -> None:
    source, target = sys.argv[1:3]
    cases: dict[str, dict[str, Any]] = json.loads(Path(source).read_text())
    warnings.simplefilter("ignore")
    # Compile the numba kernels outside the timed fits.
    run_case(
        {
            "values": list(np.sin(np.arange(40.0)) + np.arange(40.0)),
            "steps": 5,
            "season": 7,
            "threshold": 1e9,
        }
    )
    results = {cid: run_case(case) for cid, case in cases.items()}
    Path(target).write_text(json.dumps(results))


if __name__ == "__main__":
    main()

"""capplan rightsize over stored usage: the runbook's cost-optimisation example, saturation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from jobs.config import Config
from jobs.ingest import store_frame
from jobs.store import open_store
from tests.conftest import Capplan

AS_OF = pd.Timestamp("2026-06-01", tz="UTC")


def stored_usage(database_url: str, config: Config) -> None:
    index = pd.date_range(
        AS_OF - pd.Timedelta(days=30), AS_OF, freq="5min", tz="UTC", inclusive="left"
    )
    rng = np.random.default_rng(3)
    rows = []
    for service, metric, level in [
        ("frontend", "memory_percent", 35.0),
        ("backend", "cpu_percent", 78.0),
        ("backend", "memory_percent", 65.0),
    ]:
        values = level + rng.normal(0, 1.0, len(index))
        rows.append(
            pd.DataFrame(
                {"timestamp": index, "service": service, "metric": metric, "value": values}
            )
        )
    store_frame(open_store(database_url), config, pd.concat(rows, ignore_index=True))


def test_rightsize_json_from_the_store(capplan: Capplan, database_url: str, config: Config) -> None:
    stored_usage(database_url, config)
    out = capplan("rightsize", "--as-of", AS_OF.isoformat(), "--format", "json").output
    payload = json.loads(out)
    assert payload["as_of"].startswith("2026-06-01")
    by_key = {(r["service"], r["resource"]): r for r in payload["recommendations"]}
    frontend = by_key[("frontend", "memory")]
    assert frontend["action"] == "decrease"
    assert frontend["current"] == 2 and frontend["recommended"] <= 1.0
    assert frontend["monthly_cost_delta"] < 0
    backend = by_key[("backend", "cpu")]
    assert backend["action"] == "increase"
    assert backend["recommended"] > 2 and backend["monthly_cost_delta"] > 0
    assert "70%" in backend["reason"]
    assert by_key[("backend", "memory")]["action"] == "keep"


def test_rightsize_without_data_is_a_clean_error(capplan: Capplan) -> None:
    result = capplan("rightsize", "--as-of", AS_OF.isoformat(), expect=2)
    assert "rightsizing.lookback_days: no CPU or memory usage" in result.output
    assert "Traceback" not in result.output

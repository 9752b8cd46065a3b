"""Allocation history: configuration changes are recorded with their effective date and used."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from jobs.config import Config, parse_config, runbook_config_text
from jobs.ingest import store_frame
from jobs.store import open_store
from jobs.store.allocations import allocation_history, sync_from_config
from jobs.store.samples import read_samples
from jobs.store.series import list_series
from tests.conftest import Capplan

HEADER = "timestamp,service,metric,value\n"


def configs(tmp_path: Path, backend_cores: float, replicas: int = 2) -> tuple[Path, Config]:
    raw: dict[str, Any] = yaml.safe_load(runbook_config_text())
    raw["services"]["backend"]["cpu_cores"] = backend_cores
    raw["services"]["backend"]["replicas"] = replicas
    path = tmp_path / f"backend-{backend_cores:g}x{replicas}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path, parse_config(raw, str(path))


def at(text: str) -> datetime:
    return pd.Timestamp(text).to_pydatetime()


def cores(index: pd.DatetimeIndex, value: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"timestamp": index, "service": "backend", "metric": "cpu_cores", "value": value}
    )


def test_a_changed_allocation_converts_usage_from_its_effective_date(
    database_url: str, tmp_path: Path
) -> None:
    engine = open_store(database_url)
    _, before = configs(tmp_path, 2)  # 2 cores x 2 replicas = 4 cores
    _, after = configs(tmp_path, 4)  # 4 cores x 2 replicas = 8 cores
    first = pd.DatetimeIndex(["2026-03-01T00:00Z"])
    store_frame(engine, before, cores(first, 2.0), now=at("2026-03-01T01:00Z"))
    # The operator doubles backend's CPU on 10 March and edits services.backend.
    later = pd.DatetimeIndex(["2026-03-05T00:00Z", "2026-03-20T00:00Z"])
    store_frame(engine, after, cores(later, 2.0), now=at("2026-03-10T00:00Z"))
    (series,) = list_series(engine)
    assert list(read_samples(engine, series.id, 0, 2**40)) == [50.0, 50.0, 25.0]
    history = allocation_history(engine, "backend")
    cpu = history[history["resource"] == "cpu_cores"]
    assert list(cpu["value"]) == [2.0, 4.0]
    assert list(cpu["effective_from"]) == [
        pd.Timestamp(0, tz="UTC"),
        pd.Timestamp("2026-03-10", tz="UTC"),
    ]
    # An unchanged configuration records nothing more.
    assert sync_from_config(engine, after, at("2026-04-01T00:00Z")) == 0


def test_ingest_uses_the_allocation_in_force_at_each_instant(
    capplan: Capplan, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs.cli import ingest as ingest_command

    before, _ = configs(tmp_path, 2)
    after, _ = configs(tmp_path, 4)

    def ingest(now: str, config: Path, *stamps: str) -> str:
        path = tmp_path / "cores.csv"
        path.write_text(HEADER + "".join(f"{t},backend,cpu_cores,2\n" for t in stamps))
        monkeypatch.setattr(ingest_command, "now_utc", lambda: at(now))
        return capplan("ingest", str(path), config=config).output

    ingest("2026-03-01T01:00Z", before, "2026-03-01T00:00:00Z")
    # services.backend edited on 10 March: the samples of earlier days keep their allocation.
    out = ingest("2026-03-10T00:00Z", after, "2026-03-01T00:00:00Z", "2026-03-05T00:00:00Z")
    assert "1 inserted, 0 updated, 1 unchanged" in out
    ingest("2026-03-21T00:00Z", after, "2026-03-20T00:00:00Z")
    engine = open_store(database_url)
    (series,) = list_series(engine)
    assert list(read_samples(engine, series.id, 0, 2**40)) == [50.0, 50.0, 25.0]


def test_allocations_lists_the_history(
    capplan: Capplan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs.cli import allocations as allocations_command

    before, _ = configs(tmp_path, 2)
    after, _ = configs(tmp_path, 4, replicas=3)
    monkeypatch.setattr(allocations_command, "now_utc", lambda: at("2026-03-01T00:00Z"))
    first = capplan("allocations", "--service", "backend", config=before).output
    assert "recorded 21 allocation(s) from the configuration" in first
    monkeypatch.setattr(allocations_command, "now_utc", lambda: at("2026-03-10T08:30Z"))
    table = capplan("allocations", "--service", "backend", config=after).output
    assert "recorded 2 allocation(s) from the configuration" in table
    lines = [" ".join(line.split()) for line in table.splitlines()]
    assert "backend cpu_cores 2 first recorded config" in lines
    assert "backend cpu_cores 4 2026-03-10T08:30:00Z config (in force)" in lines
    assert "backend memory_gb 4 first recorded config (in force)" in lines
    assert "backend replicas 3 2026-03-10T08:30:00Z config (in force)" in lines
    payload = json.loads(
        capplan("allocations", "--service", "backend", "--format", "json", config=after).output
    )
    cpu = [a for a in payload["allocations"] if a["resource"] == "cpu_cores"]
    assert [(a["value"], a["effective_from"], a["in_force"]) for a in cpu] == [
        (2.0, None, False),
        (4.0, "2026-03-10T08:30:00Z", True),
    ]
    unknown = capplan("allocations", "--service", "nope", config=after, expect=2).output
    assert "--service: no allocation recorded for 'nope'" in unknown


AS_OF = "2026-06-01T00:00:00Z"
CHANGE = pd.Timestamp("2026-05-10", tz="UTC")


def test_rightsize_compares_with_the_allocation_in_force(
    capplan: Capplan, tmp_path: Path, database_url: str
) -> None:
    engine = open_store(database_url)
    before_path, before = configs(tmp_path, 2)
    after_path, after = configs(tmp_path, 4)
    # Backend runs at 78 % CPU throughout; from 10 May that is 78 % of 4 cores.
    index = pd.date_range("2026-04-01T00:00Z", AS_OF, freq="5min", inclusive="left")
    values = 78.0 + np.random.default_rng(3).normal(0, 1.0, len(index))
    frame = pd.DataFrame(
        {"timestamp": index, "service": "backend", "metric": "cpu_percent", "value": values}
    )
    store_frame(engine, before, frame[index < CHANGE], now=at("2026-04-01T00:00Z"))
    store_frame(engine, after, frame[index >= CHANGE], now=at("2026-05-10T00:00Z"))

    def backend_cpu(as_of: str) -> dict[str, Any]:
        out = capplan("rightsize", "--as-of", as_of, "--format", "json", config=after_path)
        by_key = {
            (r["service"], r["resource"]): r for r in json.loads(out.output)["recommendations"]
        }
        return by_key[("backend", "cpu")]  # type: ignore[no-any-return]

    now = backend_cpu(AS_OF)
    assert now["current"] == 4
    # 78 % of 4 cores per replica is 3.1 cores: over the 70 % warning, not a saving.
    assert now["action"] == "increase" and now["recommended"] > 4
    # Sized as of 9 May, the 2-core allocation was in force.
    assert backend_cpu("2026-05-09T00:00:00Z")["current"] == 2
    assert before_path.exists()


def test_a_report_sizes_against_the_allocation_of_its_period(
    database_url: str, tmp_path: Path
) -> None:
    from jobs.reports.context import _rightsizing

    engine = open_store(database_url)
    _, before = configs(tmp_path, 2)
    _, after = configs(tmp_path, 4)
    index = pd.date_range("2026-04-01T00:00Z", AS_OF, freq="5min", inclusive="left")
    frame = pd.DataFrame(
        {"timestamp": index, "service": "backend", "metric": "cpu_percent", "value": 50.0}
    )
    store_frame(engine, before, frame, now=at("2026-04-01T00:00Z"))
    sync_from_config(engine, after, at("2026-06-15T00:00Z"))
    # The May report, rendered after the edit, shows what was allocated in May.
    recommendations, _ = _rightsizing(engine, after, at(AS_OF))
    (cpu,) = [r for r in recommendations if (r.service, r.resource) == ("backend", "cpu")]
    assert cpu.current == 2

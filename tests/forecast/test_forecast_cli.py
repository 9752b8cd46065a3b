"""capplan forecast over stored series: scenario maths, storage, failures, executors."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.types import ModelSettings
from jobs.config import Config
from jobs.ingest import store_frame
from jobs.store import open_store
from tests.conftest import Capplan

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

AS_OF = pd.Timestamp("2026-07-01", tz="UTC")


def flat_cpu(days: int = 90, level: float = 40.0) -> pd.DataFrame:
    """5-minute CPU with a daily cycle whose 10-minute sustained daily peak stays at ``level``."""
    index = pd.date_range(AS_OF - pd.Timedelta(days=days), AS_OF, freq="5min", inclusive="left")
    hour = index.hour + index.minute / 60
    values = level - 15 * (1 - np.cos((hour - 14) / 24 * 2 * np.pi)) / 2
    noise = np.random.default_rng(0).normal(0, 0.05, len(index))
    return pd.DataFrame(
        {"timestamp": index, "service": "backend", "metric": "cpu_percent", "value": values + noise}
    )


def store(database_url: str, config: Config, *frames: pd.DataFrame) -> None:
    store_frame(open_store(database_url), config, pd.concat(frames, ignore_index=True))


def forecast_json(capplan: Capplan, *extra: str) -> dict:  # type: ignore[type-arg]
    out = capplan("forecast", "--as-of", AS_OF.isoformat(), "--format", "json", *extra).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def test_flat_forty_percent_crosses_seventy_on_schedule(
    capplan: Capplan, database_url: str, config: Config
) -> None:
    store(database_url, config, flat_cpu())
    payload = forecast_json(capplan, "--workers", "1")
    assert payload["as_of"].startswith("2026-07-01")
    rows = {(r["level"], r["scenario"]): r for r in payload["rows"]}
    assert set(rows) == {
        (level, s)
        for level in ("warning", "critical")
        for s in ("organic", "conservative", "moderate", "aggressive")
    }
    for name, growth in config.scenarios.items():
        for level, threshold in (("warning", 70.0), ("critical", 85.0)):
            years = math.log(threshold / 40.0) / math.log(1 + growth)
            if years * 365.25 > config.forecast.horizon_years * 365.25:
                continue
            expected = AS_OF.date() + timedelta(days=years * 365.25)
            row = rows[(level, name)]
            got = date.fromisoformat(row["expected"])
            assert abs((got - expected).days) <= 2, (name, level, got, expected)
            assert row["runway_days"] == (got - AS_OF.date()).days
            assert row["earliest"] <= row["expected"] <= row["latest"]
    assert set(payload["rows"][0]) == {
        "service",
        "metric",
        "level",
        "threshold",
        "duration_minutes",
        "scenario",
        "expected",
        "earliest",
        "latest",
        "runway_days",
    }


def test_forecasts_are_stored_with_their_settings(
    capplan: Capplan, database_url: str, config: Config
) -> None:
    store(database_url, config, flat_cpu(days=60))
    first = forecast_json(capplan, "--workers", "1")
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        (runs,) = db.execute("SELECT COUNT(*) FROM forecast_runs").fetchone()
        crossings = db.execute("SELECT COUNT(*) FROM forecast_crossings").fetchone()[0]
        settings = [json.loads(s) for (s,) in db.execute("SELECT settings FROM forecast_models")]
        points = db.execute("SELECT COUNT(*) FROM forecast_points").fetchone()[0]
    assert runs == 1 and crossings == len(first["rows"]) == 8
    assert len(settings) == 2  # one model per threshold window (10 and 5 minutes)
    assert all(isinstance(ModelSettings.from_dict(s), ModelSettings) for s in settings)
    assert points > 0
    # Same data, same config: the same dates (fixed seeds).
    assert forecast_json(capplan, "--workers", "1", "--no-store") == first


def test_the_windows_of_a_series_are_validated_once(
    capplan: Capplan, database_url: str, config: Config
) -> None:
    # The 10- and 5-minute sustained peaks of one series are near-identical:
    # settings validated on the longer window are reused for the shorter one.
    store(database_url, config, flat_cpu(days=60))
    forecast_json(capplan, "--workers", "1")
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        models = {
            window: (json.loads(validation), json.loads(settings))
            for window, validation, settings in db.execute(
                "SELECT duration_minutes, validation, settings FROM forecast_models"
            )
        }
    assert set(models) == {10, 5}
    assert models[10][0] and models[5][0] == {}
    assert models[5][1] == models[10][1]


def test_one_bad_series_is_reported_and_the_rest_go_on(
    capplan: Capplan, database_url: str, config: Config
) -> None:
    short = flat_cpu(days=2).assign(service="frontend")
    store(database_url, config, flat_cpu(days=60), short)
    result = capplan("forecast", "--as-of", AS_OF.isoformat(), "--format", "json", "--workers", "1")
    assert "warning: frontend/cpu_percent" in result.stderr
    assert "history" in result.stderr
    services = {r["service"] for r in json.loads(result.stdout)["rows"]}
    assert services == {"backend"}


def test_every_series_failing_exits_non_zero(
    capplan: Capplan, database_url: str, config: Config
) -> None:
    store(database_url, config, flat_cpu(days=2))
    result = capplan("forecast", "--as-of", AS_OF.isoformat(), "--workers", "1", expect=1)
    assert "every series failed" in result.output
    assert "Traceback" not in result.output


def test_no_stored_series_is_a_clear_error(capplan: Capplan) -> None:
    result = capplan("forecast", expect=2)
    assert "no stored series" in result.output


def test_threshold_already_exceeded_says_so(
    capplan: Capplan, database_url: str, config: Config
) -> None:
    store(database_url, config, flat_cpu(days=60, level=90.0))
    out = capplan("forecast", "--as-of", AS_OF.isoformat(), "--workers", "1").stdout
    assert "0 (exceeded now)" in out
    payload = forecast_json(capplan, "--workers", "1", "--no-store")
    warning = [r for r in payload["rows"] if r["level"] == "warning"]
    assert {r["runway_days"] for r in warning} == {0}


def test_library_chatter_stays_off_the_terminal(
    capplan: Capplan, database_url: str, config: Config
) -> None:
    store(database_url, config, flat_cpu(days=60))
    result = capplan("forecast", "--as-of", AS_OF.isoformat(), "--workers", "1")
    assert "cmdstanpy" not in result.output and "INFO" not in result.output


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    ) as cluster:
        yield cluster.scheduler_address


def test_process_pool_and_dask_give_the_same_answer(
    capplan: Capplan, database_url: str, config: Config, dask_scheduler: str
) -> None:
    store(database_url, config, flat_cpu(days=60), flat_cpu(days=60).assign(service="frontend"))
    serial = forecast_json(capplan, "--workers", "1", "--no-store")
    pooled = forecast_json(capplan, "--workers", "2", "--no-store")
    dask = forecast_json(capplan, "--executor", "dask", "--scheduler", dask_scheduler, "--no-store")
    assert serial == pooled == dask
    assert {r["service"] for r in dask["rows"]} == {"backend", "frontend"}


def test_dask_without_scheduler_is_a_clear_error(
    capplan: Capplan, database_url: str, config: Config
) -> None:
    store(database_url, config, flat_cpu(days=60))
    result = capplan("forecast", "--executor", "dask", expect=1)
    assert "--scheduler" in result.output


def test_csv_mode_json(capplan: Capplan, tmp_path: Path) -> None:
    days = pd.date_range("2026-01-01", periods=120, freq="D", tz="UTC")
    values = 40 * 1.5 ** (np.arange(120) / 365.25) + np.random.default_rng(1).normal(0, 0.2, 120)
    path = tmp_path / "series.csv"
    pd.DataFrame({"when": days.strftime("%Y-%m-%d"), "cpu": values}).to_csv(path, index=False)
    out = capplan(
        "forecast",
        "--csv",
        str(path),
        "--timestamp-column",
        "when",
        "--value-column",
        "cpu",
        "--threshold",
        "45",
        "--as-of",
        "2026-05-01",
        "--horizon-days",
        "400",
        "--format",
        "json",
    ).stdout
    payload = json.loads(out)
    assert payload["threshold"] == 45 and payload["horizon_end"] == "2027-06-05"
    assert [c["scenario"] for c in payload["crossings"]] == [
        "organic",
        "conservative",
        "moderate",
        "aggressive",
    ]
    moderate = next(c for c in payload["crossings"] if c["scenario"] == "moderate")
    assert moderate["expected"] is not None


def test_csv_mode_bad_input(capplan: Capplan, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("ts,value\n2026-01-01,1\nnot-a-date,2\n2026-01-03,x\n")
    out = capplan(
        "forecast", "--csv", str(path), "--timestamp-column", "ts", "--threshold", "5", expect=2
    ).output
    assert "line 3: timestamp 'not-a-date'" in out and "line 4: value 'x'" in out
    good = tmp_path / "good.csv"
    days = pd.date_range("2026-01-01", periods=30, freq="D")
    pd.DataFrame({"timestamp": days, "value": np.linspace(1, 2, 30)}).to_csv(good, index=False)
    early = capplan(
        "forecast", "--csv", str(good), "--threshold", "5", "--as-of", "2025-01-01", expect=2
    ).output
    assert "Traceback" not in early and "as-of" in early.lower()
    short = capplan(
        "forecast", "--csv", str(good), "--threshold", "5", "--as-of", "2026-01-05", expect=2
    ).output
    assert "history" in short.lower()


def test_csv_mode_constant_series_follows_the_growth_formula(
    capplan: Capplan, tmp_path: Path
) -> None:
    days = pd.date_range("2026-01-01", periods=90, freq="D")
    path = tmp_path / "flat.csv"
    pd.DataFrame({"timestamp": days.strftime("%Y-%m-%d"), "value": 40.0}).to_csv(path, index=False)
    payload = json.loads(
        capplan(
            "forecast",
            "--csv",
            str(path),
            "--threshold",
            "70",
            "--as-of",
            "2026-04-01",
            "--format",
            "json",
        ).stdout
    )
    crossings = {c["scenario"]: c for c in payload["crossings"]}
    assert crossings["organic"]["expected"] is None
    years = math.log(70 / 40) / math.log(1.5)
    want = date(2026, 4, 1) + timedelta(days=years * 365.25)
    got = date.fromisoformat(crossings["moderate"]["expected"])
    assert abs((got - want).days) <= 1


def test_constant_stored_series_is_forecast_with_a_note(
    capplan: Capplan, database_url: str, config: Config
) -> None:
    index = pd.date_range(AS_OF - pd.Timedelta(days=30), AS_OF, freq="5min", inclusive="left")
    flat = pd.DataFrame(
        {"timestamp": index, "service": "backend", "metric": "cpu_percent", "value": 40.0}
    )
    store(database_url, config, flat)
    result = capplan("forecast", "--as-of", AS_OF.isoformat(), "--format", "json", "--workers", "1")
    assert "note: backend/cpu_percent" in result.stderr and "constant (40)" in result.stderr
    rows = {(r["level"], r["scenario"]): r for r in json.loads(result.stdout)["rows"]}
    years = math.log(70 / 40) / math.log(1.5)
    want = AS_OF.date() + timedelta(days=years * 365.25)
    got = date.fromisoformat(rows[("warning", "moderate")]["expected"])
    assert abs((got - want).days) <= 1


def test_csv_mode_judges_the_range_on_history_only(
    capplan: Capplan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before as-of the series stays within 0..100; afterwards it leaves that range.
    # Only the history may decide that this is a bounded percentage.
    from forecasting.engine import forecast_series as real

    seen: list[object] = []

    def recording(*args: object, **kwargs: object) -> object:
        seen.append(kwargs["bounds"])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("jobs.forecast.adhoc.forecast_series", recording)
    days = pd.date_range("2026-01-01", periods=200, freq="D")
    rng = np.random.default_rng(2)
    values = np.concatenate([np.linspace(50, 90, 100), np.linspace(90, 200, 100)])
    path = tmp_path / "leaves.csv"
    pd.DataFrame(
        {"timestamp": days.strftime("%Y-%m-%d"), "value": values + rng.normal(0, 0.5, 200)}
    ).to_csv(path, index=False)
    capplan("forecast", "--csv", str(path), "--threshold", "95", "--as-of", "2026-04-11")
    assert seen == [(0.0, 100.0)]


def test_csv_mode_noise_free_line_is_forecast(capplan: Capplan, tmp_path: Path) -> None:
    # A perfectly straight history makes L-BFGS's line search fail in some fits;
    # the fit falls back to other methods instead of crashing.
    days = pd.date_range("2026-01-01", periods=100, freq="D")
    path = tmp_path / "line.csv"
    pd.DataFrame(
        {"timestamp": days.strftime("%Y-%m-%d"), "value": np.linspace(50, 90, 100)}
    ).to_csv(path, index=False)
    out = capplan("forecast", "--csv", str(path), "--threshold", "95", "--format", "json").stdout
    organic = json.loads(out)["crossings"][0]
    assert organic["scenario"] == "organic"
    assert organic["expected"] is not None


def test_an_unexpected_error_in_one_series_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs.forecast.fleet import ForecastTask, SeriesFailure, run_task

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("optimiser exploded")

    monkeypatch.setattr("forecasting.engine.forecast_series", broken)
    task = ForecastTask(
        series_id=1,
        service="backend",
        metric="cpu_percent",
        duration_minutes=10,
        history=pd.Series(dtype="float64"),
        thresholds=(),
        scenarios=(),
        as_of=AS_OF,
        horizon_days=10,
        kind="load",
        bounds=(0.0, 100.0),
        seed=0,
        settings=None,
    )
    outcome = run_task(task)
    assert isinstance(outcome, SeriesFailure)
    assert outcome.error == "RuntimeError: optimiser exploded"


def test_csv_mode_refuses_a_repeated_column_and_cuts_long_values(
    capplan: Capplan, tmp_path: Path
) -> None:
    twice = tmp_path / "twice.csv"
    twice.write_text("timestamp,value,value\n2026-01-01,1,9\n2026-01-02,2,9\n")
    out = capplan("forecast", "--csv", str(twice), "--threshold", "5", expect=2).output
    assert "line 1: column 'value' appears 2 times" in out
    long = tmp_path / "long.csv"
    long.write_text(f"timestamp,value\n2026-01-01,{'x' * 1_000_000}\n")
    out = capplan("forecast", "--csv", str(long), "--threshold", "5", expect=2).output
    assert "line 2: value 'xxx" in out and "(1,000,000 characters)" in out
    assert len(out) < 1000


def test_csv_mode_reads_nan_null_and_empty_as_missing(capplan: Capplan, tmp_path: Path) -> None:
    days = pd.date_range("2026-01-01", periods=60, freq="D")
    values = [f"{v:.3f}" for v in np.linspace(40, 60, 60)]
    for i, missing in zip((5, 17, 29, 41), ("nan", "NaN", "null", ""), strict=True):
        values[i] = missing
    path = tmp_path / "gaps.csv"
    pd.DataFrame({"timestamp": days.strftime("%Y-%m-%d"), "value": values}).to_csv(
        path, index=False
    )
    out = capplan("forecast", "--csv", str(path), "--threshold", "70", "--format", "json").stdout
    organic = json.loads(out)["crossings"][0]
    assert organic["scenario"] == "organic" and organic["expected"] is not None


def five_minute_trace(tmp_path: Path, days: float) -> Path:
    end = pd.Timestamp("2026-03-01", tz="UTC")
    index = pd.date_range(end - pd.Timedelta(days=days), end, freq="5min", inclusive="left")
    t = (index - index[0]) / pd.Timedelta(days=1)
    rng = np.random.default_rng(7)
    values = 30 + 1.5 * np.asarray(t) + rng.normal(0, 1.0, len(index))
    path = tmp_path / "trace.csv"
    pd.DataFrame({"timestamp": index.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": values}).to_csv(
        path, index=False
    )
    return path


def test_csv_mode_forecasts_a_short_five_minute_trace_with_a_note(
    capplan: Capplan, tmp_path: Path
) -> None:
    path = five_minute_trace(tmp_path, 6)
    args = ("forecast", "--csv", str(path), "--aggregate", "daily-mean", "--threshold", "45")
    payload = json.loads(capplan(*args, "--format", "json").stdout)
    assert any("short history" in note for note in payload["notes"])
    organic = payload["crossings"][0]
    assert organic["expected"] is not None and organic["earliest"] is not None
    table = capplan(*args)
    assert "note: short history" in table.stderr


def test_csv_mode_too_short_trace_names_what_is_missing(capplan: Capplan, tmp_path: Path) -> None:
    path = five_minute_trace(tmp_path, 1.5)
    out = capplan(
        "forecast", "--csv", str(path), "--aggregate", "daily-mean", "--threshold", "45", expect=2
    ).output
    assert "Traceback" not in out
    assert "2 days of sub-daily samples" in out


def test_csv_weekly_mean_weeks_start_on_monday_and_carry_its_date() -> None:
    from jobs.ingest.sources.series_csv import aggregate

    days = pd.date_range("2026-01-05", periods=14, freq="D", tz="UTC")  # Monday
    weekly = aggregate(pd.Series(np.arange(14.0), index=days), "weekly-mean")
    assert [t.strftime("%Y-%m-%d") for t in weekly.index] == ["2026-01-05", "2026-01-12"]
    assert list(weekly) == [3.0, 10.0]

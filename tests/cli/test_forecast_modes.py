"""``capplan forecast`` has two modes: the stored fleet, or one CSV with --csv."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Capplan


def test_csv_mode_needs_a_threshold(capplan: Capplan, tmp_path: Path) -> None:
    path = tmp_path / "series.csv"
    path.write_text("timestamp,value\n2026-01-01,1\n")
    result = capplan("forecast", "--csv", str(path), expect=2)
    assert "Error: --csv needs --threshold X" in result.output
    assert not (tmp_path / "capplan.db").exists()


def test_csv_mode_leaves_the_store_alone(
    capplan: Capplan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def forecast_csv(path: Path, **kwargs: Any) -> dict[str, Any]:
        seen.update(kwargs, path=path)
        return {"notes": ["a note"], "crossings": []}

    monkeypatch.setattr("jobs.forecast.adhoc.forecast_csv", forecast_csv)
    path = tmp_path / "series.csv"
    out = capplan(
        "forecast", "--csv", str(path), "--threshold", "80", "--horizon-days", "30",
        "--format", "json", "--service", "ignored", "--workers", "1",
    ).stdout  # fmt: skip
    assert json.loads(out) == {"notes": ["a note"], "crossings": []}
    assert (seen["path"], seen["threshold"], seen["horizon_days"]) == (path, 80.0, 30)
    assert (seen["how"], seen["as_of"], seen["upper_bound"]) == ("none", None, None)
    assert not (tmp_path / "capplan.db").exists()


def test_without_csv_the_stored_fleet_is_forecast(capplan: Capplan, tmp_path: Path) -> None:
    # --threshold belongs to CSV mode; without --csv it is ignored, as it always was.
    result = capplan("forecast", "--threshold", "80", expect=2)
    assert result.output == (
        "Error: no stored series with thresholds to forecast; ingest data first (capplan ingest)\n"
    )
    assert (tmp_path / "capplan.db").exists()

"""Same data and configuration give the same PDF bytes, and data after the period's end
changes nothing (the report is computed as of the end)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobs.config import runbook_config
from jobs.forecast.fleet import previous_settings, store_forecast
from jobs.ingest import store_frame
from jobs.ingest.sources.sample import sample_history
from jobs.periods import parse_period
from jobs.reports import build_report
from jobs.reports.context import build_context
from jobs.reports.render import render_pdf
from jobs.store import open_store
from tests.conftest import Capplan
from tests.report_support import END, copy_store, shapes, shared_store

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow


def test_rendering_twice_gives_the_same_bytes() -> None:
    shared = shared_store()
    context = build_context(
        shared.engine, runbook_config(), parse_period("annual", "2025"), fleet=shared.fleet
    )
    first = render_pdf(context)
    assert render_pdf(context) == first
    assert first.startswith(b"%PDF-")


def test_data_after_the_period_end_changes_nothing(tmp_path: Path) -> None:
    """Two full builds (forecast included): before and after storing 10 more days."""
    config = runbook_config()
    period = parse_period("monthly", "2025-12")
    engine = open_store(copy_store(shared_store(), tmp_path))
    before = build_report(engine, config, period, workers=1)
    later = sample_history(END + timedelta(days=10), days=10, seed=7, shapes=shapes())
    later["value"] = later["value"] * 1.5  # a jump the December report must not see
    store_frame(engine, config, later)
    after = build_report(engine, config, period, workers=1)
    assert after.pdf == before.pdf
    assert after.summary_text == before.summary_text


def test_a_later_forecast_as_of_an_earlier_date_changes_nothing(tmp_path: Path) -> None:
    """Only forecasts recorded before the period's end may warm-start its report."""
    config = runbook_config()
    period = parse_period("monthly", "2025-12")
    url = copy_store(shared_store(), tmp_path)
    engine = open_store(url)
    before = build_report(engine, config, period, workers=1)
    earlier = (END - timedelta(days=3)).isoformat()
    Capplan(url)("forecast", "--as-of", earlier, "--workers", "1")
    after = build_report(engine, config, period, workers=1)
    assert after.pdf == before.pdf
    assert after.summary_text == before.summary_text


def test_warm_start_reuses_only_runs_recorded_before_the_as_of(tmp_path: Path) -> None:
    config = runbook_config()
    engine = open_store(copy_store(shared_store(), tmp_path))
    fleet = shared_store().fleet
    recorded = datetime.now(UTC)
    run_as_of = recorded - timedelta(days=2)
    store_forecast(engine, config, replace(fleet, as_of=run_as_of))
    settings = previous_settings(engine, recorded + timedelta(seconds=2))
    assert settings == {
        (r.series_id, r.duration_minutes): r.forecast.settings for r in fleet.series
    }
    assert previous_settings(engine, run_as_of + timedelta(hours=1)) == {}

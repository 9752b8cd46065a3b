"""The pure section computations: traffic lights, growth alerts, threshold review,
disaster recovery, performance-results parsing and the actions to take first."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from jobs.config import runbook_config
from jobs.forecast.fleet import forecast_fleet
from jobs.ingest import store_frame
from jobs.ingest.sources.sample import SeriesShape, sample_history
from jobs.periods import parse_period
from jobs.reports import sections
from jobs.reports.context import build_context
from jobs.reports.model import RunwayRow, runway_light
from jobs.store import open_store

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow


def row(
    days: int | None,
    *,
    scenario: str = "moderate",
    level: str = "warning",
    exceeded: bool = False,
    service: str = "backend",
    metric: str = "cpu_percent",
) -> RunwayRow:
    expected = None if days is None else date(2026, 1, 1) + pd.Timedelta(days=days).to_pytimedelta()
    return RunwayRow(
        service=service,
        metric=metric,
        level=level,
        threshold=70.0,
        duration_minutes=10,
        scenario=scenario,
        expected=expected,
        earliest=expected,
        latest=expected,
        runway_days=days,
        already_exceeded=exceeded,
        unit="%",
    )


@pytest.mark.parametrize(
    ("days", "exceeded", "light"),
    [
        (0, True, "red"),
        (0, False, "red"),
        (89, False, "red"),
        (90, False, "amber"),
        (179, False, "amber"),
        (180, False, "green"),
        (None, False, "green"),
    ],
)
def test_runway_lights(days: int | None, exceeded: bool, light: str) -> None:
    assert runway_light(days, exceeded) == light


def test_light_grid_takes_the_shortest_runway_of_the_planning_scenario() -> None:
    rows = [row(400), row(100, level="critical"), row(20, scenario="aggressive")]
    grid = sections.light_grid(rows, "moderate")
    ((service, (cell,)),) = grid.rows
    assert service == "backend" and grid.metrics == ("cpu_percent",)
    assert cell is not None and cell.runway_days == 100 and cell.light == "amber"


def test_growth_alert_fires_on_a_week_over_week_rise() -> None:
    days = pd.date_range("2025-11-01", "2025-12-31", freq="D", tz="UTC")
    flat = pd.Series(50.0, index=days)
    rising = flat.copy()
    rising[rising.index >= "2025-12-15"] = 62.0  # +24 %
    alerts = sections.increase_alerts(
        {("a", "cpu_percent"): flat, ("b", "cpu_percent"): rising},
        pd.Timestamp("2025-12-01", tz="UTC"),
        pd.Timestamp("2026-01-01", tz="UTC"),
        20.0,
        7,
    )
    assert [(a.service, a.kind) for a in alerts] == [("b", "increase")]
    assert "up 24 %" in alerts[0].detail


def test_threshold_alerts_list_only_the_near_ones() -> None:
    alerts = sections.threshold_alerts(
        [row(100), row(200, level="critical"), row(0, exceeded=True, service="db")], "moderate"
    )
    assert [(a.service, a.light) for a in alerts] == [("backend", "amber"), ("db", "red")]
    assert "already exceeded" in alerts[1].detail


def test_organic_only_metrics_alert_light_and_act_the_same_way() -> None:
    """Latency and error rate are forecast under the organic scenario only."""
    rows = [
        row(400),
        row(500, scenario="organic"),
        row(40, scenario="organic", metric="response_time_p95_ms"),
        row(0, scenario="organic", exceeded=True, metric="error_rate_percent", service="api"),
    ]
    alerts = sections.threshold_alerts(rows, "moderate")
    grid = sections.light_grid(rows, "moderate")
    lit = {
        (service, metric): cell.light
        for service, cells in grid.rows
        for metric, cell in zip(grid.metrics, cells, strict=True)
        if cell is not None and cell.light != "green"
    }
    assert (
        {(a.service, a.metric): a.light for a in alerts}
        == lit
        == {
            ("backend", "response_time_p95_ms"): "red",
            ("api", "error_rate_percent"): "red",
        }
    )
    assert "(organic scenario)" in next(a.detail for a in alerts if a.service == "backend")
    actions = sections.top_actions(rows, "moderate", (), (), (), "USD")
    assert [a.title for a in actions] == [
        "api: error_rate_percent warning threshold",
        "backend: response_time_p95_ms warning threshold",
    ]


def test_threshold_review_counts_hours_and_breaches() -> None:
    index = pd.date_range("2025-10-01", periods=10, freq="h", tz="UTC")
    values = pd.Series([50, 75, 80, 60, 71, 50, 50, 90, 91, 92], index=index, dtype=float)
    values = values.drop(index[8])  # a missing hour splits a run
    review = sections.threshold_review_row("s", "cpu_percent", "%", "warning", 70.0, 10, values)
    assert review.hours_observed == 9
    assert review.hours_over == 5
    assert review.breaches == 4
    assert review.longest_hours == 2
    assert review.peak == 92.0
    assert review.percent_over == pytest.approx(100 * 5 / 9)


def test_disaster_recovery_uses_n_over_n_minus_one() -> None:
    assert sections.dr_row("s", "cpu_percent", 2, 40.0, 85.0).after_loss == 80.0
    assert sections.dr_row("s", "cpu_percent", 2, 40.0, 85.0).ok
    assert not sections.dr_row("s", "cpu_percent", 3, 60.0, 85.0).ok  # 90 %
    single = sections.dr_row("s", "cpu_percent", 1, 10.0, 85.0)
    assert single.after_loss is None and not single.ok


RUNBOOK_RESULTS = """
Test Configuration: {Duration: 5 minutes, Concurrent Users: 100, Target RPS: 200}
Results:
  Actual RPS: 150
  Response Times: {50th: 150ms, 95th: 1.2s, 99th: 2s}
  Error Rate: 0.2%
Resource Usage: {CPU: 65%, Memory: 85%, Network: 15%}
"""


def test_performance_results_are_checked_against_the_warnings() -> None:
    thresholds = {
        "cpu_percent": (70.0, 85.0),
        "memory_percent": (80.0, 90.0),
        "response_time_p95_ms": (1000.0, 3000.0),
        "error_rate_percent": (2.0, 5.0),
    }
    result = sections.parse_performance(yaml.safe_load(RUNBOOK_RESULTS), "r.yaml", thresholds)
    verdicts = {c.name: c.ok for c in result.checks}
    assert verdicts == {
        "Throughput (share of target)": False,
        "CPU under the warning threshold": True,
        "Memory under the warning threshold": False,
        "Response time p95 under the warning threshold": False,
        "Error rate under the warning threshold": True,
    }
    assert ("Response time p95", "1,200 ms") in result.results
    assert result.bottlenecks == ()


def test_actions_put_the_most_urgent_first_and_stop_at_three() -> None:
    rows = [
        row(30, service="a"),
        row(120, service="b"),
        row(0, exceeded=True, service="c"),
        row(150, service="d"),
        row(500, service="e"),
    ]
    actions = sections.top_actions(rows, "moderate", (), (), (), "USD")
    assert [a.title.split(":")[0] for a in actions] == ["c", "a", "b"]
    assert [a.light for a in actions] == ["red", "red", "amber"]
    assert sections.top_actions([row(500)], "moderate", (), (), (), "USD") == ()


def test_seasonal_profile_finds_the_busy_hour() -> None:
    index = pd.date_range("2025-12-01", periods=24 * 14, freq="h", tz="UTC")
    values = pd.Series(50 + 10 * np.sin((index.hour - 8) / 24 * 2 * np.pi), index=index)
    profile = sections.seasonal_profile("s", "cpu_percent", "%", values)
    assert profile is not None
    assert profile.peak_hour == 14 and profile.trough_hour == 2
    assert len(profile.hourly) == 24 and len(profile.weekly) == 7


def test_a_latency_runway_is_alerted_like_its_light(tmp_path: Path) -> None:
    """From stored data: latency has organic rows only, and still alerts and acts."""
    config = runbook_config()
    engine = open_store(f"sqlite:///{tmp_path / 'latency.db'}")
    end = datetime(2026, 1, 1, tzinfo=UTC)
    shape = SeriesShape("backend", "response_time_p95_ms", 900.0, 1.5, 0.1, 0.05, 10.0)
    store_frame(engine, config, sample_history(end, days=100, seed=3, shapes=(shape,)))
    period = parse_period("monthly", "2025-12")
    fleet = forecast_fleet(engine, config, period.end, workers=1, store=False)
    context = build_context(engine, config, period, fleet=fleet)

    assert {r.scenario for r in context.runway} == {"organic"}
    ((service, (cell,)),) = context.lights.rows
    assert service == "backend"
    assert cell is not None and cell.light != "green", cell
    alerts = [a for a in context.alerts if a.kind == "threshold"]
    assert {(a.service, a.metric) for a in alerts} == {("backend", "response_time_p95_ms")}
    assert min(a.sort_days for a in alerts) == (0 if cell.already_exceeded else cell.runway_days)
    assert context.actions and context.actions[0].title.startswith("backend: response_time")

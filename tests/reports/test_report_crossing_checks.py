"""Growth versus projections: crossings forecast for a period against those that happened."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from jobs.forecast.fleet import ForecastRow
from jobs.reports.sections.forecast_accuracy import crossing_checks

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

START, END = date(2026, 10, 1), date(2026, 11, 1)


def row(
    level: str,
    threshold: float,
    expected: date | None,
    scenario: str = "moderate",
    *,
    exceeded: bool = False,
) -> ForecastRow:
    return ForecastRow(
        "api", "cpu_percent", level, threshold, 10, scenario, expected, None, None, None, exceeded
    )


def peaks(values: list[float]) -> dict[tuple[str, str, int], pd.Series]:
    index = pd.date_range("2026-10-01", periods=len(values), freq="D", tz="UTC")
    return {("api", "cpu_percent", 10): pd.Series(values, index=index)}


def test_earlier_later_missed_and_unforecast_crossings() -> None:
    actual = peaks([60, 65, 72, 74, 80, 91, 70])  # 70 crossed on the 3rd, 90 on the 6th
    runway = [
        row("warning", 70, date(2026, 10, 10)),  # crossed 7 days earlier than forecast
        row("critical", 90, None),  # crossed, never forecast
        row("warning", 70, date(2026, 10, 2), scenario="aggressive"),  # not the planning scenario
    ]
    checks = {c.level: c for c in crossing_checks(runway, actual, START, END, "moderate")}
    assert checks["warning"].actual == date(2026, 10, 3)
    assert checks["warning"].verdict == "7 days earlier than forecast"
    assert checks["critical"].verdict == "crossed, not forecast within the horizon"
    assert len(checks) == 2


def test_forecast_crossing_that_did_not_happen_and_quiet_periods() -> None:
    actual = peaks([50, 52, 51])
    forecast = crossing_checks(
        [row("warning", 70, date(2026, 10, 20))], actual, START, END, "moderate"
    )
    assert [c.verdict for c in forecast] == ["forecast, did not cross"]
    later = crossing_checks([row("warning", 70, date(2027, 1, 20))], actual, START, END, "moderate")
    assert later == ()
    exceeded = crossing_checks(
        [row("warning", 40, None, exceeded=True)], actual, START, END, "moderate"
    )
    assert exceeded == ()


def test_organic_only_metrics_use_the_organic_forecast() -> None:
    actual = peaks([60, 75])
    checks = crossing_checks(
        [row("warning", 70, date(2026, 10, 1), scenario="organic")], actual, START, END, "moderate"
    )
    assert [(c.scenario, c.verdict) for c in checks] == [("organic", "1 day later than forecast")]

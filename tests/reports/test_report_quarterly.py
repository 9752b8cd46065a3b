"""The quarterly report: threshold review, disaster-recovery capacity and the
performance-test results of the runbook's benchmark results format."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jobs.config import runbook_config
from jobs.periods import parse_period
from jobs.reports import build_report, write_report
from jobs.reports.context import PerformanceResultsError
from tests.report_support import page_images, pdftotext, shared_store

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

RESULTS = """\
Test Configuration:
  Duration: 5 minutes
  Concurrent Users: 100
  Target RPS: 200

Results:
  Actual RPS: 195
  Response Times:
    50th: 150ms
    95th: 450ms
    99th: 800ms
  Error Rate: 0.2%

Resource Usage:
  CPU: 65%
  Memory: 72%
  Network: 15%

Bottlenecks:
  - Database connection pool saturation at 85%
  - Memory allocation spikes during peak load
"""


@pytest.fixture(scope="module")
def quarterly(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("quarterly")
    results = folder / "benchmark.yaml"
    results.write_text(RESULTS, encoding="utf-8")
    shared = shared_store()
    report = build_report(
        shared.engine,
        runbook_config(),
        parse_period("quarterly", "2025-Q4"),
        performance_results=results,
        fleet=shared.fleet,
    )
    (pdf,) = write_report(report, folder)
    assert pdf.name == "capacity-quarterly-2025-Q4.pdf"
    page_images(pdf, "quarterly-2025-Q4")
    return pdftotext(pdf)


def test_quarterly_sections(quarterly: str) -> None:
    for title in (
        "Threshold review",
        "Disaster-recovery capacity",
        "Performance-test results",
        "Right-sizing",
        "Runway table",
    ):
        assert title in quarterly
    for item in runbook_config().calendar.quarterly:
        assert item in quarterly
    assert "Quarterly capacity review · 2025-Q4" in quarterly
    assert "Three-year projections" not in quarterly


def test_threshold_review_counts_hours_over(quarterly: str) -> None:
    # 2025-Q4 has 92 days = 2208 hours; the history starts 2025-09-23, so all are covered.
    rows = re.findall(
        r"^\s*(\S+)\s+(cpu_percent|memory_percent|disk_percent)\s+(warning|critical)\s+>.*?"
        r"\s(\d+)\s+(\d+)\s+([\d.]+) ?%\s+(\d+)\s+(\d+) ?h",
        quarterly,
        re.M,
    )
    assert rows
    for _service, _metric, _level, observed, over, share, breaches, longest in rows:
        assert int(observed) == 2208
        assert int(over) <= int(observed)
        assert abs(float(share) - 100 * int(over) / int(observed)) < 0.01
        assert int(breaches) <= int(over)
        assert int(longest) <= int(over)
        assert (int(breaches) == 0) == (int(over) == 0)


def test_disaster_recovery_scales_by_n_over_n_minus_one(quarterly: str) -> None:
    rows = re.findall(
        r"^\s*(backend|frontend)\s+(cpu_percent|memory_percent)\s+(\d+)\s+([\d.]+) ?%\s+"
        r"([\d.]+) ?%\s+([\d.]+) ?%\s+(stays under|would exceed)",
        quarterly,
        re.M,
    )
    assert {(r[0], r[1]) for r in rows} == {
        ("backend", "cpu_percent"),
        ("backend", "memory_percent"),
        ("frontend", "cpu_percent"),
    }
    for _service, _metric, replicas, peak, after, critical, verdict in rows:
        n = int(replicas)
        assert n == 2
        assert abs(float(after) - float(peak) * n / (n - 1)) <= 0.11
        assert (verdict == "stays under") == (float(after) < float(critical))


def test_performance_results_are_shown_and_checked(quarterly: str) -> None:
    assert "Actual requests/s" in quarterly and "195" in quarterly
    assert re.search(r"Throughput \(share of target\)\s+97\.5 %\s+≥ 95 %\s+pass", quarterly)
    assert re.search(r"CPU under the warning threshold\s+65 %\s+< 70 %\s+pass", quarterly)
    assert re.search(
        r"Response time p95 under the warning threshold\s+450 ms\s+< 1,000 ms\s+pass", quarterly
    )
    assert "Database connection pool saturation at 85%" in quarterly


def test_a_bad_results_file_names_each_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        RESULTS.replace("Actual RPS: 195", "Actual RPS: lots").replace("  CPU: 65%\n", ""),
        encoding="utf-8",
    )
    shared = shared_store()
    with pytest.raises(PerformanceResultsError) as caught:
        build_report(
            shared.engine,
            runbook_config(),
            parse_period("quarterly", "2025-Q4"),
            performance_results=bad,
            fleet=shared.fleet,
        )
    message = str(caught.value)
    assert "Results.Actual RPS: not a number with a unit: 'lots'" in message
    assert "Resource Usage.CPU: missing" in message
    assert caught.value.exit_code == 2

"""``capplan report``: writes DIR/capacity-<kind>-<period>.pdf, defaults to the last full
period, and refuses bad periods and bad performance-results files with exit code 2."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import jobs.cli.report as report_module
from jobs.periods import last_full_period
from tests.conftest import Capplan
from tests.report_support import copy_store, pdfinfo, shared_store

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow


@pytest.fixture
def cli(tmp_path: Path) -> Capplan:
    return Capplan(copy_store(shared_store(), tmp_path))


def test_report_writes_the_pdf(cli: Capplan, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = cli("report", "monthly", "--period", "2025-12", "--out", str(out), "--workers", "1")
    pdf = out / "capacity-monthly-2025-12.pdf"
    assert result.output.strip() == str(pdf)
    assert int(pdfinfo(pdf)["Pages"]) > 5


def test_default_period_is_the_last_full_one(
    cli: Capplan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)
    monkeypatch.setattr(report_module, "now_utc", lambda: now)
    assert last_full_period("quarterly", now).label == "2025-Q4"
    out = tmp_path / "q"
    bad = tmp_path / "perf.yaml"
    bad.write_text("Results: {}\n", encoding="utf-8")
    result = cli(
        "report", "quarterly", "--out", str(out), "--performance-results", str(bad), expect=2
    )
    assert "perf.yaml: not in the runbook's benchmark results format" in result.output
    assert "Test Configuration.Duration: missing" in result.output
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    ("kind", "period", "message"),
    [
        ("monthly", "2025-13", "month must be 01 to 12"),
        ("quarterly", "2025-12", "is not a quarterly period"),
        ("annual", "2999", "has not ended yet"),
    ],
)
def test_bad_periods_are_refused(
    cli: Capplan, tmp_path: Path, kind: str, period: str, message: str
) -> None:
    result = cli("report", kind, "--period", period, "--out", str(tmp_path), expect=2)
    assert message in result.output
    assert "Traceback" not in result.output

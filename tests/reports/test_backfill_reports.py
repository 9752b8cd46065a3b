"""capplan backfill --reports: past reports as of each period end, published only when asked."""

from __future__ import annotations

import re
from pathlib import Path

from jobs.config import runbook_config
from tests.conftest import Capplan
from tests.report_support import fill_store, pdftotext


def test_backfill_regenerates_each_period_as_of_its_end(
    capplan: Capplan, database_url: str, tmp_path: Path
) -> None:
    fill_store(database_url, runbook_config()).dispose()
    result = capplan(
        "backfill", "--from", "2025-10-15", "--to", "2026-01-01", "--reports", "monthly"
    )
    assert "No Prometheus source configured" in result.output
    # Every month that ends within the range, each rendered as of its own end.
    staged = sorted(p.relative_to(tmp_path) for p in (tmp_path / "out").rglob("*.pdf"))
    assert staged == [
        Path(f"out/monthly/{month}/capacity-monthly-{month}.pdf")
        for month in ("2025-10", "2025-11", "2025-12")
    ]
    november = pdftotext(tmp_path / staged[1])
    assert "2025-11" in november or "November 2025" in november
    # The backfill stored the forecast as of each month's start, so each report
    # compares what was projected for the month with what happened.
    assert "No forecast was stored before this period began" not in november
    assert "The forecast stored as of 2025-11-01 00:00 UTC" in november
    assert re.search(r"backend\s+cpu_percent \(10[^\n]*moderate\s+\d+\s+[\d.]+", november)
    assert "Peaks: the highest projected median" in november
    assert (
        "Crossings against the forecast" in november
        or "No threshold was forecast to be crossed in this period, and none was." in november
    )


def test_backfill_email_needs_publish(capplan: Capplan) -> None:
    result = capplan(
        "backfill",
        "--from",
        "2025-10-01",
        "--to",
        "2026-01-01",
        "--reports",
        "monthly",
        "--email",
        expect=2,
    )
    assert "--email needs --publish" in result.output


def test_backfill_rejects_unknown_report_kinds(capplan: Capplan) -> None:
    result = capplan(
        "backfill",
        "--from",
        "2025-10-01",
        "--to",
        "2026-01-01",
        "--reports",
        "weekly",
        expect=2,
    )
    assert "unknown report kind(s) weekly" in result.output

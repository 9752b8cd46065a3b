"""capplan backfill --reports: past reports as of each period end, published only when asked."""

from __future__ import annotations

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

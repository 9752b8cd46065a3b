"""The annual report: three-year projections equal to ``capplan plan``, the
infrastructure and budget per year, and the budget CSV embedded in the PDF."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from jobs.config import runbook_config
from jobs.periods import parse_period
from jobs.planning import budget_bytes, build_budget
from jobs.reports import RenderedReport, build_report, write_report
from tests.conftest import Capplan
from tests.report_support import page_images, pdftotext, shared_store

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def annual(tmp_path_factory: pytest.TempPathFactory) -> tuple[RenderedReport, Path, str]:
    shared = shared_store()
    report = build_report(
        shared.engine, runbook_config(), parse_period("annual", "2025"), fleet=shared.fleet
    )
    folder = tmp_path_factory.mktemp("annual")
    written = write_report(report, folder)
    assert [p.name for p in written] == [
        "capacity-annual-2025.pdf",
        "capacity-budget-2026.csv",
        "capacity-budget-2026.xlsx",
    ]
    page_images(written[0], "annual-2025")
    return report, written[0], pdftotext(written[0])


def test_projections_and_infrastructure_equal_capplan_plan(
    annual: tuple[RenderedReport, Path, str], tmp_path: Path
) -> None:
    _, _, text = annual
    plan = json.loads(Capplan(f"sqlite:///{tmp_path / 'p.db'}")("plan", "--format", "json").output)
    section = text[text.index("Infrastructure needed per year") :]
    for scenario in plan["scenarios"]:
        for y in scenario["years"]:
            db = y["database"]
            pattern = (
                rf"{scenario['name']}\s+Year {y['year']}\s+{y['users']}\s+{y['agents']}\s+"
                rf"{y['requests_per_second']}\s+{y['backend_instances']}\s+"
                rf"{db['storage_gb']:.2f}\s+{db['memory_gb']:.2f}\s+{db['max_connections']}\s+"
                rf"{y['redis_memory_gb']:.2f}\s+{y['monthly_cost']:,.2f}"
            )
            assert re.search(pattern, section), pattern
    projections = text[text.index("Three-year projections\n", 2000) :]
    assert re.search(r"conservative · 20 ?% a year", projections)
    # Conservative year 3 is the rule's 864 agents, not the runbook's printed 860.
    assert re.search(r"Year 3\s+86\s+864\s+173", projections)


def test_budget_is_attached_and_summarised(
    annual: tuple[RenderedReport, Path, str], tmp_path: Path
) -> None:
    report, pdf, text = annual
    expected_csv = budget_bytes(
        build_budget(runbook_config(), 2026, report.period.end.date()), "csv"
    )
    listing = subprocess.run(
        ["pdfdetach", "-list", str(pdf)], check=True, capture_output=True, text=True
    ).stdout
    assert "capacity-budget-2026.csv" in listing
    subprocess.run(
        ["pdfdetach", "-saveall", "-o", str(tmp_path), str(pdf)], check=True, capture_output=True
    )
    assert (tmp_path / "capacity-budget-2026.csv").read_bytes() == dict(
        (n, d) for n, d, _ in report.extras
    )["capacity-budget-2026.csv"]
    assert len(expected_csv) > 100
    assert "Budget 2026 per scenario" in text
    assert re.search(r"moderate\s+Year\s+\d+\s+[\d.,]+\s+[\d.,]+\s+[\d.,]+\s+[\d,]+\.\d\d", text)
    for item in runbook_config().calendar.annual:
        assert item in text
    for title in ("Threshold review", "Disaster-recovery capacity", "Infrastructure and budget"):
        assert title in text

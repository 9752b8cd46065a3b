"""The monthly report read back from the PDF: sections, header, page numbers, and the
runway and right-sizing numbers equal to what ``capplan forecast`` and ``rightsize`` print."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from jobs.config import runbook_config
from jobs.periods import parse_period
from jobs.reports import RenderedReport, build_report, write_report
from tests.conftest import Capplan
from tests.report_support import (
    END,
    copy_store,
    page_images,
    pdfinfo,
    pdftotext,
    shared_store,
)

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

ROW = re.compile(
    r"^\s*(?P<service>\S+)\s+(?P<metric>\S+)\s+(?P<level>warning|critical)\s+>\s.*?\s"
    r"(?P<scenario>organic|conservative|moderate|aggressive)\s+"
    r"(?P<expected>\d{4}-\d\d-\d\d|–)\s+(?P<earliest>\d{4}-\d\d-\d\d|–)\s+"
    r"(?P<latest>\d{4}-\d\d-\d\d|–)\s+(?P<runway>\d+ d|beyond horizon|exceeded)\s*$"
)


@pytest.fixture(scope="module")
def monthly(tmp_path_factory: pytest.TempPathFactory) -> tuple[RenderedReport, Path]:
    shared = shared_store()
    report = build_report(
        shared.engine, runbook_config(), parse_period("monthly", "2025-12"), fleet=shared.fleet
    )
    folder = tmp_path_factory.mktemp("monthly")
    (pdf,) = write_report(report, folder)
    page_images(pdf, "monthly-2025-12")
    return report, pdf


def test_file_name_metadata_and_pages(monthly: tuple[RenderedReport, Path]) -> None:
    report, pdf = monthly
    assert pdf.name == "capacity-monthly-2025-12.pdf"
    assert report.extras == ()
    info = pdfinfo(pdf)
    assert info["Title"] == "Monthly capacity review – December 2025"
    assert info["CreationDate"].startswith("Thu Jan  1 00:00:00 2026")
    assert info["ModDate"] == info["CreationDate"]
    pages = int(info["Pages"])
    assert pages >= 8
    # Every page after the cover has the running header and "Page n of N".
    for number in range(2, pages + 1):
        text = pdftotext(pdf, first=number, last=number)
        assert "Monthly capacity review · 2025-12" in text, number
        assert f"Page {number} of {pages}" in text, number
    cover = pdftotext(pdf, first=1, last=1)
    assert "Page 1 of" not in cover
    assert "December 2025" in cover


def test_sections_and_contents(monthly: tuple[RenderedReport, Path]) -> None:
    _, pdf = monthly
    text = pdftotext(pdf)
    contents = pdftotext(pdf, first=2, last=2)
    for title in (
        "Executive summary",
        "Growth alerts",
        "Runway table",
        "Forecast charts",
        "Growth versus projections",
        "Seasonal patterns",
        "Right-sizing",
        "Review checklist",
        "Appendix: method, assumptions and configuration",
    ):
        assert title in text
        # The table of contents names the section with its page number.
        assert re.search(re.escape(title) + r"\s+\d+\s*$", contents, re.M), title
    for absent in ("Threshold review", "Disaster-recovery capacity", "Three-year projections"):
        assert absent not in text
    config = runbook_config()
    for item in config.calendar.monthly:
        assert item in text
    assert "Act on these first" in text
    # The runbook's printed-table discrepancy: conservative year 3 agents 860 vs 864.
    assert re.search(r"conservative\s+Year 3\s+agents\s+860\s+864(\.0+)?\s+864", text)
    # The effective configuration is printed.
    assert "growth_scenario: moderate" in text


def test_runway_table_equals_capplan_forecast(
    monthly: tuple[RenderedReport, Path], tmp_path: Path
) -> None:
    _, pdf = monthly
    shown = [m.groupdict() for line in pdftotext(pdf).splitlines() if (m := ROW.match(line))]
    cli = Capplan(copy_store(shared_store(), tmp_path))
    printed = json.loads(
        cli("forecast", "--as-of", END.isoformat(), "--format", "json", "--workers", "1").output
    )["rows"]
    assert len(shown) == len(printed) > 0

    def key(row: dict[str, object]) -> tuple[str, ...]:
        return tuple(str(row[k]) for k in ("service", "metric", "level", "scenario"))

    expected = {key(r): r for r in printed}
    for row in shown:
        cli_row = expected[key(row)]
        for field in ("expected", "earliest", "latest"):
            assert row[field] == (cli_row[field] or "–"), (row, cli_row)
        days = cli_row["runway_days"]
        if row["runway"] == "exceeded":
            assert days == 0
        elif row["runway"] == "beyond horizon":
            assert days is None
        else:
            assert row["runway"] == f"{days} d", (row, cli_row)


def test_rightsizing_equals_capplan_rightsize(
    monthly: tuple[RenderedReport, Path], tmp_path: Path
) -> None:
    _, pdf = monthly
    cli = Capplan(copy_store(shared_store(), tmp_path))
    printed = json.loads(cli("rightsize", "--as-of", END.isoformat(), "--format", "json").output)[
        "recommendations"
    ]
    assert printed
    text = pdftotext(pdf)
    section = text[text.index("Right-sizing\n", text.index("Seasonal patterns")) :]
    for rec in printed:
        pattern = (
            rf"{re.escape(rec['service'])}\s+{re.escape(rec['resource'])}\s+"
            rf"{rec['current']:g}\s+{rec['recommended']:g}\s+{re.escape(rec['unit'])}\s+"
            rf"{rec['action']}\s+[+−]?{abs(rec['monthly_cost_delta']):,.2f}"
        )
        assert re.search(pattern, section), pattern
    total = sum(r["monthly_cost_delta"] for r in printed)
    assert re.search(rf"Net change of the monthly cost\s+[+−]?{abs(total):,.2f}", section)


def test_growth_versus_previous_projections(monthly: tuple[RenderedReport, Path]) -> None:
    _, pdf = monthly
    text = pdftotext(pdf)
    section = text[text.index("Growth versus projections\n", 2000) :]
    assert "The forecast stored as of 2025-12-01 00:00 UTC" in section
    assert re.search(r"backend\s+cpu_percent \(\d+[^\n]*moderate\s+\d+\s+\d", section)


def test_traffic_lights_follow_the_runway(monthly: tuple[RenderedReport, Path]) -> None:
    shared = shared_store()
    from jobs.reports.context import build_context

    context = build_context(
        shared.engine, runbook_config(), parse_period("monthly", "2025-12"), fleet=shared.fleet
    )
    for service, cells in context.lights.rows:
        for metric, cell in zip(context.lights.metrics, cells, strict=True):
            if cell is None:
                continue
            rows = [
                r
                for r in context.runway
                if (r.service, r.metric, r.scenario) == (service, metric, "moderate")
            ]
            known = [0 if r.already_exceeded else r.runway_days for r in rows]
            shortest = min((d for d in known if d is not None), default=None)
            assert cell.runway_days == shortest or cell.already_exceeded
            expected = (
                "green"
                if shortest is None or shortest >= 180
                else ("amber" if shortest >= 90 else "red")
            )
            assert cell.light == expected
    assert len(context.actions) <= 3
    summary = monthly[0].summary_text
    assert summary.startswith("Monthly capacity review 2025-12")


def test_page_images_for_review(monthly: tuple[RenderedReport, Path]) -> None:
    _, pdf = monthly
    images = page_images(pdf, "monthly-2025-12")
    assert len(images) == int(pdfinfo(pdf)["Pages"])
    assert all(p.stat().st_size > 1000 for p in images)

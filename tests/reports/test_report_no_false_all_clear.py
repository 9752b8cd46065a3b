"""A report never reads as an all-clear when it could not look: series that could not be
forecast, and a period only partly covered by data, are said on page 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.config import runbook_config
from jobs.ingest import store_frame
from jobs.ingest.sources.sample import sample_history
from jobs.periods import parse_period
from jobs.reports import RenderedReport, build_report, write_report
from jobs.reports.model import Failure
from jobs.reports.sections.caveats import forecast_caveat
from jobs.store import open_store
from tests.report_support import END, SERIES, pdftotext, shapes, shared_store

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

FALSE_CALM = (
    "every runway is 180 days or more",
    "no stored series with thresholds",
    "Nothing needs action this period",
)


def flat(text: str) -> str:
    return " ".join(text.split())


def written(report: RenderedReport, folder: Path) -> Path:
    (pdf, *_) = write_report(report, folder)
    return pdf


def test_every_series_failing_is_not_an_all_clear(tmp_path: Path) -> None:
    config = runbook_config()
    engine = open_store(f"sqlite:///{tmp_path / 'short.db'}")
    store_frame(engine, config, sample_history(END, days=3, seed=1, shapes=shapes()))
    report = build_report(engine, config, parse_period("monthly", "2025-12"), workers=1)
    pdf = written(report, tmp_path)

    page_one = flat(pdftotext(pdf, first=1, last=1))
    assert f"none of the {len(SERIES)} series could be forecast" in page_one
    assert "insufficient history" in page_one
    assert "data covers 3 of 31 days (2025-12-29 to 2025-12-31)" in page_one
    everything = flat(pdftotext(pdf))
    for calm in FALSE_CALM:
        assert calm not in everything, calm
    assert "not an all-clear" in everything.lower()
    for summary in (report.summary_text, report.summary_html):
        assert "insufficient history" in summary
        assert "data covers 3 of 31 days" in summary
        assert "Nothing needs action this period" not in summary


def test_annual_report_of_a_partial_year_says_so_on_page_one(tmp_path: Path) -> None:
    config = runbook_config()
    engine = open_store(f"sqlite:///{tmp_path / 'young.db'}")
    one = tuple(s for s in shapes() if (s.service, s.metric) == ("backend", "cpu_percent"))
    store_frame(engine, config, sample_history(END, days=60, seed=1, shapes=one))
    report = build_report(engine, config, parse_period("annual", "2025"), workers=1)
    page_one = flat(pdftotext(written(report, tmp_path), first=1, last=1))
    assert "data covers 60 of 365 days (2025-11-02 to 2025-12-31)" in page_one
    assert "could not be forecast" not in page_one
    assert "data covers 60 of 365 days" in report.summary_text


def test_a_fully_covered_period_has_no_caveat(tmp_path: Path) -> None:
    shared = shared_store()
    report = build_report(
        shared.engine, runbook_config(), parse_period("monthly", "2025-12"), fleet=shared.fleet
    )
    page_one = flat(pdftotext(written(report, tmp_path), first=1, last=1))
    assert "data covers" not in page_one
    assert "could not be forecast" not in page_one
    assert "Not an all-clear" not in report.summary_text


def test_some_series_failing_are_counted_with_their_reasons() -> None:
    failures = [
        Failure("a", "cpu_percent", 5, "insufficient history: have 3"),
        Failure("a", "cpu_percent", 10, "insufficient history: have 3"),
        Failure("b", "memory_percent", 5, "no finite values"),
    ]
    text = forecast_caveat(failures, 5)
    assert text is not None
    assert text.startswith("Not an all-clear: 2 of 5 series could not be forecast")
    assert "insufficient history: have 3 (1 series); no finite values (1 series)." in text
    assert forecast_caveat([], 5) is None

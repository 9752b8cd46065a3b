"""Labels are untrusted: HTML in a service name is printed, never interpreted, and the
renderer fetches nothing outside report_templates/."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobs.config import Config, parse_config, runbook_config
from jobs.forecast.fleet import forecast_fleet
from jobs.ingest import store_frame
from jobs.ingest.sources.sample import SeriesShape, sample_history
from jobs.periods import parse_period
from jobs.reports.context import build_context
from jobs.reports.render import TEMPLATES, FetchRefusedError, TemplateFetcher, render_pdf
from jobs.store import open_store
from tests.report_support import pdftotext

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

EVIL = '<img src="file:///etc/hostname">'


def evil_config() -> Config:
    data = runbook_config().model_dump(mode="json")
    data["services"][EVIL] = {
        "cpu_cores": 1,
        "memory_gb": 2,
        "replicas": 2,
        "scaling": "horizontal",
        "description": '<script>alert("x")</script>',
    }
    return parse_config(data, "test")


def test_an_html_label_is_printed_literally_and_nothing_is_fetched(tmp_path: Path) -> None:
    config = evil_config()
    engine = open_store(f"sqlite:///{tmp_path / 'evil.db'}")
    end = datetime(2026, 3, 1, tzinfo=UTC)
    shape = SeriesShape(EVIL, "cpu_percent", 60.0, 0.5, 0.3, 0.1, 2.0)
    store_frame(engine, config, sample_history(end, days=60, shapes=(shape,)))
    period = parse_period("quarterly", "2026-Q1")
    fleet = forecast_fleet(engine, config, period.end, workers=1, store=False)
    context = build_context(engine, config, period, fleet=fleet)
    fetcher = TemplateFetcher()
    pdf = render_pdf(context, fetcher=fetcher)
    target = tmp_path / "evil.pdf"
    target.write_bytes(pdf)

    text = " ".join(pdftotext(target).split())
    assert EVIL in text
    assert text.count(EVIL) >= 5  # summary grid, runway rows, chart caption, profiles...
    assert fetcher.requests, "the stylesheet is fetched through the fetcher"
    assert fetcher.refused == []
    for url in fetcher.requests:
        assert url.startswith(TEMPLATES.as_uri() + "/"), url
    assert not any("hostname" in url for url in fetcher.requests)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/hostname",
        "http://127.0.0.1:9/x.css",
        "https://example.com/report.css",
        "data:text/css,body{}",
        (TEMPLATES / ".." / "README.md").as_uri(),
        TEMPLATES.as_uri() + "/../pyproject.toml",
        "file://otherhost" + str(TEMPLATES / "report.css"),
    ],
)
def test_the_fetcher_refuses_everything_outside_the_templates(url: str) -> None:
    fetcher = TemplateFetcher()
    with pytest.raises(FetchRefusedError):
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_the_fetcher_serves_the_stylesheet() -> None:
    fetcher = TemplateFetcher()
    response = fetcher.fetch((TEMPLATES / "report.css").as_uri())
    assert response.content_type == "text/css"
    assert b"@page" in response.read()
    response.close()

"""Rendering: report context in, PDF bytes out. No store, no network, no clock.

Jinja2 autoescapes every label. WeasyPrint fetches through ``TemplateFetcher``,
which serves files inside ``report_templates/`` and refuses everything else
(other files, http, data: URLs), recording every request it is asked for. The
PDF's dates come from the period, so the same context gives the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jinja2
from weasyprint import HTML, Attachment
from weasyprint.urls import URLFetcher, URLFetcherResponse

import report_templates
from jobs.reports import sections
from jobs.reports.charts import ChartMaker
from jobs.reports.model import ReportContext, RunwayRow

TEMPLATES = Path(report_templates.__file__).resolve().parent
KIND_NAMES = {"monthly": "Monthly", "quarterly": "Quarterly", "annual": "Annual"}
PROFILE_METRICS = ("cpu_percent", "memory_percent", "requests_per_second")
PROFILE_LINES = 6
CONTENT_TYPES = {
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}


class FetchRefusedError(ValueError):
    pass


class TemplateFetcher(URLFetcher):  # type: ignore[misc]
    """Serves files under ``root`` and nothing else; remembers every URL asked for."""

    def __init__(self, root: Path = TEMPLATES) -> None:
        super().__init__(allowed_protocols=("file",), allow_redirects=False)
        self.root = root.resolve()
        self.requests: list[str] = []
        self.refused: list[str] = []
        # Charts drawn for this render, served at URLs inside the templates folder.
        self.generated: dict[str, bytes] = {}

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        self.requests.append(url)
        if url in self.generated:
            return URLFetcherResponse(
                url, body=self.generated[url], headers={"Content-Type": "image/svg+xml"}
            )
        path = self.resolve(url)
        if path is None:
            self.refused.append(url)
            raise FetchRefusedError(f"refused to fetch {url!r}: only report_templates/ is allowed")
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        return URLFetcherResponse(
            url, body=path.read_bytes(), headers={"Content-Type": content_type}
        )

    def resolve(self, url: str) -> Path | None:
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            return None
        path = Path(unquote(parts.path)).resolve()
        if not path.is_file() or not path.is_relative_to(self.root):
            return None
        return path


@dataclass
class RenderTimings:
    """Seconds spent in each step of the last render (for the benchmark)."""

    charts: float = 0.0
    html: float = 0.0
    weasyprint: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = sections.fmt_number
    env.filters["days"] = _days
    env.filters["iso"] = lambda d: d.isoformat() if d is not None else "–"
    env.filters["money"] = _money
    env.filters["signed_money"] = _signed_money
    env.filters["pct"] = _pct
    env.globals["threshold_text"] = sections.threshold_text
    env.globals["weekday"] = lambda i: sections.WEEKDAYS[i]
    return env


def _days(row: RunwayRow) -> str:
    return sections.fmt_days(row.runway_days, row.already_exceeded)


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _signed_money(value: float) -> str:
    if value == 0:
        return "0.00"
    return f"{'+' if value > 0 else '−'}{abs(value):,.2f}"


def _pct(value: float | None) -> str:
    if value is None:
        return "–"
    text = sections.fmt_number(value)
    return text if text == "–" else f"{'+' if value > 0 else ''}{text} %"


def _pdf_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ReportHtml:
    """The report's HTML and the SVG charts it refers to (relative URLs under charts/)."""

    html: str
    charts: dict[str, bytes]


def render_html(context: ReportContext, timings: RenderTimings | None = None) -> ReportHtml:
    """The report's HTML; charts are SVG images the fetcher serves from memory."""
    started = time.perf_counter()
    maker = ChartMaker()
    drawn: dict[str, bytes] = {}

    def keep(kind: str, svg: str) -> str:
        name = f"charts/{kind}-{len(drawn) + 1:03d}.svg"
        drawn[name] = svg.encode("utf-8")
        return name

    charts = [(c, keep("forecast", maker.forecast(c, context.scenarios))) for c in context.charts]
    profile_charts = []
    for metric in PROFILE_METRICS:
        rows = [p for p in context.profiles if p.metric == metric]
        if not rows:
            continue
        rows = sorted(rows, key=lambda p: (-_finite(p.daily_swing_percent), p.service))
        shown = rows[:PROFILE_LINES]
        label = shown[0].unit if shown[0].unit != "%" else "percent"
        profile_charts.append((metric, len(rows), keep("profile", maker.profiles(shown, label))))
    charted = time.perf_counter()
    end_day = (context.period.end - timedelta(days=1)).date()
    html = (
        _environment()
        .get_template("report.html")
        .render(
            c=context,
            kind_name=KIND_NAMES[context.kind],
            charts=charts,
            profile_charts=profile_charts,
            created=_pdf_date(context.period.end),
            start_day=context.period.start.date(),
            end_day=end_day,
            as_of=context.period.end,
            wide_runway=len(context.scenarios) > 1,
        )
    )
    if timings is not None:
        timings.charts = charted - started
        timings.html = time.perf_counter() - charted
    return ReportHtml(html, drawn)


def _finite(value: float) -> float:
    return value if value == value and abs(value) != float("inf") else -1.0


def html_to_pdf(
    html: ReportHtml,
    context: ReportContext,
    fetcher: TemplateFetcher | None = None,
) -> bytes:
    fetcher = fetcher or TemplateFetcher()
    base = TEMPLATES.as_uri() + "/"
    fetcher.generated = {base + name: data for name, data in html.charts.items()}
    moment = context.period.end
    attachments = [
        Attachment(
            string=data,
            base_url=base,
            url_fetcher=fetcher,
            name=name,
            description=f"{name} ({content_type})",
            created=moment.replace(tzinfo=None),
            modified=moment.replace(tzinfo=None),
            relationship="Supplement",
        )
        for name, data, content_type in context.attachments
        if name.endswith(".csv")
    ]
    document = HTML(
        string=html.html,
        base_url=base,
        url_fetcher=fetcher,
    )
    pdf: bytes = document.write_pdf(attachments=attachments or None, pdf_identifier=False)
    return pdf


def render_pdf(
    context: ReportContext,
    *,
    fetcher: TemplateFetcher | None = None,
    timings: RenderTimings | None = None,
    on_html: Callable[[ReportHtml], None] | None = None,
) -> bytes:
    """Context in, PDF bytes out."""
    html = render_html(context, timings)
    if on_html is not None:
        on_html(html)
    started = time.perf_counter()
    pdf = html_to_pdf(html, context, fetcher)
    if timings is not None:
        timings.weasyprint = time.perf_counter() - started
    return pdf

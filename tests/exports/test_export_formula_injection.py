"""Labels are untrusted in exports too: a service named like a spreadsheet formula is
text in the budget CSV and XLSX, the right-sizing CSV, the PDF and the email summary."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from forecasting.backtest import BacktestRow
from forecasting.planning.budget import budget
from forecasting.planning.costs import Allocation
from jobs.config import Config, dump_config, parse_config, runbook_config
from jobs.exports.spreadsheet_safety import csv_text
from jobs.forecast.adhoc import render_backtest
from jobs.forecast.fleet import forecast_fleet
from jobs.ingest import store_frame
from jobs.ingest.sources.sample import SeriesShape, sample_history
from jobs.periods import parse_period
from jobs.planning.budget_export import budget_csv_bytes, budget_xlsx_bytes
from jobs.reports import render_report
from jobs.reports.context import build_context
from jobs.store import open_store
from tests.conftest import Capplan
from tests.report_support import pdftotext
from tests.runbook_settings import CAPACITY, GROWTH, PRICES

HYPERLINK = '=HYPERLINK("http://127.0.0.1:9/x","click")'
HOSTILE = (HYPERLINK, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1")
BASE = {
    "backend": Allocation(cores=2, memory_gb=4, replicas=2, horizontal=True),
    "postgres": Allocation(cores=2, memory_gb=4, storage_gb=200),
    "redis": Allocation(cores=0.5, memory_gb=2, storage_gb=10),
}


@pytest.mark.parametrize("label", [*HOSTILE, "backend", "a=b", "'quoted"])
def test_csv_text_prefixes_only_what_a_spreadsheet_evaluates(label: str) -> None:
    expected = "'" + label if label[0] in "=+-@\t\r" else label
    assert csv_text(label) == expected


def test_budget_csv_quotes_formula_labels_and_keeps_numbers() -> None:
    result = budget(
        2027,
        dt.date(2026, 11, 27),
        {**BASE, **{label: Allocation(cores=1, memory_gb=2) for label in HOSTILE}},
        PRICES,
        GROWTH,
        CAPACITY,
    )
    rows = list(csv.DictReader(io.StringIO(budget_csv_bytes(result).decode("utf-8"), newline="")))
    services = {r["service"] for r in rows if r["kind"] == "service"}
    assert services == {"backend", "postgres", "redis", *("'" + label for label in HOSTILE)}
    for row in rows:
        for column in ("instances", "cores", "memory_gb", "storage_gb", "quarter_cost"):
            float(row[column])  # numbers stay plain numbers
        assert not row["service"].startswith(("=", "+", "-", "@", "\t", "\r"))


def test_budget_xlsx_stores_formula_labels_as_text() -> None:
    result = budget(
        2027,
        dt.date(2026, 11, 27),
        {**BASE, **{label: Allocation(cores=1, memory_gb=2) for label in HOSTILE}},
        PRICES,
        GROWTH,
        CAPACITY,
    )
    data = budget_xlsx_bytes(result)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
        assert sheets
        for name in sheets:
            assert b"<f>" not in archive.read(name), name
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["moderate"]
    labels = {}
    for row in ws.iter_rows(min_row=3):
        labels[row[0].value] = row[0]
        for cell in row[2:6]:
            assert cell.data_type == "n"
    for label in HOSTILE:
        cell = labels[label.replace("\r", "\n")]  # XML reads a bare CR back as LF
        assert cell.data_type == "s", label
        assert cell.quotePrefix, label
    assert not labels["backend"].quotePrefix
    assert budget_xlsx_bytes(result) == data


def hostile_config(service: str, tmp_path: Path) -> tuple[Config, Path]:
    data = runbook_config().model_dump(mode="json")
    data["services"][service] = {
        "cpu_cores": 2,
        "memory_gb": 4,
        "replicas": 2,
        "scaling": "horizontal",
        "description": "hostile label",
    }
    config = parse_config(data, "test")
    path = tmp_path / "capplan.yaml"
    path.write_text(dump_config(config), encoding="utf-8")
    return config, path


def test_budget_command_exports_are_safe(capplan: Capplan, tmp_path: Path) -> None:
    _, path = hostile_config(HYPERLINK, tmp_path)
    out = capplan("budget", "--year", "2027", "--format", "csv", config=path).output
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert "'" + HYPERLINK in {r["service"] for r in rows}
    target = tmp_path / "b.xlsx"
    capplan("budget", "--year", "2027", "--format", "xlsx", "--out", str(target), config=path)
    wb = openpyxl.load_workbook(target)
    cells = [row[0] for ws in wb.worksheets[1:] for row in ws.iter_rows(min_row=3)]
    hostile = [c for c in cells if c.value == HYPERLINK]
    assert len(hostile) == 4 * len(wb.worksheets[1:])
    assert all(c.data_type == "s" and c.quotePrefix for c in hostile)


def test_rightsize_csv_quotes_formula_labels(
    capplan: Capplan, database_url: str, tmp_path: Path
) -> None:
    config, path = hostile_config(HYPERLINK, tmp_path)
    as_of = pd.Timestamp("2026-06-01", tz="UTC")
    index = pd.date_range(
        as_of - pd.Timedelta(days=30), as_of, freq="5min", tz="UTC", inclusive="left"
    )
    values = 20.0 + np.random.default_rng(3).normal(0, 1.0, len(index))
    frame = pd.DataFrame(
        {"timestamp": index, "service": HYPERLINK, "metric": "cpu_percent", "value": values}
    )
    store_frame(open_store(database_url), config, frame)
    out = capplan("rightsize", "--as-of", as_of.isoformat(), "--format", "csv", config=path).output
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    hostile = [r for r in rows if r["service"] == "'" + HYPERLINK]
    assert hostile, out
    assert any(float(r["monthly_cost_delta"]) < 0 for r in hostile)  # still a number
    assert not any(r["service"].startswith("=") for r in rows)
    as_json = capplan(
        "rightsize", "--as-of", as_of.isoformat(), "--format", "json", config=path
    ).output
    assert HYPERLINK in {r["service"] for r in json.loads(as_json)["recommendations"]}


def test_annual_report_pdf_attachment_and_email_are_safe(tmp_path: Path) -> None:
    label = HYPERLINK + "<b>bold</b>"
    config, _ = hostile_config(label, tmp_path)
    engine = open_store(f"sqlite:///{tmp_path / 'hostile.db'}")
    end = datetime(2026, 1, 1, tzinfo=UTC)
    shape = SeriesShape(label, "cpu_percent", 80.0, 0.5, 0.3, 0.1, 2.0)
    store_frame(engine, config, sample_history(end, days=60, shapes=(shape,)))
    period = parse_period("annual", "2025")
    fleet = forecast_fleet(engine, config, period.end, workers=1, store=False)
    report = render_report(build_context(engine, config, period, fleet=fleet))
    target = tmp_path / report.filename
    target.write_bytes(report.pdf)

    text = " ".join(pdftotext(target).split())
    assert label in text  # printed literally, markup and all
    extras = {name: data for name, data, _ in report.extras}
    csv_name = next(n for n in extras if n.endswith(".csv"))
    rows = list(csv.DictReader(io.StringIO(extras[csv_name].decode("utf-8"), newline="")))
    assert "'" + label in {r["service"] for r in rows}
    xlsx_name = next(n for n in extras if n.endswith(".xlsx"))
    wb = openpyxl.load_workbook(io.BytesIO(extras[xlsx_name]))
    hostile = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value == label]
    assert hostile and all(c.data_type == "s" for c in hostile)

    assert label in report.summary_text  # plain text: shown as is
    assert "<b>bold</b>" not in report.summary_html
    assert "&lt;b&gt;bold&lt;/b&gt;" in report.summary_html


def test_backtest_csv_quotes_formula_series_names() -> None:
    day = dt.date(2025, 6, 1)
    rows = [
        BacktestRow(
            f"{HYPERLINK}/cpu_percent/10m", day, 70.0, "capplan", day, day, 30, -2, -0.1, True
        ),
        BacktestRow("backend/cpu_percent/10m", day, 70.0, "capplan", day, day, 30, 3, 0.1, True),
    ]
    parsed = list(csv.DictReader(io.StringIO(render_backtest(rows, "csv"), newline="")))
    assert [r["series"] for r in parsed] == [
        f"'{HYPERLINK}/cpu_percent/10m",
        "backend/cpu_percent/10m",
    ]
    assert parsed[0]["error_days"] == "-2"  # numbers stay numbers

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

import openpyxl
import pytest

from forecasting.planning.budget import Budget, budget
from forecasting.planning.costs import Allocation
from jobs.planning.budget_export import (
    CSV_COLUMNS,
    SUMMARY_SHEET,
    budget_csv_bytes,
    budget_xlsx_bytes,
)
from tests.runbook_settings import CAPACITY, GROWTH, PRICES

RUNBOOK = {
    "backend": Allocation(cores=2, memory_gb=4, replicas=2, horizontal=True),
    "frontend": Allocation(cores=1, memory_gb=2, replicas=2, horizontal=True),
    "postgres": Allocation(cores=2, memory_gb=4, storage_gb=200),
    "redis": Allocation(cores=0.5, memory_gb=2, storage_gb=10),
    "nginx": Allocation(cores=0.5, memory_gb=1),
    "monitoring": Allocation(cores=1, memory_gb=3, storage_gb=50),
}


@pytest.fixture(scope="module")
def result() -> Budget:
    return budget(2027, dt.date(2026, 11, 27), RUNBOOK, PRICES, GROWTH, CAPACITY)


def test_csv_header_order_and_decimal_point(result: Budget) -> None:
    data = budget_csv_bytes(result)
    assert data.startswith(b"year,scenario,annual_growth,kind,service,quarter,")
    assert b"\r\n" in data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(result.rows) + len(result.totals)
    for row in rows:
        assert "," not in row["quarter_cost"]
        float(row["quarter_cost"])


def test_csv_totals_match_service_rows(result: Budget) -> None:
    rows = list(csv.DictReader(io.StringIO(budget_csv_bytes(result).decode())))
    services = [r for r in rows if r["kind"] == "service" and r["scenario"] == "moderate"]
    year_total = next(
        r
        for r in rows
        if r["kind"] == "total" and r["scenario"] == "moderate" and r["quarter"] == "year"
    )
    cents = sum(round(float(r["quarter_cost"]) * 100) for r in services)
    assert cents == round(float(year_total["quarter_cost"]) * 100)


def test_csv_is_deterministic(result: Budget) -> None:
    assert budget_csv_bytes(result) == budget_csv_bytes(result)


def test_xlsx_sheets_numbers_and_totals(result: Budget) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(budget_xlsx_bytes(result)))
    assert wb.sheetnames == [SUMMARY_SHEET, "conservative", "moderate", "aggressive"]
    ws = wb["moderate"]
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    service_rows = [r for r in rows if r[0] != "Total"]
    total_rows = [r for r in rows if r[0] == "Total"]
    assert len(service_rows) == 4 * len(RUNBOOK)
    for cell_row in ws.iter_rows(min_row=3):
        for cell in cell_row[2:6]:
            assert cell.data_type == "n"
            assert isinstance(cell.value, int | float)
    year = next(r for r in total_rows if r[1] == "Year")
    assert sum(r[7] for r in service_rows) == pytest.approx(year[7], abs=0.005)
    summary = {r[0]: r for r in wb[SUMMARY_SHEET].iter_rows(min_row=5, values_only=True) if r[0]}
    assert summary["moderate"][6] == pytest.approx(year[7], abs=1e-9)
    assert summary["moderate"][6] == pytest.approx(sum(summary["moderate"][2:6]), abs=0.005)
    assert isinstance(summary["aggressive"][1], int | float)


def test_xlsx_is_byte_for_byte_reproducible(result: Budget) -> None:
    first = budget_xlsx_bytes(result)
    assert budget_xlsx_bytes(result) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2027, 1, 1, 0, 0, 0)}
    props = openpyxl.load_workbook(io.BytesIO(first)).properties
    assert props.created == props.modified == dt.datetime(2027, 1, 1)

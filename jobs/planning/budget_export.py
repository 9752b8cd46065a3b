"""Budget export for the finance process: CSV bytes and XLSX bytes.

Both are deterministic: the same ``Budget`` gives the same bytes. For XLSX
that takes two fixes after openpyxl has written the workbook, because its
``save`` stamps the current time into ``docProps/core.xml`` (``modified``) and
into every zip entry's header: both are set to 1 January of the budget year,
00:00 UTC.

CSV: UTF-8 without BOM, RFC 4180 (comma, CRLF line ends), '.' decimal point,
two decimals for amounts and money, a header row, service rows followed by
each scenario's total rows (``kind`` = ``total``; ``quarter`` = ``year`` for the
whole year) so a spreadsheet filter on ``kind`` separates them. Labels that a
spreadsheet would evaluate (starting with ``=``, ``+``, ``-``, ``@``) are
prefixed with ``'`` in CSV and stored as text in XLSX.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from forecasting.planning.budget import Budget, BudgetRow, BudgetTotal
from jobs.exports.spreadsheet_safety import csv_text, is_formula_like

CSV_COLUMNS: tuple[str, ...] = (
    "year",
    "scenario",
    "annual_growth",
    "kind",
    "service",
    "quarter",
    "instances",
    "cores",
    "memory_gb",
    "storage_gb",
    "monthly_cost",
    "quarter_cost",
    "currency",
)

SHEET_COLUMNS: tuple[str, ...] = (
    "Service",
    "Quarter",
    "Instances",
    "Cores",
    "Memory (GB)",
    "Storage (GB)",
    "Monthly cost",
    "Cost",
)

SUMMARY_SHEET = "Summary"
_MONEY_FORMAT = "#,##0.00"
_AMOUNT_FORMAT = "0.00"


def _fixed(value: float) -> str:
    # Formatting, unlike str(float), never depends on the value's binary noise
    # and never uses the locale's decimal comma.
    return f"{value:.2f}"


def _csv_rows(budget: Budget) -> Iterator[list[str]]:
    for scenario in budget.scenarios:
        for row in budget.rows_for(scenario.name):
            yield [
                str(row.year),
                csv_text(row.scenario),
                f"{row.annual_growth:g}",
                "service",
                csv_text(row.service),
                f"Q{row.quarter}",
                str(row.instances),
                _fixed(row.cores),
                _fixed(row.memory_gb),
                _fixed(row.storage_gb),
                _fixed(row.monthly_cost),
                _fixed(row.quarter_cost),
                csv_text(budget.currency),
            ]
        for total in budget.totals_for(scenario.name):
            yield [
                str(total.year),
                csv_text(total.scenario),
                f"{scenario.annual_growth:g}",
                "total",
                "all",
                "year" if total.quarter is None else f"Q{total.quarter}",
                str(total.instances),
                _fixed(total.cores),
                _fixed(total.memory_gb),
                _fixed(total.storage_gb),
                "",
                _fixed(total.cost),
                csv_text(budget.currency),
            ]


def budget_csv_bytes(budget: Budget) -> bytes:
    """The budget as CSV (see the module docstring for the format)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_rows(budget))
    return buffer.getvalue().encode("utf-8")


def _sheet_title(name: str, taken: set[str]) -> str:
    # Excel forbids []:*?/\ in sheet titles and caps them at 31 characters.
    title = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "scenario"
    base, n = title, 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title = base[: 31 - len(suffix)] + suffix
        n += 1
    taken.add(title.lower())
    return title


def _write_row(ws: Any, values: list[object], bold: bool = False) -> None:
    ws.append(values)
    row = ws.max_row
    for col, value in enumerate(values, start=1):
        cell = ws.cell(row=row, column=col)
        if isinstance(value, float):
            cell.number_format = _MONEY_FORMAT if col >= 7 else _AMOUNT_FORMAT
        if bold:
            cell.font = Font(bold=True)


def _service_values(row: BudgetRow) -> list[object]:
    return [
        row.service,
        f"Q{row.quarter}",
        row.instances,
        row.cores,
        row.memory_gb,
        row.storage_gb,
        row.monthly_cost,
        row.quarter_cost,
    ]


def _total_values(total: BudgetTotal) -> list[object]:
    label = "Year" if total.quarter is None else f"Q{total.quarter}"
    return [
        "Total",
        label,
        total.instances,
        total.cores,
        total.memory_gb,
        total.storage_gb,
        None,
        total.cost,
    ]


def build_workbook(budget: Budget) -> Workbook:
    """A 'Summary' sheet first, then one sheet per scenario; every number is a number."""
    wb = Workbook()
    summary = wb.active
    summary.title = SUMMARY_SHEET
    taken = {SUMMARY_SHEET.lower()}
    summary.append([f"Capacity budget {budget.year} ({budget.currency})"])
    summary.append([f"As of {budget.as_of.isoformat()}"])
    summary.append([])
    header = ["Scenario", "Annual growth", "Q1", "Q2", "Q3", "Q4", "Year"]
    summary.append(header)
    for cell in summary[summary.max_row]:
        cell.font = Font(bold=True)
    for scenario in budget.scenarios:
        totals = budget.totals_for(scenario.name)
        by_quarter = {t.quarter: t.cost for t in totals}
        summary.append(
            [
                scenario.name,
                scenario.annual_growth,
                *(by_quarter[q] for q in (1, 2, 3, 4)),
                by_quarter[None],
            ]
        )
        r = summary.max_row
        summary.cell(row=r, column=2).number_format = "0%"
        for col in range(3, 8):
            summary.cell(row=r, column=col).number_format = _MONEY_FORMAT
    summary.column_dimensions["A"].width = 16

    for scenario in budget.scenarios:
        ws = wb.create_sheet(_sheet_title(scenario.name, taken))
        ws.append(
            [f"{scenario.name}: {scenario.annual_growth:.0%} annual growth, {budget.currency}"]
        )
        ws.append(list(SHEET_COLUMNS))
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
        for row in budget.rows_for(scenario.name):
            _write_row(ws, _service_values(row))
        for total in budget.totals_for(scenario.name):
            _write_row(ws, _total_values(total), bold=True)
        ws.column_dimensions["A"].width = 16
        ws.freeze_panes = "A3"

    _labels_as_text(wb)
    stamp = dt.datetime(budget.year, 1, 1)
    wb.properties.creator = "capplan"
    wb.properties.created = stamp
    wb.properties.modified = stamp
    return wb


def _labels_as_text(wb: Workbook) -> None:
    # openpyxl stores any string starting with '=' as a formula; the workbook
    # holds none, so every such cell is a label (a service or scenario name) and
    # is kept as text, with Excel's quote prefix so editing it keeps it text.
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and (
                    cell.data_type == "f" or is_formula_like(cell.value)
                ):
                    cell.data_type = "s"
                    cell.quotePrefix = True


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _normalise_zip(data: bytes, year: int) -> bytes:
    stamp = (max(year, 1980), 1, 1, 0, 0, 0)
    iso = f"{max(year, 1980):04d}-01-01T00:00:00Z".encode()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"\g<1>" + iso + rb"\g<2>", content)
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            target.writestr(entry, content)
    return out.getvalue()


def budget_xlsx_bytes(budget: Budget) -> bytes:
    """The budget as an XLSX workbook (see ``build_workbook``), byte-for-byte reproducible."""
    buffer = io.BytesIO()
    build_workbook(budget).save(buffer)
    return _normalise_zip(buffer.getvalue(), budget.year)

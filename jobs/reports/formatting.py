"""How numbers, runways, thresholds, dates and money are printed in the report."""

from __future__ import annotations

import math
from datetime import date

from jobs.reports.model import RunwayRow


def fmt_number(value: float, digits: int = 1) -> str:
    """A number as printed in the report: thousands separators, at most ``digits`` decimals."""
    if not math.isfinite(value):
        return "–"
    text = f"{value:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def fmt_days(days: int | None, exceeded: bool = False) -> str:
    if exceeded:
        return "exceeded"
    if days is None:
        return "beyond horizon"
    return f"{days} d"


def threshold_text(row: RunwayRow) -> str:
    unit = "" if row.unit in ("", "%") else f" {row.unit}"
    percent = "%" if row.unit == "%" else ""
    duration = f" for {row.duration_minutes} min" if row.duration_minutes else ""
    return f"> {fmt_number(row.threshold)}{percent}{unit}{duration}"


def date_text(value: date | None) -> str:
    return value.isoformat() if value else "–"


def money(value: float, currency: str) -> str:
    sign = "+" if value > 0 else ("−" if value < 0 else "")
    return f"{sign}{abs(value):,.2f} {currency}"

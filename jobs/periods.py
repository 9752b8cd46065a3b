"""Report periods: a calendar month, quarter or year, in UTC.

A report covers [start, end) and is computed as of ``end``: only data strictly
before the period's end is used, so a backfilled report sees what a report run
at that moment would have seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Kind = Literal["monthly", "quarterly", "annual"]
KINDS: tuple[Kind, ...] = ("monthly", "quarterly", "annual")

_PATTERNS = {
    "monthly": re.compile(r"^(\d{4})-(\d{2})$"),
    "quarterly": re.compile(r"^(\d{4})-Q([1-4])$"),
    "annual": re.compile(r"^(\d{4})$"),
}
_EXAMPLES = {"monthly": "2026-10", "quarterly": "2026-Q3", "annual": "2026"}


@dataclass(frozen=True, order=True)
class ReportPeriod:
    start: datetime
    end: datetime
    kind: Kind
    label: str

    @property
    def as_of(self) -> datetime:
        return self.end

    @property
    def pdf_filename(self) -> str:
        """The report's file name, also the last part of its object key."""
        return f"capacity-{self.kind}-{self.label}.pdf"

    def previous(self) -> ReportPeriod:
        return period_containing(self.kind, _minus_one_second(self.start))

    def next(self) -> ReportPeriod:
        return period_containing(self.kind, self.end)


def _minus_one_second(moment: datetime) -> datetime:
    return datetime.fromtimestamp(moment.timestamp() - 1, tz=UTC)


def _month_start(year: int, month: int) -> datetime:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=UTC)


def _make(kind: Kind, year: int, index: int) -> ReportPeriod:
    if kind == "monthly":
        return ReportPeriod(
            _month_start(year, index),
            _month_start(year, index + 1),
            kind,
            f"{year:04d}-{index:02d}",
        )
    if kind == "quarterly":
        first = 3 * (index - 1) + 1
        return ReportPeriod(
            _month_start(year, first), _month_start(year, first + 3), kind, f"{year:04d}-Q{index}"
        )
    return ReportPeriod(_month_start(year, 1), _month_start(year + 1, 1), kind, f"{year:04d}")


def check_kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise ValueError(f"report kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def parse_period(kind: str, text: str) -> ReportPeriod:
    """``2026-10`` (monthly), ``2026-Q3`` (quarterly), ``2026`` (annual)."""
    checked = check_kind(kind)
    match = _PATTERNS[checked].match(text.strip())
    if match is None:
        raise ValueError(
            f"--period {text!r} is not a {checked} period (expected e.g. {_EXAMPLES[checked]})"
        )
    year = int(match.group(1))
    index = int(match.group(2)) if checked != "annual" else 1
    if checked == "monthly" and not 1 <= index <= 12:
        raise ValueError(f"--period {text!r}: month must be 01 to 12")
    return _make(checked, year, index)


def period_containing(kind: str, moment: datetime) -> ReportPeriod:
    checked = check_kind(kind)
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    if checked == "monthly":
        return _make(checked, moment.year, moment.month)
    if checked == "quarterly":
        return _make(checked, moment.year, (moment.month - 1) // 3 + 1)
    return _make(checked, moment.year, 1)


def last_full_period(kind: str, now: datetime) -> ReportPeriod:
    """The most recent period that ended at or before ``now``."""
    return period_containing(kind, now).previous()


def periods_between(kind: str, start: datetime, end: datetime) -> list[ReportPeriod]:
    """Full periods that end within (start, end], oldest first."""
    periods: list[ReportPeriod] = []
    current = period_containing(kind, start)
    while current.end <= end:
        if current.end > start:
            periods.append(current)
        current = current.next()
    return periods

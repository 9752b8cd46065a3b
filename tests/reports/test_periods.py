"""Report periods: parsing, the last full period, ranges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs.periods import last_full_period, parse_period, periods_between


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc,arg-type]


@pytest.mark.parametrize(
    ("kind", "text", "start", "end"),
    [
        ("monthly", "2026-10", at(2026, 10, 1), at(2026, 11, 1)),
        ("monthly", "2026-12", at(2026, 12, 1), at(2027, 1, 1)),
        ("quarterly", "2026-Q3", at(2026, 7, 1), at(2026, 10, 1)),
        ("quarterly", "2026-Q4", at(2026, 10, 1), at(2027, 1, 1)),
        ("annual", "2026", at(2026, 1, 1), at(2027, 1, 1)),
    ],
)
def test_parse(kind: str, text: str, start: datetime, end: datetime) -> None:
    period = parse_period(kind, text)
    assert (period.start, period.end, period.label, period.as_of) == (start, end, text, end)


@pytest.mark.parametrize(
    ("kind", "text"),
    [("monthly", "2026-13"), ("quarterly", "2026-Q5"), ("annual", "26"), ("monthly", "2026-Q1")],
)
def test_bad_periods_say_what_is_expected(kind: str, text: str) -> None:
    with pytest.raises(ValueError, match="--period"):
        parse_period(kind, text)


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="monthly, quarterly, annual"):
        parse_period("weekly", "2026-01")


def test_last_full_period() -> None:
    now = at(2026, 11, 27, 6, 0)
    assert last_full_period("monthly", now).label == "2026-10"
    assert last_full_period("quarterly", now).label == "2026-Q3"
    assert last_full_period("annual", now).label == "2025"
    # On the boundary itself the period just ended is complete.
    assert last_full_period("monthly", at(2026, 11, 1)).label == "2026-10"


def test_periods_between() -> None:
    labels = [p.label for p in periods_between("monthly", at(2026, 1, 15), at(2026, 4, 1))]
    assert labels == ["2026-01", "2026-02", "2026-03"]
    quarters = [p.label for p in periods_between("quarterly", at(2025, 12, 1), at(2026, 9, 30))]
    assert quarters == ["2025-Q4", "2026-Q1", "2026-Q2"]

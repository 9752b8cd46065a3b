"""What a reader must know before trusting the report's calm parts (pure).

A report where nothing could be forecast, or whose period is only partly
covered by data, would otherwise look like an all-clear: zero red lights, no
actions. These sentences go on the cover (page 1), into the executive summary
and into the email summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from jobs.reports.model import Failure

REASONS_SHOWN = 3
REASON_CHARS = 160


@dataclass(frozen=True)
class Coverage:
    """Days of the period with any stored data, out of the period's days."""

    days_with_data: int
    days_in_period: int
    first: date | None
    last: date | None

    @property
    def partial(self) -> bool:
        return self.days_with_data < self.days_in_period


def unforecast_series(failures: Sequence[Failure]) -> set[tuple[str, str]]:
    return {(f.service, f.metric) for f in failures}


def forecast_caveat(failures: Sequence[Failure], series_total: int) -> str | None:
    """How many series (service and metric) could not be forecast, and why."""
    failed = unforecast_series(failures)
    if not failed:
        return None
    by_reason: dict[str, set[tuple[str, str]]] = {}
    for f in failures:
        reason = f.error if len(f.error) <= REASON_CHARS else f.error[: REASON_CHARS - 1] + "…"
        by_reason.setdefault(reason, set()).add((f.service, f.metric))
    ranked = sorted(by_reason.items(), key=lambda item: (-len(item[1]), item[0]))
    reasons = [f"{reason} ({len(series)} series)" for reason, series in ranked[:REASONS_SHOWN]]
    if len(ranked) > REASONS_SHOWN:
        reasons.append(f"{len(ranked) - REASONS_SHOWN} other reasons")
    total = max(series_total, len(failed))
    who = (
        f"none of the {total} series could be forecast"
        if len(failed) == total
        else f"{len(failed)} of {total} series could not be forecast"
    )
    return f"Not an all-clear: {who}, so their runway is not known. Why: {'; '.join(reasons)}."


def coverage_caveat(coverage: Coverage) -> str | None:
    if not coverage.partial:
        return None
    if coverage.days_with_data == 0 or coverage.first is None or coverage.last is None:
        return (
            f"No data: data covers 0 of {coverage.days_in_period} days of this period; "
            "its growth, profiles and reviews are empty."
        )
    return (
        f"Partial period: data covers {coverage.days_with_data} of {coverage.days_in_period} "
        f"days ({coverage.first.isoformat()} to {coverage.last.isoformat()}); "
        "figures for the period rest on those days only."
    )


def caveats(failures: Sequence[Failure], series_total: int, coverage: Coverage) -> tuple[str, ...]:
    return tuple(
        line
        for line in (forecast_caveat(failures, series_total), coverage_caveat(coverage))
        if line is not None
    )

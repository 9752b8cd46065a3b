"""The runway table as text: series x threshold x scenario."""

from __future__ import annotations

from collections.abc import Sequence

from jobs.forecast.fleet import ForecastRow


def _runway(row: ForecastRow) -> str:
    if row.already_exceeded:
        return "0 (exceeded now)"
    return "beyond horizon" if row.runway_days is None else f"{row.runway_days} days"


SCENARIO_ORDER = ("organic", "conservative", "moderate", "aggressive")


def _order(row: ForecastRow) -> tuple[str, str, bool, int, str]:
    rank = SCENARIO_ORDER.index(row.scenario) if row.scenario in SCENARIO_ORDER else 99
    return (row.service, row.metric, row.level != "warning", rank, row.scenario)


def render_runway(rows: Sequence[ForecastRow]) -> str:
    header = (
        f"{'service':<12} {'metric':<22} {'level':<8} {'above':>7} {'for':>5} {'scenario':<12} "
        f"{'expected':<10} {'earliest':<10} {'latest':<10} runway"
    )
    lines = [header, "-" * (len(header) + 12)]
    for r in sorted(rows, key=_order):
        lines.append(
            f"{r.service:<12} {r.metric:<22} {r.level:<8} {r.threshold:>7g} "
            f"{str(r.duration_minutes) + 'm':>5} {r.scenario:<12} "
            f"{r.expected or '-'!s:<10} {r.earliest or '-'!s:<10} "
            f"{r.latest or '-'!s:<10} {_runway(r)}"
        )
    return "\n".join(lines)

"""Right-sizing, projections and budget built from the config: the library behind
``capplan rightsize``, ``plan`` and ``budget`` (and the reports and demo).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd

from forecasting.planning.budget import Budget, Plan, budget, plan
from forecasting.planning.costs import Allocation
from forecasting.planning.human import human_number
from forecasting.rightsizing.fleet import FormulaDemand, Recommendation, ServiceUsage, rightsize
from jobs.config import Config
from jobs.config.adapters import (
    allocations,
    capacity_settings,
    cost_model,
    growth_settings,
    rightsizing_settings,
)
from jobs.exports.spreadsheet_safety import csv_text
from jobs.planning.budget_export import budget_csv_bytes, budget_xlsx_bytes

RECOMMENDATION_COLUMNS = (
    "service",
    "resource",
    "unit",
    "current",
    "recommended",
    "action",
    "monthly_cost_delta",
    "reason",
)


def run_rightsize(
    config: Config,
    usage: Sequence[ServiceUsage],
    as_of: datetime,
    demand: FormulaDemand | None = None,
    current: Mapping[str, Allocation] | None = None,
) -> tuple[Recommendation, ...]:
    """``current``: the allocations in force at ``as_of`` (default: the configuration's)."""
    return rightsize(
        usage,
        allocations(config) if current is None else current,
        cost_model(config),
        pd.Timestamp(as_of),
        rightsizing_settings(config),
        capacity=capacity_settings(config),
        demand=demand or FormulaDemand(),
    )


def render_recommendations(
    recommendations: Sequence[Recommendation], as_of: datetime, fmt: str
) -> str:
    if fmt == "json":
        payload = {
            "as_of": as_of.isoformat(),
            "recommendations": [r.to_dict() for r in recommendations],
        }
        return json.dumps(payload, indent=2)
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(RECOMMENDATION_COLUMNS)
        for r in recommendations:
            writer.writerow(
                [
                    csv_text(r.service),
                    csv_text(r.resource),
                    csv_text(r.unit),
                    repr(r.current),
                    repr(r.recommended),
                    csv_text(r.action),
                    f"{r.monthly_cost_delta:.2f}",
                    csv_text(r.reason),
                ]
            )
        return buffer.getvalue()
    header = (
        f"{'service':<12} {'resource':<9} {'current':>9} {'recommended':>11} "
        f"{'action':<9} {'cost/month':>10}  reason"
    )
    lines = [f"right-sizing as of {as_of.isoformat()}", header, "-" * len(header)]
    for r in recommendations:
        lines.append(
            f"{r.service:<12} {r.resource:<9} {human_number(r.current):>9} "
            f"{human_number(r.recommended):>11} "
            f"{r.action:<9} {r.monthly_cost_delta:>+10.2f}  {r.reason}"
        )
    return "\n".join(lines)


def render_plan(result: Plan, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2)
    header = (
        f"{'scenario':<13} {'year':>4} {'users':>6} {'agents':>7} {'rps':>6} {'backend':>7} "
        f"{'db GB':>7} {'db mem':>7} {'db conn':>7} {'redis GB':>8} {'monthly':>10}"
    )
    lines = [header, "-" * len(header)]
    for s in result.scenarios:
        for y in s.years:
            lines.append(
                f"{s.name:<13} {y.year:>4} {y.users:>6} {y.agents:>7} "
                f"{y.requests_per_second:>6} {y.backend_instances:>7} "
                f"{y.database.storage_gb:>7.2f} {y.database.memory_gb:>7.2f} "
                f"{y.database.max_connections:>7} {y.redis_memory_gb:>8.2f} "
                f"{y.monthly_cost:>10.2f}"
            )
    lines.append(f"costs in {result.currency} per month")
    return "\n".join(lines)


def build_plan(config: Config) -> Plan:
    return plan(
        allocations(config),
        cost_model(config),
        growth_settings(config),
        capacity_settings(config),
    )


def build_budget(config: Config, year: int, today: dt.date) -> Budget:
    return budget(
        year,
        today,
        allocations(config),
        cost_model(config),
        growth_settings(config),
        capacity_settings(config),
    )


def budget_bytes(result: Budget, fmt: str) -> bytes:
    return budget_xlsx_bytes(result) if fmt == "xlsx" else budget_csv_bytes(result)


def budget_filename(year: int, fmt: str) -> str:
    return f"capacity-budget-{year}.{fmt}"

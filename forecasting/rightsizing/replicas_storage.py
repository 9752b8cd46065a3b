"""Replica counts and database storage from the runbook's formulas.

Replicas: the backend formula applied to the p95 requests per second grown to
the next review. Storage: the database formula for the current agents, only
ever raised (volumes do not shrink in place).
"""

from __future__ import annotations

import math

import pandas as pd

from forecasting.planning.capacity import (
    CapacitySettings,
    backend_instances,
    ceil_to_step,
    database,
)
from forecasting.planning.costs import Allocation, CostModel
from forecasting.planning.human import human_number
from forecasting.rightsizing.recommendation import Action, Recommendation, change_cost
from forecasting.rightsizing.settings import RightsizingSettings
from forecasting.rightsizing.usage_stats import sizing_window


def rightsize_replicas(
    service: str,
    requests_per_second: pd.Series,
    allocation: Allocation,
    costs: CostModel,
    as_of: pd.Timestamp,
    settings: RightsizingSettings,
    capacity: CapacitySettings,
) -> Recommendation:
    """Replica count from the runbook's backend formula on p95 RPS grown to the next review."""
    field = f"usage.{service}.requests_per_second"
    window = sizing_window(requests_per_second, as_of, settings, field)
    p95 = float(window.quantile(settings.headroom_quantile))
    projected = p95 * settings.review_growth
    needed = max(settings.min_replicas, backend_instances(projected, capacity))
    current = allocation.replicas
    action: Action = "increase" if needed > current else "decrease" if needed < current else "keep"
    base = math.ceil(projected / capacity.rps_per_instance - 1e-12)
    reason = (
        f"p95 {p95:.0f} RPS over {settings.lookback_days:g} days, {projected:.0f} RPS with "
        f"{settings.growth_scenario} growth by the next review in {settings.review_days:g} days; "
        f"the runbook formula gives {base} + {needed - base} buffer = {needed} replicas "
        f"(at {capacity.rps_per_instance:g} RPS each), now {current}"
    )
    return Recommendation(
        service=service,
        resource="replicas",
        unit="replicas",
        current=float(current),
        recommended=float(needed),
        action=action,
        reason=reason,
        monthly_cost_delta=change_cost(allocation, "replicas", current, needed, costs),
    )


def rightsize_database_storage(
    service: str,
    agents: float,
    allocation: Allocation,
    costs: CostModel,
    capacity: CapacitySettings,
) -> Recommendation:
    """Database storage from the runbook formula; only ever an increase (volumes do not shrink)."""
    needed = database(agents, capacity).storage_gb
    current = allocation.storage_gb
    if needed > current:
        target = ceil_to_step(needed, 1.0)
        action: Action = "increase"
        reason = (
            f"the runbook formula for {human_number(agents)} agents needs "
            f"{human_number(needed)} GB of storage, "
            f"more than the {human_number(current)} GB allocated"
        )
    else:
        target = current
        action = "keep"
        reason = (
            f"the runbook formula for {human_number(agents)} agents needs "
            f"{human_number(needed)} GB of storage; "
            f"{human_number(current)} GB are allocated (volumes are not shrunk)"
        )
    delta = change_cost(allocation, "storage", current, target, costs)
    return Recommendation(
        service, "storage", "GB", float(current), float(target), action, reason, delta
    )

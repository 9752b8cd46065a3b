"""What right-sizing answers: one recommendation per service and resource."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from forecasting.planning.costs import Allocation, CostModel, resource_cost_delta
from forecasting.rightsizing.usage_stats import UsagePercentiles
from forecasting.rightsizing.vpa import VpaEstimate

ResourceName = Literal["cpu", "memory", "replicas", "storage"]
Unit = Literal["cores", "GB", "replicas"]
Action = Literal["increase", "decrease", "keep"]


@dataclass(frozen=True)
class Evidence:
    """The numbers behind a CPU or memory recommendation (in the resource's unit)."""

    percentiles: UsagePercentiles
    headroom: float  # the p95 the growth check uses
    vpa: VpaEstimate
    krr: float
    growth_needed: float
    formula_floor: float


@dataclass(frozen=True)
class Recommendation:
    service: str
    resource: ResourceName
    unit: Unit
    current: float
    recommended: float
    action: Action
    reason: str
    monthly_cost_delta: float
    evidence: Evidence | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``capplan rightsize --format json``."""
        return {
            "service": self.service,
            "resource": self.resource,
            "unit": self.unit,
            "current": self.current,
            "recommended": self.recommended,
            "action": self.action,
            "reason": self.reason,
            "monthly_cost_delta": self.monthly_cost_delta,
        }


def change_cost(
    allocation: Allocation,
    resource: ResourceName,
    current: float,
    target: float,
    costs: CostModel,
) -> float:
    """Monthly cost delta of moving ``resource`` from ``current`` to ``target``.

    Exactly 0.0 when nothing changes, so a kept resource never shows rounding noise.
    """
    return resource_cost_delta(allocation, resource, target, costs) if target != current else 0.0

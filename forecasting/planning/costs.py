"""Cost model: what an allocation costs per month.

Allocations are per replica; a service's monthly cost is
``replicas * (cores * per_core + memory_gb * per_gb_memory + storage_gb * per_gb_storage)``.
Storage counts per replica too, because each replica of a stateful service
has its own volume. Money is rounded half up to cents only where it is
reported (``money``), so sums of reported figures add up exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from forecasting.planning.capacity import CapacityInputError, round_half_up, to_decimal

Resource = Literal["cpu", "memory", "storage", "replicas"]


def money(value: float | Decimal) -> float:
    """A currency amount rounded half up to cents."""
    return float(round_half_up(value, 2))


@dataclass(frozen=True)
class CostModel:
    """Prices per month (``costs.*`` of the configuration, which validates them)."""

    price_per_core_month: float
    price_per_gb_memory_month: float
    price_per_gb_storage_month: float
    currency: str

    def unit_price(self, resource: Literal["cpu", "memory", "storage"]) -> float:
        return {
            "cpu": self.price_per_core_month,
            "memory": self.price_per_gb_memory_month,
            "storage": self.price_per_gb_storage_month,
        }[resource]


@dataclass(frozen=True)
class Allocation:
    """Resources of one replica of a service, and how many replicas run."""

    cores: float
    memory_gb: float
    storage_gb: float = 0.0
    replicas: int = 1
    horizontal: bool = False

    def __post_init__(self) -> None:
        for name in ("cores", "memory_gb", "storage_gb"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise CapacityInputError(name, f"must be a number >= 0, got {value!r}")
        if self.replicas < 1:
            raise CapacityInputError("replicas", f"must be >= 1, got {self.replicas!r}")

    @property
    def total_cores(self) -> float:
        return self.cores * self.replicas

    @property
    def total_memory_gb(self) -> float:
        return self.memory_gb * self.replicas

    @property
    def total_storage_gb(self) -> float:
        return self.storage_gb * self.replicas


def _replica_cost(allocation: Allocation, model: CostModel) -> Decimal:
    return (
        to_decimal(allocation.cores) * to_decimal(model.price_per_core_month)
        + to_decimal(allocation.memory_gb) * to_decimal(model.price_per_gb_memory_month)
        + to_decimal(allocation.storage_gb) * to_decimal(model.price_per_gb_storage_month)
    )


def monthly_cost_exact(allocation: Allocation, model: CostModel) -> Decimal:
    return _replica_cost(allocation, model) * allocation.replicas


def monthly_cost(allocation: Allocation, model: CostModel) -> float:
    """Monthly cost of a service's allocation, in cents."""
    return money(monthly_cost_exact(allocation, model))


def monthly_cost_delta(before: Allocation, after: Allocation, model: CostModel) -> float:
    """Extra (positive) or saved (negative) money per month going from ``before`` to ``after``."""
    return money(monthly_cost_exact(after, model) - monthly_cost_exact(before, model))


def resource_cost_delta(
    allocation: Allocation,
    resource: Resource,
    recommended: float,
    model: CostModel,
) -> float:
    """Monthly cost delta of changing one resource of ``allocation`` to ``recommended``.

    ``cpu``/``memory``/``storage`` are per replica (the change applies to every
    replica); ``replicas`` adds or removes whole replicas.
    """
    if resource == "cpu":
        after = replace(allocation, cores=recommended)
    elif resource == "memory":
        after = replace(allocation, memory_gb=recommended)
    elif resource == "storage":
        after = replace(allocation, storage_gb=recommended)
    else:
        after = replace(allocation, replicas=int(recommended))
    return monthly_cost_delta(allocation, after, model)

from __future__ import annotations

import re

import pytest

from forecasting.planning.capacity import CapacityInputError
from forecasting.planning.costs import (
    Allocation,
    CostModel,
    monthly_cost,
    monthly_cost_delta,
    resource_cost_delta,
)

PRICES = CostModel(30.0, 4.0, 0.10)


def test_monthly_cost_counts_every_replica() -> None:
    backend = Allocation(cores=2, memory_gb=4, replicas=2)
    assert monthly_cost(backend, PRICES) == 2 * (2 * 30 + 4 * 4)
    postgres = Allocation(cores=2, memory_gb=4, storage_gb=200)
    assert monthly_cost(postgres, PRICES) == 60 + 16 + 20


def test_deltas_are_signed() -> None:
    frontend = Allocation(cores=1, memory_gb=2, replicas=2)
    assert resource_cost_delta(frontend, "memory", 1.0, PRICES) == -8.0
    assert resource_cost_delta(frontend, "cpu", 1.5, PRICES) == 30.0
    assert resource_cost_delta(frontend, "replicas", 3, PRICES) == 38.0
    assert monthly_cost_delta(frontend, frontend, PRICES) == 0.0


def test_money_is_rounded_half_up_to_cents() -> None:
    cheap = CostModel(0.005, 1.0, 1.0)
    assert monthly_cost(Allocation(cores=1, memory_gb=0), cheap) == 0.01


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("costs.price_per_core_month", {"price_per_core_month": 0.0}),
        ("costs.price_per_gb_memory_month", {"price_per_gb_memory_month": -1.0}),
        ("costs.price_per_gb_storage_month", {"price_per_gb_storage_month": float("nan")}),
    ],
)
def test_non_positive_prices_are_rejected_by_name(field: str, kwargs: dict[str, float]) -> None:
    values = {
        "price_per_core_month": 1.0,
        "price_per_gb_memory_month": 1.0,
        "price_per_gb_storage_month": 1.0,
        **kwargs,
    }
    with pytest.raises(CapacityInputError, match=f"^{re.escape(field)}: must be greater than 0"):
        CostModel(
            values["price_per_core_month"],
            values["price_per_gb_memory_month"],
            values["price_per_gb_storage_month"],
        )


def test_allocation_validation() -> None:
    with pytest.raises(CapacityInputError, match="replicas"):
        Allocation(cores=1, memory_gb=1, replicas=0)
    with pytest.raises(CapacityInputError, match="memory_gb"):
        Allocation(cores=1, memory_gb=-1)

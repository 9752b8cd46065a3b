from __future__ import annotations

import pytest

from forecasting.planning.capacity import CapacityInputError
from forecasting.planning.costs import (
    Allocation,
    CostModel,
    monthly_cost,
    monthly_cost_delta,
    resource_cost_delta,
)
from tests.runbook_settings import PRICES


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
    cheap = CostModel(0.005, 1.0, 1.0, "USD")
    assert monthly_cost(Allocation(cores=1, memory_gb=0), cheap) == 0.01


def test_allocation_validation() -> None:
    with pytest.raises(CapacityInputError, match="replicas"):
        Allocation(cores=1, memory_gb=1, replicas=0)
    with pytest.raises(CapacityInputError, match="memory_gb"):
        Allocation(cores=1, memory_gb=-1)

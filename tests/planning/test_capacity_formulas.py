from __future__ import annotations

from dataclasses import replace

import pytest

from forecasting.planning.capacity import (
    CapacityInputError,
    backend_instances,
    ceil_to_step,
    database,
    redis_memory_gb,
    round_half_up,
)
from tests.runbook_settings import CAPACITY


def test_backend_worked_example_300_rps_needs_6_plus_2() -> None:
    assert backend_instances(300, CAPACITY) == 8


@pytest.mark.parametrize(
    ("rps", "expected"),
    [(0, 0), (1, 2), (50, 2), (51, 3), (100, 3), (250, 6), (1750, 42), (1751, 44)],
)
def test_backend_instances_ceil_plus_ceil_buffer(rps: float, expected: int) -> None:
    assert backend_instances(rps, CAPACITY) == expected


def test_backend_instances_uses_settings() -> None:
    assert backend_instances(300, replace(CAPACITY, rps_per_instance=100, instance_buffer=0.5)) == 5


def test_database_worked_example_2000_agents() -> None:
    needs = database(2000, CAPACITY)
    assert needs.storage_gb == 3.0
    assert needs.memory_gb == 6.0
    assert needs.max_connections == 300


def test_database_minimums_apply_for_few_agents() -> None:
    needs = database(10, CAPACITY)
    assert needs.memory_gb == 6.0  # max(4, 0.02) * 1.5
    assert needs.max_connections == 30  # int(max(20, 1) * 1.5)
    assert needs.storage_gb == pytest.approx(0.015)


def test_database_connections_truncate_like_int() -> None:
    # 0.1 * 333 * 1.5 = 49.95 -> int() gives 49, not 50
    assert database(333, CAPACITY).max_connections == 49


def test_redis_worked_example_200_peak_users() -> None:
    assert redis_memory_gb(200, CAPACITY) == 1.0


def test_redis_above_minimum() -> None:
    # 10000 users * 100 KB / 1024 * 1.5 / 1024
    assert redis_memory_gb(10_000, CAPACITY) == pytest.approx(10_000 * 100 / 1024 * 1.5 / 1024)


def test_round_half_up_is_not_bankers() -> None:
    assert round_half_up(112.5) == 113
    assert round_half_up(2.5) == 3
    assert round(2.5) == 2


def test_ceil_to_step_ignores_float_noise() -> None:
    assert ceil_to_step(2 * 1.1, 0.1) == 2.2
    assert ceil_to_step(0.9472, 0.25) == 1.0
    assert ceil_to_step(1.0, 0.25) == 1.0


def test_negative_load_is_rejected() -> None:
    with pytest.raises(CapacityInputError, match="requests_per_second"):
        backend_instances(-1, CAPACITY)
    with pytest.raises(CapacityInputError, match="agents"):
        database(float("nan"), CAPACITY)

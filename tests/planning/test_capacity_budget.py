from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from forecasting.planning.budget import Load, budget, plan, quarter_end, sized_allocation
from forecasting.planning.capacity import CapacityInputError
from forecasting.planning.costs import Allocation, monthly_cost
from forecasting.planning.growth import GrowthScenario
from tests.runbook_settings import CAPACITY, GROWTH, PRICES

RUNBOOK = {
    "backend": Allocation(cores=2, memory_gb=4, replicas=2, horizontal=True),
    "frontend": Allocation(cores=1, memory_gb=2, replicas=2, horizontal=True),
    "postgres": Allocation(cores=2, memory_gb=4, storage_gb=200),
    "redis": Allocation(cores=0.5, memory_gb=2, storage_gb=10),
    "nginx": Allocation(cores=0.5, memory_gb=1),
    "monitoring": Allocation(cores=1, memory_gb=3, storage_gb=50),
}
TODAY = dt.date(2026, 11, 27)


def test_plan_reproduces_the_runbook_worked_examples() -> None:
    result = plan(RUNBOOK, PRICES, GROWTH, CAPACITY)
    aggressive = next(s for s in result.scenarios if s.name == "aggressive")
    year2 = aggressive.years[1]
    assert (year2.users, year2.agents, year2.requests_per_second) == (200, 2000, 400)
    assert (year2.database.storage_gb, year2.database.memory_gb) == (3.0, 6.0)
    assert year2.database.max_connections == 300
    assert year2.redis_memory_gb == 1.0
    assert year2.backend_instances == 8 + 2  # ceil(400/50)=8, buffer 2


def test_plan_years_follow_the_computed_growth_table() -> None:
    conservative = plan(RUNBOOK, PRICES, GROWTH, CAPACITY).scenarios[0]
    assert [y.agents for y in conservative.years] == [600, 720, 864]
    assert [y.year for y in conservative.years] == [1, 2, 3]


def test_plan_json_shape() -> None:
    data = plan(RUNBOOK, PRICES, GROWTH, CAPACITY).to_dict()
    assert set(data) == {"baseline", "scenarios"}
    year = data["scenarios"][1]["years"][2]
    assert set(year) == {
        "year",
        "users",
        "agents",
        "requests_per_second",
        "backend_instances",
        "database",
        "redis_memory_gb",
        "monthly_cost",
    }
    assert set(year["database"]) == {"storage_gb", "memory_gb", "max_connections"}


def test_plan_cost_grows_with_the_scenario() -> None:
    costs = [s.years[-1].monthly_cost for s in plan(RUNBOOK, PRICES, GROWTH, CAPACITY).scenarios]
    assert costs == sorted(costs)
    assert costs[0] > sum(monthly_cost(a, PRICES) for a in RUNBOOK.values()) * 0.9


def test_budget_has_every_scenario_service_and_quarter() -> None:
    result = budget(2027, TODAY, RUNBOOK, PRICES, GROWTH, CAPACITY)
    assert len(result.rows) == 3 * len(RUNBOOK) * 4
    assert {r.period for r in result.rows} == {f"2027-Q{q}" for q in (1, 2, 3, 4)}
    assert len(result.totals) == 3 * 5


def test_budget_totals_add_up_exactly() -> None:
    result = budget(2027, TODAY, RUNBOOK, PRICES, GROWTH, CAPACITY)
    for scenario in ("conservative", "moderate", "aggressive"):
        rows = result.rows_for(scenario)
        quarters = [t for t in result.totals_for(scenario) if t.quarter is not None]
        for total in quarters:
            in_quarter = [r for r in rows if r.quarter == total.quarter]
            assert total.cost == pytest.approx(sum(r.quarter_cost for r in in_quarter), abs=1e-9)
            assert total.instances == sum(r.instances for r in in_quarter)
        year = result.year_total(scenario)
        assert year.cost == pytest.approx(sum(t.cost for t in quarters), abs=1e-9)
        assert year.cores == max(t.cores for t in quarters)
        for row in rows:
            assert row.quarter_cost == pytest.approx(3 * row.monthly_cost, abs=0.011)


def test_budget_orders_scenarios_by_cost() -> None:
    result = budget(2028, TODAY, RUNBOOK, PRICES, GROWTH, CAPACITY)
    costs = [result.year_total(s.name).cost for s in result.scenarios]
    assert costs == sorted(costs)
    assert costs[0] < costs[-1]


def test_backend_instances_in_budget_follow_the_formula() -> None:
    growth = replace(GROWTH, scenarios=(GrowthScenario("flat", 0.0),))
    result = budget(2027, TODAY, RUNBOOK, PRICES, growth, CAPACITY)
    backend = [r for r in result.rows if r.service == "backend"]
    # 100 RPS: ceil(100/50) = 2, + ceil(0.4) = 1
    assert {r.instances for r in backend} == {3}
    assert {r.cores for r in backend} == {6.0}


def test_sized_allocation_uses_database_and_redis_formulas_as_floors() -> None:
    postgres = sized_allocation(
        "postgres", RUNBOOK["postgres"], 1.0, Load(200, 4000, 100), CAPACITY
    )
    assert postgres.memory_gb == 12.0  # max(4, 8) * 1.5
    assert postgres.storage_gb == 200  # formula gives 6 GB; never planned below as-of
    redis = sized_allocation("redis", RUNBOOK["redis"], 1.0, Load(50_000, 500, 100), CAPACITY)
    assert redis.memory_gb == 7.25  # 50000*100/1024*1.5/1024 = 7.15 GB, rounded up


def test_quarter_end() -> None:
    assert quarter_end(2027, 1) == dt.date(2027, 4, 1)
    assert quarter_end(2027, 4) == dt.date(2028, 1, 1)


def test_past_budget_year_is_rejected() -> None:
    with pytest.raises(CapacityInputError, match=r"^year: 2025 is in the past"):
        budget(2025, TODAY, RUNBOOK, PRICES, GROWTH, CAPACITY)


def test_current_year_is_allowed() -> None:
    assert budget(2026, TODAY, RUNBOOK, PRICES, GROWTH, CAPACITY).year == 2026


def test_missing_backend_or_database_allocation_is_named() -> None:
    partial = {k: v for k, v in RUNBOOK.items() if k != "postgres"}
    with pytest.raises(CapacityInputError, match=r"^allocations\.postgres"):
        budget(2027, TODAY, partial, PRICES, GROWTH, CAPACITY)
    with pytest.raises(CapacityInputError, match=r"^allocations\.postgres"):
        plan(partial, PRICES, GROWTH, CAPACITY)

"""Budget rows per scenario, service and quarter, and the three-year plan.

Sizing model (``sized_allocation``), for a load grown by ``f = (1 + g) ** t``
from the as-of baseline (t in years since as-of):

* the backend (``ServiceRoles.backend``): instances from the runbook formula
  on the projected requests per second; each instance keeps its as-of size;
* other horizontally scaled services: instances = ceil(as-of replicas * f),
  each keeping its as-of size;
* vertically scaled services: cores, memory and storage of each replica
  = as-of amount * f;
* the database: memory and storage from the runbook formula on the projected
  agents, never below the as-of allocation (a budget does not plan to shrink
  what runs); cores as a vertical service;
* Redis: memory from the runbook formula on the projected users (as peak
  concurrent users), never below the as-of allocation; cores and storage as a
  vertical service.

Amounts are rounded up to what can be allocated: CPU to 0.05 core below one
core and 0.1 core above, memory to 0.25 GB, storage to 1 GB.

A quarter is sized for the load at its end (capacity must be in place before
the load arrives) and costs three months of that allocation. Quarters already
over at as-of use the as-of load (t is never negative).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from forecasting.planning.capacity import (
    DEFAULT_ROLES,
    CapacityInputError,
    CapacitySettings,
    DatabaseRequirements,
    ServiceRoles,
    backend_instances,
    ceil_to_step,
    database,
    redis_memory_gb,
)
from forecasting.planning.costs import Allocation, CostModel, money, monthly_cost_exact
from forecasting.planning.growth import (
    DAYS_PER_YEAR,
    GrowthBaseline,
    GrowthScenario,
    GrowthSettings,
    growth_factor,
    project_scenario,
)

MONTHS_PER_QUARTER = 3
STORAGE_STEP_GB = 1.0


@dataclass(frozen=True)
class Load:
    users: float
    agents: float
    requests_per_second: float


def _cores(value: float) -> float:
    small = ceil_to_step(value, 0.05)
    return small if small < 1 else ceil_to_step(value, 0.1)


def _memory(value: float) -> float:
    return ceil_to_step(value, 0.25)


def _storage(value: float) -> float:
    return ceil_to_step(value, STORAGE_STEP_GB)


def sized_allocation(
    service: str,
    as_of: Allocation,
    factor: float,
    load: Load,
    capacity: CapacitySettings,
    roles: ServiceRoles = DEFAULT_ROLES,
) -> Allocation:
    """The allocation ``service`` needs when load is ``factor`` times the as-of load.

    ``load`` is the projected users/agents/RPS for the runbook formulas.
    """
    if service == roles.backend:
        return replace(
            as_of, replicas=max(1, backend_instances(load.requests_per_second, capacity))
        )
    if as_of.horizontal:
        return replace(as_of, replicas=max(1, math.ceil(round(as_of.replicas * factor, 9))))
    cores = _cores(as_of.cores * factor)
    memory = _memory(as_of.memory_gb * factor)
    storage = _storage(as_of.storage_gb * factor) if as_of.storage_gb > 0 else 0.0
    if service == roles.database:
        needs = database(load.agents, capacity)
        memory = max(as_of.memory_gb, _memory(needs.memory_gb))
        storage = max(as_of.storage_gb, _storage(needs.storage_gb))
    elif service == roles.cache:
        memory = max(as_of.memory_gb, _memory(redis_memory_gb(load.users, capacity)))
    return replace(as_of, cores=cores, memory_gb=memory, storage_gb=storage)


def _check_allocations(allocations: Mapping[str, Allocation], roles: ServiceRoles) -> None:
    if not allocations:
        raise CapacityInputError("allocations", "no services given")
    for role, name in (("backend", roles.backend), ("database", roles.database)):
        if name not in allocations:
            raise CapacityInputError(
                f"allocations.{name}", f"no allocation for the {role} service {name!r}"
            )


# --- budget ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetRow:
    """One service in one quarter of one scenario; amounts are totals over its instances."""

    year: int
    scenario: str
    annual_growth: float
    service: str
    quarter: int
    instances: int
    cores: float
    memory_gb: float
    storage_gb: float
    monthly_cost: float
    quarter_cost: float

    @property
    def period(self) -> str:
        return f"{self.year}-Q{self.quarter}"


@dataclass(frozen=True)
class BudgetTotal:
    """All services of a scenario in one quarter, or in the whole year (``quarter`` None).

    The year's cores, memory, storage and instances are the largest quarter's
    (what must be in place by the end); its cost is the sum of the quarters.
    """

    year: int
    scenario: str
    quarter: int | None
    instances: int
    cores: float
    memory_gb: float
    storage_gb: float
    cost: float


@dataclass(frozen=True)
class Budget:
    year: int
    as_of: dt.date
    currency: str
    scenarios: tuple[GrowthScenario, ...]
    rows: tuple[BudgetRow, ...]
    totals: tuple[BudgetTotal, ...]

    def rows_for(self, scenario: str) -> tuple[BudgetRow, ...]:
        return tuple(r for r in self.rows if r.scenario == scenario)

    def totals_for(self, scenario: str) -> tuple[BudgetTotal, ...]:
        return tuple(t for t in self.totals if t.scenario == scenario)

    def year_total(self, scenario: str) -> BudgetTotal:
        return next(t for t in self.totals_for(scenario) if t.quarter is None)


def quarter_end(year: int, quarter: int) -> dt.date:
    """The first day after ``quarter`` of ``year``."""
    return dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)


def _sum_money(values: list[float]) -> float:
    return money(sum((Decimal(repr(v)) for v in values), Decimal(0)))


def _times(value: float, replicas: int) -> float:
    """``value`` added up ``replicas`` times, exactly as a sum of the decimals would."""
    return float(Decimal(repr(value)) * replicas)


def _sum_amount(values: list[float]) -> float:
    return float(sum((Decimal(repr(v)) for v in values), Decimal(0)))


def budget(
    year: int,
    today: dt.date,
    allocations: Mapping[str, Allocation],
    costs: CostModel,
    growth: GrowthSettings,
    capacity: CapacitySettings,
    roles: ServiceRoles = DEFAULT_ROLES,
) -> Budget:
    """Per scenario, service and quarter of ``year``: what is needed and what it costs.

    ``allocations`` are those in force at ``today`` (the as-of baseline,
    together with ``growth.baseline``). ``year`` may be the current year or a
    later one; a past year is an error.
    """
    if year < today.year:
        raise CapacityInputError(
            "year", f"{year} is in the past (today is {today.isoformat()}); budget a coming year"
        )
    last = today.year + growth.horizon_years
    if year > last:
        raise CapacityInputError(
            "year",
            f"{year} is beyond the planning horizon of {growth.horizon_years} years "
            f"(forecast.horizon_years): budget a year up to {last}",
        )
    _check_allocations(allocations, roles)
    base = growth.baseline
    rows: list[BudgetRow] = []
    totals: list[BudgetTotal] = []
    for scenario in growth.scenarios:
        g = scenario.annual_growth
        quarter_totals: list[BudgetTotal] = []
        for quarter in (1, 2, 3, 4):
            years = max(0.0, (quarter_end(year, quarter) - today).days / DAYS_PER_YEAR)
            factor = growth_factor(g, years)
            load = Load(
                users=base.users * factor,
                agents=base.agents * factor,
                requests_per_second=base.requests_per_second * factor,
            )
            quarter_rows: list[BudgetRow] = []
            for service, current in allocations.items():
                sized = sized_allocation(service, current, factor, load, capacity, roles)
                monthly = monthly_cost_exact(sized, costs)
                quarter_rows.append(
                    BudgetRow(
                        year=year,
                        scenario=scenario.name,
                        annual_growth=g,
                        service=service,
                        quarter=quarter,
                        instances=sized.replicas,
                        cores=_times(sized.cores, sized.replicas),
                        memory_gb=_times(sized.memory_gb, sized.replicas),
                        storage_gb=_times(sized.storage_gb, sized.replicas),
                        monthly_cost=money(monthly),
                        quarter_cost=money(monthly * MONTHS_PER_QUARTER),
                    )
                )
            rows.extend(quarter_rows)
            quarter_totals.append(
                BudgetTotal(
                    year=year,
                    scenario=scenario.name,
                    quarter=quarter,
                    instances=sum(r.instances for r in quarter_rows),
                    cores=_sum_amount([r.cores for r in quarter_rows]),
                    memory_gb=_sum_amount([r.memory_gb for r in quarter_rows]),
                    storage_gb=_sum_amount([r.storage_gb for r in quarter_rows]),
                    cost=_sum_money([r.quarter_cost for r in quarter_rows]),
                )
            )
        totals.extend(quarter_totals)
        totals.append(
            BudgetTotal(
                year=year,
                scenario=scenario.name,
                quarter=None,
                instances=max(t.instances for t in quarter_totals),
                cores=max(t.cores for t in quarter_totals),
                memory_gb=max(t.memory_gb for t in quarter_totals),
                storage_gb=max(t.storage_gb for t in quarter_totals),
                cost=_sum_money([t.cost for t in quarter_totals]),
            )
        )
    return Budget(
        year=year,
        as_of=today,
        currency=costs.currency,
        scenarios=growth.scenarios,
        rows=tuple(rows),
        totals=tuple(totals),
    )


# --- three-year plan -------------------------------------------------------------------


@dataclass(frozen=True)
class PlanYear:
    year: int
    users: int
    agents: int
    requests_per_second: int
    backend_instances: int
    database: DatabaseRequirements
    redis_memory_gb: float
    monthly_cost: float


@dataclass(frozen=True)
class ScenarioPlan:
    name: str
    annual_growth: float
    years: tuple[PlanYear, ...]


@dataclass(frozen=True)
class Plan:
    baseline: GrowthBaseline
    currency: str
    scenarios: tuple[ScenarioPlan, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``capplan plan --format json``."""
        return {
            "baseline": {
                "users": self.baseline.users,
                "agents": self.baseline.agents,
                "requests_per_second": self.baseline.requests_per_second,
            },
            "scenarios": [
                {
                    "name": s.name,
                    "annual_growth": s.annual_growth,
                    "years": [
                        {
                            "year": y.year,
                            "users": y.users,
                            "agents": y.agents,
                            "requests_per_second": y.requests_per_second,
                            "backend_instances": y.backend_instances,
                            "database": {
                                "storage_gb": y.database.storage_gb,
                                "memory_gb": y.database.memory_gb,
                                "max_connections": y.database.max_connections,
                            },
                            "redis_memory_gb": y.redis_memory_gb,
                            "monthly_cost": y.monthly_cost,
                        }
                        for y in s.years
                    ],
                }
                for s in self.scenarios
            ],
        }


def plan(
    allocations: Mapping[str, Allocation],
    costs: CostModel,
    growth: GrowthSettings,
    capacity: CapacitySettings,
    roles: ServiceRoles = DEFAULT_ROLES,
) -> Plan:
    """Year-by-year projections per scenario and what they need.

    Users, agents and RPS are the rounded projections (the runbook's tables);
    the formulas are applied to those counts, with the projected users taken as
    Redis's peak concurrent users. ``monthly_cost`` is the whole fleet sized
    by ``sized_allocation`` for that year's load.
    """
    _check_allocations(allocations, roles)
    scenarios: list[ScenarioPlan] = []
    for scenario in growth.scenarios:
        projection = project_scenario(scenario, growth.baseline, growth.horizon_years)
        years: list[PlanYear] = []
        for p in projection.years:
            factor = growth_factor(scenario.annual_growth, p.year)
            load = Load(p.users, p.agents, p.requests_per_second)
            fleet = [
                sized_allocation(name, current, factor, load, capacity, roles)
                for name, current in allocations.items()
            ]
            years.append(
                PlanYear(
                    year=p.year,
                    users=p.users,
                    agents=p.agents,
                    requests_per_second=p.requests_per_second,
                    backend_instances=backend_instances(p.requests_per_second, capacity),
                    database=database(p.agents, capacity),
                    redis_memory_gb=redis_memory_gb(p.users, capacity),
                    monthly_cost=money(
                        sum((monthly_cost_exact(a, costs) for a in fleet), Decimal(0))
                    ),
                )
            )
        scenarios.append(ScenarioPlan(scenario.name, scenario.annual_growth, tuple(years)))
    return Plan(baseline=growth.baseline, currency=costs.currency, scenarios=tuple(scenarios))

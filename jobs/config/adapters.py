"""The one mapping from ``Config`` to the pure ``forecasting`` settings objects."""

from __future__ import annotations

from forecasting.planning.capacity import CapacitySettings
from forecasting.planning.costs import Allocation, CostModel
from forecasting.planning.growth import GrowthBaseline, GrowthScenario, GrowthSettings
from forecasting.rightsizing.fleet import RightsizingSettings
from forecasting.types import ORGANIC, ForecastScenario
from jobs.config import RIGHTSIZED_METRICS, Config


def capacity_settings(config: Config) -> CapacitySettings:
    f = config.formulas
    return CapacitySettings(
        rps_per_instance=f.backend.rps_per_instance,
        instance_buffer=f.backend.buffer,
        storage_mb_per_agent=f.database.storage_mb_per_agent,
        memory_mb_per_agent=f.database.memory_mb_per_agent,
        min_memory_gb=f.database.min_memory_gb,
        connections_per_agent=f.database.connections_per_agent,
        min_connections=float(f.database.min_connections),
        database_growth_factor=f.database.growth_factor,
        session_size_kb=f.redis.session_size_kb,
        redis_buffer=f.redis.buffer,
        min_redis_memory_gb=f.redis.min_memory_gb,
    )


def growth_settings(config: Config) -> GrowthSettings:
    b = config.baseline
    return GrowthSettings(
        baseline=GrowthBaseline(b.users, b.agents, b.requests_per_second),
        scenarios=tuple(GrowthScenario(name, g) for name, g in config.scenarios.items()),
        horizon_years=config.forecast.horizon_years,
    )


def forecast_scenarios(config: Config) -> tuple[ForecastScenario, ...]:
    """The organic forecast, then every configured growth scenario."""
    return (ORGANIC, *(ForecastScenario(name, g) for name, g in config.scenarios.items()))


def cost_model(config: Config) -> CostModel:
    c = config.costs
    return CostModel(
        price_per_core_month=c.per_core_month,
        price_per_gb_memory_month=c.per_gb_memory_month,
        price_per_gb_storage_month=c.per_gb_storage_month,
        currency=c.currency,
    )


def allocations(config: Config) -> dict[str, Allocation]:
    return {
        name: Allocation(
            cores=s.cpu_cores,
            memory_gb=s.memory_gb,
            storage_gb=s.storage_gb or 0.0,
            replicas=s.replicas,
            horizontal=s.scaling == "horizontal",
        )
        for name, s in config.services.items()
    }


def rightsizing_settings(config: Config) -> RightsizingSettings:
    r = config.rightsizing
    cpu, memory = RIGHTSIZED_METRICS
    cpu_warning, cpu_scale_down = config.sizing_levels(cpu)
    memory_warning, memory_scale_down = config.sizing_levels(memory)
    return RightsizingSettings(
        lookback_days=float(r.lookback_days),
        review_days=float(r.review_days),
        growth_scenario=r.growth_scenario,
        annual_growth=config.scenarios[r.growth_scenario],
        cpu_warning=cpu_warning / 100,
        memory_warning=memory_warning / 100,
        cpu_scale_down=cpu_scale_down / 100,
        memory_scale_down=memory_scale_down / 100,
    )

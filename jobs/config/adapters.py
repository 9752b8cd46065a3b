"""The one mapping from ``Config`` to the pure ``forecasting`` settings objects."""

from __future__ import annotations

from forecasting.planning.capacity import CapacitySettings
from forecasting.planning.costs import Allocation, CostModel
from forecasting.planning.growth import GrowthBaseline, GrowthScenario, GrowthSettings
from forecasting.rightsizing.fleet import RightsizingSettings
from jobs.config import Config


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
    defaults = RightsizingSettings()

    cpu = config.thresholds.get("cpu_percent")
    memory = config.thresholds.get("memory_percent")
    cpu_down = config.scale_down.get("cpu_percent")
    memory_down = config.scale_down.get("memory_percent")
    return RightsizingSettings(
        lookback_days=float(r.lookback_days),
        review_days=float(r.review_days),
        growth_scenario=r.growth_scenario,
        annual_growth=config.scenarios[r.growth_scenario],
        cpu_warning=cpu.warning.above / 100 if cpu else defaults.cpu_warning,
        memory_warning=memory.warning.above / 100 if memory else defaults.memory_warning,
        cpu_scale_down=cpu_down.below / 100 if cpu_down else defaults.cpu_scale_down,
        memory_scale_down=(memory_down.below / 100 if memory_down else defaults.memory_scale_down),
    )

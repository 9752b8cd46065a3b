"""Right-sizing: CPU, memory and replica recommendations from usage history.

Model, per service and resource (CPU cores and memory GB are per replica):

1. Window: samples in ``[as_of - lookback, as_of)`` (nothing at or after as-of).
2. Two well-known recommenders set the floor:

   * VPA (Kubernetes Vertical Pod Autoscaler, recommender defaults): target =
     p90 + 15% margin, on raw samples for CPU and on daily peaks for memory;
     its bounds widen when the history is short (``forecasting.rightsizing.vpa``).
   * KRR (robusta-dev/krr, "simple" strategy): CPU request = p95, no CPU
     limit; memory request = limit = peak + 15%.

   The recommendation is never below either anchor.
3. Growth: the p95 of the window, grown by ``(1 + g) ** (review_days / 365.25)``
   for the configured scenario, must stay under the warning threshold
   (CPU 70%, memory 80%) until the next review:
   ``recommended >= p95 * growth / warning``.
4. Floors from the runbook's formulas: the database's memory is at least
   ``database(agents).memory_gb`` and Redis's at least
   ``redis_memory_gb(peak_users)``; the database's storage is raised (never
   lowered: volumes do not shrink in place) to ``database(agents).storage_gb``.
5. Rounded up to a step: CPU to 0.05 core below 1 core and 0.1 core from 1 core
   (the granularity of Docker ``cpus`` and Kubernetes millicores people
   actually write), memory to 0.25 GB (256 MiB).
6. Action: ``increase`` when the p95 is already over the warning threshold,
   when growth would take it over before the next review, or when a runbook
   formula asks for more. ``decrease`` only when the runbook's scale-down
   trigger holds (p95 below 30% of the CPU allocation, below 50% of memory),
   the allocation is above VPA's upper bound (so short histories do not shrink
   anything), and the saving is at least the dead band (10%). Otherwise
   ``keep``, with ``recommended == current``.

Replicas (services with a requests-per-second series): the runbook's backend
formula applied to the p95 RPS grown to the next review. Per-replica CPU and
memory are judged at the current replica count.

Memory is in GB of 2**30 bytes, as Docker's and Kubernetes' ``G``/``Gi`` limits
people write for these services.

The pieces live in their own modules (settings, usage statistics, the VPA
anchor, the recommendation types, CPU/memory and replica/storage sizing);
every name stays importable from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from forecasting.planning.capacity import (
    DEFAULT_ROLES,
    CapacityInputError,
    CapacitySettings,
    ServiceRoles,
    database,
    redis_memory_gb,
)
from forecasting.planning.costs import Allocation, CostModel
from forecasting.planning.human import human_number
from forecasting.rightsizing.cpu_memory import rightsize_cpu, rightsize_memory
from forecasting.rightsizing.recommendation import (
    Action,
    Evidence,
    Recommendation,
    ResourceName,
    Unit,
)
from forecasting.rightsizing.replicas_storage import rightsize_database_storage, rightsize_replicas
from forecasting.rightsizing.settings import RightsizingSettings
from forecasting.rightsizing.usage_stats import (
    BYTES_PER_GB,
    UsagePercentiles,
    lookback_window,
    percent_to_absolute,
    usage_percentiles,
)
from forecasting.rightsizing.vpa import VpaEstimate, history_confidence_days, vpa_estimate

__all__ = [
    "BYTES_PER_GB",
    "Action",
    "Evidence",
    "FormulaDemand",
    "Recommendation",
    "ResourceName",
    "RightsizingSettings",
    "ServiceUsage",
    "Unit",
    "UsagePercentiles",
    "VpaEstimate",
    "history_confidence_days",
    "lookback_window",
    "percent_to_absolute",
    "rightsize",
    "rightsize_cpu",
    "rightsize_database_storage",
    "rightsize_memory",
    "rightsize_replicas",
    "usage_percentiles",
    "vpa_estimate",
]


@dataclass(frozen=True, eq=False)
class ServiceUsage:
    """Usage history of one service, each a series indexed by tz-aware time.

    ``cpu_cores`` and ``memory_bytes`` are per replica (one container's usage);
    ``requests_per_second`` is the whole service's throughput.
    """

    service: str
    cpu_cores: pd.Series | None = None
    memory_bytes: pd.Series | None = None
    requests_per_second: pd.Series | None = None


@dataclass(frozen=True)
class FormulaDemand:
    """Current load the runbook's database and Redis formulas are sized from."""

    agents: float | None = None
    peak_users: float | None = None


def rightsize(
    usage: Sequence[ServiceUsage],
    allocations: Mapping[str, Allocation],
    costs: CostModel,
    as_of: pd.Timestamp,
    settings: RightsizingSettings,
    *,
    capacity: CapacitySettings,
    roles: ServiceRoles = DEFAULT_ROLES,
    demand: FormulaDemand = FormulaDemand(),
) -> tuple[Recommendation, ...]:
    """Recommendations for every service in ``usage``, in input order: cpu, memory, replicas.

    The database's storage is added when ``demand.agents`` is known. Every
    service in ``usage`` needs an allocation.
    """
    out: list[Recommendation] = []
    for item in usage:
        service = item.service
        if service not in allocations:
            raise CapacityInputError(
                f"allocations.{service}", "no allocation for this service; cannot right-size it"
            )
        allocation = allocations[service]
        if item.cpu_cores is not None:
            out.append(rightsize_cpu(service, item.cpu_cores, allocation, costs, as_of, settings))
        if item.memory_bytes is not None:
            floor, note = 0.0, "the runbook formula"
            if service == roles.database and demand.agents is not None:
                floor = database(demand.agents, capacity).memory_gb
                note = f"the runbook's database formula for {human_number(demand.agents)} agents"
            elif service == roles.cache and demand.peak_users is not None:
                floor = redis_memory_gb(demand.peak_users, capacity)
                users = human_number(demand.peak_users)
                note = f"the runbook's Redis formula for {users} peak users"
            out.append(
                rightsize_memory(
                    service,
                    item.memory_bytes,
                    allocation,
                    costs,
                    as_of,
                    settings,
                    formula_floor_gb=floor,
                    formula_note=note,
                )
            )
        if item.requests_per_second is not None:
            out.append(
                rightsize_replicas(
                    service, item.requests_per_second, allocation, costs, as_of, settings, capacity
                )
            )
    if demand.agents is not None and roles.database in allocations:
        out.append(
            rightsize_database_storage(
                roles.database, demand.agents, allocations[roles.database], costs, capacity
            )
        )
    return tuple(out)

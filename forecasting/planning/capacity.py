"""The runbook's capacity formulas: backend instances, database and Redis sizing.

The arithmetic is done on ``Decimal`` values built from each float's shortest
repr, so ``0.2 * 35`` is exactly 7 and ``int(...)`` never truncates 299.999...
to 299: binary floating point can push a ``ceil`` or ``int`` across an integer
boundary that the runbook's decimal numbers never meant to cross.

The runbook's units are kept as it wrote them: database storage and memory use
1 GB = 1000 MB (``num_agents * 0.001`` for "1 MB per agent"), Redis uses
1 GB = 1024 MB = 1024 * 1024 KB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext


class CapacityInputError(ValueError):
    """Bad input to the capacity, right-sizing, cost or budget logic.

    ``field`` names the offending setting or argument so the CLI can point at it.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


def to_decimal(value: float) -> Decimal:
    """The decimal number a float was written as (``0.1`` -> ``Decimal('0.1')``)."""
    return Decimal(repr(float(value)))


def round_half_up(value: float | Decimal, places: int = 0) -> Decimal:
    """Round half away from zero, as people do by hand (Python's ``round`` is half-even)."""
    exact = value if isinstance(value, Decimal) else to_decimal(value)
    return _quantize(exact, Decimal(1).scaleb(-places), ROUND_HALF_UP)


def _quantize(exact: Decimal, unit: Decimal, rounding: str) -> Decimal:
    # The default context holds 28 digits; a large value with nine decimals
    # needs more, and quantize raises InvalidOperation rather than round.
    with localcontext() as context:
        context.prec = max(context.prec, exact.adjusted() - unit.adjusted() + 2)
        return exact.quantize(unit, rounding=rounding)


# Products such as 2 * 1.1 come out as 2.2000000000000002; nine decimals drop
# that noise before a ceiling would turn it into a whole extra step.
_NOISE = Decimal("1e-9")


def ceil_to_step(value: float, step: float) -> float:
    """Smallest multiple of ``step`` that is >= ``value``, free of float noise."""
    exact = _quantize(to_decimal(value) / to_decimal(step), _NOISE, ROUND_HALF_UP)
    return float(exact.to_integral_value(rounding=ROUND_CEILING) * to_decimal(step))


def _require_load(field: str, value: float) -> None:
    if not math.isfinite(value):
        raise CapacityInputError(field, f"must be a finite number, got {value!r}")
    if value < 0:
        raise CapacityInputError(field, f"must not be negative, got {value!r}")


@dataclass(frozen=True)
class CapacitySettings:
    """Parameters of the runbook's formulas (``formulas.*`` of the configuration,
    which validates them and holds the runbook's numbers)."""

    rps_per_instance: float
    instance_buffer: float
    storage_mb_per_agent: float
    memory_mb_per_agent: float
    min_memory_gb: float
    connections_per_agent: float
    min_connections: float
    database_growth_factor: float
    session_size_kb: float
    redis_buffer: float
    min_redis_memory_gb: float


@dataclass(frozen=True)
class DatabaseRequirements:
    storage_gb: float
    memory_gb: float
    max_connections: int


def backend_instances(rps: float, settings: CapacitySettings) -> int:
    """Instances for ``rps`` requests per second: ceil(rps / per-instance) plus a ceil'd buffer.

    300 RPS at 50 per instance: 6 + ceil(0.2 * 6) = 6 + 2 = 8.
    """
    _require_load("requests_per_second", rps)
    base = (to_decimal(rps) / to_decimal(settings.rps_per_instance)).to_integral_value(
        rounding=ROUND_CEILING
    )
    buffer = (base * to_decimal(settings.instance_buffer)).to_integral_value(rounding=ROUND_CEILING)
    return int(base + buffer)


def database(num_agents: float, settings: CapacitySettings) -> DatabaseRequirements:
    """Database storage, memory and connection needs for ``num_agents`` agents.

    2000 agents: storage 2.0 * 1.5 = 3.0 GB, memory max(4, 4.0) * 1.5 = 6.0 GB,
    connections int(max(20, 200) * 1.5) = 300.
    """
    _require_load("agents", num_agents)
    agents = to_decimal(num_agents)
    factor = to_decimal(settings.database_growth_factor)
    storage = agents * to_decimal(settings.storage_mb_per_agent) / 1000
    memory = max(
        to_decimal(settings.min_memory_gb), agents * to_decimal(settings.memory_mb_per_agent) / 1000
    )
    connections = max(
        to_decimal(settings.min_connections), agents * to_decimal(settings.connections_per_agent)
    )
    return DatabaseRequirements(
        storage_gb=float(storage * factor),
        memory_gb=float(memory * factor),
        # int() truncates, as the runbook's formula does.
        max_connections=int((connections * factor).to_integral_value(rounding=ROUND_FLOOR)),
    )


def redis_memory_gb(concurrent_users: float, settings: CapacitySettings) -> float:
    """Redis memory for ``concurrent_users`` peak users: sessions plus a 50% cache buffer.

    200 users: 200 * 100 / 1024 * 1.5 / 1024 = 0.0286 GB, raised to the 1 GB minimum.
    """
    _require_load("concurrent_users", concurrent_users)
    sessions_mb = to_decimal(concurrent_users) * to_decimal(settings.session_size_kb) / 1024
    total_gb = sessions_mb * to_decimal(settings.redis_buffer) / 1024
    return float(max(to_decimal(settings.min_redis_memory_gb), total_gb))


@dataclass(frozen=True)
class ServiceRoles:
    """Which services the runbook's formulas size (by service name)."""

    backend: str = "backend"
    database: str = "postgres"
    cache: str = "redis"


DEFAULT_ROLES = ServiceRoles()

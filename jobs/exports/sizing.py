"""Right-sizing recommendations regrouped per service, as deployment tools want them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from forecasting.rightsizing.fleet import Recommendation
from jobs.exports.quantities import one_line

APPLIED_RESOURCES = ("cpu", "memory", "replicas")


@dataclass(frozen=True)
class ServiceSizing:
    """What to apply to one service: per-replica CPU cores and memory GB, and replicas.

    ``None`` means no recommendation for that resource (no usage, or a vertically
    scaled service's replicas): the deployment's own value stays.
    """

    service: str
    cpu_cores: float | None
    memory_gb: float | None
    replicas: int | None
    notes: tuple[str, ...]


def _note(r: Recommendation, currency: str) -> str:
    change = (
        f"keep {r.current:g} {r.unit}"
        if r.action == "keep"
        else f"{r.action} {r.current:g} -> {r.recommended:g} {r.unit}"
    )
    return one_line(
        f"{r.resource}: {change}, {r.monthly_cost_delta:+.2f} {currency}/month; {r.reason}"
    )


def per_service(recommendations: Sequence[Recommendation], currency: str) -> list[ServiceSizing]:
    """One entry per service that has a CPU, memory or replicas recommendation, in order."""
    by_service: dict[str, dict[str, Recommendation]] = {}
    for r in recommendations:
        if r.resource in APPLIED_RESOURCES:
            by_service.setdefault(r.service, {})[r.resource] = r
    out = []
    for service, found in by_service.items():
        cpu, memory, replicas = (found.get(name) for name in APPLIED_RESOURCES)
        out.append(
            ServiceSizing(
                service=service,
                cpu_cores=cpu.recommended if cpu else None,
                memory_gb=memory.recommended if memory else None,
                replicas=round(replicas.recommended) if replicas else None,
                notes=tuple(
                    _note(found[name], currency) for name in APPLIED_RESOURCES if name in found
                ),
            )
        )
    return out

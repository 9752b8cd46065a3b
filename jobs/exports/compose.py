"""A docker compose override file with the recommended resources and replicas.

Reservations are the recommendation; limits add the headroom the runbook's
vertical-scaling example keeps (limits twice the reservations), configurable
as ``rightsizing.limit_headroom``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime

from jobs.errors import CapplanError
from jobs.exports.quantities import compose_cpus, mebibytes, one_line
from jobs.exports.sizing import ServiceSizing

#: The Compose Specification's pattern for service names.
SERVICE_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
DEFAULT_FILENAME = "docker-compose.capplan.yml"


class ComposeNameError(CapplanError):
    exit_code = 2


def apply_command(override: str) -> str:
    return f"docker compose -f docker-compose.yml -f {override} up -d"


def _resources(cpus: float | None, memory_gb: float | None, factor: float) -> list[str]:
    def block(scale: float) -> list[str]:
        lines = []
        if cpus is not None:
            lines.append(f"          cpus: '{compose_cpus(cpus * scale)}'")
        if memory_gb is not None:
            lines.append(f"          memory: {mebibytes(memory_gb * scale)}M")
        return lines

    if cpus is None and memory_gb is None:
        return []
    return [
        "      resources:",
        "        limits:",
        *block(factor),
        "        reservations:",
        *block(1.0),
    ]


def compose_override(
    sizings: Sequence[ServiceSizing], as_of: datetime, limit_headroom: float
) -> str:
    """The override file's text; service names must be valid Compose names."""
    bad = [s.service for s in sizings if not SERVICE_NAME.fullmatch(s.service)]
    if bad:
        names = ", ".join(json.dumps(one_line(name, 60)) for name in bad)
        raise ComposeNameError(
            f"not valid Compose service names (letters, digits, '.', '_', '-'): {names}"
        )
    lines = [
        f"# capplan right-sizing as of {as_of.isoformat()}",
        f"# Apply with: {apply_command(DEFAULT_FILENAME)}",
        "services:",
    ]
    for sizing in sizings:
        lines.append(f"  {sizing.service}:")
        lines.extend(f"    # {note}" for note in sizing.notes)
        lines.append("    deploy:")
        if sizing.replicas is not None:
            lines.append(f"      replicas: {sizing.replicas}")
        lines.extend(_resources(sizing.cpu_cores, sizing.memory_gb, limit_headroom))
    return "\n".join(lines) + "\n"

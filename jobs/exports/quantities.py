"""How recommended sizes are written for container runtimes.

Sizes are rounded up to the unit the runtime is configured in (millicores,
MiB), never down, so an applied recommendation is never below what was
recommended. ``GB`` in capplan means GiB.
"""

from __future__ import annotations

import math
import re

MIB_PER_GB = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def millicores(cores: float) -> int:
    return max(1, math.ceil(round(cores * 1000, 6)))


def mebibytes(gb: float) -> int:
    return max(1, math.ceil(round(gb * MIB_PER_GB, 6)))


def compose_cpus(cores: float) -> str:
    """Compose's ``cpus``: a decimal string of whole millicores (``'2.5'``)."""
    return f"{millicores(cores) / 1000:g}"


def one_line(text: str, limit: int = 300) -> str:
    """A label or reason made safe for a comment line: no line breaks, bounded length."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"

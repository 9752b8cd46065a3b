"""Metric sources: clients that pull utilisation history from monitoring systems.

A pull source is a ``Source`` in its own module, with its settings model, and
one line in ``REGISTRY``: the configuration then validates ``sources.<name>``
with that model, ``capplan ingest`` gains ``--<name>``, and ``run-due`` and
``backfill`` pull it whenever its section is set.
"""

from __future__ import annotations

import importlib
from typing import Any

from jobs.errors import CapplanError
from jobs.ingest.sources.base import ChunkCallback, Source, SourceSettings

# name -> (module, class). Modules load on first use; the configuration loads
# them to validate their sections, so they import their clients lazily.
REGISTRY: dict[str, tuple[str, str]] = {
    "prometheus": ("jobs.ingest.sources.prometheus_source", "PrometheusSource"),
}


class SourceError(CapplanError):
    """A source could not deliver data; the message names the source and what was asked."""


class UnknownSourceError(CapplanError, KeyError):
    exit_code = 2

    def __str__(self) -> str:
        # KeyError would repr() the message and wrap it in quotes.
        return str(self.args[0])


def names() -> list[str]:
    return list(REGISTRY)


def find(name: str) -> type[Source[Any]]:
    if name not in REGISTRY:
        valid = ", ".join(repr(known) for known in REGISTRY)
        raise UnknownSourceError(f"unknown source {name!r}; valid sources: {valid}")
    module, attribute = REGISTRY[name]
    found: type[Source[Any]] = getattr(importlib.import_module(module), attribute)
    return found


__all__ = [
    "REGISTRY",
    "ChunkCallback",
    "Source",
    "SourceError",
    "SourceSettings",
    "UnknownSourceError",
    "find",
    "names",
]

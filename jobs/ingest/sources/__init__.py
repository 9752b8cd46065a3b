"""Metric sources: clients that pull utilisation history from monitoring systems."""

from __future__ import annotations

from jobs.errors import CapplanError


class SourceError(CapplanError):
    """A source could not deliver data; the message names the source and what was asked."""


__all__ = ["SourceError"]

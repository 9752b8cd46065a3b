"""Disaster-recovery capacity: utilisation once one replica is lost."""

from __future__ import annotations

from jobs.reports.model import DrRow


def dr_row(service: str, metric: str, replicas: int, peak: float, critical: float) -> DrRow:
    """Utilisation with one replica lost: the same load on n - 1 replicas."""
    after = peak * replicas / (replicas - 1) if replicas > 1 else None
    return DrRow(service, metric, replicas, peak, after, critical)

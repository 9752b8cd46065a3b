"""Prometheus as a pull source: its ``sources.prometheus`` section and its adapter.

The client itself, in ``jobs.ingest.sources.prometheus``, loads on the first
fetch: the configuration imports this module to validate its section.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from jobs.ingest.sources.base import ChunkCallback, Source, SourceSettings, Window

if TYPE_CHECKING:
    import pandas as pd

    from jobs.ingest.sources.prometheus import PrometheusSettings


class PrometheusSourceSettings(SourceSettings):
    """``queries``: capplan metric -> PromQL template (see ``jobs.ingest.sources.prometheus``)."""

    url: str
    service_label: str = "service"
    step_seconds: Annotated[int, Field(ge=1, le=86_400)] = 300
    timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 4
    queries: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        # The value is not echoed: a URL may carry a login.
        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "must be an http:// or https:// URL with a host, e.g. http://prometheus:9090"
            )
        return value.strip()


class PrometheusSource(Source[PrometheusSourceSettings]):
    name: ClassVar[str] = "prometheus"
    title: ClassVar[str] = "Prometheus"
    settings_model: ClassVar[type[SourceSettings]] = PrometheusSourceSettings

    @cached_property
    def client(self) -> PrometheusSettings:
        from jobs.ingest.sources.prometheus import PrometheusSettings

        s = self.settings
        return PrometheusSettings(
            base_url=s.url,
            service_label=s.service_label,
            step_seconds=s.step_seconds,
            timeout_seconds=s.timeout_seconds,
            max_attempts=s.max_attempts,
            queries=dict(s.queries),
        )

    @property
    def step_seconds(self) -> int:
        return self.settings.step_seconds

    def windows(self, start: datetime, end: datetime) -> Sequence[Window]:
        from jobs.ingest.sources.prometheus import plan_chunks

        return plan_chunks(start, end, self.step_seconds)

    def fetch(
        self,
        metric: str,
        start: datetime,
        end: datetime,
        on_chunk: ChunkCallback | None = None,
    ) -> Iterator[pd.DataFrame]:
        from jobs.ingest.sources.prometheus import fetch_range

        return fetch_range(self.client, metric, start, end, on_chunk=on_chunk)

    def describe(self, metric: str) -> str:
        from jobs.ingest.sources.prometheus import render_query

        return f"PromQL: {render_query(self.client, metric)}"

    def unmatched_services_hint(self) -> str:
        return "check sources.prometheus.service_label and the services section"

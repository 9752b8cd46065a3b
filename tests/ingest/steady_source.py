"""A throwaway pull source: a constant level per metric and service, on an hourly grid.

All a new source needs: this module (a ``Source`` and its settings model) and
its line in ``jobs.ingest.sources.REGISTRY``, which the tests add.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Annotated, ClassVar

import pandas as pd
from pydantic import Field

from jobs.ingest.sources import ChunkCallback, Source, SourceSettings
from jobs.ingest.sources.base import Window


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class SteadySettings(SourceSettings):
    services: Annotated[list[str], Field(min_length=1)]
    step_seconds: Annotated[int, Field(ge=60, le=86_400)] = 3600
    #: metric -> the level every service reports, as text.
    queries: dict[str, str] = Field(default_factory=dict)


class SteadySource(Source[SteadySettings]):
    name: ClassVar[str] = "steady"
    title: ClassVar[str] = "Steady"
    settings_model: ClassVar[type[SourceSettings]] = SteadySettings
    #: Every (metric, start, end) asked, across instances.
    asked: ClassVar[list[tuple[str, datetime, datetime]]] = []

    @property
    def step_seconds(self) -> int:
        return self.settings.step_seconds

    def windows(self, start: datetime, end: datetime) -> Sequence[Window]:
        step = self.step_seconds
        first = -(-int(start.timestamp()) // step) * step
        last = int(end.timestamp()) // step * step
        day = 86_400 // step * step
        return [(_at(t), _at(min(t + day - step, last))) for t in range(first, last + 1, day)]

    def fetch(
        self,
        metric: str,
        start: datetime,
        end: datetime,
        on_chunk: ChunkCallback | None = None,
    ) -> Iterator[pd.DataFrame]:
        self.asked.append((metric, start, end))
        for window_start, window_end in self.windows(start, end):
            stamps = pd.date_range(window_start, window_end, freq=f"{self.step_seconds}s")
            frame = pd.DataFrame(
                {
                    "timestamp": [s for s in stamps for _ in self.settings.services],
                    "service": [name for _ in stamps for name in self.settings.services],
                    "metric": metric,
                    "value": float(self.settings.queries[metric]),
                }
            )
            if on_chunk is not None:
                on_chunk(metric, window_start, window_end, len(frame))
            yield frame

    def describe(self, metric: str) -> str:
        return f"level: {self.settings.queries[metric]}"

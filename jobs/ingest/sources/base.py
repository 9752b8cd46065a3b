"""What every pull source shares: its settings section and how the pull loop asks it.

A source turns "metric M between two instants" into long-format frames with the
columns ``timestamp`` (``datetime64[ns, UTC]``), ``service``, ``metric`` and
``value``. Everything else (watermarks, resuming, storing, the per-metric
failure tally, the ledger) is the pull loop's, in ``jobs.ingest.pull``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import pandas as pd

ChunkCallback = Callable[[str, datetime, datetime, int], None]
"""``on_chunk(metric, chunk_start, chunk_end, rows)``, called once per fetched chunk."""

Window = tuple[datetime, datetime]


class SourceSettings(BaseModel):
    """A source's section under ``sources``, validated when the configuration loads.

    Its module is imported to read the configuration: it must stay light.
    """

    # The same rules as every other configuration section.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    #: The field mapping each capplan metric to what the source asks for it
    #: (a PromQL template, ...): the metrics a pull asks for.
    metrics_field: ClassVar[str] = "queries"

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.metrics_field not in cls.model_fields:
            raise TypeError(f"{cls.__name__} has no {cls.metrics_field!r} field")

    def metric_queries(self) -> Mapping[str, str]:
        queries: Mapping[str, str] = getattr(self, self.metrics_field)
        return queries


SettingsT = TypeVar("SettingsT", bound=SourceSettings)


class Source(ABC, Generic[SettingsT]):
    """A monitoring system samples are pulled from, over ranges of time."""

    #: Its section under ``sources``, its ``--NAME`` flag and its watermark namespace.
    name: ClassVar[str]
    #: How messages name it.
    title: ClassVar[str]
    settings_model: ClassVar[type[SourceSettings]]

    def __init__(self, settings: SettingsT) -> None:
        self.settings = settings

    @property
    def metrics(self) -> list[str]:
        return sorted(self.settings.metric_queries())

    @property
    @abstractmethod
    def step_seconds(self) -> int:
        """The sample grid: a resumed metric starts one step after its last stored instant."""

    @abstractmethod
    def windows(self, start: datetime, end: datetime) -> Sequence[Window]:
        """The windows ``fetch`` asks for over ``[start, end]``; none when nothing is due."""

    @abstractmethod
    def fetch(
        self,
        metric: str,
        start: datetime,
        end: datetime,
        on_chunk: ChunkCallback | None = None,
    ) -> Iterator[pd.DataFrame]:
        """One frame per window of ``[start, end]``, in time order; raises ``SourceError``."""

    @abstractmethod
    def describe(self, metric: str) -> str:
        """How the metric is asked for, for messages (``PromQL: ...``)."""

    def unmatched_services_hint(self) -> str:
        """What to check when every series names a service that is not configured."""
        return "check the services section"

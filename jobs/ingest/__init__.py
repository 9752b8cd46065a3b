"""Getting samples in: storing them (``storing``), pulling sources, backfills.

The names below load on first use, so that reading the configuration, which
looks up the sources' settings models in ``jobs.ingest.sources``, does not
import pandas and the store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.ingest.storing import (
        BYTES_PER_GB,
        IngestSummary,
        ingest_csv,
        ingest_csv_files,
        store_frame,
    )

__all__ = ["BYTES_PER_GB", "IngestSummary", "ingest_csv", "ingest_csv_files", "store_frame"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("jobs.ingest.storing"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

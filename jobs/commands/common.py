"""Small helpers shared by the command modules."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click
import pandas as pd
from tqdm import tqdm


class UtcDateTime(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 date or date-time; a naive value is UTC."""

    name = "datetime"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            stamp = pd.Timestamp(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or date-time", param, ctx)
        if pd.isna(stamp):
            self.fail(f"{value!r} is not an ISO 8601 date or date-time", param, ctx)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return stamp.to_pydatetime()


UTC_DATETIME = UtcDateTime()


def progress(total: int | None, unit: str, description: str) -> tqdm[Any]:
    """A progress bar on a terminal, silent when stderr is not one (cron, CI)."""
    return tqdm(
        total=total,
        unit=unit,
        desc=description,
        file=sys.stderr,
        disable=None,
        unit_scale=True,
        leave=False,
    )


def now_utc() -> datetime:
    return datetime.now(UTC)

"""Small helpers shared by the command modules."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
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
            stamp = datetime.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or date-time", param, ctx)
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


UTC_DATETIME = UtcDateTime()


def progress(total: int | None, unit: str, description: str) -> tqdm[Any]:
    """A progress bar on a terminal, silent when stderr is not one (cron, CI)."""
    from tqdm import tqdm

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

"""Domain exceptions. The CLI turns them into user-facing messages and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence

MAX_LISTED_PROBLEMS = 20


class CapplanError(Exception):
    """Base class of every error capplan reports to its user without a traceback."""

    exit_code = 1


# (module, exception class) of database errors, looked up only if already imported.
_DATABASE_ERRORS = (
    ("sqlalchemy.exc", "SQLAlchemyError"),
    ("psycopg", "Error"),
    ("sqlite3", "Error"),
)


def is_database_error(exc: BaseException) -> bool:
    """From SQLAlchemy or a driver used directly: its text may carry SQL and data."""
    for module_name, class_name in _DATABASE_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, class_name)):
            return True
    return False


def error_text(exc: BaseException) -> str:
    """How a failure is recorded: our own message as is, anything else with its type."""
    if isinstance(exc, CapplanError):
        return str(exc)
    if is_database_error(exc):
        from jobs.store.database import database_failure

        return database_failure(exc)
    return f"{type(exc).__name__}: {exc}"


def format_problems(problems: Sequence[str], limit: int = MAX_LISTED_PROBLEMS) -> str:
    lines = [f"  - {problem}" for problem in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  ... and {len(problems) - limit} more problem(s)")
    return "\n".join(lines)


class ConfigError(CapplanError):
    exit_code = 2

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"invalid configuration {source}:\n{format_problems(self.problems)}")


class InputFileError(CapplanError):
    """A data file with one or more bad rows; nothing from it was stored."""

    exit_code = 2

    def __init__(self, path: str, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__(
            f"{path}: {len(self.problems)} problem(s), nothing from this file was stored "
            f"(use --skip-invalid to store the valid rows):\n{format_problems(self.problems)}"
        )


class NoDataError(CapplanError):
    """The store holds no data for what was asked (a window, a series)."""

    exit_code = 2


class PeriodError(CapplanError):
    """A ``--period`` that cannot be read, or has not ended yet."""

    exit_code = 2


class StoreError(CapplanError):
    pass


class SchemaVersionError(StoreError):
    pass


class JobFailedError(CapplanError):
    """Some items of a run failed; the ones that worked are stored."""


def shown(value: object, *, quote: bool = True, limit: int = 60) -> str:
    """A value for a message: quoted, and cut short if long (a 10 MB name stays out of logs)."""
    text = str(value)
    if len(text) <= limit:
        return repr(text) if quote else text
    head = repr(text[:limit]) if quote else text[:limit]
    return f"{head}... ({len(text):,} characters)"

"""What the command modules share: the options several commands take, and small helpers.

An option two commands both take is declared here once, so its spelling, type
and parsing cannot drift apart; what legitimately differs (the formats a command
offers, what its ``--out`` names) is a parameter. Each is a :class:`SharedOption`,
and a test fails when a command declares one of these names by hand.

Flags (``--publish``, ``--resend``) are not shared: each command's flag means
something of its own and nothing is parsed. ``ingest --csv`` takes long-format
files and is a different option from the one-series ``--csv`` below.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import click

from jobs.errors import CapplanError

if TYPE_CHECKING:
    from tqdm import tqdm

    from jobs.exports.rightsize_formats import Rendered


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

AGGREGATE_CHOICES = ["none", "daily-max", "daily-mean", "weekly-mean"]

Decorated = TypeVar("Decorated", bound=Callable[..., Any])


class Decorator(Protocol):
    """What ``click.option`` returns: adds a parameter to the command it decorates."""

    def __call__(self, command: Decorated, /) -> Decorated: ...


class SharedOption(click.Option):
    """An option declared in this module; it behaves exactly as a ``click.Option``."""


def _shared(*names: str, **attrs: Any) -> Decorator:
    return click.option(*names, cls=SharedOption, **attrs)


def format_option(choices: Sequence[str], *, help: str | None = None) -> Decorator:
    """``--format``: one of ``choices``, the first being the default."""
    return _shared(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help=help,
    )


def out_option(
    help: str,
    *,
    accepts: Literal["file", "folder", "file or folder"],
    default: Path | None = None,
) -> Decorator:
    """``--out``: where the command writes; checked by the command before any work."""
    shown_default: dict[str, Any] = (
        {} if default is None else {"default": default, "show_default": True}
    )
    return _shared(
        "--out",
        "out",
        type=click.Path(path_type=Path, dir_okay=accepts != "file", file_okay=accepts != "folder"),
        help=help,
        **shown_default,
    )


def as_of_option(help: str) -> Decorator:
    """``--as-of``: the instant the command looks from (a naive value is UTC)."""
    return _shared("--as-of", "as_of", type=UTC_DATETIME, help=help)


def now_option(help: str) -> Decorator:
    """``--now``: the clock a scheduling command runs against (a naive value is UTC)."""
    return _shared("--now", "now", type=UTC_DATETIME, help=help)


def service_option(*, repeatable: bool) -> Decorator:
    """``--service``: only this service; ``services`` (a tuple) when repeatable."""
    if repeatable:
        return _shared(
            "--service", "services", multiple=True, help="Only this service (repeatable)."
        )
    return _shared("--service", "service", help="Only this service.")


def metric_option() -> Decorator:
    """``--metric``: only this metric (repeatable), as ``metrics``."""
    return _shared("--metric", "metrics", multiple=True, help="Only this metric (repeatable).")


def period_option(help: str) -> Decorator:
    """``--period``: the period's label as typed, parsed against the command's KIND."""
    return _shared("--period", "period_text", help=help)


def workers_option(help: str) -> Decorator:
    """``--workers``: forecast worker processes."""
    return _shared("--workers", type=click.IntRange(1, 256), help=help)


def series_csv_options(command: Decorated) -> Decorated:
    """``--csv`` and how to read one series from it, instead of the store."""
    options: tuple[Decorator, ...] = (
        _shared(
            "--csv",
            "csv_path",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Forecast one series from this CSV instead of the store.",
        ),
        _shared("--timestamp-column", default="timestamp", show_default=True),
        _shared("--value-column", default="value", show_default=True),
        _shared(
            "--aggregate",
            type=click.Choice(AGGREGATE_CHOICES),
            default="none",
            show_default=True,
            help="Resample the CSV series before forecasting.",
        ),
        _shared(
            "--upper-bound",
            type=float,
            help="Physical maximum (default: 100 when data and threshold are "
            "within 0..100, else none).",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


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


class OutputPathError(CapplanError):
    exit_code = 2


def check_writable_target(out: Path, *, directory: bool) -> None:
    """Refuse an ``--out`` that cannot be written before any work is done."""
    folder = out if directory else out.parent
    if directory and out.exists() and not out.is_dir():
        raise OutputPathError(f"--out {out}: not a folder")
    if not directory and out.is_dir():
        raise OutputPathError(f"--out {out}: is a folder, expected a file name")
    if not directory and not folder.is_dir():
        raise OutputPathError(f"--out {out}: folder {folder} does not exist")
    if directory and not out.exists() and not out.parent.is_dir():
        raise OutputPathError(f"--out {out}: folder {out.parent} does not exist")


def write_rendered(rendered: Rendered, out: Path) -> list[tuple[str, Path]]:
    """Write every file of ``rendered`` atomically; return (name, path) of each."""
    from jobs.files import atomic_write

    written = []
    try:
        if rendered.directory:
            out.mkdir(exist_ok=True)
        for name, text in rendered.files:
            path = out / name if rendered.directory else out
            atomic_write(path, text.encode())
            written.append((name, path))
    except OSError as exc:
        raise OutputPathError(f"--out {out}: cannot write: {exc.strerror or exc}") from exc
    return written


def _nearest_existing(path: Path) -> Path:
    while not os.path.lexists(path) and path.parent != path:
        path = path.parent
    return path


def check_output_folder(folder: Path, option: str = "--out") -> None:
    """``folder`` exists as a writable folder or can be created as one."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise OutputPathError(f"{option} {folder}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {folder}: folder {existing} is not writable")


def check_output_file(target: Path, option: str = "--out") -> None:
    """``target`` can be written: its folder exists and is writable (or it is a device)."""
    if target.exists() and not target.is_file() and not target.is_dir():
        if not os.access(target, os.W_OK):
            raise OutputPathError(f"{option} {target}: not writable")
        return  # a device or a pipe, written in place
    folder = target if target.is_dir() else target.parent
    if not folder.is_dir():
        raise OutputPathError(f"{option} {target}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {target}: folder {folder} is not writable")


def write_output(target: Path, data: bytes, option: str = "--out") -> None:
    """Writes all of ``data`` or leaves ``target`` as it was (a device is written in place)."""
    from jobs.files import atomic_write

    try:
        if target.exists() and not target.is_file():
            with target.open("wb") as stream:
                stream.write(data)
        else:
            atomic_write(target, data)
    except OSError as exc:
        raise OutputPathError(f"cannot write {option} {target}: {exc.strerror or exc}") from exc

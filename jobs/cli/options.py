"""Small helpers shared by the command modules."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

"""``capplan demo``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from jobs.cli.context import AppContext
from jobs.cli.options import UTC_DATETIME, out_option, progress


@click.command("demo")
@out_option("Where outputs are written.", accepts="folder", default=Path("out"))
@click.option(
    "--end", type=UTC_DATETIME, help="End of the sample history (default: the start of today, UTC)."
)
@click.option(
    "--days",
    type=click.IntRange(30, 800),
    default=396,
    show_default=True,
    help="Days of sample history.",
)
@click.pass_obj
def demo(app: AppContext, out: Path, end: datetime | None, days: int) -> None:
    """Run the main job on generated sample history, writing to a local folder.

    Uses a fresh SQLite file in the output folder unless --database is given.
    """
    from jobs.demo import run_demo

    if app.database_url is None:
        database = out / "demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        engine = app.engine(f"sqlite:///{database}")
    else:
        engine = app.engine()
    if end is None:
        end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with progress(None, "rows", "ingest") as bar:
        run_demo(
            engine,
            app.config,
            out_dir=out,
            end=end,
            days=days,
            say=click.echo,
            on_batch=bar.update,
        )


COMMANDS = (demo,)

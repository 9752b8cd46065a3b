"""What every command receives; resolved once at the CLI edge."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.config import Config, load_config, runbook_config

if TYPE_CHECKING:
    from sqlalchemy import URL, Engine

LOCAL_CONFIG = "capplan.yaml"


@dataclass
class AppContext:
    """What every command receives: where the config and the database come from."""

    config_path: Path | None
    database_url: str | None
    verbose: bool
    _config: Config | None = field(default=None, repr=False)
    _engines: dict[str, Engine] = field(default_factory=dict, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = (
                runbook_config() if self.config_path is None else load_config(self.config_path)
            )
        return self._config

    @property
    def config_source(self) -> str:
        return (
            "built-in runbook configuration" if self.config_path is None else str(self.config_path)
        )

    def engine(self, url: str | None = None) -> Engine:
        """The store at ``url`` (default: the configured database), opened once per command."""
        from jobs.store import DEFAULT_DATABASE_URL, open_store

        wanted = url or self.database_url or DEFAULT_DATABASE_URL
        if wanted not in self._engines:
            from jobs.store.ledger import abandon_dead_runs

            engine = open_store(wanted)
            # Runs whose process died stay 'running' until a command looks.
            abandon_dead_runs(engine)
            self._engines[wanted] = engine
        return self._engines[wanted]

    @property
    def engine_url(self) -> URL | None:
        """The URL of the first store opened, to say which one failed (password hidden)."""
        return next((engine.url for engine in self._engines.values()), None)

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()


def resolve_config_path(option: Path | None) -> Path | None:
    if option is not None:
        return option
    from_env = os.environ.get("CAPPLAN_CONFIG")
    if from_env:
        return Path(from_env)
    local = Path(LOCAL_CONFIG)
    return local if local.is_file() else None

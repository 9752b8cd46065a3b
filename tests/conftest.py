"""Shared fixtures. Real servers live in tests/servers/ as pytest plugins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jobs.cli import cli
from jobs.config import Config, runbook_config

pytest_plugins = [
    "tests.servers.postgres",
    "tests.servers.prometheus",
    "tests.servers.pushgateway",
    "tests.servers.seaweedfs",
    "tests.servers.smtp",
]

REPO = Path(__file__).resolve().parent.parent
REAL_DATA = REPO.parent / "shared" / "data" / "real"


@pytest.fixture
def config() -> Config:
    return runbook_config()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'capplan.db'}"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Tests must not pick up a developer's capplan.yaml or environment.
    for name in ("CAPPLAN_CONFIG", "CAPPLAN_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


class Capplan:
    """Runs the CLI in-process against one database."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.runner = CliRunner()

    def __call__(self, *args: str, config: Path | None = None, expect: int | None = 0) -> Result:
        argv = ["--database", self.database_url]
        if config is not None:
            argv += ["--config", str(config)]
        result = self.runner.invoke(cli, [*argv, *args], catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, (result.exit_code, result.output)
        return result


@pytest.fixture
def capplan(database_url: str) -> Capplan:
    return Capplan(database_url)


def repo_path(*parts: str) -> Path:
    return REPO.joinpath(*parts)


os.environ.setdefault("MPLBACKEND", "Agg")

"""Every command and config section is documented in the README."""

from __future__ import annotations

import re

import click
import pytest

from jobs.cli import cli
from jobs.config import Config
from tests.conftest import repo_path

README = repo_path("README.md").read_text()


def command_paths(group: click.Group, prefix: str = "capplan") -> list[str]:
    paths = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, path))
        else:
            paths.append(path)
    return paths


@pytest.mark.parametrize("path", command_paths(cli))
def test_command_is_documented(path: str) -> None:
    assert f"`{path}" in README, f"README has no section for `{path}`"


@pytest.mark.parametrize("section", sorted(Config.model_fields))
def test_config_section_is_documented(section: str) -> None:
    if section == "version":
        return
    assert f"`{section}" in README, f"README's configuration table lacks `{section}`"


@pytest.mark.parametrize("path", command_paths(cli))
def test_command_has_help(path: str) -> None:
    command: click.Command = cli
    for name in path.split()[1:]:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert command.help, f"{path} has no help text"


def test_every_file_architecture_names_exists() -> None:
    # ARCHITECTURE.md is where a newcomer looks for the file to change: a
    # renamed or moved module must not leave it pointing nowhere.
    text = repo_path("ARCHITECTURE.md").read_text()
    named = set(re.findall(r"`([\w./-]+\.(?:py|html|yaml|css))`", text))
    assert len(named) > 20
    roots = ("jobs", "forecasting", "report_templates", "tests", "bench")
    tracked = [
        p.relative_to(repo_path()).as_posix() for root in roots for p in repo_path(root).rglob("*")
    ]
    missing = [
        name
        for name in sorted(named)
        if not any(path == name or path.endswith("/" + name) for path in tracked)
    ]
    assert not missing, f"ARCHITECTURE.md names files that do not exist: {missing}"

"""Options several commands take are declared once, in jobs/cli/options.py."""

from __future__ import annotations

import click
import pytest

from jobs.cli import cli
from jobs.cli.options import SharedOption
from tests.test_docs import command_paths

SHARED = (
    "--format",
    "--out",
    "--as-of",
    "--now",
    "--service",
    "--metric",
    "--period",
    "--workers",
    "--timestamp-column",
    "--value-column",
    "--aggregate",
    "--upper-bound",
)
# `ingest --csv` takes long-format files (repeatable); `--csv` of forecast and backtest
# reads one series: two options that share a name.
ONE_SERIES_CSV = ("capplan forecast", "capplan backtest")


def command_at(path: str) -> click.Command:
    command: click.Command = cli
    for name in path.split()[1:]:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def shared_names(path: str) -> set[str]:
    return set(SHARED) | ({"--csv"} if path in ONE_SERIES_CSV else set())


@pytest.mark.parametrize("path", command_paths(cli))
def test_no_command_declares_a_shared_option_by_hand(path: str) -> None:
    for param in command_at(path).params:
        if set(param.opts) & shared_names(path):
            assert isinstance(param, SharedOption), (
                f"{path} declares {'/'.join(param.opts)} itself; use jobs.cli.options"
            )


def test_the_shared_options_are_shared() -> None:
    users: dict[str, list[str]] = {name: [] for name in (*SHARED, "--csv")}
    for path in command_paths(cli):
        for param in command_at(path).params:
            for name in set(param.opts) & set(users):
                if isinstance(param, SharedOption):
                    users[name].append(path)
    assert {name: len(paths) >= 2 for name, paths in users.items()} == dict.fromkeys(users, True)
    assert len(users["--format"]) == 7
    assert len(users["--out"]) == 6

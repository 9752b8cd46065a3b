"""The README's examples, taken verbatim: snippets validate, commands and options exist."""

from __future__ import annotations

import re
from typing import Any

import click
import pytest
import yaml

from jobs.cli import cli
from jobs.config import parse_config, runbook_config_text
from jobs.config.yaml_loader import load_yaml
from jobs.store.database import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_STATEMENT_TIMEOUT_SECONDS,
    DatabaseURLError,
    parse_database_url,
)
from tests.conftest import repo_path

README = repo_path("README.md").read_text()


def _code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def _command_lines() -> list[str]:
    """Every `capplan ...` span and code-block line (continuation lines joined)."""
    found = re.findall(r"`(capplan [^`]*)`", README)
    for block in _code_blocks("[a-z]*"):
        current: str | None = None
        for line in block.splitlines():
            if line.startswith("capplan "):
                if current:
                    found.append(current)
                current = line.strip()
            elif current is not None and line.startswith(" ") and line.strip().startswith("["):
                current += " " + line.strip()
            else:
                if current:
                    found.append(current)
                current = None
        if current:
            found.append(current)
    return sorted(set(found))


def _merge(base: dict[str, Any], snippet: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in snippet.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


YAML_SNIPPETS = _code_blocks("yaml")


def test_the_readme_has_yaml_snippets() -> None:
    assert len(YAML_SNIPPETS) >= 2


@pytest.mark.parametrize("snippet", YAML_SNIPPETS, ids=lambda s: s.split(":")[0])
def test_yaml_snippet_validates_over_the_runbook_configuration(snippet: str) -> None:
    data = _merge(load_yaml(runbook_config_text()), load_yaml(snippet))
    parse_config(data, "README snippet")


COMMANDS = _command_lines()


def test_the_readme_shows_commands() -> None:
    assert len(COMMANDS) >= 20


def _resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = cli
    rest = list(words)
    while isinstance(command, click.Group):
        # Global options come before the command name.
        while rest and rest[0].startswith("-"):
            _check_option(command, rest)
        if not rest or rest[0] not in command.commands:
            break
        command = command.commands[rest.pop(0)]
    return command, rest


def _param(command: click.Command, flag: str) -> click.Parameter:
    for param in command.params:
        if flag in getattr(param, "opts", ()) or flag in getattr(param, "secondary_opts", ()):
            return param
    raise AssertionError(f"`{command.name}` has no option {flag}")


def _check_choices(param: click.Parameter, shown: str) -> None:
    if isinstance(param.type, click.Choice) and not shown.isupper():
        for value in shown.split("|"):
            assert value in param.type.choices, f"{param.name}: {value!r} is not a choice"


def _check_option(command: click.Command, rest: list[str]) -> None:
    flag = rest.pop(0)
    param = _param(command, flag)
    if isinstance(param, click.Option) and not param.is_flag and rest:
        _check_choices(param, rest.pop(0))


@pytest.mark.parametrize("line", COMMANDS)
def test_command_and_options_exist(line: str) -> None:
    words = [w for w in re.sub(r"[\[\]]", " ", line).split() if w != "..."]
    assert words[0] == "capplan"
    command, rest = _resolve(words[1:])
    if rest == ["COMMAND"]:
        return
    assert not isinstance(command, click.Group), f"{line}: no such command"
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    while rest:
        if rest[0].startswith("-"):
            _check_option(command, rest)
            continue
        shown = rest.pop(0)
        assert arguments, f"{line}: {command.name} takes no argument {shown!r}"
        argument = arguments[0] if arguments[0].nargs == -1 else arguments.pop(0)
        _check_choices(argument, shown)


def _readme_urls() -> list[str]:
    return sorted(set(re.findall(r"`((?:sqlite|postgres\w*|mysql)(?:\+\w+)?://[^`\s]*)`", README)))


def test_the_readme_shows_database_urls() -> None:
    assert any(url.startswith("sqlite:") for url in _readme_urls())
    assert any(url.startswith("postgresql+psycopg:") for url in _readme_urls())


@pytest.mark.parametrize("url", _readme_urls())
def test_readme_database_urls_are_accepted_or_named_as_refused(url: str) -> None:
    example = url.replace("…", "user:password@db.example.org:5432/capplan")
    refused_list = re.search(r"refused: (.*?)\.\s", README, re.S)
    assert refused_list is not None
    if f"`{url}`" in refused_list.group(1):
        with pytest.raises(DatabaseURLError):
            parse_database_url(example)
    else:
        parse_database_url(example)


def test_readme_says_which_databases_work() -> None:
    assert "any SQLAlchemy URL" not in README
    assert "SQLite and PostgreSQL only" in README


def test_readme_gives_the_default_timeouts() -> None:
    assert f"`connect_timeout` ({DEFAULT_CONNECT_TIMEOUT_SECONDS} s)" in README
    assert f"`statement_timeout` ({DEFAULT_STATEMENT_TIMEOUT_SECONDS} s)" in README


def test_the_kubernetes_config_map_validates_over_the_runbook_configuration() -> None:
    documents = list(yaml.safe_load_all(repo_path("deploy", "kubernetes-cronjob.yaml").read_text()))
    [config_map] = [d for d in documents if d["kind"] == "ConfigMap"]
    snippet = load_yaml(config_map["data"]["capplan.yaml"])
    parse_config(_merge(load_yaml(runbook_config_text()), snippet), "deploy ConfigMap")


def test_the_crontab_database_url_is_accepted() -> None:
    crontab = repo_path("deploy", "crontab.example").read_text()
    [url] = re.findall(r"^CAPPLAN_DATABASE_URL=(\S+)$", crontab, re.M)
    parse_database_url(url)

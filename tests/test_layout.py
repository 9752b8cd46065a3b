"""The package layout stays navigable: a class name means one thing."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.conftest import repo_path

PACKAGES = ("jobs", "forecasting")


def top_level_classes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]


def test_top_level_class_names_are_unique() -> None:
    defined: defaultdict[str, list[str]] = defaultdict(list)
    for package in PACKAGES:
        for path in sorted(repo_path(package).rglob("*.py")):
            for name in top_level_classes(path):
                defined[name].append(str(path.relative_to(repo_path())))
    assert sum(len(paths) for paths in defined.values()) > 50, "no modules were walked"
    repeated = {name: paths for name, paths in defined.items() if len(paths) > 1}
    assert repeated == {}, f"class names defined in more than one module: {repeated}"

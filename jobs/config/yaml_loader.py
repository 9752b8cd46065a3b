"""YAML for configuration files: safe, strict about duplicate keys, shallow.

``yaml.safe_load`` lets the last of two equal keys win silently, and its
composer recurses once per nesting level, so a file nested thousands deep ends
in ``RecursionError``. Both become a ``YamlError`` naming the line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

MAX_NESTING = 64
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlError(ValueError):
    """Text that is not acceptable YAML; the message names the line and column."""


class StrictSafeLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nesting = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._nesting += 1
        try:
            if self._nesting > MAX_NESTING:
                raise ComposerError(
                    None,
                    None,
                    f"nested more than {MAX_NESTING} levels deep",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._nesting -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == _MERGE_TAG:
                continue  # ``<<: *defaults`` may be overridden on purpose
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first_line.get(key)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if seen is not None:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r} (first given on line {seen + 1})",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def load_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=StrictSafeLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise YamlError(f"{where}invalid YAML: {reason}") from exc
    except RecursionError as exc:  # a path the nesting limit does not cover
        raise YamlError(f"invalid YAML: nested too deeply (limit {MAX_NESTING})") from exc

"""YAML to plain data, remembering where every key and value came from.

PyYAML's composer already keeps marks on every node; constructing the data ourselves
from the node tree lets us keep those marks per document path and catch repeated keys,
which the stock constructors silently collapse to the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from agentsup.job.problems import DocPath, Problem


@dataclass(frozen=True)
class Mark:
    line: int
    column: int


@dataclass
class Positions:
    """Where each document path's value and key start (1-based)."""

    values: dict[DocPath, Mark] = field(default_factory=dict)
    keys: dict[DocPath, Mark] = field(default_factory=dict)

    def find(self, path: DocPath, on_key: bool = False) -> Mark:
        """The closest known position: the path itself, else its nearest ancestor."""
        if on_key and path in self.keys:
            return self.keys[path]
        probe = path
        while True:
            if probe in self.values:
                return self.values[probe]
            if not probe:
                return Mark(1, 1)
            probe = probe[:-1]


class YamlSyntaxError(Exception):
    def __init__(self, message: str, mark: Mark) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


def _mark(node: yaml.Node | yaml.Mark) -> Mark:
    start = node.start_mark if isinstance(node, yaml.Node) else node
    return Mark(start.line + 1, start.column + 1)


class _Builder:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.positions = Positions()
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: DocPath, active: frozenset[int]) -> Any:
        self.positions.values.setdefault(path, _mark(node))
        if id(node) in active:
            self.problems.append(Problem(path, "recursive YAML alias is not allowed"))
            return None
        if isinstance(node, yaml.MappingNode):
            explicit = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
            self.loader.flatten_mapping(node)
            result: dict[Any, Any] = {}
            merged: set[str] = set()
            inner = active | {id(node)}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if isinstance(key, list | dict):
                    self.problems.append(Problem(path, "mapping keys must be plain values"))
                    continue
                if not isinstance(key, str):
                    key = str(key).lower() if isinstance(key, bool) else str(key)
                child = (*path, key)
                if id(key_node) not in explicit:
                    # From a `<<` merge: the first source wins, explicit keys override.
                    if key in result:
                        continue
                    merged.add(key)
                elif key in merged:
                    merged.discard(key)
                    del result[key]
                if key in result:
                    first = self.positions.keys.get(child)
                    where = f" (first given on line {first.line})" if first else ""
                    self.problems.append(
                        Problem(
                            child, f"key {key!r} is repeated{where}; give it once", on_key=True
                        )
                    )
                    self.positions.keys[child] = _mark(key_node)
                    continue
                self.positions.keys[child] = _mark(key_node)
                result[key] = self.build(value_node, child, inner)
            return result
        if isinstance(node, yaml.SequenceNode):
            inner = active | {id(node)}
            return [self.build(item, (*path, i), inner) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)


@dataclass
class ParsedYaml:
    data: Any
    positions: Positions
    problems: list[Problem]


def parse(text: str) -> ParsedYaml:
    """Parse one YAML document; raise `YamlSyntaxError` for text that is not YAML."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return ParsedYaml(None, Positions(), [])
        builder = _Builder(loader)
        data = builder.build(node, (), frozenset())
        return ParsedYaml(data, builder.positions, builder.problems)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            message = f"{exc.problem} ({exc.context})"
        return _raise(message, Mark(mark.line + 1, mark.column + 1) if mark else Mark(1, 1))
    except yaml.YAMLError as exc:
        return _raise(str(exc), Mark(1, 1))
    finally:
        loader.dispose()


def _raise(message: str, mark: Mark) -> ParsedYaml:
    raise YamlSyntaxError(message, mark)

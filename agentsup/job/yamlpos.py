"""YAML to plain data, remembering where every key and value came from.

PyYAML's composer already keeps marks on every node; constructing the data ourselves
from the node tree lets us keep those marks per document path and catch repeated keys,
which the stock constructors silently collapse to the last one.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import yaml

from agentsup.job.problems import DocPath, Problem


class Mark(msgspec.Struct, frozen=True):
    line: int
    column: int


class Positions(msgspec.Struct):
    """Where each document path's value and key start (1-based)."""

    values: dict[DocPath, Mark] = msgspec.field(default_factory=dict)
    keys: dict[DocPath, Mark] = msgspec.field(default_factory=dict)

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


TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
EXPONENT_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+")
"""A YAML 1.2 float with an exponent that YAML 1.1 leaves as text (`1e3`, `2E-1`)."""
MAX_NODES = 200_000
"""More nodes than any job file needs: stops alias bombs (`&a [*b, *b, ...]`) early."""


class _Builder:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.positions = Positions()
        self.problems: list[Problem] = []
        self.numbers: dict[DocPath, str] = {}
        self.nodes = 0

    def build(self, node: yaml.Node, path: DocPath, active: frozenset[int]) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlSyntaxError(
                f"the document expands to more than {MAX_NODES} values (too many aliases?)",
                _mark(node),
            )
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
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problems.append(
                        Problem(path, "mapping keys must be plain values, not lists or mappings")
                    )
                    continue
                # Keys are names, taken as written: `ON:` is the variable ON, not `true`,
                # and `1.10:` is not `1.1`.
                key = key_node.value
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
        return self.scalar(node, path)

    def scalar(self, node: yaml.Node, path: DocPath) -> Any:
        if node.tag == TIMESTAMP_TAG and isinstance(node, yaml.ScalarNode):
            # A job file has no use for dates: `version: 2024-01-01` is text, and a
            # date-like `2024-13-45` must not crash the date constructor.
            return node.value
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
            raise YamlSyntaxError(
                f"cannot read {node.tag.rsplit(':', 1)[-1]} value {node.value!r}: {exc}",
                _mark(node),
            ) from None
        if (
            isinstance(value, str)
            and isinstance(node, yaml.ScalarNode)
            and node.style is None
            and EXPONENT_FLOAT.fullmatch(value)
        ):
            # YAML 1.1 reads a plain `1e3` as text; YAML 1.2 (editors, the JSON Schema
            # view of the file) reads it as a number, and so do we.
            value = float(value)
            self.numbers[path] = node.value
        if node.tag in NUMBER_TAGS and isinstance(node, yaml.ScalarNode):
            self.numbers[path] = node.value
        return value


class ParsedYaml(msgspec.Struct):
    data: Any
    positions: Positions
    problems: list[Problem]
    numbers: dict[DocPath, str] = msgspec.field(default_factory=dict)
    """The text of every number as written (`1.10`, `010`), by document path."""


def parse(text: str) -> ParsedYaml:
    """Parse one YAML document; raise `YamlSyntaxError` for text that is not YAML."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        return _raise(_reader_message(exc), _text_mark(text, exc.position))
    try:
        node = loader.get_single_node()
        if node is None:
            return ParsedYaml(None, Positions(), [])
        builder = _Builder(loader)
        data = builder.build(node, (), frozenset())
        return ParsedYaml(data, builder.positions, builder.problems, builder.numbers)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            message = f"{exc.problem} ({exc.context})"
        return _raise(message, Mark(mark.line + 1, mark.column + 1) if mark else Mark(1, 1))
    except yaml.reader.ReaderError as exc:
        return _raise(_reader_message(exc), _text_mark(text, exc.position))
    except yaml.YAMLError as exc:
        return _raise(str(exc).splitlines()[0] if str(exc) else "invalid YAML", Mark(1, 1))
    except RecursionError:
        return _raise("the document is nested too deeply", Mark(1, 1))
    finally:
        loader.dispose()


def _reader_message(exc: yaml.reader.ReaderError) -> str:
    character = exc.character
    code = f"#x{character:04x}" if isinstance(character, int) else repr(character)
    return f"character {code} is not allowed in YAML ({exc.reason})"


def _text_mark(text: str, position: int) -> Mark:
    line = text.count("\n", 0, position) + 1
    return Mark(line, position - (text.rfind("\n", 0, position) + 1) + 1)


def _raise(message: str, mark: Mark) -> ParsedYaml:
    raise YamlSyntaxError(message, mark)

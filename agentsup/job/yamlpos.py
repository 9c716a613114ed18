"""YAML to plain data, remembering where every key and value came from.

PyYAML's composer already keeps marks on every node; constructing the data ourselves
from the node tree lets us keep those marks per document path and catch repeated keys,
which the stock constructors silently collapse to the last one.

Reading the text is most of the work, and PyYAML's pure-Python scanner takes 10 ms for
a 50-agent file, before the first agent can start. Where PyYAML has libyaml, its C
parser reads the text into events and PyYAML's own composer makes the nodes from them
(`_EventsInC`), about ten times faster, with the same marks. The C composer is not
used: it recurses in C, and a deeply nested document would overflow the stack instead
of raising. A document the C parser refuses is read again by the pure-Python loader,
whose messages are the ones users see; so is text that libyaml reads otherwise
(`_LENIENT_IN_C`), and a document with an empty value, which libyaml marks elsewhere.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

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
MERGE_TAG = "tag:yaml.org,2002:merge"
Pair = tuple[yaml.Node, yaml.Node, bool]
"""A key node, its value node, and whether the key is written in the mapping itself."""


class _Builder:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.positions = Positions()
        self.problems: list[Problem] = []
        self.numbers: dict[DocPath, str] = {}
        self.nodes = 0
        self.flat: dict[int, list[Pair]] = {}

    def count(self, values: int, node: yaml.Node) -> None:
        """Stop a document that expands (through aliases or merges) beyond `MAX_NODES`."""
        self.nodes += values
        if self.nodes > MAX_NODES:
            raise YamlSyntaxError(
                f"the document expands to more than {MAX_NODES} values (too many aliases?)",
                _mark(node),
            )

    def build(self, node: yaml.Node, path: DocPath, active: frozenset[int]) -> Any:
        self.count(1, node)
        # Each path is built once, from the node whose value the data holds, so its
        # position is where that value was written.
        self.positions.values[path] = _mark(node)
        if id(node) in active:
            self.problems.append(Problem(path, "recursive YAML alias is not allowed"))
            return None
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path, active | {id(node)})
        if isinstance(node, yaml.SequenceNode):
            inner = active | {id(node)}
            return [self.build(item, (*path, i), inner) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def mapping(self, node: yaml.MappingNode, path: DocPath, inner: frozenset[int]) -> Any:
        """Build a mapping from the pairs that win, as PyYAML's constructor picks them.

        Only the winning pair of each key is built, so the positions (and the numbers as
        written) of a path are those of the value the data holds, never of a merged value
        that an explicit key overrides.
        """
        merges = [key for key, _ in node.value if key.tag == MERGE_TAG]
        for repeated in merges[1:]:
            # PyYAML merges every `<<` of a mapping; a key written twice is refused
            # here whatever it is, and `<<: [*a, *b]` says the same thing once.
            child = (*path, "<<")
            self.positions.keys[child] = _mark(repeated)
            self.problems.append(Problem(
                child,
                f"key '<<' is repeated (first given on line {_mark(merges[0]).line}); "
                "merge several mappings with one `<<: [*a, *b]`",
                on_key=True,
            ))
        pairs = self.flattened(node, frozenset())
        winners: dict[str, int] = {}
        repeats: list[tuple[str, yaml.Node]] = []
        for index, (key_node, _, explicit) in enumerate(pairs):
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(
                    Problem(path, "mapping keys must be plain values, not lists or mappings")
                )
                continue
            # Keys are names, taken as written: `ON:` is the variable ON, not `true`,
            # and `1.10:` is not `1.1`.
            key = key_node.value
            if explicit and key in winners and pairs[winners[key]][2]:
                # Unlike PyYAML (the last one wins), a key written twice is refused; the
                # first is kept so that the rest of the file is still checked.
                repeats.append((key, key_node))
            else:
                # Merged pairs come first and explicit ones last, so a later pair wins
                # as in PyYAML: an explicit key over merged ones, and among merged pairs
                # the one `_flattened` puts last.
                winners[key] = index
        # The keys in the order PyYAML's dict has them: where each first appeared.
        result: dict[Any, Any] = {}
        for key, index in winners.items():
            key_node, value_node, _ = pairs[index]
            child = (*path, key)
            self.positions.keys[child] = _mark(key_node)
            result[key] = self.build(value_node, child, inner)
        for key, key_node in repeats:
            child = (*path, key)
            first = self.positions.keys[child]
            self.problems.append(
                Problem(
                    child,
                    f"key {key!r} is repeated (first given on line {first.line}); give it once",
                    on_key=True,
                )
            )
            # The repeat is what the problem is about: point at it.
            self.positions.keys[child] = _mark(key_node)
        return result

    def flattened(self, node: yaml.MappingNode, sources: frozenset[int]) -> list[Pair]:
        """The pairs of a mapping with its `<<` merges spread out, in PyYAML's order.

        This is `SafeConstructor.flatten_mapping` without its side effect: that one
        rewrites the node in place, so a mapping built twice (where its anchor is written,
        then through an alias) would no longer tell its own keys from merged ones, and its
        merged keys would look repeated.

        As in PyYAML, merged pairs come first and the explicit ones last; each source's
        pairs are flattened in turn (its own keys after what it merges), and for
        `<<: [*a, *b]` b's pairs come before a's, so that keeping the last pair of a key
        gives the first source. Results are kept per node and counted against
        `MAX_NODES`, so merges of merges cannot blow up in time or memory.
        """
        known = self.flat.get(id(node))
        if known is not None:
            return known
        if id(node) in sources:
            # PyYAML would recurse until the stack runs out.
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found a mapping that merges itself",
                node.start_mark,
            )
        inside = sources | {id(node)}
        merged: list[Pair] = []
        own: list[Pair] = []
        for key_node, value_node in node.value:
            if key_node.tag != MERGE_TAG:
                own.append((key_node, value_node, True))
            elif isinstance(value_node, yaml.MappingNode):
                merged.extend(_merged_in(self.flattened(value_node, inside)))
            elif isinstance(value_node, yaml.SequenceNode):
                parts: list[list[Pair]] = []
                for subnode in value_node.value:
                    if not isinstance(subnode, yaml.MappingNode):
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            f"expected a mapping for merging, but found {subnode.id}",
                            subnode.start_mark,
                        )
                    parts.append(_merged_in(self.flattened(subnode, inside)))
                for part in reversed(parts):
                    merged.extend(part)
            else:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "expected a mapping or list of mappings for merging, but found "
                    f"{value_node.id}",
                    value_node.start_mark,
                )
        pairs = merged + own
        self.count(len(pairs), node)
        self.flat[id(node)] = pairs
        return pairs

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
            and not node.style  # plain: None from PyYAML's parser, "" from libyaml's
            and EXPONENT_FLOAT.fullmatch(value)
        ):
            # YAML 1.1 reads a plain `1e3` as text; YAML 1.2 (editors, the JSON Schema
            # view of the file) reads it as a number, and so do we.
            value = float(value)
            self.numbers[path] = node.value
        if node.tag in NUMBER_TAGS and isinstance(node, yaml.ScalarNode):
            self.numbers[path] = node.value
        return value


def _merged_in(pairs: list[Pair]) -> list[Pair]:
    """The same pairs, marked as merged into another mapping rather than written there."""
    return [(key_node, value_node, False) for key_node, value_node, _ in pairs]


class ParsedYaml(msgspec.Struct):
    data: Any
    positions: Positions
    problems: list[Problem]
    numbers: dict[DocPath, str] = msgspec.field(default_factory=dict)
    """The text of every number as written (`1.10`, `010`), by document path."""


def parse(text: str) -> ParsedYaml:
    """Parse one YAML document; raise `YamlSyntaxError` for text that is not YAML."""
    if _EventsInC is not None and not _LENIENT_IN_C.search(text):
        try:
            return _parse_with(_EventsInC, text)
        except Exception:  # the pure-Python loader says what is wrong, in its words
            pass
    return _parse_with(yaml.SafeLoader, text)


def _parse_with(loader_class: type[Any], text: str) -> ParsedYaml:
    try:
        loader = loader_class(text)
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


_LENIENT_IN_C = re.compile("[\t\x85\u2028\u2029\ufeff]|(^|[\\s\\[{,])!|\\?(\\s|$)|\\S#")
"""Text libyaml reads otherwise than PyYAML's Python loader, found by comparing the
two on random documents: a tab (which PyYAML refuses in places), line breaks other than
CR and LF, a byte order mark (columns after it differ), a tag (`!` where a value
starts), a complex key (`? `), and a `#` right after another character (`>#c` is a
comment to libyaml, an error to PyYAML). A `?` or `!` inside a word, as in a URL's
query, is read by libyaml like any other character. Text with any of them is read by
the Python loader alone; `_EventsInC` also gives up at an empty value."""


def _events_in_c() -> type[Any] | None:
    """A loader whose events come from libyaml and whose nodes from PyYAML's composer;
    None without libyaml."""
    try:
        from yaml._yaml import CParser
    except ImportError:
        return None

    compose_scalar: Any = Composer.compose_scalar_node

    class EventsInC(CParser, SafeConstructor, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self.anchors: dict[Any, yaml.Node] = {}

        def compose_scalar_node(self, anchor: str | None) -> yaml.ScalarNode:
            node: yaml.ScalarNode = compose_scalar(self, anchor)
            if node.value == "" and not node.style:
                # libyaml marks an empty value where the next token starts, PyYAML
                # where the last one ended; error messages give the mark.
                raise _NotInC
            return node

        # Python's composer, not CParser's own (see the module's docstring).
        get_single_node = Composer.get_single_node
        compose_document = Composer.compose_document
        compose_node = Composer.compose_node
        compose_sequence_node = Composer.compose_sequence_node
        compose_mapping_node = Composer.compose_mapping_node

    return EventsInC


class _NotInC(Exception):
    """The document is to be read by the Python loader."""


_EventsInC = _events_in_c()


def _reader_message(exc: yaml.reader.ReaderError) -> str:
    character = exc.character
    code = f"#x{character:04x}" if isinstance(character, int) else repr(character)
    return f"character {code} is not allowed in YAML ({exc.reason})"


def _text_mark(text: str, position: int) -> Mark:
    line = text.count("\n", 0, position) + 1
    return Mark(line, position - (text.rfind("\n", 0, position) + 1) + 1)


def _raise(message: str, mark: Mark) -> ParsedYaml:
    raise YamlSyntaxError(message, mark)

"""Reading a job file: YAML with positions, the schema, then the whole-job checks.

Every problem found is reported, in file order, as `FILE:LINE:COL: path: message`.
Loading never raises anything but `JobFileError` for a bad file, so the CLI can turn
any bad input into exit code 2 without a traceback.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from pydantic_core import ValidationError

from agentsup.job import checks
from agentsup.job.graph import TopologyGraph, build_graph
from agentsup.job.models import JobDefinition
from agentsup.job.problems import DocPath, JobFileError, Located, Problem
from agentsup.job.validation import validate_job
from agentsup.job.yamlpos import Positions, YamlSyntaxError, parse

if TYPE_CHECKING:
    from pydantic import BaseModel

FREE_FORM = frozenset({"config", "environment", "execution"})


class LoadedJob(msgspec.Struct, frozen=True):
    """A job that passed every check, with where it came from."""

    definition: JobDefinition
    path: Path
    positions: Positions
    graph: TopologyGraph
    """Who connects to whom; built once here and used by the checks and the resolver."""

    @property
    def base_dir(self) -> Path:
        """Relative paths in the job (workdir, modules) are relative to the file."""
        return self.path.parent


MAX_JOB_FILE_BYTES = 4 * 1024 * 1024
"""Job files larger than this (4 MiB) are refused before parsing. Real job files are a
few kilobytes; parsing tens of megabytes of YAML takes minutes and gigabytes."""


def load_job(path: Path | str, *, import_check: bool = True) -> LoadedJob:
    """Load and check a job file, raising `JobFileError` with every problem found.

    Problems with the file as a whole (missing, a directory, too large, binary, not
    UTF-8) are reported as `FILE: message`, without a position.
    """
    path = Path(path)
    shown = str(path)
    try:
        with path.open("rb") as handle:
            # Read one byte past the limit rather than trust stat(): pipes and
            # /dev/stdin report no size.
            data = handle.read(MAX_JOB_FILE_BYTES + 1)
    except FileNotFoundError:
        raise _single(shown, "no such file") from None
    except IsADirectoryError:
        raise _single(shown, "is a directory, not a job file") from None
    except OSError as exc:
        raise _single(shown, f"cannot be read: {exc.strerror}") from None
    if len(data) > MAX_JOB_FILE_BYTES:
        raise _single(
            shown, f"is larger than {MAX_JOB_FILE_BYTES // (1024 * 1024)} MiB; "
            "a job file is a small YAML document"
        )
    if b"\0" in data:
        raise _single(shown, "is a binary file (it contains NUL bytes), not YAML text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _single(shown, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return load_text(text, shown, base_dir=path.parent, import_check=import_check)


def load_text(
    text: str, file: str, *, base_dir: Path, import_check: bool = True
) -> LoadedJob:
    """Load a job from text; `file` is only used to name positions in messages."""
    try:
        parsed = parse(text)
    except YamlSyntaxError as exc:
        raise JobFileError(
            [Located(file, exc.mark.line, exc.mark.column, (), f"invalid YAML: {exc.message}")]
        ) from None
    positions = parsed.positions
    data = parsed.data
    problems = list(parsed.problems)
    if data is None:
        problems.append(
            Problem((), "the file is empty; a job file is a mapping with job, agents and topology")
        )
        raise _locate(file, positions, problems)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        problems.append(
            Problem((), f"the document is {kind}; it must be a mapping with job, agents and "
                    "topology")
        )
        raise _locate(file, positions, problems)

    data = _strip_extension_keys(data, ())
    data = _numbers_as_written(data, parsed.numbers)
    try:
        definition = validate_job(data)
    except ValidationError as exc:
        problems.extend(_translate(exc, data))
        raise _locate(file, positions, problems) from None
    graph = build_graph(definition.topology, [agent.id for agent in definition.agents])
    problems.extend(
        checks.check_job(definition, graph, base_dir=base_dir, import_check=import_check)
    )
    if problems:
        raise _locate(file, positions, problems)
    return LoadedJob(definition, Path(file), positions, graph)


def _single(file: str, message: str) -> JobFileError:
    return JobFileError([Located(file, 0, 0, (), message)])


def _locate(file: str, positions: Positions, problems: Iterable[Problem]) -> JobFileError:
    located = []
    seen: set[tuple[DocPath, str]] = set()
    for problem in problems:
        if (problem.path, problem.message) in seen:
            continue
        seen.add((problem.path, problem.message))
        mark = positions.find(problem.path, problem.on_key)
        located.append(Located(file, mark.line, mark.column, problem.path, problem.message))
    located.sort(key=lambda p: (p.line, p.column))
    return JobFileError(located)


def _strip_extension_keys(value: Any, path: DocPath) -> Any:
    """Drop `x-` keys (user extensions) outside the free-form maps before validation."""
    if isinstance(value, dict):
        if path and path[-1] in FREE_FORM:
            return value
        return {
            k: _strip_extension_keys(v, (*path, k))
            for k, v in value.items()
            if not (isinstance(k, str) and k.startswith("x-"))
        }
    if isinstance(value, list):
        return [_strip_extension_keys(v, (*path, i)) for i, v in enumerate(value)]
    return value


def _numbers_as_written(data: dict[str, Any], numbers: dict[DocPath, str]) -> dict[str, Any]:
    """Keep numbers that are really text as the user wrote them.

    `version: 1.10` is version "1.10", not 1.1, and `RETRIES: 010` in an environment map
    is the text "010". Only `job.version`, the environment maps and argv lists are text
    by nature.
    """
    if not numbers:
        return data
    text_paths = [("job", "version")]
    text_maps: list[DocPath] = [("environment",)]
    agents = data.get("agents")
    if isinstance(agents, list):
        text_maps.extend(("agents", i, "deployment", "environment") for i in range(len(agents)))
        # An argv is text too: `[serve, --ratio, 1e3]` passes `1e3`, not `1000.0`.
        text_maps.extend(("agents", i, "command") for i in range(len(agents)))
    for path, written in numbers.items():
        if path in text_paths or (path[:-1] in text_maps and len(path) >= 1):
            _replace(data, path, written)
    return data


def _replace(data: Any, path: DocPath, value: str) -> None:
    node = data
    for part in path[:-1]:
        if not _can_step(node, part):
            return
        node = node[part]
    last = path[-1]
    if _can_step(node, last) and isinstance(node[last], int | float) and not isinstance(
        node[last], bool
    ):
        node[last] = value


def _data_path(loc: tuple[int | str, ...], data: Any, keep_last: bool) -> DocPath:
    """Turn a pydantic location into a document path, dropping union and validator tags."""
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        if _can_step(node, part):
            path.append(part)
            node = node[part]
        elif keep_last and index == len(loc) - 1:
            path.append(part)
    return tuple(path)


def _can_step(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _translate(exc: ValidationError, data: Any) -> list[Problem]:
    problems: list[Problem] = []
    union_paths: dict[DocPath, list[str]] = {}
    for error in exc.errors(include_url=False, include_input=False):
        kind = error["type"]
        loc = tuple(error["loc"])
        if loc and loc[-1] == "[key]":
            # A bad key of a map (an environment variable's name): point at the key.
            path = _data_path(loc, data, keep_last=False)
            problems.append(Problem(path, _message(error, data, path), on_key=True))
        elif kind == "extra_forbidden":
            path = _data_path(loc, data, keep_last=True)
            problems.append(Problem(path, _unknown_key_message(path), on_key=True))
        elif kind == "missing":
            path = _data_path(loc, data, keep_last=True)
            problems.append(Problem(path, f"required key {path[-1]!r} is missing"))
        else:
            path = _data_path(loc, data, keep_last=False)
            message = _message(error, data, path)
            if path in union_paths:
                # One value that fits none of a union's members: one problem, not one
                # per member.
                union_paths[path].append(message)
                continue
            union_paths[path] = [message]
            problems.append(Problem(path, message))
    merged: list[Problem] = []
    for problem in problems:
        messages = union_paths.get(problem.path, [])
        if problem.on_key or len(messages) < 2 or problem.message != messages[0]:
            merged.append(problem)
            continue
        choices = [m.removeprefix("should be ") for m in dict.fromkeys(messages)]
        text = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
        merged.append(Problem(problem.path, f"should be {text}"))
    return merged


def _message(error: Any, data: Any, path: DocPath) -> str:
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    for subject in ("Input ", "String ", "List ", "Dictionary ", "Value "):
        if message.startswith(subject + "should "):
            message = message[len(subject) :]
            break
    message = message.replace(" after validation", "")
    if error["type"] == "float_type" and isinstance(_value_at(data, path), str):
        message += f", not the text {_value_at(data, path)!r} (write numbers without quotes)"
    message = re.sub(r" or instance of \w+", "", message).replace("a valid dictionary", "a mapping")
    if error["type"] == "enum":
        given = _value_at(data, path)
        expected = [part.strip(" '") for part in str(error["ctx"]["expected"]).replace(
            " or ", ", ").split(",")]
        import difflib  # only a file with problems pays for the suggestions

        close = difflib.get_close_matches(str(given), expected, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
    return message


def _value_at(data: Any, path: DocPath) -> Any:
    node = data
    for part in path:
        node = node[part]
    return node


def _unknown_key_message(path: DocPath) -> str:
    key = str(path[-1])
    allowed = sorted(_allowed_keys(path[:-1]))
    message = f"unknown key {key!r}"
    import difflib  # only a file with problems pays for the suggestions

    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    if allowed:
        return f"{message}; expected one of: {', '.join(allowed)} (or an 'x-' key)"
    return message


def _allowed_keys(path: DocPath) -> set[str]:
    """The keys the schema accepts at a document path, for did-you-mean suggestions.

    Read from the pydantic models, which only a file with an unknown key pays for.
    """
    from agentsup.job import schema_models

    candidates: list[type[BaseModel]] = [schema_models.JobDefinition]
    for part in path:
        if isinstance(part, int):
            continue
        following: list[type[BaseModel]] = []
        for model in candidates:
            for name, info in model.model_fields.items():
                if part in (name, info.alias):
                    following.extend(_models_in(info.annotation))
        candidates = following
    keys: set[str] = set()
    for model in candidates:
        keys.update(info.alias or name for name, info in model.model_fields.items())
    return keys


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    origin = typing.get_origin(annotation)
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            found.extend(_models_in(arg))
    return found

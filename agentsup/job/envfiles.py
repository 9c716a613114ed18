"""Env files: `KEY=value` files named by `env_file`, read with python-dotenv.

They are resolved against the job file's directory, checked by `validate` (a missing
file is a problem with a position, like any other), and read when agents' environments
are built, once per `agentsup start`.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from agentsup.job.models import Agent, JobDefinition
from agentsup.job.problems import DocPath, Problem


def resolve(base_dir: Path, name: str) -> Path:
    """An env file's path: `~` expanded, relative paths from the job file's directory."""
    path = Path(name).expanduser()
    return path if path.is_absolute() else base_dir / path


class EnvFileError(ValueError):
    """An env file that cannot be read when an agent's environment is built.

    The loader checks every env file, but a start reads them again later (after the
    backends' checks, which can take minutes) and a reload or a launch later still: a
    file deleted or made unreadable in between must stop that step with this message,
    not give the agents an environment without its variables.
    """


def _text_of(path: Path) -> str:
    """The file's text, or `EnvFileError` saying why there is none.

    Opened without blocking and checked to be a regular file before reading: a FIFO
    or a device named as an env file would otherwise hang the start or never end.
    """
    shown = repr(str(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise EnvFileError(f"env file {shown} does not exist") from None
    except PermissionError:
        raise EnvFileError(f"env file {shown} cannot be read (permission denied)") from None
    except OSError as exc:
        raise EnvFileError(f"env file {shown} cannot be read: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise EnvFileError(f"env file {shown} is not a file")
        with open(fd, "rb", closefd=False) as handle:
            data = handle.read()
    except OSError as exc:
        raise EnvFileError(f"env file {shown} cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvFileError(f"env file {shown} is not UTF-8 text ({exc.reason})") from None


def _line_problems(path: Path, text: str) -> list[str]:
    """What python-dotenv would skip or pass on unusable, line by line.

    Given a line it cannot read as `KEY=value`, python-dotenv logs a warning without
    the file's name and leaves the variable out; a NUL character reaches the agent's
    launch and fails it there. Both are said here, with the file and the line, so that
    `validate` reports them and a start never runs an agent without them.
    """
    from dotenv.parser import parse_stream  # only jobs with env files pay for the import

    shown = repr(str(path))
    problems = []
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        written = binding.original.string.strip()
        if "\0" in binding.original.string:
            problems.append(
                f"env file {shown}, line {line}: contains a NUL character, which no "
                "environment variable can hold"
            )
        elif binding.error:
            shortened = written if len(written) <= 40 else written[:37] + "..."
            problems.append(
                f"env file {shown}, line {line}: {shortened!r} cannot be read as "
                "KEY=value (a name without spaces, `=` or `#`; a quoted value needs its "
                "closing quote)"
            )
    return problems


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of one file; a bare `KEY` without `=` is set to the empty text.

    `${VAR}` expands from earlier lines of the same file, then agentsup's environment.
    The file is read once, here, and its text parsed: python-dotenv given a path reads
    a missing file as an empty one, which would drop its variables without a word.
    """
    from dotenv import dotenv_values  # only jobs with env files pay for the import

    text = _text_of(path)
    problems = _line_problems(path, text)
    if problems:
        raise EnvFileError("; ".join(problems))
    return {key: value or "" for key, value in dotenv_values(stream=io.StringIO(text)).items()}


def read_all(base_dir: Path, names: list[str] | None) -> dict[str, str]:
    """The variables of several files, later files winning."""
    merged: dict[str, str] = {}
    for name in names or ():
        merged.update(read_env_file(resolve(base_dir, name)))
    return merged


def _problems(base_dir: Path, name: str, path: DocPath) -> list[Problem]:
    resolved = resolve(base_dir, name)
    try:
        text = _text_of(resolved)
    except EnvFileError as exc:
        return [Problem(path, str(exc))]
    return [Problem(path, message) for message in _line_problems(resolved, text)]


def _entries(job: JobDefinition) -> Iterator[tuple[DocPath, list[str]]]:
    if job.env_file:
        yield ("env_file",), job.env_file
    for index, agent in enumerate(job.agents):
        if agent.deployment.env_file:
            yield ("agents", index, "deployment", "env_file"), agent.deployment.env_file


def env_file_problems(job: JobDefinition, base_dir: Path) -> Iterator[Problem]:
    """Every env file that is missing, unreadable or has lines that cannot be used, at
    its place in the job file."""
    for where, names in _entries(job):
        for position, name in enumerate(names):
            yield from _problems(base_dir, name, (*where, position))


def agent_env_files(job: JobDefinition, agent: Agent, base_dir: Path) -> tuple[
    dict[str, str], dict[str, str]
]:
    """The job's env-file variables and the agent's, separately (they sit at different
    places in the order)."""
    return read_all(base_dir, job.env_file), read_all(base_dir, agent.deployment.env_file)

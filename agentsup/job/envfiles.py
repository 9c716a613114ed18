"""Env files: `KEY=value` files named by `env_file`, read with python-dotenv.

They are resolved against the job file's directory, checked by `validate` (a missing
file is a problem with a position, like any other), and read when agents' environments
are built, once per `agentsup start`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from agentsup.job.models import Agent, JobDefinition
from agentsup.job.problems import DocPath, Problem


def resolve(base_dir: Path, name: str) -> Path:
    """An env file's path: `~` expanded, relative paths from the job file's directory."""
    path = Path(name).expanduser()
    return path if path.is_absolute() else base_dir / path


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of one file; a bare `KEY` without `=` is set to the empty text.

    `${VAR}` expands from earlier lines of the same file, then agentsup's environment.
    """
    from dotenv import dotenv_values  # only jobs with env files pay for the import

    return {key: value or "" for key, value in dotenv_values(path, encoding="utf-8").items()}


def read_all(base_dir: Path, names: list[str] | None) -> dict[str, str]:
    """The variables of several files, later files winning."""
    merged: dict[str, str] = {}
    for name in names or ():
        merged.update(read_env_file(resolve(base_dir, name)))
    return merged


def _problem(base_dir: Path, name: str, path: DocPath) -> Problem | None:
    resolved = resolve(base_dir, name)
    if not resolved.exists():
        return Problem(path, f"env file {str(resolved)!r} does not exist")
    if not resolved.is_file():
        return Problem(path, f"env file {str(resolved)!r} is not a file")
    try:
        resolved.read_bytes().decode("utf-8")
    except PermissionError:
        return Problem(path, f"env file {str(resolved)!r} cannot be read (permission denied)")
    except UnicodeDecodeError as exc:
        return Problem(path, f"env file {str(resolved)!r} is not UTF-8 text ({exc.reason})")
    except OSError as exc:
        return Problem(path, f"env file {str(resolved)!r} cannot be read: {exc.strerror}")
    return None


def _entries(job: JobDefinition) -> Iterator[tuple[DocPath, list[str]]]:
    if job.env_file:
        yield ("env_file",), job.env_file
    for index, agent in enumerate(job.agents):
        if agent.deployment.env_file:
            yield ("agents", index, "deployment", "env_file"), agent.deployment.env_file


def env_file_problems(job: JobDefinition, base_dir: Path) -> Iterator[Problem]:
    """Every env file that is missing or unreadable, at its place in the job file."""
    for where, names in _entries(job):
        for position, name in enumerate(names):
            problem = _problem(base_dir, name, (*where, position))
            if problem is not None:
                yield problem


def agent_env_files(job: JobDefinition, agent: Agent, base_dir: Path) -> tuple[
    dict[str, str], dict[str, str]
]:
    """The job's env-file variables and the agent's, separately (they sit at different
    places in the order)."""
    return read_all(base_dir, job.env_file), read_all(base_dir, agent.deployment.env_file)

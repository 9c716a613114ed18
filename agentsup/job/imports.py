"""Checking that an agent's module exists and defines its `type`, without running it.

Importing a user's module would run its code (and its import-time side effects) inside
the supervisor. Instead the module is located with the path finder, which only looks at
the file system, and its source is read with `ast`.
"""

from __future__ import annotations

import ast
import os
import sys
from importlib.machinery import PathFinder
from pathlib import Path


def search_path(base_dir: Path, workdir: str | None = None) -> list[str]:
    """Where `python -m` will look: the agent's working directory, the job file's
    directory, the current directory, then this interpreter's path."""
    paths: list[str] = []
    if workdir is not None:
        paths.append(str((base_dir / workdir).resolve()))
    paths.extend([str(base_dir.resolve()), os.getcwd()])
    paths.extend(p for p in sys.path if p)
    return list(dict.fromkeys(paths))


def check_module(module: str, type_name: str | None, search: list[str]) -> str | None:
    """Return a readable problem, or None when the module (and class) can be found."""
    parts = module.split(".")
    if not all(part.isidentifier() for part in parts):
        return f"{module!r} is not a Python module name (like 'agents.weather')"
    locations: list[str] | None = search
    origin: str | None = None
    for depth, part in enumerate(parts):
        spec = PathFinder.find_spec(part, locations)
        if spec is None:
            found = ".".join(parts[:depth]) or None
            where = f" inside package {found!r}" if found else ""
            return (
                f"module {module!r} cannot be found{where} (looked in the job file's "
                "directory, the current directory and the Python path)"
            )
        origin = spec.origin
        locations = (
            list(spec.submodule_search_locations) if spec.submodule_search_locations else None
        )
        if depth < len(parts) - 1 and locations is None:
            return f"{'.'.join(parts[: depth + 1])!r} is a module, not a package"
    if locations is not None:
        main = _find_file(locations, "__main__.py")
        init = _find_file(locations, "__init__.py")
        if main is None:
            return f"package {module!r} has no __main__.py, so `python -m {module}` cannot run it"
        origin = init or main
    if type_name is None:
        return None
    if origin is None or not origin.endswith(".py"):
        return None  # compiled or namespace module: nothing we can read, trust it
    try:
        tree = ast.parse(Path(origin).read_text(encoding="utf-8"), filename=origin)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError) as exc:
        return f"module {module!r} cannot be read ({origin}): {exc}"
    if any(_defines(node, type_name) for node in tree.body):
        return None
    if locations is not None:
        main = _find_file(locations, "__main__.py")
        if main is not None and main != origin and _file_defines(main, type_name):
            return None
    return f"module defines no class {type_name!r} ({origin})"


def _find_file(locations: list[str], name: str) -> str | None:
    for location in locations:
        candidate = Path(location) / name
        if candidate.is_file():
            return str(candidate)
    return None


def _file_defines(path: str, name: str) -> bool:
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return False
    return any(_defines(node, name) for node in tree.body)


def _defines(node: ast.stmt, name: str) -> bool:
    """A top-level class, or a name imported or assigned at the top level."""
    if isinstance(node, ast.ClassDef):
        return node.name == name
    if isinstance(node, ast.ImportFrom | ast.Import):
        return any((alias.asname or alias.name.split(".")[-1]) == name for alias in node.names)
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.target.id == name
    if isinstance(node, ast.If | ast.Try):
        body = list(node.body) + list(getattr(node, "orelse", []))
        return any(_defines(child, name) for child in body)
    return False

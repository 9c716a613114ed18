"""The job schema for the installed pydantic-core, made once and kept between runs.

`records_schema.py` is written for one pydantic-core, the one in the environment it was
generated in. pydantic pins its pydantic-core exactly, so a user with another pydantic
(any release since, installed the day they install agentsup) has another pydantic-core,
which may read that schema otherwise. For them the schema is made again from the models,
as the generator makes it, and that builds pydantic's model classes: about 0.2 s, which
every `start` and `validate` would pay. So it is made once, compiled, and kept in the
user's cache directory (`$XDG_CACHE_HOME/agentsup`, else `~/.cache/agentsup`); later
runs load it in about 2 ms.

The file is named after everything its contents depend on: agentsup's version, the
pydantic-core's, the interpreter's bytecode (marshal is version-specific), and the
written `records_schema.py`, which changes whenever a model does. A file not owned by
this user, or writable by others, is not loaded (it is code); a cache that cannot be
written is no error: the schema made in this process is used.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import stat
from importlib.util import MAGIC_NUMBER
from pathlib import Path
from types import CodeType
from typing import Any

import pydantic_core

from agentsup import __version__
from agentsup.job import records_schema


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "agentsup"


def cache_file() -> Path | None:
    """Where the schema for the installed pydantic-core is kept; None when the written
    schema's source cannot be read (an installation without .py files), which leaves
    nothing to name the file after."""
    try:
        written = Path(records_schema.__file__).read_bytes()
    except (OSError, TypeError):
        return None
    key = _digest(
        b"\0".join([__version__.encode(), pydantic_core.__version__.encode(), MAGIC_NUMBER,
                    _digest(written)])
    ).hex()[:24]
    return cache_dir() / f"job-schema-{key}.marshal"


def _digest(data: bytes) -> bytes:
    """BLAKE2b from CPython's own module: `hashlib` first loads OpenSSL's libcrypto,
    about 2 ms of every command that checks a file under another pydantic-core."""
    try:
        from _blake2 import blake2b
    except ImportError:  # an interpreter without the built-in module
        from hashlib import blake2b
    return blake2b(data, digest_size=32).digest()


def schema_for_installed_core() -> dict[str, Any]:
    """The schema `validation` compiles when `records_schema.py` was written for another
    pydantic-core: from the cache, else made now (and kept for the next run)."""
    path = cache_file()
    code = None if path is None else _load(path)
    if code is None:
        from agentsup.job.generate import schema_code

        code = schema_code()
        if path is not None:
            _store(path, marshal.dumps(code))
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    schema: dict[str, Any] = namespace["SCHEMA"]
    return schema


def _load(path: Path) -> CodeType | None:
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return None
            code = marshal.loads(handle.read())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None


def _store(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all: another agentsup may be reading it."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        import tempfile  # only when the schema was made anew

        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".job-schema-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)

"""What a value in a job file may be: the checks and conversions of single fields.

These functions are what pydantic-core calls while it validates a job file, through the
schema models (`schema_models`) and through the schema generated from them into
`records_schema`. They import nothing of pydantic, so that `start` and `validate` can check a
file without building pydantic's model classes (docs/performance.md). Each raises
`ValueError` with the words the user reads.
"""

from __future__ import annotations

import re
from typing import Any, Literal

Scalar = str | int | float | bool

OutputLevel = Literal["debug", "info", "warning", "error"]


MAX_SECONDS = 86_400.0
"""The longest duration a job file may give: one day. Longer (or infinite) values would
overflow timers and waits, or make a start-up, stop or restart never end."""


MAX_KEPT_FILES = 1000
"""The most rotated log files an agent may keep. More is almost certainly a typo (an extra
digit or two), and the number also bounds what one rotation may have to rename."""


DEFAULT_OUTPUT = {"stdout": "info", "stderr": "warning"}
"""The event level of each stream of an agent's output, unless the job file says."""


def whole_number(value: Any) -> Any:
    """3 and 3.0 (JSON Schema counts both as integers); booleans and text are not counts."""
    if isinstance(value, bool | str):
        raise ValueError(f"should be a whole number, not {value!r}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def kept_files(value: Any) -> Any:
    """A count of rotated files, refused with the bound named rather than pydantic's words."""
    value = whole_number(value)
    if isinstance(value, int) and value > MAX_KEPT_FILES:
        raise ValueError(f"should be at most {MAX_KEPT_FILES} rotated files, not {value}")
    return value


def empty_list() -> list[Any]:
    """A new empty list, for `default_factory`.

    Not `list` itself: pydantic looks at a factory's signature, and a builtin's is read by
    tokenizing its text signature (the first time, compiling the tokenizer's patterns).
    """
    return []


def empty_dict() -> dict[Any, Any]:
    """A new empty mapping, for `default_factory` (see `empty_list`)."""
    return {}


def as_list(value: Any) -> Any:
    """Accept a single id where a list of ids is expected (`to: b` means `to: [b]`)."""
    if isinstance(value, str):
        return [value]
    return value


ID_OR_IDS_SCHEMA = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
}


PATH_OR_PATHS_SCHEMA = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
}


def port_number(value: Any) -> Any:
    """A TCP port: an integer (or its digits) from 1 to 65535; never a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise ValueError(f"must be a port number from 1 to 65535, not {value!r}")
    text = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise ValueError(f"must be a port number from 1 to 65535, not {value!r}")
    return int(text)


PORT_TEXT = (
    "^\\s*0*([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]"
    "|6553[0-5])\\s*$"
)


def env_value(value: Any) -> Any:
    if isinstance(value, dict | list | tuple | set):
        kind = "a mapping" if isinstance(value, dict) else "a list"
        raise ValueError(f"must be text, a number or a boolean, not {kind}")
    if isinstance(value, str) and "\0" in value:
        raise ValueError("must not contain a NUL character (an environment cannot carry it)")
    return value


def env_name(name: str) -> str:
    if not name:
        raise ValueError("an environment variable needs a name")
    if "=" in name or "\0" in name:
        bad = "'='" if "=" in name else "a NUL character"
        raise ValueError(f"environment variable name {name!r} must not contain {bad}")
    return name


ENV_NAME_PATTERN = "^[^=\u0000]+$"


SAFE_NAME = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def safe_name(value: str, becomes: str) -> str:
    """`value` when it matches `SAFE_NAME`; else a ValueError saying what it becomes."""
    if not re.fullmatch(SAFE_NAME, value):
        raise ValueError(
            "must start with a letter or digit and contain only letters, digits, "
            f"'_', '.' and '-' ({becomes})"
        )
    return value


def job_name(value: str) -> str:
    return safe_name(value, "it names networks, containers and directories")


def agent_id(value: str) -> str:
    return safe_name(value, "ids become host names and variable values")


def version_text(value: Any) -> Any:
    """A job's `version: 1.2` is kept as the text it reads as."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def signal_name(value: Any) -> Any:
    """`INT`, `sigint` and `SIGINT` all mean SIGINT; anything else is not a signal."""
    import signal

    if not isinstance(value, str):
        raise ValueError(f"must be a signal name like SIGTERM or SIGINT, not {value!r}")
    name = value.strip().upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name not in signal.Signals.__members__ or name in ("SIGKILL", "SIGSTOP"):
        raise ValueError(
            f"{value!r} is not a signal an agent can handle; use a name like SIGTERM, "
            "SIGINT, SIGHUP, SIGQUIT or SIGUSR1"
        )
    return name


SIZE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?)I?B?\s*$")


SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def byte_size(value: Any) -> Any:
    """`10M`, `512K`, `1G` or a plain number of bytes."""
    if isinstance(value, bool):
        raise ValueError(f"must be a size like 10M, not {value!r}")
    if isinstance(value, int):
        size = value
    else:
        match = SIZE_PATTERN.match(str(value).upper())
        if not match:
            raise ValueError(f"{value!r} is not a size; write it like 512K, 10M or 1G")
        size = int(float(match.group(1)) * SIZE_UNITS[match.group(2)])
    if size < 1024:
        raise ValueError(f"{value!r} is too small; a log file may grow to at least 1K")
    return size


MEMORY_PATTERN = re.compile(r"^\d+(\.\d+)?\s*([KMGT]i?[Bb]?|[Bb])?$")


MEMORY_SCHEMA_PATTERN = r"^\s*\d+(\.\d+)?\s*([KMGT]i?[Bb]?|[Bb])?\s*$"


def memory_text(value: Any) -> Any:
    """`memory: 1073741824` is a number of bytes, kept as text like `512M` is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def memory_size(value: str | None) -> str | None:
    if value is not None and not MEMORY_PATTERN.match(value.strip()):
        raise ValueError(f"{value!r} is not a size; write it like 512M, 1G or 2Gi")
    return value


def restart_policy(value: Any) -> Any:
    """YAML 1.1 reads a bare `no` as false; people mean the policy."""
    return "no" if value is False else value


COMMAND_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": "\\S"},
        {"type": "array", "items": {"type": ["string", "number"]}, "minItems": 1},
    ]
}


def command_line(value: Any) -> Any:
    """A command as a string (split like a shell) or an argv list (numbers become text)."""
    import shlex

    if isinstance(value, str):
        try:
            parts = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split command line: {exc}") from None
        if not parts:
            raise ValueError("must not be empty")
        return parts
    if isinstance(value, list):
        # `[python3, -m, http.server, 8101]`: YAML numbers in an argv are meant as text.
        return [
            str(part) if isinstance(part, int | float) and not isinstance(part, bool) else part
            for part in value
        ]
    return value


def non_empty(argv: list[str]) -> list[str]:
    if not argv:
        raise ValueError("must not be empty")
    return argv


def absolute_path(value: str | None) -> str | None:
    """An HTTP probe's path, which must start with `/`."""
    if value is not None and not value.startswith("/"):
        raise ValueError(f"must start with '/', like '/{value}'")
    return value


def topology_type(value: Any) -> Any:
    """`Hub_Spoke` and ` hub-spoke ` name the same topology."""
    if isinstance(value, str):
        return value.strip().lower().replace("_", "-")
    return value


def level_kind(value: Any) -> str:
    """Which of a hierarchical level's two forms a value is: a group or a list of ids."""
    return "group" if isinstance(value, dict) or hasattr(value, "parent") else "ids"


def scalar_text(value: Scalar | None) -> str:
    """How YAML scalars become environment text: booleans lower-case, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Secret:
    """A password that never shows: its repr and text are stars, like pydantic's
    `SecretStr`, which this replaces so that checking a file needs no pydantic class."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

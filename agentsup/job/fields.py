"""The building blocks of the job-file schema: the base model and the checked scalar types.

Durations, counts, ports, environment names and values, signal names and sizes are
annotated types here, so every model that uses one validates it the same way and the
JSON Schema says the same thing everywhere.
"""

# Annotations here are evaluated as written (no `from __future__ import annotations`):
# postponed, pydantic would compile and evaluate each one while building the models.

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
)

Scalar = str | int | float | bool


MAX_SECONDS = 86_400.0
"""The longest duration a job file may give: one day. Longer (or infinite) values would
overflow timers and waits, or make a start-up, stop or restart never end."""


Seconds = Annotated[
    float,
    Strict(),
    Field(
        gt=0,
        le=MAX_SECONDS,
        allow_inf_nan=False,
        description="A duration in seconds: more than 0, at most 86400 (one day); "
        "may be fractional.",
    ),
]
"""Strict: `"10"` and `true` are not durations (the JSON Schema says number, too)."""


Flag = Annotated[bool, Strict()]
"""A boolean; `1` and `"yes"` are not (the JSON Schema says boolean)."""


def _whole_number(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer; booleans and text are not counts.
    if isinstance(value, bool | str):
        raise ValueError(f"should be a whole number, not {value!r}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Count = Annotated[int, Field(ge=0), BeforeValidator(_whole_number)]
"""A whole number from 0; `"3"` and `true` are not (the JSON Schema says integer)."""


PositiveCount = Annotated[int, Field(ge=1), BeforeValidator(_whole_number)]
"""A whole number from 1."""


MAX_KEPT_FILES = 1000
"""The most rotated log files an agent may keep. More is almost certainly a typo (an extra
digit or two), and the number also bounds what one rotation may have to rename."""


def _kept_files(value: Any) -> Any:
    """A count of rotated files, refused with the bound named rather than pydantic's words."""
    value = _whole_number(value)
    if isinstance(value, int) and value > MAX_KEPT_FILES:
        raise ValueError(f"should be at most {MAX_KEPT_FILES} rotated files, not {value}")
    return value


KeptFiles = Annotated[
    int, Field(ge=0, le=MAX_KEPT_FILES), BeforeValidator(_kept_files)
]
"""How many rotated log files to keep: 0 to MAX_KEPT_FILES (the JSON Schema says so too)."""


def empty_list() -> list[Any]:
    """A new empty list, for `default_factory`.

    Not `list` itself: pydantic looks at a factory's signature, and a builtin's is read by
    tokenizing its text signature (the first time, compiling the tokenizer's patterns),
    about 5 ms of every command; a Python function's signature is at hand.
    """
    return []


def empty_dict() -> dict[Any, Any]:
    """A new empty mapping, for `default_factory` (see `empty_list`)."""
    return {}


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        # The loader accepts `x-` keys everywhere; say so in the JSON Schema too, so that
        # editors do not flag them.
        json_schema_extra={"patternProperties": {"^x-": {}}},
    )


def _as_list(value: Any) -> Any:
    """Accept a single id where a list of ids is expected (`to: b` means `to: [b]`)."""
    if isinstance(value, str):
        return [value]
    return value


ID_OR_IDS_SCHEMA = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
}


IdList = Annotated[list[str], BeforeValidator(_as_list), WithJsonSchema(ID_OR_IDS_SCHEMA)]
"""A list of agent ids; one id alone is accepted too (and the JSON Schema says so)."""


def _port_number(value: Any) -> Any:
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


Port = Annotated[
    int,
    Field(ge=1, le=65535),
    BeforeValidator(_port_number),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 65535},
                {"type": "string", "pattern": PORT_TEXT},
            ]
        }
    ),
]
"""A TCP port. Checked before pydantic's own int coercion so `true` is not port 1."""


def _env_value(value: Any) -> Any:
    if isinstance(value, dict | list | tuple | set):
        kind = "a mapping" if isinstance(value, dict) else "a list"
        raise ValueError(f"must be text, a number or a boolean, not {kind}")
    if isinstance(value, str) and "\0" in value:
        raise ValueError("must not contain a NUL character (an environment cannot carry it)")
    return value


EnvValue = Annotated[
    Scalar | None,
    BeforeValidator(_env_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": "^[^\\u0000]*$"},
                {"type": ["number", "boolean", "null"]},
            ]
        }
    ),
]
"""An environment value; numbers and booleans become text when an agent starts."""


def _env_name(name: str) -> str:
    if not name:
        raise ValueError("an environment variable needs a name")
    if "=" in name or "\0" in name:
        bad = "'='" if "=" in name else "a NUL character"
        raise ValueError(f"environment variable name {name!r} must not contain {bad}")
    return name


ENV_NAME_PATTERN = "^[^=\u0000]+$"


EnvName = Annotated[
    str,
    AfterValidator(_env_name),
    WithJsonSchema({"type": "string", "pattern": ENV_NAME_PATTERN}),
]
"""A variable name: anything but empty, `=` or NUL (the kernel's rules, no more)."""


SAFE_NAME = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def safe_name(value: str, becomes: str) -> str:
    """`value` when it matches `SAFE_NAME`; else a ValueError saying what it becomes."""
    if not re.fullmatch(SAFE_NAME, value):
        raise ValueError(
            "must start with a letter or digit and contain only letters, digits, "
            f"'_', '.' and '-' ({becomes})"
        )
    return value


PATH_OR_PATHS_SCHEMA = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
}


EnvFiles = Annotated[list[str], BeforeValidator(_as_list), WithJsonSchema(PATH_OR_PATHS_SCHEMA)]
"""One env file or a list of them, relative to the job file."""


def _signal_name(value: Any) -> Any:
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


StopSignal = Annotated[
    str,
    BeforeValidator(_signal_name),
    WithJsonSchema({"type": "string", "description": "A signal name: SIGTERM, SIGINT, INT, ..."}),
]
"""A signal name, normalised to `SIGNAME`."""


SIZE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?)I?B?\s*$")


SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def _byte_size(value: Any) -> Any:
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


ByteSize = Annotated[
    int,
    BeforeValidator(_byte_size),
    WithJsonSchema({"type": ["string", "integer"], "description": "Bytes, or like 10M."}),
]


OutputLevel = Literal["debug", "info", "warning", "error"]


COMMAND_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": "\\S"},
        {"type": "array", "items": {"type": ["string", "number"]}, "minItems": 1},
    ]
}


def _split_command_line(value: Any) -> Any:
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


def _non_empty(argv: list[str]) -> list[str]:
    if not argv:
        raise ValueError("must not be empty")
    return argv


Command = Annotated[
    list[str],
    BeforeValidator(_split_command_line),
    AfterValidator(_non_empty),
    WithJsonSchema(COMMAND_SCHEMA),
]
"""A command line: a string split like a shell, or an argv list; never empty. An agent's
`command` and an exec probe's `command` are the same type, so they accept and refuse
the same things with the same words."""


def scalar_text(value: Scalar | None) -> str:
    """How YAML scalars become environment text: booleans lower-case, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

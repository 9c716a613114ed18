"""The building blocks of the job-file schema models: the base model and the checked types.

Durations, counts, ports, environment names and values, signal names and sizes are
annotated types here, so every model that uses one validates it the same way and the
JSON Schema says the same thing everywhere. The checks themselves are plain functions in
`values`, which the generated schema in `records_schema` calls too.
"""

# Annotations here are evaluated as written (no `from __future__ import annotations`):
# postponed, pydantic would compile and evaluate each one while building the models.

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetPydanticSchema,
    Strict,
    WithJsonSchema,
)
from pydantic_core import core_schema

from agentsup.job.values import (
    COMMAND_SCHEMA,
    ENV_NAME_PATTERN,
    ID_OR_IDS_SCHEMA,
    MAX_KEPT_FILES,
    MAX_SECONDS,
    PATH_OR_PATHS_SCHEMA,
    PORT_TEXT,
    Scalar,
    Secret,
    as_list,
    byte_size,
    command_line,
    env_name,
    env_value,
    kept_files,
    non_empty,
    port_number,
    signal_name,
    whole_number,
)

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


Count = Annotated[int, Field(ge=0), BeforeValidator(whole_number)]
"""A whole number from 0; `"3"` and `true` are not (the JSON Schema says integer)."""


PositiveCount = Annotated[int, Field(ge=1), BeforeValidator(whole_number)]
"""A whole number from 1."""


KeptFiles = Annotated[
    int, Field(ge=0, le=MAX_KEPT_FILES), BeforeValidator(kept_files)
]
"""How many rotated log files to keep: 0 to MAX_KEPT_FILES (the JSON Schema says so too)."""


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        # The loader accepts `x-` keys everywhere; say so in the JSON Schema too, so that
        # editors do not flag them.
        json_schema_extra={"patternProperties": {"^x-": {}}},
    )


IdList = Annotated[list[str], BeforeValidator(as_list), WithJsonSchema(ID_OR_IDS_SCHEMA)]
"""A list of agent ids; one id alone is accepted too (and the JSON Schema says so)."""


Port = Annotated[
    int,
    Field(ge=1, le=65535),
    BeforeValidator(port_number),
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


EnvValue = Annotated[
    Scalar | None,
    BeforeValidator(env_value),
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


EnvName = Annotated[
    str,
    AfterValidator(env_name),
    WithJsonSchema({"type": "string", "pattern": ENV_NAME_PATTERN}),
]
"""A variable name: anything but empty, `=` or NUL (the kernel's rules, no more)."""


EnvFiles = Annotated[list[str], BeforeValidator(as_list), WithJsonSchema(PATH_OR_PATHS_SCHEMA)]
"""One env file or a list of them, relative to the job file."""


StopSignal = Annotated[
    str,
    BeforeValidator(signal_name),
    WithJsonSchema({"type": "string", "description": "A signal name: SIGTERM, SIGINT, INT, ..."}),
]
"""A signal name, normalised to `SIGNAME`."""


ByteSize = Annotated[
    int,
    BeforeValidator(byte_size),
    WithJsonSchema({"type": ["string", "integer"], "description": "Bytes, or like 10M."}),
]


Command = Annotated[
    list[str],
    BeforeValidator(command_line),
    AfterValidator(non_empty),
    WithJsonSchema(COMMAND_SCHEMA),
]
"""A command line: a string split like a shell, or an argv list; never empty. An agent's
`command` and an exec probe's `command` are the same type, so they accept and refuse
the same things with the same words."""


SecretText = Annotated[
    Secret,
    GetPydanticSchema(
        lambda _type, _handler: core_schema.no_info_after_validator_function(
            Secret, core_schema.str_schema()
        )
    ),
    WithJsonSchema({"type": "string", "format": "password", "writeOnly": True}),
]
"""A password: text in the file, a `Secret` (never shown) once read."""

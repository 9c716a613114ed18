"""Writes `records.py` and `records_schema.py` from the pydantic models.

Run `python -m agentsup.job.generate` after changing a model in `*_models.py` or
`fields.py`; `tests/test_job_records.py` fails while either file is out of date.

Why: building pydantic's model classes costs about 0.2 s, more than anything else
`agentsup start` does before its first agent (docs/performance.md). What validation
needs of them is their core schema, and that refers only to agentsup's own functions
(`values`), enumerations (`kinds`) and classes. So each model becomes a frozen
`msgspec.Struct` of the same name and fields (`records.py`), and the core schema is
written out (`records_schema.py`) with each model's part turned into a typed dict that
`record_parts.record_of` makes the record from. `validation` compiles it with
pydantic-core: the same engine, the same checks and the same errors, without the
classes. `tests/test_job_records.py` compares both ways on good and bad files.
"""

from __future__ import annotations

import enum
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import CodeType
from typing import Any

import pydantic_core
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from agentsup.job import record_parts, schema_models

HERE = Path(__file__).parent
RECORDS = HERE / "records.py"
SCHEMA = HERE / "records_schema.py"

HAND_WRITTEN: dict[str, type] = {"AgentConfig": record_parts.AgentConfig}
"""Models whose record is written by hand (`record_parts`), not generated."""

MIXINS: dict[str, tuple[type, str]] = {"JobDefinition": (record_parts.JobMethods, "[Agent]")}
"""Methods a generated record takes from a hand-written class (with its type arguments)."""

OWN_MODULES = ("agentsup.job.values", "agentsup.job.kinds", "agentsup.job.record_parts")
"""Where the schema's functions, enumerations and classes may come from."""

NOTICE = "Do not edit: run `python -m agentsup.job.generate` (see `generate` for why)."


class Code:
    """Text to write as it is, naming what it uses (`module`, `name`)."""

    def __init__(self, text: str, *uses: tuple[str, str]) -> None:
        self.text = text
        self.uses = uses


class Source:
    """Python text for records and schemas, and the names it must import."""

    def __init__(self) -> None:
        self.imports: dict[str, set[str]] = {}

    def use(self, module: str, name: str) -> str:
        self.imports.setdefault(module, set()).add(name)
        return name

    def name(self, thing: Any) -> str:
        """How the text refers to an enumeration, function or class of agentsup's."""
        module = getattr(thing, "__module__", "")
        qualname = getattr(thing, "__qualname__", "")
        if module not in OWN_MODULES or "." in qualname or "<" in qualname:
            raise TypeError(
                f"the schema refers to {thing!r} ({module}.{qualname}); move it to a "
                f"module-level name in one of {', '.join(OWN_MODULES)}"
            )
        return self.use(module, str(qualname))

    def imports_text(self) -> str:
        """The imports, grouped as isort groups them: the standard library, msgspec,
        agentsup."""
        groups: list[list[str]] = [[], [], []]
        for module, names in sorted(self.imports.items()):
            group = 0 if module == "typing" else 1 if module == "msgspec" else 2
            groups[group].append(_import(module, sorted(names)))
        return "\n".join("".join(group) for group in groups if group)

    def value(self, thing: Any, indent: int = 0) -> str:
        """A Python expression for one part of a core schema: on one line when it fits,
        else a mapping or list with an item a line."""
        inline = self._inline(thing)
        if indent + len(inline) <= 88 or not isinstance(thing, dict | list | tuple):
            return inline
        pad = " " * indent
        if isinstance(thing, dict):
            items = [f"{key!r}: {self.value(item, indent + 4)}" for key, item in thing.items()]
            opening, closing = "{", "}"
        else:
            items = [self.value(item, indent + 4) for item in thing]
            opening, closing = ("[", "]") if isinstance(thing, list) else ("(", ")")
        return opening + "\n" + "".join(f"{pad}    {item},\n" for item in items) + pad + closing

    def _inline(self, thing: Any) -> str:
        if isinstance(thing, Code):
            for module, name in thing.uses:
                self.use(module, name)
            return thing.text
        if isinstance(thing, dict):
            pairs = ", ".join(f"{key!r}: {self._inline(item)}" for key, item in thing.items())
            return "{" + pairs + "}"
        if isinstance(thing, list):
            return "[" + ", ".join(self._inline(item) for item in thing) + "]"
        if isinstance(thing, tuple):
            items = [self._inline(item) for item in thing]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if isinstance(thing, enum.Enum):
            return f"{self.name(type(thing))}.{thing.name}"
        if thing is None or isinstance(thing, str | int | float | bool):
            return repr(thing)
        if callable(thing):
            return self.name(thing)
        raise TypeError(f"cannot write {thing!r} into the schema")

    def annotation(self, hint: Any) -> str:
        """A type hint as text, with models named by their records."""
        origin = typing.get_origin(hint)
        arguments = typing.get_args(hint)
        if hint is type(None) or hint is None:
            return "None"
        if hint is Any:
            return self.use("typing", "Any")
        if origin is typing.Annotated:
            return self.annotation(arguments[0])
        if origin is typing.Union or origin is type(int | None):
            return " | ".join(self.annotation(argument) for argument in arguments)
        if origin is typing.Literal:
            self.use("typing", "Literal")
            return f"Literal[{', '.join(repr(argument) for argument in arguments)}]"
        if origin in (list, dict):
            inner = ", ".join(self.annotation(argument) for argument in arguments)
            return f"{origin.__name__}[{inner}]"
        if isinstance(hint, type) and issubclass(hint, BaseModel):
            return hint.__name__
        if hint in (str, int, float, bool):
            return str(hint.__name__)
        if isinstance(hint, type):
            return self.name(hint)
        raise TypeError(f"cannot write the type {hint!r}")

    def default(self, info: FieldInfo) -> str:
        factory = info.default_factory
        if factory is not None:
            if isinstance(factory, type) and issubclass(factory, BaseModel):
                made = factory.__name__
            else:
                made = self.name(factory)
            return f" = {self.use('msgspec', 'field')}(default_factory={made})"
        if info.default is PydanticUndefined:
            return ""
        return f" = {self.value(info.default)}"


def _import(module: str, names: list[str]) -> str:
    line = f"from {module} import {', '.join(names)}\n"
    if len(line) <= 100:
        return line
    return f"from {module} import (\n" + "".join(f"    {name},\n" for name in names) + ")\n"


def _own_bases(model: type[BaseModel]) -> list[type[BaseModel]]:
    return [
        base
        for base in model.__bases__
        if issubclass(base, BaseModel) and base not in (BaseModel, schema_models.Model)
    ]


def models_in_order(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model the job uses, each after its base and the models of its fields (a
    base class, a default factory and a mixin's type argument must exist first)."""
    ordered: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in ordered:
            return
        for base in _own_bases(model):
            visit(base)
        for info in model.model_fields.values():
            for used in _models_in(info.annotation):
                visit(used)
        ordered.append(model)

    visit(root)
    return ordered


def _models_in(hint: Any) -> Iterator[type[BaseModel]]:
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        yield hint
    for argument in typing.get_args(hint):
        yield from _models_in(argument)


def record_class(source: Source, model: type[BaseModel]) -> str:
    bases = [base.__name__ for base in _own_bases(model)] or [source.use("msgspec", "Struct")]
    if model.__name__ in MIXINS:
        mixin, arguments = MIXINS[model.__name__]
        bases.append(source.name(mixin) + arguments)
    inherited = {name for base in _own_bases(model) for name in base.model_fields}
    lines = [f"class {model.__name__}({', '.join(bases)}, frozen=True, kw_only=True):"]
    doc = (model.__doc__ or "").strip().splitlines()
    if doc:
        lines += [f'    """{doc[0]}"""', ""]
    fields = [name for name in model.model_fields if name not in inherited]
    for name in fields:
        info = model.model_fields[name]
        lines.append(f"    {name}: {source.annotation(info.annotation)}{source.default(info)}")
    if not fields:
        lines.append("    pass")
    return "\n".join(lines)


def as_typed_dicts(schema: Any) -> Any:
    """The core schema with each model's part made a typed dict and then a record.

    A model's part checks that the value is a mapping (with pydantic's own error for a
    model), checks the fields as a typed dict does (the same field schemas, the same
    handling of unknown keys), and makes the record from the result. A model used
    elsewhere (a field's `default_factory`) becomes its record too. pydantic's `ref`s
    end with an id() that differs from run to run, so only their names are kept.
    """
    if isinstance(schema, list):
        return [as_typed_dicts(item) for item in schema]
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return _record(schema.__name__)
    if not isinstance(schema, dict):
        return schema
    is_schema = isinstance(schema.get("type"), str)
    if is_schema and schema["type"] == "model":
        return _model_part(schema)
    return {
        key: (value.split(":", 1)[0] if key in ("ref", "schema_ref") else as_typed_dicts(value))
        for key, value in schema.items()
        if not (is_schema and key in ("metadata", "serialization"))
    }


def _record(name: str) -> Code:
    """The record that stands for the model `name`."""
    record = HAND_WRITTEN.get(name)
    return Code(name, (record.__module__ if record else "agentsup.job.records", name))


def _model_part(schema: dict[str, Any]) -> dict[str, Any]:
    model = schema["cls"]
    config = {k: v for k, v in schema.get("config", {}).items() if k != "title"}
    fields = {}
    for name, field in schema["schema"]["fields"].items():
        part: dict[str, Any] = {"type": "typed-dict-field"}
        part.update(
            {k: as_typed_dicts(v) for k, v in field.items() if k not in ("type", "metadata")}
        )
        part["required"] = field["schema"]["type"] != "default"
        fields[name] = part
    record = _record(model.__name__)
    part = {
        "type": "function-before",
        "function": {
            "type": "no-info",
            "function": Code(
                f"mapping_of({model.__name__!r})",
                ("agentsup.job.record_parts", "mapping_of"),
            ),
        },
        "schema": {
            "type": "function-after",
            "function": {
                "type": "no-info",
                "function": Code(
                    f"record_of({record.text})",
                    ("agentsup.job.record_parts", "record_of"),
                    *record.uses,
                ),
            },
            "schema": {
                "type": "typed-dict",
                "fields": fields,
                "extra_behavior": config.get("extra_fields_behavior", "ignore"),
                "config": config,
            },
        },
    }
    if "ref" in schema:
        part["ref"] = schema["ref"].split(":", 1)[0]
    return part


def schema_code() -> CodeType:
    """`records_schema.py` as this process's pydantic would write it, compiled: for a
    pydantic-core other than the one the file was written for, which may not read the
    file's schema (`validation`, `schema_cache`)."""
    return compile(schema_text(), f"<job schema for pydantic-core {pydantic_core.__version__}>",
                   "exec")


def records_text() -> str:
    """The text `records.py` should have."""
    source = Source()
    classes = []
    for model in models_in_order(schema_models.JobDefinition):
        if model.__name__ in HAND_WRITTEN:
            source.name(HAND_WRITTEN[model.__name__])
            continue
        classes.append(record_class(source, model))
    return (
        '"""The job file\'s records: one frozen Struct for each pydantic model of the schema.\n\n'
        f'{NOTICE}\n"""\n\n'
        "from __future__ import annotations\n\n"
        + source.imports_text()
        + "\n\n"
        + "\n\n\n".join(classes)
        + "\n"
    )


def schema_text() -> str:
    """The text `records_schema.py` should have."""
    source = Source()
    body = source.value(as_typed_dicts(schema_models.JobDefinition.__pydantic_core_schema__))
    source.use("typing", "Any")
    return (
        '"""The job file\'s validation schema: pydantic\'s, made of typed dicts and records.\n\n'
        f'{NOTICE}\n"""\n\n'
        "# ruff: noqa: E501\n\n"
        "from __future__ import annotations\n\n"
        + source.imports_text()
        + "\n"
        + f"PYDANTIC_CORE_VERSION = {pydantic_core.__version__!r}\n"
        + '"""The pydantic-core this schema was written for (`validation`)."""\n\n'
        + "SCHEMA: dict[str, Any] = "
        + body
        + "\n"
    )


def main() -> int:
    for target, text in ((RECORDS, records_text()), (SCHEMA, schema_text())):
        if target.exists() and target.read_text() == text:
            print(f"{target} is up to date")
        else:
            target.write_text(text)
            print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

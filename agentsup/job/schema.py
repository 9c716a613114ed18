"""The JSON Schema of job files (`agentsup schema`), made to accept what the loader accepts.

Pydantic derives most of it from the models. What it cannot see is patched here: the
loader's normalisation of `topology.type` (`Hub_Spoke` is `hub-spoke`), and fields whose
`None` default means "inherit" or "see the description" rather than null, which pydantic
would show as `default: null`.
"""

from __future__ import annotations

from typing import Any

from agentsup.job.kinds import TopologyType
from agentsup.job.schema_models import JobDefinition

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _any_case(word: str) -> str:
    """An ECMA-262 pattern for `word` in any letter case, `-` or `_` between parts.

    The loader lower-cases with `str.lower`, which also maps the Kelvin sign to `k`.
    """
    parts = []
    for char in word:
        if char == "-":
            parts.append("[-_]")
        elif char == "k":
            parts.append("[kK\\u212a]")
        elif char.isalpha():
            parts.append(f"[{char}{char.upper()}]")
        else:
            parts.append(char)
    return "".join(parts)


def topology_type_schema() -> dict[str, Any]:
    names = "|".join(_any_case(member.value) for member in TopologyType)
    return {
        "type": "string",
        "pattern": f"^\\s*({names})\\s*$",
        "description": "One of " + ", ".join(m.value for m in TopologyType)
        + "; letter case and '_' for '-' do not matter.",
    }


def _drop_null_defaults(node: Any) -> None:
    if isinstance(node, dict):
        if "default" in node and node["default"] is None:
            del node["default"]
        for value in node.values():
            _drop_null_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_null_defaults(value)


def job_schema() -> dict[str, Any]:
    schema = JobDefinition.model_json_schema(by_alias=True)
    _drop_null_defaults(schema)
    schema["$defs"]["Topology"]["properties"]["type"] = topology_type_schema()
    schema["$schema"] = DIALECT
    schema["title"] = "agentsup job file"
    return schema

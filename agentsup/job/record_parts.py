"""The hand-written parts of the job records, which the generated `records` uses.

`AgentConfig` keeps the keys the schema does not name; `JobMethods` holds what the job
record does beyond holding fields; `mapping_of` and `record_of` are how the generated
validation schema (`records_schema`) turns a checked mapping into a record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from agentsup.job.values import Scalar


class AgentConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Free-form agent settings; only `port` is required, the other keys are in `extra`."""

    port: int
    extra: dict[str, Any] = msgspec.field(default_factory=dict)

    def scalars(self) -> dict[str, Scalar]:
        """The scalar settings (the environment gives lists and maps too, as JSON)."""
        return {
            key: value
            for key, value in self.extra.items()
            if isinstance(value, str | int | float | bool)
        }


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


AgentT = TypeVar("AgentT", bound=_Identified)


class JobMethods(Generic[AgentT]):
    """What a job record answers besides its fields (generic in the agent record, which
    is generated from this module's users and so cannot be imported here)."""

    __slots__ = ()

    agents: list[AgentT]

    def agent(self, agent_id: str) -> AgentT:
        for agent in self.agents:
            if agent.id == agent_id:
                return agent
        raise KeyError(agent_id)


def mapping_of(class_name: str) -> Callable[[Any], Any]:
    """What refuses anything but a mapping where a record is expected, with the error
    pydantic gives for its model there (`model_type`, naming the class)."""

    def mapping(value: Any) -> Any:
        if not isinstance(value, dict):
            from pydantic_core import PydanticCustomError

            raise PydanticCustomError(
                "model_type",
                "Input should be a valid dictionary or instance of {class_name}",
                {"class_name": class_name},
            )
        return value

    return mapping


def record_of(record: type[Any]) -> Callable[[dict[str, Any]], Any]:
    """What makes a record from its checked fields; keys the schema does not name (an
    agent's `config`) go into the record's `extra`."""
    named = frozenset(record.__struct_fields__) - {"extra"}
    if "extra" not in record.__struct_fields__:
        return lambda fields: record(**fields)

    def with_extra(fields: dict[str, Any]) -> Any:
        given = {key: fields.pop(key) for key in named if key in fields}
        return record(**given, extra=fields)

    return with_extra

"""The health-check part of the job-file schema, and the probe settings once merged.

`HealthCheck` is what the job file says (every field optional, so layers can merge);
`EffectiveProbe` and `EffectiveHealth` are what is in force for one agent, computed in
`agentsup.settings`.
"""

# Annotations here are evaluated as written (no `from __future__ import annotations`):
# postponed, pydantic would compile and evaluate each one while building the models.

from enum import StrEnum
from typing import Literal

from pydantic import (
    Field,
    field_validator,
)

from agentsup.job.fields import (
    Command,
    Flag,
    Model,
    PositiveCount,
    Seconds,
)


class ProbeType(StrEnum):
    HTTP = "http"
    TCP = "tcp"
    EXEC = "exec"
    LOG = "log"
    A2A = "a2a"


class ProbeSettings(Model):
    """The fields of one probe; unset fields inherit (see `HealthCheck`)."""

    enabled: Flag | None = None
    type: ProbeType | None = Field(
        default=None, description="http (default), tcp, exec, log or a2a."
    )
    interval: Seconds | None = Field(default=None, description="Seconds between checks.")
    retries: PositiveCount | None = Field(
        default=None, description="Failures in a row before an agent is unhealthy."
    )
    timeout: Seconds | None = Field(default=None, description="Seconds one check may take.")
    path: str | None = Field(default=None, description="HTTP path to GET (default /health).")
    scheme: Literal["http", "https"] | None = Field(
        default=None, description="http (default) or https (certificate not verified "
        "unless ca_file is given)."
    )
    ca_file: str | None = Field(
        default=None, description="CA certificate (PEM) that an https agent's certificate "
        "must verify against; relative to the job file."
    )
    command: Command | None = Field(
        default=None, description="type exec: the command (string or argv list) that must "
        "exit 0, run where the agent runs."
    )
    pattern: str | None = Field(
        default=None, description="type log: a regular expression; the agent is ready when "
        "a line of its output matches."
    )

    @field_validator("path")
    @classmethod
    def _path_absolute(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"must start with '/', like '/{value}'")
        return value



class HealthCheck(ProbeSettings):
    """Health-check settings; unset fields inherit from the job, then the defaults.

    `readiness` and `liveness` take the same fields and override the shared ones for
    that purpose alone (a `/ready` while a model loads, a cheap `/live` afterwards).
    """

    readiness: ProbeSettings | None = Field(
        default=None, description="Overrides for the check that decides when the agent is ready."
    )
    liveness: ProbeSettings | None = Field(
        default=None, description="Overrides for the checks once the agent is ready; "
        "{enabled: false} turns only these off."
    )


DEFAULT_HEALTH = HealthCheck(
    enabled=True, type=ProbeType.HTTP, interval=10.0, retries=3, timeout=5.0, path="/health",
    scheme="http",
)


class EffectiveProbe(Model):
    """One probe with nothing left unset (`command` and `pattern` only where needed)."""

    enabled: bool
    interval: float
    retries: int
    timeout: float
    path: str
    type: ProbeType = ProbeType.HTTP
    scheme: Literal["http", "https"] = "http"
    ca_file: str | None = None
    command: list[str] | None = None
    pattern: str | None = None

    @property
    def uses_network(self) -> bool:
        """Whether the probe connects to the agent's port (http, tcp, a2a)."""
        return self.type in (ProbeType.HTTP, ProbeType.TCP, ProbeType.A2A)


class EffectiveHealth(EffectiveProbe):
    """The health settings in force for one agent: the shared fields, and the probe for
    each purpose. Without explicit purposes (tests build it by hand) both are the
    shared probe."""

    readiness: EffectiveProbe | None = None
    liveness: EffectiveProbe | None = None

    def ready_probe(self) -> EffectiveProbe:
        return self.readiness if self.readiness is not None else self

    def live_probe(self) -> EffectiveProbe:
        """Liveness; a `log` readiness leaves liveness to the process being alive."""
        probe: EffectiveProbe = self.liveness if self.liveness is not None else self
        if probe.type is ProbeType.LOG:
            return probe.model_copy(update={"enabled": False})
        return probe

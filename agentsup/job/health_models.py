"""The health-check part of the job-file schema.

`HealthCheck` is what the job file says (every field optional, so layers can merge);
what is in force for one agent is `effective.EffectiveHealth`, computed in
`agentsup.settings`.
"""

# Annotations here are evaluated as written (no `from __future__ import annotations`):
# postponed, pydantic would compile and evaluate each one while building the models.

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from agentsup.job.fields import (
    Command,
    Flag,
    Model,
    PositiveCount,
    Seconds,
)
from agentsup.job.kinds import ProbeType
from agentsup.job.values import absolute_path


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
    path: Annotated[str, AfterValidator(absolute_path)] | None = Field(
        default=None, description="HTTP path to GET (default /health)."
    )
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


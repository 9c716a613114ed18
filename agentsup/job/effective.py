"""What is in force for one agent once the layers of the job file are merged.

These are not part of the job file's schema: `agentsup.settings` computes them from the
validated records, so they are plain frozen Structs, with nothing to check.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from agentsup.job.kinds import ProbeType


class EffectiveProbe(msgspec.Struct, frozen=True, kw_only=True):
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


class EffectiveHealth(EffectiveProbe, frozen=True, kw_only=True):
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
            return msgspec.structs.replace(probe, enabled=False)
        return probe


class EffectiveLogFiles(msgspec.Struct, frozen=True, kw_only=True):
    """The log-file settings in force for one agent."""

    dir: str
    max_size: int
    keep: int

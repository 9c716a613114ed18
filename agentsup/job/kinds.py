"""The job file's enumerations: topology types, probe types, targets and strategies.

Plain `StrEnum`s with no pydantic in them, so that the runtime, the generated records
and the pydantic schema models all share the very same classes.
"""

from __future__ import annotations

from enum import StrEnum


class TopologyType(StrEnum):
    HUB_SPOKE = "hub-spoke"
    PIPELINE = "pipeline"
    DAG = "dag"
    MESH = "mesh"
    HIERARCHICAL = "hierarchical"
    DYNAMIC = "dynamic"


class ProbeType(StrEnum):
    HTTP = "http"
    TCP = "tcp"
    EXEC = "exec"
    LOG = "log"
    A2A = "a2a"


class Target(StrEnum):
    LOCALHOST = "localhost"
    REMOTE = "remote"
    CONTAINER = "container"
    SWARM = "swarm"
    KUBERNETES = "kubernetes"


class Strategy(StrEnum):
    STAGED = "staged"
    SEQUENTIAL = "sequential"
    PARALLEL = "parallel"
    TOP_DOWN = "top-down"

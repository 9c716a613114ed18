"""A loaded job made ready for this machine: its plan, and what `start` cannot run.

The resolver is pure; resolving a job here adds the two facts of this machine it needs
(`~/.ssh/config`, through asyncssh's parser, and this host's name). `start`, `reload`,
`plan` and `validate` all resolve through this one function, so a reload sees exactly
the plan a fresh start would.
"""

from __future__ import annotations

import socket

from agentsup.job.loader import LoadedJob
from agentsup.job.problems import JobFileError, Located
from agentsup.plan import DeploymentPlan, TopologyResolver
from agentsup.sshconfig import host_name_resolver


def resolve(loaded: LoadedJob) -> DeploymentPlan:
    resolver = TopologyResolver(host_name_resolver(), local_host=socket.gethostname())
    return resolver.resolve(loaded.definition, loaded.graph)


def unsupported_targets(loaded: LoadedJob) -> JobFileError | None:
    # The backends' registry only here: `validate` and `plan` resolve without it.
    from agentsup.runners.registry import supported_targets

    problems = []
    for index, agent in enumerate(loaded.definition.agents):
        target = agent.deployment.target
        if target not in supported_targets():
            path = ("agents", index, "deployment", "target")
            mark = loaded.positions.find(path)
            problems.append(
                Located(
                    str(loaded.path), mark.line, mark.column, path,
                    f"target {target.value!r} is not supported by `agentsup start` yet; "
                    "supported: " + ", ".join(sorted(t.value for t in supported_targets())),
                )
            )
    return JobFileError(problems) if problems else None

"""`agentsup reload`: read the job file again and hand the new plan to the supervisor.

This runs on the control server's connection thread: loading, checking and resolving
are pure work on a file, exactly what `agentsup validate` does, and may take a moment
(the import check). What changes and in which order is the supervisor's decision
(`SupervisorLogic`); this side only describes each agent's launch as text, so a changed
command, environment, config, image, host or peer URL shows as a difference, and
supplies a way to make the actor of an added or changed agent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pykka

from agentsup.actors.agent import AgentSettings
from agentsup.job.loader import load_job
from agentsup.job.models import Agent, JobDefinition, Target
from agentsup.job.problems import JobFileError, Located
from agentsup.messages import ReloadJob
from agentsup.plan import DeploymentPlan
from agentsup.runners.base import RunnerError
from agentsup.settings import restart_policies

SettingsFor = Callable[[JobDefinition, DeploymentPlan, Agent], AgentSettings]
ActorFor = Callable[[Agent, AgentSettings], pykka.ActorRef[Any]]

if TYPE_CHECKING:
    from agentsup.control.server import ControlServer


def launch_text(agent: Agent, settings: AgentSettings) -> str:
    """Everything that shapes an agent's process, as comparable text."""
    return agent.model_dump_json() + "\n" + repr(settings)


class Reloader:
    def __init__(
        self,
        control: ControlServer,
        supervisor: pykka.ActorRef[Any],
        targets: set[Target],
        settings_for: SettingsFor,
        actor_for: ActorFor,
    ) -> None:
        self.control = control
        self.supervisor = supervisor
        self.targets = targets
        self.settings_for = settings_for
        self.actor_for = actor_for

    def __call__(self) -> tuple[int, dict[str, Any]]:
        from agentsup.resolving import resolve, unsupported_targets

        path = Path(self.control.job_file)
        try:
            loaded = load_job(path)
            plan = resolve(loaded)
        except JobFileError as exc:
            return 422, {"problems": exc.render().splitlines()}
        problems = unsupported_targets(loaded)
        job = loaded.definition
        if problems is None and job.job.name != self.control.job:
            mark = loaded.positions.find(("job", "name"))
            problems = JobFileError([Located(
                str(path), mark.line, mark.column, ("job", "name"),
                f"a reload cannot rename the job (it runs as {self.control.job!r})")])
        if problems is not None:
            return 422, {"problems": problems.render().splitlines()}
        new_targets = {a.deployment.target for a in job.agents} - self.targets
        if new_targets:
            names = ", ".join(sorted(t.value for t in new_targets))
            return 409, {"error": f"the job did not run agents on {names} when it started; "
                                  "restart the job to add them"}
        try:
            settings = {a.id: self.settings_for(job, plan, a) for a in job.agents}
        except RunnerError as exc:
            return 409, {"error": f"cannot prepare the new launches: {exc}"}
        agents = {a.id: a for a in job.agents}
        launches = {a.id: launch_text(a, settings[a.id]) for a in job.agents}

        def make(agent_id: str) -> pykka.ActorRef[Any]:
            return self.actor_for(agents[agent_id], settings[agent_id])

        status, body = self.control.ask(
            lambda reply: ReloadJob(plan, launches, restart_policies(job), make, reply)
        )
        if status == 200:
            self.control.agent_ids = [a.id for a in job.agents]
        return status, body

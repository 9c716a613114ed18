"""`agentsup reload`: read the job file again and hand the new plan to the supervisor.

This runs on the control server's connection thread: loading, checking and resolving
are pure work on a file, exactly what `agentsup validate` does, and may take a moment
(the import check). What changes and in which order is the supervisor's decision
(`SupervisorLogic`); this side only describes each agent's launch as text, so a changed
command, environment, config, image, host or peer URL shows as a difference, and
supplies a way to make the actor of an added or changed agent.

Before the supervisor hears of it, each target's backend checks what the new and
changed agents need, as a start would (an image, a free host port, a reachable host
with the module), and then makes it ready (pulls, networks, the new host ports). A
target no agent used at the start has no backend, and a reload cannot add one: that
takes a restart of the job. One reload runs at a time, so that no backend is made
ready for one file while the supervisor still applies another.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import pykka

from agentsup.actors.agent import AgentSettings
from agentsup.environment import agent_environment
from agentsup.job.loader import load_job
from agentsup.job.models import Agent, JobDefinition, Target
from agentsup.job.problems import JobFileError, Located
from agentsup.launches import LaunchText
from agentsup.messages import ReloadJob
from agentsup.openfiles import ensure_open_files
from agentsup.plan import DeploymentPlan
from agentsup.runners.base import Backend, Reloaded, RunnerError
from agentsup.settings import restart_policies

SettingsFor = Callable[[JobDefinition, DeploymentPlan, Agent], AgentSettings]
ActorFor = Callable[[Agent, AgentSettings, int], pykka.ActorRef[Any]]
"""Makes and starts the actor of an agent, its run numbers going on from the third
argument (how many times the agent was launched before)."""

if TYPE_CHECKING:
    from agentsup.control.server import ControlServer


def launch_text(agent: Agent, settings: AgentSettings) -> str:
    """Everything that shapes an agent's process, as comparable text.

    The builder of a spec at each launch (an agent given swarm agents' URLs) is a new
    function every time the settings are made, and its repr shows where it lives, so
    the text says only whether there is one: what it builds from is the job, the plan
    and the agent, and the spec made from the same things is in the text already.
    Otherwise every reload would restart such an agent, changed or not.
    """
    live = settings.spec_at_launch is not None
    shown = msgspec.structs.replace(settings, spec_at_launch=None)
    return repr(agent) + "\n" + repr(shown) + ("\nbuilt at each launch" if live else "")


def launch_of(agent: Agent, settings: AgentSettings) -> LaunchText:
    """The agent's launch, its text made when a reload first compares it."""
    return LaunchText(functools.partial(launch_text, agent, settings))


class Reloader:
    def __init__(
        self,
        control: ControlServer,
        supervisor: pykka.ActorRef[Any],
        backends: Mapping[Target, Backend],
        settings_for: SettingsFor,
        actor_for: ActorFor,
    ) -> None:
        self.control = control
        self.supervisor = supervisor
        self.backends = backends
        self.settings_for = settings_for
        self.actor_for = actor_for
        self._one_at_a_time = threading.Lock()

    def __call__(self) -> tuple[int, dict[str, Any]]:
        if not self._one_at_a_time.acquire(blocking=False):
            return 409, {"error": "a reload is already under way"}
        try:
            return self._reload()
        finally:
            self._one_at_a_time.release()

    def _reload(self) -> tuple[int, dict[str, Any]]:
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
        refused = self._new_targets(job)
        if refused is not None:
            return 409, {"error": refused}
        problems_found = self._prepare_targets(job, plan)
        if problems_found is not None:
            return 409, {"error": problems_found}
        try:
            settings = {a.id: self.settings_for(job, plan, a) for a in job.agents}
        except RunnerError as exc:
            return 409, {"error": f"cannot prepare the new launches: {exc}"}
        agents = {a.id: a for a in job.agents}
        # A job that grows needs more descriptors; a shortfall was reported at the start.
        ensure_open_files(len(job.agents))
        launches = {a.id: launch_of(a, settings[a.id]) for a in job.agents}

        def make(agent_id: str, runs: int) -> pykka.ActorRef[Any]:
            return self.actor_for(agents[agent_id], settings[agent_id], runs)

        status, body = self.control.ask(
            lambda reply: ReloadJob(plan, launches, restart_policies(job), make, reply)
        )
        if status == 200:
            self.control.agent_ids = [a.id for a in job.agents]
        return status, body

    def _new_targets(self, job: JobDefinition) -> str | None:
        """Why the new file needs a target the job was not started with, if it does."""
        new = [a for a in job.agents if a.deployment.target not in self.backends]
        if not new:
            return None
        targets = sorted({a.deployment.target.value for a in new})
        ids = ", ".join(repr(a.id) for a in new)
        name = self.control.job
        return (
            f"agent{'s' if len(new) > 1 else ''} {ids} would run on target "
            f"{', '.join(repr(t) for t in targets)}, which no agent of job {name!r} used "
            "when it started; a reload cannot add a target. Stop the job with "
            f"`agentsup stop {name}` and start it again with `agentsup start "
            f"{self.control.job_file}`"
        )

    def _prepare_targets(self, job: JobDefinition, plan: DeploymentPlan) -> str | None:
        """Each backend checks, then makes ready, what its new and changed agents need;
        the reasons it cannot, or None. Nothing is made ready unless every check passed."""
        reloaded: dict[Target, Reloaded] = {}
        for target, backend in self.backends.items():
            base_dir = backend.context.base_dir
            reloaded[target] = Reloaded(
                agents=[a for a in job.agents if a.deployment.target is target],
                host_ports=dict(plan.host_ports),
                published=dict(plan.published),
                environment=functools.partial(agent_environment, job, plan,
                                              base_dir=base_dir),
            )
        problems = [problem for target, backend in self.backends.items()
                    for problem in backend.reload_preflight(reloaded[target])]
        if problems:
            return "; ".join(problems) + "; nothing was changed"
        try:
            for target, backend in self.backends.items():
                backend.reload_prepare(reloaded[target])
        except RunnerError as exc:
            return f"cannot prepare the new launches: {exc}"
        return None

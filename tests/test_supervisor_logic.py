"""SupervisorLogic driven by scripted message histories and a fake clock.

No threads, no sleeps, no actors: every test feeds the messages the supervisor actor
would receive, in order, and reads the effects (sends, events, finish) it answers with.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentsup.actors.logic import (
    After,
    Effect,
    Emit,
    Finish,
    Send,
    SupervisorLogic,
)
from agentsup.exitcodes import EXIT_FAILED, EXIT_OK
from agentsup.job.loader import load_text
from agentsup.job.models import Strategy
from agentsup.messages import (
    AgentExited,
    AgentReady,
    AgentStarted,
    AgentStartFailed,
    AgentStopped,
    HealthCheckFailed,
    HealthRecovered,
    KillAgent,
    KillAll,
    RestartAgent,
    RestartAgents,
    ShutdownTimedOut,
    StartAgent,
    StartJob,
    StopAgent,
    StopJob,
)
from agentsup.plan import DeploymentPlan, TopologyResolver
from agentsup.restart import Backoff, FailureAction, RestartMode, RestartPolicy

# ----------------------------------------------------------------------------- plans


def make_plan(
    stages: Sequence[Sequence[str]], peers: Mapping[str, Sequence[str]] | None = None
) -> DeploymentPlan:
    """A plan built by hand: `stages` in start order, `peers` caller -> callees."""
    ids = [agent for stage in stages for agent in stage]
    urls = {agent: f"http://localhost:{9001 + i}" for i, agent in enumerate(ids)}
    wiring = {agent: tuple((peers or {}).get(agent, ())) for agent in ids}
    return DeploymentPlan(
        job="logic-test",
        strategy=Strategy.STAGED,
        stages=tuple(tuple(stage) for stage in stages),
        agent_urls=urls,
        connections={agent: tuple(urls[p] for p in wiring[agent]) for agent in ids},
        peers=wiring,
    )


def resolved(ids: list[str], topology: str) -> DeploymentPlan:
    """A plan from a real job file through the real resolver."""
    agents = "".join(
        f"  - {{id: {a}, command: x, config: {{port: {9101 + i}}}}}\n" for i, a in enumerate(ids)
    )
    text = "job: {name: logic-test}\nagents:\n" + agents
    text += "topology:\n" + textwrap.indent(textwrap.dedent(topology), "  ")
    job = load_text(text, "job.yaml", base_dir=Path("."), import_check=False).definition
    return TopologyResolver().resolve(job)


def hub_spoke() -> DeploymentPlan:
    return resolved(
        ["controller", "weather", "maps"],
        "type: hub-spoke\nhub: controller\nspokes: [weather, maps]\n",
    )


def dag() -> DeploymentPlan:
    return resolved(
        ["ingest", "processor1", "processor2", "output"],
        """\
        type: dag
        connections:
          - {from: ingest, to: [processor1, processor2]}
          - {from: processor1, to: output}
          - {from: processor2, to: output}
        """,
    )


def pipeline() -> DeploymentPlan:
    return resolved(
        ["fetch", "clean", "summarise"], "type: pipeline\nstages: [fetch, clean, summarise]\n"
    )


# ----------------------------------------------------------------------------- harness


class History:
    """Feeds messages to one SupervisorLogic under a fake clock and keeps every effect."""

    def __init__(
        self,
        plan: DeploymentPlan,
        *,
        policies: Mapping[str, RestartPolicy] | None = None,
        policy: RestartPolicy | None = None,
        on_failure: FailureAction = FailureAction.SHUTDOWN,
        shutdown_timeout: float | None = None,
    ) -> None:
        self.now = 1000.0
        every = {a: policy for stage in plan.stages for a in stage} if policy else {}
        self.plan = plan
        self.logic = SupervisorLogic(
            plan,
            policies={**every, **(policies or {})},
            on_failure=on_failure,
            clock=lambda: self.now,
            shutdown_timeout=shutdown_timeout,
        )
        self.effects: list[Effect] = []
        self.runs: dict[str, int] = {}

    def feed(self, *messages: object) -> list[Effect]:
        """Handle `messages` in order; returns the effects of just these messages."""
        out: list[Effect] = []
        for message in messages:
            out.extend(self.logic.handle(message))
        self.effects.extend(out)
        return out

    # shorthand for the events an agent actor reports, with run numbers kept per agent

    def launched(self, agent: str) -> list[Effect]:
        self.runs[agent] = self.runs.get(agent, 0) + 1
        return self.feed(AgentStarted(agent, self.runs[agent], 4000 + len(self.runs), "localhost"))

    def ready(self, agent: str) -> list[Effect]:
        return self.feed(
            AgentReady(agent, self.runs.get(agent, 1), self.plan.agent_urls[agent], 0.05)
        )

    def up(self, *agents: str) -> list[Effect]:
        """Each agent launches and becomes ready."""
        out: list[Effect] = []
        for agent in agents:
            out += self.launched(agent)
            out += self.ready(agent)
        return out

    def exited(self, agent: str, code: int | None = 1, signal: int | None = None) -> list[Effect]:
        return self.feed(AgentExited(agent, self.runs.get(agent, 1), code, signal))

    def stopped(self, *agents: str) -> list[Effect]:
        out: list[Effect] = []
        for agent in agents:
            out += self.feed(AgentStopped(agent, None, 15))
        return out

    def start_all(self) -> list[Effect]:
        """StartJob, then every stage's agents launch and become ready, stage by stage."""
        out = self.feed(StartJob())
        for stage in self.plan.stages:
            out += self.up(*stage)
        return out


def sends(effects: Iterable[Effect], kind: type | None = None) -> list[tuple[str, Any]]:
    return [
        (e.agent_id, e.command)
        for e in effects
        if isinstance(e, Send) and (kind is None or isinstance(e.command, kind))
    ]


def targets(effects: Iterable[Effect], kind: type) -> list[str]:
    return [agent for agent, _ in sends(effects, kind)]


def events(effects: Iterable[Effect], *names: str) -> list[Emit]:
    return [e for e in effects if isinstance(e, Emit) and (not names or e.event in names)]


def names(effects: Iterable[Effect]) -> list[str]:
    return [e.event for e in events(effects)]


def finishes(effects: Iterable[Effect]) -> list[int]:
    return [e.exit_code for e in effects if isinstance(e, Finish)]


def steps(effects: Iterable[Effect]) -> list[str]:
    """A compact transcript: events by name, sends as `Command>agent`, finish as `Finish(n)`."""
    out = []
    for e in effects:
        match e:
            case Emit(event=event, fields=fields):
                agent = fields.get("agent")
                out.append(f"{event}:{agent}" if agent else event)
            case Send(agent_id=agent, command=command):
                out.append(f"{type(command).__name__}>{agent}")
            case Finish(exit_code=code):
                out.append(f"Finish({code})")
    return out


ON_FAILURE = RestartPolicy(RestartMode.ON_FAILURE)


# ----------------------------------------------------------------------------- stage advance


@pytest.mark.parametrize(
    ("make", "expected_stages"),
    [
        (hub_spoke, [["weather", "maps"], ["controller"]]),
        (dag, [["output"], ["processor1", "processor2"], ["ingest"]]),
        (pipeline, [["summarise"], ["clean"], ["fetch"]]),
    ],
    ids=["hub-spoke", "dag", "pipeline"],
)
def test_next_stage_starts_only_when_every_agent_of_the_stage_is_ready(
    make: Any, expected_stages: list[list[str]]
) -> None:
    plan = make()
    assert [list(s) for s in plan.stages] == expected_stages
    h = History(plan)

    assert targets(h.feed(StartJob()), StartAgent) == expected_stages[0]
    for index, stage in enumerate(expected_stages):
        # every agent but the last of the stage is ready: nothing else starts
        for agent in stage[:-1]:
            assert sends(h.up(agent)) == []
        last = h.up(stage[-1])
        following = expected_stages[index + 1] if index + 1 < len(expected_stages) else []
        assert targets(last, StartAgent) == following
        assert names(last)[-1] == ("agent.starting" if following else "job.ready")

    started = targets(h.effects, StartAgent)
    assert started == [a for stage in expected_stages for a in stage]  # each exactly once
    assert finishes(h.effects) == []


def test_start_up_events_come_in_order() -> None:
    h = History(hub_spoke())
    h.start_all()
    lifecycle = [
        s
        for s in steps(h.effects)
        if s.split(":")[0] in {"stage.started", "agent.starting", "stage.ready", "job.ready"}
        or s.startswith("StartAgent")
    ]
    assert lifecycle == [
        "stage.started",
        "agent.starting:weather",
        "StartAgent>weather",
        "agent.starting:maps",
        "StartAgent>maps",
        "stage.ready",
        "stage.started",
        "agent.starting:controller",
        "StartAgent>controller",
        "stage.ready",
        "job.ready",
    ]
    stage_fields = [dict(e.fields) for e in events(h.effects, "stage.started", "stage.ready")]
    assert stage_fields == [
        {"stage": 1, "agents": ["weather", "maps"]},
        {"stage": 1, "agents": ["weather", "maps"]},
        {"stage": 2, "agents": ["controller"]},
        {"stage": 2, "agents": ["controller"]},
    ]
    (job_ready,) = events(h.effects, "job.ready")
    assert dict(job_ready.fields) == {"agents": 3, "stages": 2, "seconds": 0.0}


def test_job_ready_says_how_long_the_start_took() -> None:
    h = History(hub_spoke())
    h.feed(StartJob())
    h.now += 1.25
    h.up("weather", "maps")
    h.now += 0.5
    h.up("controller")
    (job_ready,) = events(h.effects, "job.ready")
    assert job_ready.fields["seconds"] == 1.75
    (ready,) = events(h.effects, "agent.ready")[-1:]
    assert ready.fields["agent"] == "controller"
    assert ready.fields["url"] == "http://localhost:9101"
    assert h.logic.states() == {"controller": "ready", "weather": "ready", "maps": "ready"}


def test_ready_from_an_earlier_stage_after_a_restart_does_not_advance_again() -> None:
    h = History(pipeline(), policy=ON_FAILURE)
    h.feed(StartJob())
    assert targets(h.up("summarise"), StartAgent) == ["clean"]

    # stage 1's agent crashes and comes back while stage 2 is still starting
    crash = h.exited("summarise", 1)
    assert targets(crash, RestartAgent) == ["summarise"]
    back = h.up("summarise")
    assert sends(back) == []
    assert "stage.ready" not in names(back) and "stage.started" not in names(back)

    assert targets(h.up("clean"), StartAgent) == ["fetch"]
    assert "job.ready" in names(h.up("fetch"))

    # and once the job runs, a restart and a new ready change nothing about stages
    h.exited("summarise", 1)
    again = h.up("summarise")
    assert names(again) == ["agent.started", "agent.ready"]
    assert sends(again) == []
    assert targets(h.effects, StartAgent) == ["summarise", "clean", "fetch"]
    assert len(events(h.effects, "job.ready")) == 1


@pytest.mark.parametrize("how", ["crash", "request"])
def test_the_next_stage_waits_for_an_earlier_stage_agent_on_its_way_back(how: str) -> None:
    """Stage 1's agent restarts (after a crash, or on request) while stage 2 starts:
    stage 2 getting ready does not start stage 3, whose agents may call it; its return
    does, and the job is ready only then."""
    h = History(pipeline(), policy=ON_FAILURE)
    h.feed(StartJob())
    assert targets(h.up("summarise"), StartAgent) == ["clean"]
    if how == "crash":
        assert targets(h.exited("summarise", 1), RestartAgent) == ["summarise"]
    else:
        restart = h.feed(RestartAgents(("summarise",), lambda status, body: None))
        assert targets(restart, RestartAgent) == ["summarise"]
    h.launched("summarise")  # starting again, not ready
    clean = h.up("clean")
    assert sends(clean) == [] and "stage.ready" not in names(clean)
    back = h.ready("summarise")
    assert targets(back, StartAgent) == ["fetch"]
    assert [e.fields["stage"] for e in events(back, "stage.ready", "stage.started")] == [2, 3]
    assert "job.ready" in names(h.up("fetch"))


def test_a_stage_waits_for_its_agent_that_crashed_before_the_stage_was_ready() -> None:
    h = History(hub_spoke(), policy=ON_FAILURE)
    h.feed(StartJob())
    h.up("weather")
    h.exited("weather", 3)  # restarting now
    assert sends(h.up("maps")) == []  # maps is ready but weather is not
    assert h.logic.states()["weather"] == "restarting"
    assert targets(h.up("weather"), StartAgent) == ["controller"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["up", "crash"]), st.integers(0, 3)), max_size=30),
       st.permutations(range(4)))
def test_a_stage_advances_exactly_when_all_its_agents_are_ready(
    history: list[tuple[str, int]], last: list[int],
) -> None:
    """In any order of readiness and crashes (each crash a restart under `on-failure`),
    the next stage starts at the first moment every agent of this one is ready, and
    never before: the stage is not looked at whole at every readiness
    (`SupervisorLogic._stage_settled`), so an agent passed as ready that crashed since
    must still hold it back."""
    first = [f"a{i}" for i in range(4)]
    h = History(make_plan([first, ["next"]]), policy=ON_FAILURE)
    h.feed(StartJob())
    ready: set[str] = set()
    for agent in first:  # every agent launched once
        h.launched(agent)
    for step, index in [*history, *[("up", i) for i in last]]:
        agent = first[index]
        if step == "crash":
            if agent not in ready:
                continue  # only a ready agent's crash is a change worth making here
            h.exited(agent, 3)
            ready.discard(agent)
            h.launched(agent)  # its restart
            continue
        if agent in ready:
            continue
        effects = h.ready(agent)
        ready.add(agent)
        assert h.logic.states()[agent] == "ready"
        started = targets(effects, StartAgent)
        assert started == (["next"] if ready == set(first) else []), (step, agent, ready)
        if started:
            return
    raise AssertionError("the stage never advanced")


def test_each_readiness_looks_at_few_agents_however_large_the_stage() -> None:
    """200 agents of one stage becoming ready: a bounded number of looks at agents for
    each, not one at every agent of the stage (20,000 then)."""
    ids = [f"a{i}" for i in range(200)]
    h = History(make_plan([ids, ["next"]]))
    h.feed(StartJob())
    for agent in ids:
        h.launched(agent)
    looks = 0
    settled = h.logic.state.settled

    def counted(agent: str) -> bool:
        nonlocal looks
        looks += 1
        return settled(agent)

    h.logic.state.settled = counted  # type: ignore[method-assign]
    for agent in ids[:-1]:
        assert targets(h.ready(agent), StartAgent) == []
    assert targets(h.ready(ids[-1]), StartAgent) == ["next"]
    assert looks <= 4 * len(ids)


# ----------------------------------------------------------------------------- shutdown

THREE_STAGES = [["a1", "a2"], ["b1", "b2"], ["c1"]]


def test_stop_job_stops_stages_in_reverse_order_each_stage_together() -> None:
    h = History(make_plan(THREE_STAGES))
    h.start_all()

    first = h.feed(StopJob("SIGTERM"))
    assert names(first)[0] == "job.stopping"
    stopping = dict(events(first, "job.stopping")[0].fields)
    assert stopping == {"reason": "signal", "signal": "SIGTERM"}
    assert targets(first, StopAgent) == ["c1"]

    second = h.stopped("c1")
    assert steps(second) == ["agent.stopped:c1", "StopAgent>b1", "StopAgent>b2"]

    assert sends(h.stopped("b1")) == []  # waits for every agent of the stage
    third = h.stopped("b2")
    assert steps(third) == ["agent.stopped:b2", "StopAgent>a1", "StopAgent>a2"]

    assert finishes(h.stopped("a2")) == []
    last = h.stopped("a1")
    assert steps(last) == ["agent.stopped:a1", "job.stopped", "Finish(0)"]
    assert dict(events(last, "job.stopped")[0].fields) == {"exit_code": EXIT_OK}
    assert set(h.logic.states().values()) == {"stopped"}


def test_stop_during_start_up_stops_only_the_started_stages() -> None:
    h = History(make_plan(THREE_STAGES))
    h.feed(StartJob())
    h.up("a1", "a2")
    h.launched("b1")  # stage 2 of 3 is starting; b2 has not even reported started

    stopping = h.feed(StopJob("SIGINT"))
    assert targets(stopping, StopAgent) == ["b1", "b2"]

    # a ready that arrives after the stop neither starts stage 3 nor counts
    late = h.ready("b2")
    assert late == []
    h.stopped("b1", "b2")
    h.stopped("a1", "a2")

    assert targets(h.effects, StopAgent) == ["b1", "b2", "a1", "a2"]
    assert "c1" not in targets(h.effects, StartAgent)
    assert "c1" not in [agent for agent, _ in sends(h.effects)]
    assert finishes(h.effects) == [EXIT_OK]
    assert steps(h.effects)[-2:] == ["job.stopped", "Finish(0)"]


def test_a_second_stop_job_is_ignored() -> None:
    h = History(make_plan(THREE_STAGES))
    h.start_all()
    h.feed(StopJob("SIGTERM"))
    assert h.feed(StopJob("SIGTERM")) == []
    h.stopped("c1", "b1", "b2", "a1", "a2")
    assert len(events(h.effects, "job.stopping")) == 1
    assert targets(h.effects, StopAgent) == ["c1", "b1", "b2", "a1", "a2"]
    assert finishes(h.effects) == [EXIT_OK]
    assert h.feed(StopJob("SIGTERM")) == []  # and after the end


def test_stop_before_start_finishes_at_once() -> None:
    h = History(make_plan(THREE_STAGES))
    assert steps(h.feed(StopJob("SIGTERM"))) == ["job.stopping", "job.stopped", "Finish(0)"]
    assert h.feed(StartJob()) == []


def test_kill_all_kills_every_started_agent_and_finishes_at_once() -> None:
    h = History(make_plan(THREE_STAGES))
    h.feed(StartJob())
    h.up("a1", "a2")  # stage 2 starting, stage 3 never started
    effects = h.feed(KillAll())
    assert sorted(targets(effects, KillAgent)) == ["a1", "a2", "b1", "b2"]
    assert sends(effects, StopAgent) == []
    assert isinstance(effects[-1], Finish) and effects[-1].exit_code == EXIT_OK
    assert names(effects) == ["job.stopping", "job.stopped"]
    assert h.feed(KillAll()) == []
    assert h.feed(StopJob("SIGTERM")) == []


def test_kill_all_during_a_stop_kills_what_is_not_stopped_yet() -> None:
    """The second SIGINT: a graceful stop is under way and the user insists."""
    h = History(make_plan(THREE_STAGES))
    h.start_all()
    h.feed(StopJob("SIGINT"))
    h.stopped("c1")
    effects = h.feed(KillAll("SIGINT"))
    stopping = events(effects, "job.stopping")[0]
    assert dict(stopping.fields) == {"reason": "kill", "signal": "SIGINT"}
    assert sorted(targets(effects, KillAgent)) == ["a1", "a2", "b1", "b2"]
    assert finishes(effects) == [EXIT_OK]
    assert finishes(h.effects) == [EXIT_OK]


def test_after_a_kill_at_once_the_stop_it_cut_short_reports_nothing() -> None:
    """The agents whose ordered stop the kill cut short still answer that stop once
    their killed processes end. `job.stopped` is out by then, held by the event log to
    go last, so an `agent.stopped` would come before it and show them stopped, not
    killed (a kill at once writes no `agent.stopped`)."""
    h = History(make_plan(THREE_STAGES))
    h.start_all()
    h.feed(StopJob("SIGINT"))
    h.stopped("c1")  # stage 3 went; stage 2 (b1, b2) is being stopped
    h.feed(KillAll("SIGINT"))
    assert h.stopped("b1", "b2", "a1") == []


def test_shutdown_timeout_kills_what_is_left_of_an_ordered_stop() -> None:
    h = History(make_plan(THREE_STAGES), shutdown_timeout=7.5)
    h.start_all()
    stopping = h.feed(StopJob("SIGTERM"))
    timers = [e for e in stopping if isinstance(e, After)]
    assert timers == [After(7.5, ShutdownTimedOut())]
    h.stopped("c1")  # stage 3 went; stage 2 is slow
    effects = h.feed(ShutdownTimedOut())
    assert sorted(targets(effects, KillAgent)) == ["a1", "a2", "b1", "b2"]
    assert dict(events(effects, "job.stopping")[0].fields) == {"reason": "shutdown_timeout"}
    assert dict(events(effects, "job.stopped")[0].fields) == {"exit_code": EXIT_OK, "killed": True}
    assert finishes(h.effects) == [EXIT_OK]
    assert h.feed(ShutdownTimedOut()) == []


def test_shutdown_timeout_is_spent_harmlessly_after_a_stop_that_finished() -> None:
    h = History(make_plan(THREE_STAGES), shutdown_timeout=7.5)
    h.start_all()
    h.feed(StopJob("SIGTERM"))
    h.stopped("c1", "b1", "b2", "a1", "a2")
    assert h.feed(ShutdownTimedOut()) == []
    assert finishes(h.effects) == [EXIT_OK]


def test_no_shutdown_timeout_means_no_timer() -> None:
    h = History(make_plan(THREE_STAGES))
    h.start_all()
    assert h.feed(ShutdownTimedOut()) == []  # a tick outside a stop changes nothing
    assert [e for e in h.feed(StopJob("SIGTERM")) if isinstance(e, After)] == []


def test_exits_during_shutdown_are_reported_but_never_restarted() -> None:
    h = History(make_plan(THREE_STAGES), policy=RestartPolicy(RestartMode.ALWAYS))
    h.start_all()
    h.feed(StopJob("SIGTERM"))
    # a1 (stopped last) dies on its own while c1 is being stopped
    effects = h.exited("a1", 1)
    assert names(effects) == ["agent.exited"]
    assert effects[0].fields["exit_code"] == 1  # type: ignore[union-attr]
    assert sends(effects) == []
    h.stopped("c1", "b1", "b2", "a1", "a2")
    assert sends(h.effects, RestartAgent) == []
    assert "agent.failed" not in names(h.effects) and "job.failed" not in names(h.effects)
    assert finishes(h.effects) == [EXIT_OK]


def test_a_start_failure_during_shutdown_does_not_restart_the_stop_sequence() -> None:
    h = History(make_plan([["a"], ["b"]]), policy=ON_FAILURE)
    h.start_all()
    h.exited("a", 1)  # a is waiting out its back-off
    h.feed(StopJob("SIGTERM"))  # b (the later stage) is stopped first
    # a's relaunch was already under way and does not come up in time
    h.feed(AgentStartFailed("a", 2, "not ready within 60 s"))
    h.stopped("b")
    h.stopped("a")

    assert len(events(h.effects, "job.stopping")) == 1
    assert targets(h.effects, StopAgent) == ["b", "a"]
    assert finishes(h.effects) == [EXIT_OK]


def test_a_second_failure_while_stopping_for_a_failure_is_only_reported() -> None:
    h = History(make_plan([["a"], ["b"]]), policy=ON_FAILURE)
    h.start_all()
    h.exited("a", 1)  # a restarting
    h.feed(AgentStartFailed("b", 1, "launch failed"))  # the job fails, b stops first
    h.feed(AgentStartFailed("a", 2, "not ready within 60 s"))
    h.stopped("b")
    h.stopped("a")

    assert len(events(h.effects, "job.failed")) == 1
    assert len(events(h.effects, "job.stopping")) == 1
    assert targets(h.effects, StopAgent) == ["b", "a"]
    assert finishes(h.effects) == [EXIT_FAILED]


# ----------------------------------------------------------------------------- start-up failures


def test_start_failure_fails_the_job_and_stops_what_started() -> None:
    h = History(make_plan(THREE_STAGES))
    h.feed(StartJob())
    h.up("a1", "a2")
    h.up("b1")
    effects = h.feed(AgentStartFailed("b2", 1, "not ready within 60 s (last health check: x)"))
    assert steps(effects) == [
        "agent.failed:b2",
        "job.failed",
        "job.stopping",
        "StopAgent>b1",
        "StopAgent>b2",
    ]
    failed, job_failed = events(effects, "agent.failed", "job.failed")
    assert failed.level == job_failed.level == "error"
    assert "not ready within 60 s" in failed.fields["reason"]
    assert "b2" in job_failed.fields["reason"] and "not ready" in job_failed.fields["reason"]

    h.stopped("b1", "b2")
    h.stopped("a1", "a2")
    assert targets(h.effects, StopAgent) == ["b1", "b2", "a1", "a2"]
    assert "c1" not in targets(h.effects, StartAgent)
    assert steps(h.effects)[-2:] == ["job.stopped", "Finish(1)"]
    assert dict(events(h.effects, "job.stopped")[0].fields) == {"exit_code": EXIT_FAILED}


@pytest.mark.parametrize(
    ("policy", "code", "signal"),
    [
        (RestartMode.NO, 1, None),
        (RestartMode.NO, 0, None),
        (RestartMode.NO, None, 9),
        (RestartMode.ON_FAILURE, 0, None),
    ],
)
def test_an_exit_before_ready_that_is_not_restarted_fails_the_job(
    policy: RestartMode, code: int | None, signal: int | None
) -> None:
    h = History(hub_spoke(), policy=RestartPolicy(policy))
    h.feed(StartJob())
    h.up("weather")
    h.launched("maps")
    effects = h.exited("maps", code, signal)
    assert names(effects)[:3] == ["agent.exited", "agent.failed", "job.failed"]
    assert "before it was ready" in events(effects, "job.failed")[0].fields["reason"]
    assert sends(effects, RestartAgent) == []
    h.stopped("weather", "maps")
    assert "controller" not in targets(h.effects, StartAgent)
    assert finishes(h.effects) == [EXIT_FAILED]


# ----------------------------------------------------------------------------- restart budget


def crash(h: History, agent: str, code: int = 1) -> list[Effect]:
    """The agent exits; when a restart is asked for, it relaunches (not yet ready)."""
    effects = h.exited(agent, code)
    if sends(effects, RestartAgent):
        h.launched(agent)
    return effects


def test_crash_loop_restarts_exactly_max_restarts_times_then_fails_the_job() -> None:
    policy = RestartPolicy(
        RestartMode.ON_FAILURE, max_restarts=3, window=60, backoff=Backoff(0.5, 2.0, 1.5)
    )
    h = History(hub_spoke(), policy=policy)
    h.start_all()
    for _ in range(4):
        h.now += 1.0
        crash(h, "weather", 1)

    restarts = [command for _, command in sends(h.effects, RestartAgent)]
    assert restarts == [RestartAgent(1, 0.5), RestartAgent(2, 1.0), RestartAgent(3, 1.5)]
    restarting = [dict(e.fields) for e in events(h.effects, "agent.restarting")]
    assert [(f["attempt"], f["delay"]) for f in restarting] == [(1, 0.5), (2, 1.0), (3, 1.5)]

    (failed,) = events(h.effects, "agent.failed")
    assert failed.fields["agent"] == "weather"
    assert failed.fields["exits"] == ["exit code 1"] * 4
    assert "3 times" in failed.fields["reason"]
    assert len(events(h.effects, "job.failed")) == 1
    # the job stops in reverse order: controller, then the spokes
    assert targets(h.effects, StopAgent) == ["controller"]
    h.stopped("controller")
    assert sorted(targets(h.effects, StopAgent)) == ["controller", "maps", "weather"]
    h.stopped("weather", "maps")
    assert finishes(h.effects) == [EXIT_FAILED]


def test_backoff_delays_grow_by_factor_up_to_max() -> None:
    policy = RestartPolicy(max_restarts=6, backoff=Backoff(initial=1.0, factor=3.0, max=20.0))
    h = History(make_plan([["x"]]), policy=policy)
    h.start_all()
    for _ in range(6):
        crash(h, "x")
    delays = [command.delay for _, command in sends(h.effects, RestartAgent)]
    assert delays == [1.0, 3.0, 9.0, 20.0, 20.0, 20.0]


def test_restarts_older_than_the_window_stop_counting() -> None:
    policy = RestartPolicy(max_restarts=2, window=10.0, backoff=Backoff(0.5, 2.0, 30.0))
    h = History(make_plan([["x"]]), policy=policy)
    h.start_all()
    h.now = 0.0
    crash(h, "x")
    h.now = 1.0
    crash(h, "x")
    h.now = 12.0  # both restarts are now older than the window
    crash(h, "x")
    h.now = 13.0
    crash(h, "x")
    assert [c for _, c in sends(h.effects, RestartAgent)] == [
        RestartAgent(1, 0.5),
        RestartAgent(2, 1.0),
        RestartAgent(1, 0.5),  # the back-off starts over too
        RestartAgent(2, 1.0),
    ]
    assert "agent.failed" not in names(h.effects)
    h.now = 14.0
    crash(h, "x")  # third restart within 10 s: over budget
    assert len(sends(h.effects, RestartAgent)) == 4
    assert "agent.failed" in names(h.effects)


def test_restarts_inside_the_window_keep_counting() -> None:
    policy = RestartPolicy(max_restarts=2, window=10.0)
    h = History(make_plan([["x"]]), policy=policy)
    h.start_all()
    for t in (0.0, 4.0, 9.0):
        h.now = t
        crash(h, "x")
    assert len(sends(h.effects, RestartAgent)) == 2
    assert names(h.effects).count("agent.failed") == 1


def test_max_restarts_zero_fails_at_the_first_counted_exit() -> None:
    h = History(make_plan([["x"]]), policy=RestartPolicy(max_restarts=0))
    h.start_all()
    effects = h.exited("x", 2)
    assert sends(effects, RestartAgent) == []
    assert names(effects)[:3] == ["agent.exited", "agent.failed", "job.failed"]


@pytest.mark.parametrize(
    ("mode", "code", "signal", "restarts"),
    [
        (RestartMode.ON_FAILURE, 1, None, True),
        (RestartMode.ON_FAILURE, 137, None, True),
        (RestartMode.ON_FAILURE, None, 9, True),
        (RestartMode.ON_FAILURE, None, 15, True),
        (RestartMode.ON_FAILURE, 0, None, False),
        (RestartMode.ALWAYS, 0, None, True),
        (RestartMode.ALWAYS, 1, None, True),
        (RestartMode.ALWAYS, None, 9, True),
        (RestartMode.NO, 0, None, False),
        (RestartMode.NO, 1, None, False),
        (RestartMode.NO, None, 9, False),
    ],
)
def test_policy_by_exit(
    mode: RestartMode, code: int | None, signal: int | None, restarts: bool
) -> None:
    h = History(hub_spoke(), policy=RestartPolicy(mode))
    h.start_all()
    effects = h.exited("maps", code, signal)
    exited = events(effects, "agent.exited")[0]
    if signal is None:
        assert exited.fields["exit_code"] == code
        assert "signal" not in exited.fields
    else:
        assert exited.fields["signal"] == {9: "SIGKILL", 15: "SIGTERM"}[signal]  # by name
    assert exited.level == ("info" if code == 0 else "warning")
    assert (targets(effects, RestartAgent) == ["maps"]) is restarts
    if restarts:
        assert h.logic.states()["maps"] == "restarting"
        assert finishes(h.effects) == [] and "job.failed" not in names(effects)
    elif code == 0:
        # a clean exit that is not restarted is reported, and is not a failure
        assert names(effects) == ["agent.exited"]
        assert h.logic.states()["maps"] == "exited"
    else:
        assert "agent.failed" in names(effects) and "job.failed" in names(effects)


def test_policies_are_per_agent() -> None:
    h = History(
        hub_spoke(),
        policies={
            "weather": RestartPolicy(RestartMode.NO),
            "maps": RestartPolicy(RestartMode.ALWAYS),
        },
    )
    h.start_all()
    assert targets(h.exited("maps", 0), RestartAgent) == ["maps"]
    assert "job.failed" in names(h.exited("weather", 1))


# ----------------------------------------------------------------------------- liveness


def test_failed_liveness_kills_the_agent_and_the_exit_goes_through_the_policy() -> None:
    h = History(hub_spoke(), policy=ON_FAILURE)
    h.start_all()
    effects = h.feed(HealthCheckFailed("weather", 1, 3, "HTTP 503"))
    assert steps(effects) == ["agent.unhealthy:weather", "KillAgent>weather"]
    unhealthy = events(effects, "agent.unhealthy")[0]
    assert unhealthy.level == "warning"
    assert unhealthy.fields["failures"] == 3 and unhealthy.fields["error"] == "HTTP 503"
    assert h.logic.states()["weather"] == "unhealthy"

    killed = h.exited("weather", None, 9)
    assert steps(killed) == [
        "agent.exited:weather",
        "agent.restarting:weather",
        "RestartAgent>weather",
    ]
    assert sends(killed, RestartAgent)[0][1] == RestartAgent(1, 0.5)
    h.up("weather")
    assert h.logic.states()["weather"] == "ready"
    assert finishes(h.effects) == []


def test_health_recovered_returns_an_unhealthy_agent_to_ready() -> None:
    h = History(hub_spoke(), policy=ON_FAILURE)
    h.start_all()
    h.feed(HealthCheckFailed("maps", 1, 3, "timeout"))
    assert h.logic.states()["maps"] == "unhealthy"
    assert h.feed(HealthRecovered("maps", 1)) == []
    assert h.logic.states()["maps"] == "ready"


def test_unhealthy_reports_for_agents_not_ready_or_during_shutdown_kill_nothing() -> None:
    h = History(hub_spoke(), policy=ON_FAILURE)
    h.feed(StartJob())
    h.launched("weather")
    effects = h.feed(HealthCheckFailed("weather", 1, 3, "refused"))
    assert names(effects) == ["agent.unhealthy"] and sends(effects) == []

    h.ready("weather")
    h.up("maps", "controller")
    h.feed(StopJob("SIGTERM"))
    effects = h.feed(HealthCheckFailed("maps", 1, 3, "refused"))
    assert sends(effects, KillAgent) == []


# ----------------------------------------------------------------------------- on_agent_failure


def test_continue_reports_a_failed_agent_and_keeps_the_rest_running() -> None:
    h = History(
        hub_spoke(),
        policy=RestartPolicy(max_restarts=1),
        on_failure=FailureAction.CONTINUE,
    )
    h.start_all()
    crash(h, "maps")
    effects = crash(h, "maps")
    assert "agent.failed" in names(effects)
    assert "job.failed" not in names(effects) and "job.stopping" not in names(effects)
    assert sends(effects) == [] and finishes(h.effects) == []
    assert h.logic.states() == {"controller": "ready", "weather": "ready", "maps": "failed"}

    # the others still get restarted as usual
    assert targets(crash(h, "weather"), RestartAgent) == ["weather"]
    h.ready("weather")

    h.feed(StopJob("SIGTERM"))
    h.stopped("controller")
    h.stopped("weather", "maps")
    assert finishes(h.effects) == [EXIT_OK]
    assert dict(events(h.effects, "job.stopped")[0].fields) == {"exit_code": EXIT_OK}


def test_continue_lets_stages_advance_past_a_failed_agent() -> None:
    h = History(make_plan(THREE_STAGES), on_failure=FailureAction.CONTINUE)
    h.feed(StartJob())
    h.up("a1")
    effects = h.feed(AgentStartFailed("a2", 1, "not ready within 60 s"))
    assert "agent.failed" in names(effects) and "job.failed" not in names(effects)
    assert targets(effects, StartAgent) == ["b1", "b2"]
    h.up("b1")
    h.launched("b2")
    # on-failure: an exit 0 before ready is not restarted, so b2 has failed; stage 3 starts
    effects = h.exited("b2", 0)
    assert "agent.failed" in names(effects) and "job.failed" not in names(effects)
    assert targets(effects, StartAgent) == ["c1"]
    h.up("c1")
    assert "job.ready" in names(h.effects)

    h.feed(StopJob("SIGTERM"))
    h.stopped("c1", "b1", "b2", "a1", "a2")
    assert finishes(h.effects) == [EXIT_OK]


# ----------------------------------------------------------------------------- restart_dependents


def test_restart_dependents_restarts_callers_once_the_agent_is_ready_again() -> None:
    h = History(
        hub_spoke(),
        policies={"weather": RestartPolicy(restart_dependents=True)},
    )
    h.start_all()
    crashed = h.exited("weather", 1)
    assert targets(crashed, RestartAgent) == ["weather"]
    assert targets(h.launched("weather"), RestartAgent) == []  # not before it is ready

    ready = h.ready("weather")
    assert targets(ready, RestartAgent) == ["controller"]
    restarting = events(ready, "agent.restarting")[0]
    assert restarting.fields["agent"] == "controller"
    assert restarting.fields.get("because") == "weather"
    assert "maps" not in targets(h.effects, RestartAgent)

    # the dependent comes back like any restarted agent, and nothing more follows
    assert sends(h.up("controller")) == []
    assert h.logic.states() == {"controller": "ready", "weather": "ready", "maps": "ready"}
    assert sends(h.up("weather")) == []


def test_without_restart_dependents_callers_are_left_alone() -> None:
    h = History(hub_spoke(), policy=RestartPolicy(restart_dependents=False))
    h.start_all()
    h.exited("weather", 1)
    h.up("weather")
    assert targets(h.effects, RestartAgent) == ["weather"]
    assert h.logic.states()["controller"] == "ready"


def test_restart_dependents_skips_callers_that_have_not_started_yet() -> None:
    h = History(hub_spoke(), policy=RestartPolicy(restart_dependents=True))
    h.feed(StartJob())
    h.up("weather")
    h.exited("weather", 1)
    h.up("maps")
    effects = h.up("weather")
    assert targets(effects, StartAgent) == ["controller"]
    assert targets(h.effects, RestartAgent) == ["weather"]


def test_restart_dependents_in_a_pipeline_restarts_only_direct_callers() -> None:
    h = History(pipeline(), policies={"clean": RestartPolicy(restart_dependents=True)})
    h.start_all()
    h.exited("clean", 1)
    effects = h.up("clean")
    assert targets(effects, RestartAgent) == ["fetch"]
    assert targets(h.effects, RestartAgent) == ["clean", "fetch"]


# ----------------------------------------------------------------------------- edge cases


def test_a_clean_exit_in_the_starting_stage_does_not_hang_start_up() -> None:
    h = History(hub_spoke(), policy=ON_FAILURE)
    h.feed(StartJob())
    h.up("weather")
    h.exited("weather", 0)
    h.up("maps")
    assert "controller" in targets(h.effects, StartAgent) or "job.failed" in names(h.effects)


def test_a_restart_that_cannot_start_counts_against_the_budget() -> None:
    policy = RestartPolicy(RestartMode.ON_FAILURE, max_restarts=2, backoff=Backoff(0.5, 2.0, 5))
    h = History(make_plan([["far"]]), policy=policy)
    h.start_all()
    h.exited("far", None)  # e.g. the connection to its host was lost
    assert [c for _, c in sends(h.effects, RestartAgent)] == [RestartAgent(1, 0.5)]
    h.feed(AgentStartFailed("far", 2, "cannot connect to host"))
    assert [c for _, c in sends(h.effects, RestartAgent)] == [
        RestartAgent(1, 0.5), RestartAgent(2, 1.0)
    ]
    assert not events(h.effects, "agent.failed")
    h.feed(AgentStartFailed("far", 3, "cannot connect to host"))
    (failed,) = events(h.effects, "agent.failed")
    assert "failed to start again (cannot connect to host)" in failed.fields["reason"]
    assert failed.fields["exits"][-2:] == ["cannot connect to host"] * 2
    assert len(events(h.effects, "job.failed")) == 1


def test_a_first_start_that_fails_is_not_retried() -> None:
    h = History(make_plan([["x"]]), policy=RestartPolicy(RestartMode.ALWAYS))
    h.feed(StartJob())
    h.feed(AgentStartFailed("x", 1, "cannot run 'nope'"))
    assert sends(h.effects, RestartAgent) == []
    assert len(events(h.effects, "agent.failed")) == 1

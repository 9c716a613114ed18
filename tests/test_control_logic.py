"""SupervisorLogic's answers to control requests, driven by scripted histories.

No threads and no sockets: a reply is a list the test reads, the clock is a number the
test moves.
"""

from __future__ import annotations

from typing import Any

from agentsup.actors.logic import Effect, Emit, Replace, Respond, Retire, Send, SupervisorLogic
from agentsup.job.models import Strategy
from agentsup.launches import LaunchText
from agentsup.liveurls import placeholder
from agentsup.messages import (
    AgentExited,
    AgentReady,
    AgentStarted,
    AgentStartFailed,
    AgentStopped,
    ReloadJob,
    ReportStatus,
    RestartAgent,
    RestartAgents,
    StartAgent,
    StartJob,
    StopAgent,
    StopAgents,
    StopJob,
)
from agentsup.plan import DeploymentPlan
from agentsup.restart import FailureAction, RestartMode, RestartPolicy
from tests.test_supervisor_logic import make_plan


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def running(policy: RestartPolicy | None = None) -> tuple[SupervisorLogic, Clock]:
    """`hub` calls `w`; both started and ready."""
    clock = Clock()
    policies = {"w": policy} if policy else {}
    logic = SupervisorLogic(make_plan([["w"], ["hub"]], {"hub": ["w"]}), policies=policies,
                            on_failure=FailureAction.SHUTDOWN, clock=clock)
    logic.handle(StartJob())
    logic.handle(AgentStarted("w", 1, 11, "localhost"))
    logic.handle(AgentReady("w", 1, "http://localhost:9001", 0.1))
    logic.handle(AgentStarted("hub", 1, 12, "localhost"))
    logic.handle(AgentReady("hub", 1, "http://localhost:9002", 0.1))
    return logic, clock


def replies(effects: list[Effect]) -> list[Respond]:
    return [e for e in effects if isinstance(e, Respond)]


def collector() -> tuple[list[tuple[int, dict[str, Any]]], Any]:
    answers: list[tuple[int, dict[str, Any]]] = []
    return answers, lambda status, body: answers.append((status, body))


def events(effects: list[Effect], name: str) -> list[dict[str, Any]]:
    return [dict(e.fields) for e in effects if isinstance(e, Emit) and e.event == name]


def test_status_reports_pid_run_restarts_and_uptime() -> None:
    logic, clock = running()
    clock.now += 42.0
    _, reply = collector()
    [answer] = replies(logic.handle(ReportStatus(reply)))
    assert answer.status == 200
    agents = {a["id"]: a for a in answer.body["agents"]}
    assert agents["w"] == {"id": "w", "state": "ready", "pid": 11, "host": "localhost",
                           "url": "http://localhost:9001", "run": 1, "restarts": 0,
                           "uptime": 42.0, "health": "ok", "stage": 1}
    assert answer.body["phase"] == "running"


def test_requested_restart_spends_no_budget_and_answers_when_ready_again() -> None:
    logic, _ = running(RestartPolicy(max_restarts=1, window=60.0))
    for run in (2, 3, 4):  # more requested restarts than the budget allows
        _, reply = collector()
        effects = logic.handle(RestartAgents(("w",), reply))
        assert Send("w", RestartAgent(0, 0.0, requested=True)) in effects
        assert events(effects, "agent.restarting") == [
            {"agent": "w", "attempt": 0, "delay": 0.0, "because": "requested"}]
        # a readiness report of the old run cannot answer the request
        assert replies(logic.handle(AgentReady("w", run - 1, "u", 0.1))) == []
        logic.handle(AgentStarted("w", run, 20 + run, "localhost"))
        [answer] = replies(logic.handle(AgentReady("w", run, "u", 0.1)))
        assert (answer.status, dict(answer.body)) == (200, {"ok": True, "agents": {"w": "ready"}})
    # the budget is untouched: a crash now is restarted, not the end of the agent
    effects = logic.handle(AgentExited("w", 4, 1, None))
    assert [e["attempt"] for e in events(effects, "agent.restarting")] == [1]
    assert events(effects, "agent.failed") == []


def test_stopped_agent_stays_stopped_and_is_not_a_failure() -> None:
    logic, _ = running(RestartPolicy(max_restarts=0))
    _, reply = collector()
    effects = logic.handle(StopAgents(("w",), reply))
    assert effects == [Send("w", StopAgent())]
    [answer] = replies(logic.handle(AgentStopped("w", None, 15)))
    assert dict(answer.body) == {"ok": True, "agents": {"w": "stopped"}}
    assert logic.states() == {"w": "stopped", "hub": "ready"}
    assert logic.phase.value == "running"
    # a restart starts it again
    _, reply = collector()
    effects = logic.handle(RestartAgents(("w",), reply))
    assert Send("w", RestartAgent(0, 0.0, requested=True)) in effects
    logic.handle(AgentStarted("w", 2, 30, "localhost"))
    assert replies(logic.handle(AgentReady("w", 2, "u", 0.1)))[0].body["ok"] is True


def test_job_stop_skips_agents_already_stopped() -> None:
    logic, _ = running()
    _, reply = collector()
    logic.handle(StopAgents(("w",), reply))
    logic.handle(AgentStopped("w", None, 15))
    effects = logic.handle(StopJob("SIGTERM"))
    assert [e for e in effects if isinstance(e, Send)] == [Send("hub", StopAgent())]
    effects = logic.handle(AgentStopped("hub", 0, None))
    assert events(effects, "job.stopped") == [{"exit_code": 0}]


def test_stop_of_the_whole_job_by_request() -> None:
    logic, _ = running()
    _, reply = collector()
    effects = logic.handle(StopAgents((), reply))
    assert events(effects, "job.stopping") == [{"reason": "request"}]
    assert replies(effects)[0].status == 202


def test_requests_that_cannot_be_carried_out_are_refused() -> None:
    clock = Clock()
    logic = SupervisorLogic(make_plan([["w"], ["hub"]], {"hub": ["w"]}), policies={},
                            clock=clock)
    logic.handle(StartJob())
    _, reply = collector()
    [unknown] = replies(logic.handle(RestartAgents(("nope",), reply)))
    assert unknown.status == 404
    [pending] = replies(logic.handle(StopAgents(("hub",), reply)))
    assert pending.status == 409 and "not been started" in pending.body["error"]
    logic.handle(StopJob("SIGTERM"))
    [stopping] = replies(logic.handle(RestartAgents(("w",), reply)))
    assert stopping.status == 409


def test_a_held_agent_does_not_hold_start_up_back() -> None:
    clock = Clock()
    logic = SupervisorLogic(make_plan([["w", "x"], ["hub"]], {"hub": ["w", "x"]}),
                            policies={}, clock=clock)
    logic.handle(StartJob())
    logic.handle(AgentStarted("w", 1, 11, "localhost"))
    _, reply = collector()
    logic.handle(StopAgents(("w",), reply))
    logic.handle(AgentStopped("w", None, 15))
    logic.handle(AgentStarted("x", 1, 12, "localhost"))
    effects = logic.handle(AgentReady("x", 1, "u", 0.1))
    assert Send("hub", StartAgent()) in effects


def test_waiting_requests_are_answered_when_the_job_ends() -> None:
    logic, _ = running()
    _, reply = collector()
    logic.handle(RestartAgents(("w",), reply))
    effects = logic.handle(StopJob("SIGTERM"))
    for agent in ("hub", "w"):
        effects += logic.handle(AgentStopped(agent, 0, None))
    [answer] = replies(effects)
    assert answer.body["ok"] is False


def texts(launches: dict[str, str]) -> dict[str, LaunchText]:
    return {agent_id: LaunchText.known(text) for agent_id, text in launches.items()}


def reloaded(logic: SupervisorLogic, plan: Any, launches: dict[str, str]
             ) -> tuple[list[Effect], list[tuple[int, dict[str, Any]]]]:
    answers, reply = collector()
    effects = logic.handle(
        ReloadJob(plan, texts(launches), {}, lambda agent_id: agent_id, reply))
    return effects, answers


def test_reload_stops_callers_first_and_starts_callees_first() -> None:
    logic, _ = running()
    logic.launches = texts({"w": "w1", "hub": "hub1"})
    # x is added, w removed; hub now calls x (its peers changed, so its launch did)
    plan = make_plan([["x"], ["hub"]], {"hub": ["x"]})
    effects, _ = reloaded(logic, plan, {"x": "x1", "hub": "hub2"})
    assert events(effects, "job.reloading") == [
        {"added": ["x"], "removed": ["w"], "restarted": ["hub"]}]
    assert [e for e in effects if isinstance(e, Send)] == [Send("hub", StopAgent())]
    effects = logic.handle(AgentStopped("hub", 0, None))
    assert [e for e in effects if isinstance(e, Send)] == [Send("w", StopAgent())]
    effects = logic.handle(AgentStopped("w", 0, None))
    assert Retire("w") in effects
    replaced = [e.agent_id for e in effects if isinstance(e, Replace)]
    assert replaced == ["x", "hub"]
    # only x starts: hub waits for it
    assert [e for e in effects if isinstance(e, Send)] == [Send("x", StartAgent())]
    logic.handle(AgentStarted("x", 1, 40, "localhost"))
    effects = logic.handle(AgentReady("x", 1, "u", 0.1))
    assert [e for e in effects if isinstance(e, Send)] == [Send("hub", StartAgent())]
    logic.handle(AgentStarted("hub", 1, 41, "localhost"))
    effects = logic.handle(AgentReady("hub", 1, "u", 0.1))
    assert events(effects, "job.reloaded") == [
        {"added": ["x"], "removed": ["w"], "restarted": ["hub"]}]
    [answer] = replies(effects)
    assert answer.body["ok"] is True
    assert logic.states() == {"x": "ready", "hub": "ready"}
    # a late message from the removed agent's actor is ignored
    assert logic.handle(AgentExited("w", 1, 0, None)) == []


def test_reload_starts_agents_that_call_each_other_together() -> None:
    # A mesh: a and b call each other, so they share a stage. Neither may wait for the
    # other, or a reload that restarts a and adds b never starts either.
    logic = SupervisorLogic(make_plan([["a"]]), policies={}, clock=Clock())
    logic.handle(StartJob())
    logic.handle(AgentStarted("a", 1, 11, "localhost"))
    logic.handle(AgentReady("a", 1, "u", 0.1))
    logic.launches = texts({"a": "a1"})
    plan = make_plan([["a", "b"]], {"a": ["b"], "b": ["a"]})
    effects, _ = reloaded(logic, plan, {"a": "a2", "b": "b1"})
    assert [e for e in effects if isinstance(e, Send)] == [Send("a", StopAgent())]
    effects = logic.handle(AgentStopped("a", 0, None))
    assert [e for e in effects if isinstance(e, Send)] == [
        Send("a", StartAgent()), Send("b", StartAgent())]
    for index, agent in enumerate(["a", "b"]):
        logic.handle(AgentStarted(agent, 1, 40 + index, "localhost"))
    logic.handle(AgentReady("a", 1, "u", 0.1))
    effects = logic.handle(AgentReady("b", 1, "u", 0.1))
    assert events(effects, "job.reloaded") == [
        {"added": ["b"], "removed": [], "restarted": ["a"]}]
    assert replies(effects)[0].body["ok"] is True


def test_reload_waits_for_every_agent_of_a_stage_to_stop() -> None:
    """Two restarted agents of one stage: the switch to the new plan (new actors, the
    starts) comes once both have stopped, not when the first has."""
    logic = SupervisorLogic(make_plan([["a", "b"]]), policies={}, clock=Clock())
    logic.handle(StartJob())
    for index, agent in enumerate(["a", "b"]):
        logic.handle(AgentStarted(agent, 1, 11 + index, "localhost"))
        logic.handle(AgentReady(agent, 1, "u", 0.1))
    logic.launches = texts({"a": "a1", "b": "b1"})
    effects, _ = reloaded(logic, make_plan([["a", "b"]]), {"a": "a2", "b": "b2"})
    assert [e for e in effects if isinstance(e, Send)] == [
        Send("a", StopAgent()), Send("b", StopAgent())]
    effects = logic.handle(AgentStopped("b", 0, None))
    assert [e for e in effects if isinstance(e, Send | Replace)] == []
    effects = logic.handle(AgentStopped("a", 0, None))
    assert [e.agent_id for e in effects if isinstance(e, Replace)] == ["a", "b"]
    assert [e for e in effects if isinstance(e, Send)] == [
        Send("a", StartAgent()), Send("b", StartAgent())]
    for index, agent in enumerate(["a", "b"]):
        logic.handle(AgentStarted(agent, 2, 40 + index, "localhost"))
    logic.handle(AgentReady("a", 2, "u", 0.1))
    effects = logic.handle(AgentReady("b", 2, "u", 0.1))
    assert replies(effects)[0].body["ok"] is True
    assert logic.states() == {"a": "ready", "b": "ready"}


def test_reload_with_nothing_changed_keeps_everything() -> None:
    logic, _ = running()
    logic.launches = texts({"w": "w1", "hub": "hub1"})
    effects, _ = reloaded(logic, logic.plan, {"w": "w1", "hub": "hub1"})
    assert [e for e in effects if isinstance(e, Send | Replace | Retire)] == []
    assert events(effects, "job.reloaded") == [{"added": [], "removed": [], "restarted": []}]


def test_reload_is_refused_during_start_up_and_abandoned_by_a_stop() -> None:
    clock = Clock()
    logic = SupervisorLogic(make_plan([["w"]]), policies={}, clock=clock)
    logic.handle(StartJob())
    effects, _ = reloaded(logic, logic.plan, {"w": "w2"})
    assert replies(effects)[0].status == 409
    logic, _ = running()
    logic.launches = texts({"w": "w1", "hub": "hub1"})
    reloaded(logic, logic.plan, {"w": "w2", "hub": "hub1"})
    effects = logic.handle(StopJob("SIGTERM"))
    [answer] = replies(effects)
    assert answer.body["ok"] is False
    assert [e for e in effects if isinstance(e, Replace)] == []  # nothing is replaced


def test_a_requested_restart_that_never_gets_ready_answers_failed() -> None:
    clock = Clock()
    logic = SupervisorLogic(make_plan([["w"]]), policies={"w": RestartPolicy(mode=RestartMode.NO)},
                            on_failure=FailureAction.CONTINUE, clock=clock)
    logic.handle(StartJob())
    logic.handle(AgentStarted("w", 1, 11, "localhost"))
    logic.handle(AgentReady("w", 1, "u", 0.1))
    _, reply = collector()
    logic.handle(RestartAgents(("w",), reply))
    logic.handle(AgentStarted("w", 2, 12, "localhost"))
    [answer] = replies(logic.handle(AgentExited("w", 2, 3, None)))
    assert dict(answer.body) == {
        "ok": False, "agents": {"w": "failed: exited before it was ready (exit code 3)"}}
    assert logic.phase.value == "running"


def test_status_health_says_how_an_agent_ended_and_nothing_while_stopped() -> None:
    """The last check's "ok" is not the health of an agent that no longer runs."""
    logic, _ = running(RestartPolicy(max_restarts=0))
    def healths() -> dict[str, Any]:
        [answer] = replies(logic.handle(ReportStatus(collector()[1])))
        return {a["id"]: a["health"] for a in answer.body["agents"]}

    assert healths() == {"w": "ok", "hub": "ok"}
    logic.handle(StopAgents(("w",), collector()[1]))
    logic.handle(AgentStopped("w", None, 15))
    assert healths() == {"w": None, "hub": "ok"}
    logic.handle(AgentExited("hub", 1, 3, None))
    assert healths()["hub"] == "exit code 3"


# ----------------------------------------------------------------------------- reload
# and what else goes on meanwhile


def answering(logic: SupervisorLogic, message: object) -> list[Effect]:
    """`logic.handle(message)`, and every answer it gives handed to its reply, as the
    supervisor actor does."""
    effects = logic.handle(message)
    for effect in replies(effects):
        effect.reply(effect.status, dict(effect.body))
    return effects


def reload_to(logic: SupervisorLogic, plan: Any, launches: dict[str, str]
              ) -> tuple[list[Effect], list[tuple[int, dict[str, Any]]]]:
    answers, reply = collector()
    effects = answering(
        logic, ReloadJob(plan, texts(launches), {}, lambda agent_id, runs: agent_id, reply))
    return effects, answers


def pipeline(policy: RestartPolicy | None = None,
             on_failure: FailureAction = FailureAction.SHUTDOWN) -> SupervisorLogic:
    """a -> b -> c (stages c, b, a), all ready at run 1, launches known."""
    policies = {a: policy for a in "abc"} if policy else {}
    logic = SupervisorLogic(make_plan([["c"], ["b"], ["a"]], {"a": ["b"], "b": ["c"]}),
                            policies=policies, on_failure=on_failure, clock=Clock())
    answering(logic, StartJob())
    for index, agent in enumerate("cba"):
        answering(logic, AgentStarted(agent, 1, 11 + index, "localhost"))
        answering(logic, AgentReady(agent, 1, "u", 0.1))
    assert logic.phase.value == "running"
    logic.launches = texts({"a": "a1", "b": "b1", "c": "c1"})
    return logic


def sends(effects: list[Effect]) -> list[Send]:
    return [e for e in effects if isinstance(e, Send)]


def test_reload_starts_a_changed_caller_once_its_restarting_callee_is_ready() -> None:
    """The callee restarts on request while the reload comes to start its caller: the
    caller waits, and starts when the callee is ready, outside the reload."""
    logic = pipeline()
    restart_answers, reply = collector()
    answering(logic, RestartAgents(("c",), reply))
    answering(logic, AgentStarted("c", 2, 21, "localhost"))
    effects, answers = reload_to(logic, logic.plan, {"a": "a1", "b": "b2", "c": "c1"})
    assert sends(effects) == [Send("b", StopAgent())]
    effects = answering(logic, AgentStopped("b", 0, None))
    assert [e.agent_id for e in effects if isinstance(e, Replace)] == ["b"]
    assert sends(effects) == []  # c is not ready: b waits
    [refused] = replies(answering(logic, StopAgents(("b",), collector()[1])))
    assert (refused.status, dict(refused.body)) == (
        409, {"error": "agent 'b' waits for the reload to start it"})
    effects = answering(logic, AgentReady("c", 2, "u", 0.1))
    assert sends(effects) == [Send("b", StartAgent())]
    assert restart_answers == [(200, {"ok": True, "agents": {"c": "ready"}})]
    answering(logic, AgentStarted("b", 2, 22, "localhost"))
    effects = answering(logic, AgentReady("b", 2, "u", 0.1))
    assert events(effects, "job.reloaded") == [
        {"added": [], "removed": [], "restarted": ["b"]}]
    assert answers[0][1]["ok"] is True and answers[0][1]["agents"] == {"b": "ready"}
    assert logic.states() == {"c": "ready", "b": "ready", "a": "ready"}


def test_reload_starts_a_changed_caller_once_its_crashed_callee_is_back() -> None:
    logic = pipeline(RestartPolicy(max_restarts=3))
    effects = answering(logic, AgentExited("c", 1, None, 9))
    assert sends(effects) == [Send("c", RestartAgent(1, 0.5))]
    reload_to(logic, logic.plan, {"a": "a1", "b": "b2", "c": "c1"})
    assert sends(answering(logic, AgentStopped("b", 0, None))) == []
    answering(logic, AgentStarted("c", 2, 21, "localhost"))
    assert sends(answering(logic, AgentReady("c", 2, "u", 0.1))) == [Send("b", StartAgent())]


def test_a_stop_request_of_an_agent_the_reload_starts_is_its_outcome() -> None:
    logic = pipeline()
    effects, answers = reload_to(logic, logic.plan, {"a": "a1", "b": "b1", "c": "c2"})
    answering(logic, AgentStopped("c", 0, None))  # the reload's stop; c starts again
    stop_answers, reply = collector()
    assert sends(answering(logic, StopAgents(("c",), reply))) == [Send("c", StopAgent())]
    effects = answering(logic, AgentStopped("c", None, 15))
    assert stop_answers == [(200, {"ok": True, "agents": {"c": "stopped"}})]
    assert events(effects, "job.reloaded") == [
        {"added": [], "removed": [], "restarted": ["c"]}]
    assert answers == [(200, {"ok": False, "added": [], "removed": [], "restarted": ["c"],
                              "reconnected": [], "agents": {"c": "stopped"}})]
    assert logic.states()["c"] == "stopped"
    # the reload is over: another one is taken
    effects, _ = reload_to(logic, logic.plan, {"a": "a1", "b": "b1", "c": "c3"})
    assert events(effects, "job.reloading") != []


def test_run_numbers_go_on_across_a_reload_and_a_restart_of_a_changed_agent_answers() -> None:
    """A failed agent whose command a reload fixed: restart starts it under the new
    actor, whose runs go on from the old one's, and answers once it is ready."""
    logic = SupervisorLogic(make_plan([["a", "broken"]]), policies={
        "broken": RestartPolicy(mode=RestartMode.NO)}, on_failure=FailureAction.CONTINUE,
        clock=Clock())
    answering(logic, StartJob())
    answering(logic, AgentStarted("a", 1, 11, "localhost"))
    answering(logic, AgentReady("a", 1, "u", 0.1))
    answering(logic, AgentStarted("broken", 1, 12, "localhost"))
    answering(logic, AgentExited("broken", 1, 3, None))
    assert logic.states() == {"a": "ready", "broken": "failed"}
    logic.launches = texts({"a": "a1", "broken": "broken1"})
    effects, answers = reload_to(logic, logic.plan, {"a": "a1", "broken": "broken2"})
    assert [(e.agent_id, e.runs) for e in effects if isinstance(e, Replace)] == [
        ("broken", 1)]
    assert answers[0][1]["ok"] is True and logic.states()["broken"] == "failed"
    restart_answers, reply = collector()
    answering(logic, RestartAgents(("broken",), reply))
    answering(logic, AgentStarted("broken", 2, 13, "localhost"))
    answering(logic, AgentReady("broken", 2, "u", 0.1))
    assert restart_answers == [(200, {"ok": True, "agents": {"broken": "ready"}})]
    [status] = replies(answering(logic, ReportStatus(collector()[1])))
    assert {a["id"]: a["run"] for a in status.body["agents"]} == {"a": 1, "broken": 2}


def test_the_first_launch_of_a_replaced_agent_that_fails_is_its_failure() -> None:
    """Its run numbers go on, but the new actor's first launch is still a start: a
    failure to start it ends the agent rather than restarting it under its policy."""
    logic = pipeline(RestartPolicy(max_restarts=3), on_failure=FailureAction.CONTINUE)
    effects, answers = reload_to(logic, logic.plan, {"a": "a1", "b": "b1", "c": "c2"})
    effects = answering(logic, AgentStopped("c", 0, None))
    assert [(e.agent_id, e.runs) for e in effects if isinstance(e, Replace)] == [("c", 1)]
    effects = answering(logic, AgentStartFailed("c", 2, "no such file"))
    assert events(effects, "agent.restarting") == []
    assert answers[0][1]["agents"] == {"c": "failed: no such file"}


def test_a_restart_request_of_an_agent_a_reload_replaces_answers_its_readiness() -> None:
    logic = pipeline()
    restart_answers, reply = collector()
    answering(logic, RestartAgents(("c",), reply))
    answering(logic, AgentStarted("c", 2, 21, "localhost"))
    effects, answers = reload_to(logic, logic.plan, {"a": "a1", "b": "b1", "c": "c2"})
    assert sends(effects) == [Send("c", StopAgent())]
    effects = answering(logic, AgentStopped("c", 0, None))
    assert restart_answers == []  # stopped only to start again
    assert [(e.agent_id, e.runs) for e in effects if isinstance(e, Replace)] == [("c", 2)]
    answering(logic, AgentStarted("c", 3, 22, "localhost"))
    answering(logic, AgentReady("c", 3, "u", 0.1))
    assert restart_answers == [(200, {"ok": True, "agents": {"c": "ready"}})]
    assert answers[0][1]["agents"] == {"c": "ready"}


def test_a_restart_request_the_reload_cannot_start_again_is_answered() -> None:
    """b is restarting on request and changed by the reload, but its callee c has
    exited meanwhile (code 0, restart policy "no"): the reload does not start b, and
    says so to the restart request too."""
    logic = pipeline(RestartPolicy(mode=RestartMode.NO))
    answering(logic, AgentExited("c", 1, 0, None))  # exited: not settled, and not running
    restart_answers, reply = collector()
    answering(logic, RestartAgents(("b",), reply))
    reload_to(logic, logic.plan, {"a": "a1", "b": "b2", "c": "c1"})
    answering(logic, AgentStopped("b", 0, None))
    assert restart_answers == [(200, {"ok": False, "agents": {
        "b": "not started: 'c' is not running"}})]


def test_status_shows_the_url_an_agent_was_ready_at() -> None:
    """A swarm agent's URL in the plan names its node only as a placeholder; its
    readiness carries the real one."""
    logic, _ = running()
    answering(logic, AgentReady("w", 1, "http://10.0.0.2:9001", 0.1))
    [answer] = replies(answering(logic, ReportStatus(collector()[1])))
    assert {a["id"]: a["url"] for a in answer.body["agents"]} == {
        "w": "http://10.0.0.2:9001", "hub": "http://localhost:9002"}


# ------------------------------------------------------- callers following a moved agent

WORKER, MANAGER = "http://10.0.0.2:9001", "http://10.0.0.1:9001"


def swarm_plan() -> Any:
    """`b` is a swarm agent; `l` (this machine) and `top` (this machine, calling `l` and
    `b`) are given its live URL, `o` (on the overlay) its name. Stages: b; o, l; top."""
    b_url = placeholder("b", 9001)
    return DeploymentPlan(
        job="logic-test", strategy=Strategy.STAGED,
        stages=(("b",), ("o", "l"), ("top",)),
        agent_urls={"b": b_url, "o": placeholder("o", 9002), "l": "http://localhost:9003",
                    "top": "http://localhost:9004"},
        connections={"b": (), "o": ("http://b:9001",), "l": (b_url,),
                     "top": ("http://localhost:9003", b_url)},
        peers={"b": (), "o": ("b",), "l": ("b",), "top": ("l", "b")},
    )


def swarm_running() -> SupervisorLogic:
    """The job of `swarm_plan`, everyone ready at run 1, `b` on the worker."""
    logic = SupervisorLogic(swarm_plan(), policies={"b": RestartPolicy(max_restarts=3)},
                            clock=Clock())
    answering(logic, StartJob())
    for index, agent in enumerate(["b", "o", "l", "top"]):
        answering(logic, AgentStarted(agent, 1, 11 + index, "node"))
        answering(logic, AgentReady(agent, 1, WORKER if agent == "b" else "u", 0.1))
    assert logic.phase.value == "running"
    logic.launches = texts({"b": "b1", "o": "o1", "l": "l1", "top": "top1"})
    return logic


def test_callers_given_a_moved_agents_url_follow_it_callees_first() -> None:
    """A crash restart of `b` that Swarm places on the other node: the callers outside
    the overlay were given its old address and restart once it is ready at the new one,
    `l` before `top` (which calls `l`); `o` reaches it by name and keeps running."""
    logic = swarm_running()
    answering(logic, AgentExited("b", 1, 137, None))
    answering(logic, AgentStarted("b", 2, 21, "node"))
    effects = answering(logic, AgentReady("b", 2, MANAGER, 0.1))
    assert sends(effects) == [Send("l", RestartAgent(0, 0.0))]
    assert events(effects, "agent.restarting") == [{
        "agent": "l", "attempt": 0, "delay": 0.0, "because": "b",
        "reason": f"the URL of 'b' changed from {WORKER} to {MANAGER}"}]
    assert logic.states() == {"b": "ready", "o": "ready", "l": "restarting", "top": "ready"}
    answering(logic, AgentStarted("l", 2, 22, "localhost"))
    effects = answering(logic, AgentReady("l", 2, "u", 0.1))
    assert sends(effects) == [Send("top", RestartAgent(0, 0.0))]
    answering(logic, AgentStarted("top", 2, 23, "localhost"))
    assert sends(answering(logic, AgentReady("top", 2, "u", 0.1))) == []
    assert {a: r.restarts for a, r in logic.agents.items()} == {
        "b": 1, "o": 0, "l": 1, "top": 1}
    # Back on the same node: nobody follows.
    answering(logic, AgentExited("b", 2, 137, None))
    answering(logic, AgentStarted("b", 3, 31, "node"))
    assert sends(answering(logic, AgentReady("b", 3, MANAGER, 0.1))) == []


def test_a_reload_that_moves_an_agent_waits_for_the_callers_that_follow_it() -> None:
    """A reload changes `b`'s placement: only `b`'s launch changed, but once it is ready
    on the other node its callers outside the overlay restart, and the reload answers
    when they are back, naming them `reconnected`."""
    logic = swarm_running()
    effects, answers = reload_to(logic, logic.plan, {"b": "b2", "o": "o1", "l": "l1",
                                                      "top": "top1"})
    assert events(effects, "job.reloading") == [
        {"added": [], "removed": [], "restarted": ["b"]}]
    answering(logic, AgentStopped("b", 0, None))
    answering(logic, AgentStarted("b", 2, 21, "node"))
    effects = answering(logic, AgentReady("b", 2, MANAGER, 0.1))
    assert sends(effects) == [Send("l", RestartAgent(0, 0.0))]
    assert answers == []
    answering(logic, AgentStarted("l", 2, 22, "localhost"))
    effects = answering(logic, AgentReady("l", 2, "u", 0.1))
    assert sends(effects) == [Send("top", RestartAgent(0, 0.0))]
    assert answers == []
    answering(logic, AgentStarted("top", 2, 23, "localhost"))
    effects = answering(logic, AgentReady("top", 2, "u", 0.1))
    assert events(effects, "job.reloaded") == [{
        "added": [], "removed": [], "restarted": ["b"], "reconnected": ["l", "top"]}]
    assert answers == [(200, {
        "ok": True, "added": [], "removed": [], "restarted": ["b"],
        "reconnected": ["l", "top"], "agents": {"b": "ready", "l": "ready", "top": "ready"}})]
    assert set(logic.states().values()) == {"ready"}


def test_a_reload_that_leaves_an_agent_on_its_node_restarts_no_caller() -> None:
    logic = swarm_running()
    _, answers = reload_to(logic, logic.plan, {"b": "b2", "o": "o1", "l": "l1",
                                               "top": "top1"})
    answering(logic, AgentStopped("b", 0, None))
    answering(logic, AgentStarted("b", 2, 21, "node"))
    effects = answering(logic, AgentReady("b", 2, WORKER, 0.1))
    assert sends(effects) == []
    assert answers == [(200, {
        "ok": True, "added": [], "removed": [], "restarted": ["b"], "reconnected": [],
        "agents": {"b": "ready"}})]

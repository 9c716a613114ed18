"""The control commands against a real `agentsup start`, all through the real CLI.

Every command runs as its own subprocess and talks to the running supervisor over its
Unix socket; the agents are real processes serving HTTP.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import stat
import subprocess
import threading
from pathlib import Path
from typing import Any

from tests.clirun import (
    Supervisor,
    agent_entry,
    agentsup_command,
    free_ports,
    pid_alive,
    supervisor,
    wait_gone,
    write_job_document,
)


def ctl(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(agentsup_command(*args), capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))


def status(job: str) -> dict[str, Any]:
    result = ctl("status", job, "--json")
    assert result.returncode == 0, result.stderr
    value: dict[str, Any] = json.loads(result.stdout)
    return value


def agents_of(job: str) -> dict[str, dict[str, Any]]:
    return {a["id"]: a for a in status(job)["agents"]}


def two_agents(tmp_path: Path, *, w_env: dict[str, Any] | None = None,
               w_restart: dict[str, Any] | None = None, **hub_env: Any) -> Path:
    """`hub` calls `w`, so `w` starts first."""
    hub, w = free_ports(2)
    return write_job_document(
        tmp_path,
        [agent_entry("hub", hub, **hub_env), agent_entry("w", w, w_restart, **(w_env or {}))],
        {"type": "hub-spoke", "hub": "hub", "spokes": ["w"]},
    )


def started_pid(run: Supervisor, agent: str, after: int = 0) -> int:
    return int(run.wait_for("agent.started", where=lambda e: e["agent"] == agent,
                            after=after)["pid"])


def test_status_during_start_up_and_after(tmp_path: Path) -> None:
    hold = tmp_path / "not-yet"  # while it exists, w answers its health checks with 500
    hold.touch()
    job = two_agents(tmp_path, w_env={"UNHEALTHY_FILE": hold})
    with supervisor(job) as run:
        loaded = run.wait_for("job.loaded")
        w_pid = started_pid(run, "w")
        early = status(str(job))
        hold.unlink()
        assert early["job"] == "t" and early["phase"] == "starting"
        assert early["control"] == loaded["control"]
        states = {a["id"]: a for a in early["agents"]}
        assert states["w"]["state"] == "starting" and states["w"]["pid"] == w_pid
        assert states["hub"]["state"] == "pending" and states["hub"]["pid"] is None
        run.wait_for("job.ready")
        hub_pid = started_pid(run, "hub")
        plan = run.wait_for("plan.resolved")
        after = agents_of("t")  # by name this time
        for agent, pid in (("w", w_pid), ("hub", hub_pid)):
            assert after[agent]["state"] == "ready"
            assert after[agent]["pid"] == pid
            assert after[agent]["url"] == plan["agent_urls"][agent]
            assert (after[agent]["run"], after[agent]["restarts"]) == (1, 0)
            assert after[agent]["health"] == "ok"
        table = ctl("status", "t")
        assert table.returncode == 0
        # the live view's table: stage, agent, state, pid, host, url, uptime, ...
        assert re.search(rf"(?m)^\s*\d*\s+w\s+ready\s+{w_pid}\s+localhost\s+http://", table.stdout)
        assert "restarts" in table.stdout and "health" in table.stdout
        every = json.loads(ctl("status", "--json").stdout)
        assert [j["job"] for j in every["jobs"]] == ["t"]
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_requested_restarts_spend_no_budget(tmp_path: Path) -> None:
    job = two_agents(tmp_path, w_restart={"policy": "on-failure", "max_restarts": 1,
                                          "window": 300})
    with supervisor(job) as run:
        run.wait_for("job.ready")
        hub_pid = started_pid(run, "hub")
        pids = [started_pid(run, "w")]
        for _ in range(3):  # more than the budget of one allows
            mark = len(run.events)
            result = ctl("restart", str(job), "w")
            assert result.returncode == 0, result.stderr
            assert result.stdout.strip() == "w: ready"
            pids.append(started_pid(run, "w", after=mark))
            assert not pid_alive(pids[-2])
        assert len(set(pids)) == 4
        restarting = run.named("agent.restarting")
        assert [e["because"] for e in restarting] == ["requested"] * 3
        now = agents_of("t")
        assert now["hub"]["pid"] == hub_pid and now["hub"]["restarts"] == 0
        assert (now["w"]["pid"], now["w"]["run"], now["w"]["restarts"]) == (pids[-1], 4, 3)
        # the budget is still whole: a crash is restarted by the policy
        os.kill(pids[-1], signal.SIGKILL)
        crash = run.wait_for("agent.restarting", where=lambda e: "because" not in e)
        assert crash["attempt"] == 1
        run.wait_for("agent.ready", where=lambda e: e["agent"] == "w" and e["run"] == 5)
        assert run.named("agent.failed") == [] and run.process.poll() is None
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_stop_one_agent_then_restart_it(tmp_path: Path) -> None:
    job = two_agents(tmp_path, w_restart={"policy": "no"})
    with supervisor(job) as run:
        run.wait_for("job.ready")
        w_pid, hub_pid = started_pid(run, "w"), started_pid(run, "hub")
        result = ctl("stop", "t", "w")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "w: stopped"
        assert wait_gone([w_pid], 5.0) == []
        now = agents_of("t")
        assert now["w"]["state"] == "stopped" and now["w"]["pid"] is None
        assert now["hub"] == {**now["hub"], "state": "ready", "pid": hub_pid}
        assert run.process.poll() is None
        assert run.named("job.stopping") == [] and run.named("agent.failed") == []
        mark = len(run.events)
        result = ctl("restart", "t", "w")
        assert result.returncode == 0, result.stderr
        new_pid = started_pid(run, "w", after=mark)
        assert new_pid != w_pid and agents_of("t")["w"]["state"] == "ready"
        assert pid_alive(hub_pid)
        result = ctl("stop", "t")  # the whole job, like SIGTERM
        assert result.returncode == 0, result.stderr
        assert run.wait() == 0
        assert run.wait_for("job.stopping")["reason"] == "request"
        assert wait_gone([new_pid, hub_pid], 5.0) == []


def test_logs_tail_and_follow(tmp_path: Path) -> None:
    job = two_agents(tmp_path, PRINT_LINES=5)
    with supervisor(job) as run:
        run.wait_for("job.ready")
        run.wait_for("agent.output", where=lambda e: e.get("line") == "out line 4")
        result = ctl("logs", "t", "hub", "-n", "3")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert len(lines) == 3 and all(line.startswith("hub | ") for line in lines)
        assert "hub | out line 4" in lines or "hub | err line 4" in lines
        every = ctl("logs", "t").stdout
        assert "w | " in every and "hub | " in every
        follower = subprocess.Popen(agentsup_command("logs", "t", "hub", "-n", "1", "-f"),
                                    stdout=subprocess.PIPE, text=True, env=dict(os.environ))
        received: queue.Queue[str] = queue.Queue()
        assert follower.stdout is not None
        stream = follower.stdout
        threading.Thread(target=lambda: [received.put(line) for line in stream],
                         daemon=True).start()
        try:
            # the tail's one line: from here on the follower is connected
            assert received.get(timeout=60).startswith("hub | ")
            assert ctl("restart", "t", "hub").returncode == 0  # prints its lines again
            seen = [received.get(timeout=60) for _ in range(3)]
            assert all(line.startswith("hub | ") for line in seen)
            assert "hub | out line 0\n" in seen or "hub | err line 0\n" in seen
            run.signal(signal.SIGTERM)
            assert run.wait() == 0
            assert follower.wait(timeout=15) == 0  # the job ended, so does following
        finally:
            follower.kill()
            follower.wait()


def test_second_start_is_refused_and_the_running_job_untouched(tmp_path: Path) -> None:
    job = two_agents(tmp_path)
    with supervisor(job) as run:
        run.wait_for("job.ready")
        pids = [started_pid(run, "w"), started_pid(run, "hub")]
        count = len(run.events)
        second = ctl("start", str(job), "--log-format", "json")
        assert second.returncode == 1
        assert second.stdout == ""
        assert second.stderr.strip() == (
            f"agentsup: job 't' is already running (supervisor pid {run.process.pid}, "
            f"control socket {run.named('job.loaded')[0]['control']}); "
            "stop it first with `agentsup stop t`"
        )
        assert all(pid_alive(p) for p in pids)
        assert [a["pid"] for a in agents_of("t").values()] == pids
        assert len(run.events) == count
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_socket_and_directory_permissions(tmp_path: Path) -> None:
    job = two_agents(tmp_path)
    with supervisor(job) as run:
        control = Path(run.wait_for("job.loaded")["control"])
        assert control.parent == Path(os.environ["XDG_RUNTIME_DIR"]) / "agentsup"
        assert stat.S_ISSOCK(control.stat().st_mode)
        assert stat.S_IMODE(control.stat().st_mode) == 0o600
        assert stat.S_IMODE(control.parent.stat().st_mode) == 0o700
        assert control.stat().st_uid == os.geteuid()
        run.wait_for("job.ready")
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
        assert not control.exists()


def test_a_control_directory_open_to_others_is_refused(tmp_path: Path) -> None:
    directory = Path(os.environ["XDG_RUNTIME_DIR"]) / "agentsup"
    directory.mkdir(mode=0o700)
    directory.chmod(0o755)
    job = two_agents(tmp_path)
    for command in (["start", str(job)], ["status"]):
        result = ctl(*command)
        assert result.returncode == 1
        assert result.stderr.strip() == (
            f"agentsup: {directory}: the control directory has mode 0755; it must be 0700 "
            "(only you may enter it); refusing to use it"
        )


def test_commands_for_a_job_that_is_not_running(tmp_path: Path) -> None:
    job = two_agents(tmp_path)
    for command in (["status", "t"], ["restart", str(job), "w"], ["stop", "t"],
                    ["logs", "t"]):
        result = ctl(*command)
        assert result.returncode == 1, command
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith("agentsup: job 't' is not running")


def test_unknown_agent_is_a_command_line_error(tmp_path: Path) -> None:
    job = two_agents(tmp_path)
    with supervisor(job) as run:
        run.wait_for("job.ready")
        for command in (["restart", "t", "nope"], ["stop", "t", "nope"], ["logs", "t", "nope"]):
            result = ctl(*command)
            assert result.returncode == 2, command
            assert result.stderr.strip() == "agentsup: no agent 'nope' in this job"
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_supervisor_killed_with_sigkill_then_started_again(tmp_path: Path) -> None:
    job = two_agents(tmp_path)
    with supervisor(job) as first:
        control = Path(first.wait_for("job.loaded")["control"])
        first.wait_for("job.ready")
        pids = first.agent_pids()
        first.kill()
        assert wait_gone(pids, 10.0) == []  # the reaper ended the agents
        assert control.exists()  # the dead supervisor's socket is left behind
        gone = ctl("status", "t")
        assert gone.returncode == 1 and "is not running" in gone.stderr
        listing = ctl("status", "--json")
        assert listing.returncode == 0 and json.loads(listing.stdout) == {"jobs": []}
        assert ctl("status").stdout.strip() == "no job is running"
    with supervisor(job) as second:
        assert second.wait_for("job.loaded")["control"] == str(control)
        second.wait_for("job.ready")
        assert {a["state"] for a in agents_of("t").values()} == {"ready"}
        second.signal(signal.SIGTERM)
        assert second.wait() == 0


def write_topology(tmp_path: Path, ports: dict[str, int], spokes: list[str],
                   **w_env: Any) -> Path:
    agents = [agent_entry("hub", ports["hub"])]
    agents += [agent_entry(s, ports[s], **(w_env if s == "w" else {})) for s in spokes]
    return write_job_document(tmp_path, agents,
                              {"type": "hub-spoke", "hub": "hub", "spokes": spokes})


def test_reload_adds_removes_and_changes_agents(tmp_path: Path) -> None:
    ports = dict(zip(["hub", "w", "x", "y"], free_ports(4), strict=True))
    job = write_topology(tmp_path, ports, ["w", "x"])
    with supervisor(job) as run:
        run.wait_for("job.ready")
        pids = {a: p["pid"] for a, p in agents_of("t").items()}
        # add y, remove x; w unchanged; hub's peers change, so it restarts
        write_topology(tmp_path, ports, ["w", "y"])
        mark = len(run.events)
        result = ctl("reload", str(job))
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["added: y", "removed: x", "restarted: hub"]
        reloaded = run.wait_for("job.reloaded", after=mark)
        assert (reloaded["added"], reloaded["removed"], reloaded["restarted"]) == (
            ["y"], ["x"], ["hub"])
        after = agents_of("t")
        assert sorted(after) == ["hub", "w", "y"]
        assert after["w"]["pid"] == pids["w"]  # unchanged: same process
        assert after["hub"]["pid"] != pids["hub"]
        assert wait_gone([pids["x"], pids["hub"]], 5.0) == []
        assert {a["state"] for a in after.values()} == {"ready"}
        # removed agents stop callers first, new ones start once their peers are ready
        stopped = [e["agent"] for e in run.events[mark:] if e.get("event") == "agent.stopped"]
        assert stopped == ["hub", "x"]
        ready = [e["agent"] for e in run.events[mark:] if e.get("event") == "agent.ready"]
        assert ready == ["y", "hub"]
        hub_env = run.wait_for("agent.started", where=lambda e: e["agent"] == "hub",
                               after=mark)
        assert hub_env["pid"] == after["hub"]["pid"]
        # change w's environment only: w restarts, and so does nothing else but w
        write_topology(tmp_path, ports, ["w", "y"], MARK="2")
        mark = len(run.events)
        result = ctl("reload", "t")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["added: -", "removed: -", "restarted: w"]
        again = agents_of("t")
        assert again["w"]["pid"] != after["w"]["pid"]
        assert (again["hub"]["pid"], again["y"]["pid"]) == (after["hub"]["pid"],
                                                           after["y"]["pid"])
        assert [e["event"] for e in run.events[mark:]
                if e.get("event", "").startswith("job.")] == ["job.reloading", "job.reloaded"]
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_reload_of_a_broken_file_changes_nothing(tmp_path: Path) -> None:
    ports = dict(zip(["hub", "w"], free_ports(2), strict=True))
    job = write_topology(tmp_path, ports, ["w"])
    with supervisor(job) as run:
        run.wait_for("job.ready")
        before = agents_of("t")
        good = job.read_text()
        broken = good.replace("spokes:\n  - w", "spokes:\n  - nobody")
        assert broken != good
        job.write_text(broken)
        expected = ctl("validate", str(job))
        assert expected.returncode == 2
        count = len(run.events)
        result = ctl("reload", "t")
        assert result.returncode == 2
        assert result.stderr == expected.stderr  # exactly what `validate` says
        assert f"{job}:" in result.stderr and "nobody" in result.stderr
        def without_uptime(agents: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
            return {a: {k: v for k, v in fields.items() if k != "uptime"}
                    for a, fields in agents.items()}

        assert without_uptime(agents_of("t")) == without_uptime(before)
        assert [e["event"] for e in run.events[count:]
                if e.get("event") != "agent.output"] == []
        run.signal(signal.SIGTERM)
        assert run.wait() == 0


def test_a_job_argument_that_is_neither_file_nor_name(tmp_path: Path) -> None:
    for argument, message in ((str(tmp_path / "missing.yaml"), "no such job file"),
                              ("..", "is neither a job file nor a job name")):
        result = ctl("status", argument)
        assert result.returncode == 2
        assert message in result.stderr and "Traceback" not in result.stderr


def test_a_socket_path_too_long_is_a_clear_error(tmp_path: Path) -> None:
    runtime = Path(os.environ["XDG_RUNTIME_DIR"]) / ("d" * 120)
    runtime.mkdir(mode=0o700)
    job = two_agents(tmp_path)
    result = subprocess.run(agentsup_command("start", str(job)), capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)})
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "t.sock: cannot listen on the control socket: AF_UNIX path too long")
    assert result.stdout == ""


def test_a_restart_during_start_up_holds_the_next_stage_back(tmp_path: Path) -> None:
    """a -> b -> c (stages c, b, a). c is restarted on request while b starts: a, which
    may call c, starts only once c is ready again, and so does `job.ready`. Each agent
    is held back from readiness by its UNHEALTHY_FILE until the test lets it go."""
    ports = free_ports(3)
    held_b, held_c = tmp_path / "held_b", tmp_path / "held_c"
    held_b.touch()
    job = write_job_document(
        tmp_path,
        [agent_entry("a", ports[0]), agent_entry("b", ports[1], UNHEALTHY_FILE=held_b),
         agent_entry("c", ports[2], UNHEALTHY_FILE=held_c)],
        {"type": "pipeline", "stages": ["a", "b", "c"]},
    )
    with supervisor(job) as run:
        run.wait_for("stage.started", where=lambda e: e["stage"] == 2)
        held_c.touch()
        restart = subprocess.Popen(agentsup_command("restart", "t", "c"), text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=dict(os.environ))
        try:
            run.wait_for("agent.started", where=lambda e: e["agent"] == "c" and e["run"] == 2)
            held_b.unlink()
            run.wait_for("agent.ready", where=lambda e: e["agent"] == "b")
            held_c.unlink()
            out, err = restart.communicate(timeout=60)
            assert (restart.returncode, out.strip()) == (0, "c: ready"), err
        finally:
            restart.kill()
        run.wait_for("job.ready")
        order = [(e["event"], e.get("agent", e.get("stage"))) for e in run.events
                 if e.get("event") in ("agent.ready", "agent.starting", "job.ready")]
        assert order == [("agent.starting", "c"), ("agent.ready", "c"),
                         ("agent.starting", "b"), ("agent.ready", "b"), ("agent.ready", "c"),
                         ("agent.starting", "a"), ("agent.ready", "a"), ("job.ready", None)]
        run.signal(signal.SIGTERM)
        assert run.wait() == 0

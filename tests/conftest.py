"""Shared test set-up.

Tests that need a real service (sshd, a Docker Engine) skip with a reason when it is
missing. CI sets AGENTSUP_NO_SKIP=1, which turns every such skip into a failure, so a
green CI run means the real thing was exercised.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from agentsup.probes.loop import ProbeLoop


def _ignore(_signum: int, _frame: object) -> None:
    pass


# `agentsup start` keeps a SIGHUP that was ignored when it started ignored (nohup), and
# processes inherit an ignored signal. Tests that send the CLI SIGHUP expect it at its
# default, whatever the shell that ran pytest ignored; a handler that does nothing keeps
# pytest itself as immune as it was, and is not inherited.
if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
    signal.signal(signal.SIGHUP, _ignore)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if os.environ.get("AGENTSUP_NO_SKIP") == "1" and report.skipped and not hasattr(
        report, "wasxfail"
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but AGENTSUP_NO_SKIP=1 forbids skips: {reason}"


@pytest.fixture(autouse=True)
def control_dir_per_test(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test gets its own control directory (`$XDG_RUNTIME_DIR/agentsup`), so jobs of
    the same name in tests running at once, here or elsewhere, never see each other.
    Short, under /tmp: a Unix socket's path must fit in 108 bytes."""
    runtime = tempfile.mkdtemp(prefix="as-", dir="/tmp")
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    yield runtime
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def loop() -> Iterator[ProbeLoop]:
    """A probe loop of its own for the test, closed after it."""
    from agentsup.probes.loop import ProbeLoop

    probes = ProbeLoop()
    yield probes
    probes.close()

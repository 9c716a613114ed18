"""Whether a port is taken, as `start` and a reload check it for local agents."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys

import pytest

from agentsup.ports import port_in_use
from tests.clirun import free_ports


def test_a_listening_port_is_in_use_and_a_closed_one_is_not() -> None:
    (port,) = free_ports(1)
    assert not port_in_use(port)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        assert port_in_use(port)
    assert not port_in_use(port)


@pytest.mark.integration
def test_a_port_agentsup_may_not_bind_is_not_called_in_use() -> None:
    """Without CAP_NET_BIND_SERVICE (dropped here with setpriv, as for any user but
    root) binding port 80 fails with EACCES whether or not it is in use; calling it
    "already in use by another process" was wrong, and the agent may have the right."""
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "setpriv (util-linux) is needed for this test"
    probe = "from agentsup.ports import port_in_use; print(port_in_use(80))"
    done = subprocess.run(
        [setpriv, "--bounding-set=-net_bind_service", "--inh-caps=-net_bind_service",
         sys.executable, "-c", probe],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert done.stdout.strip() == "False"

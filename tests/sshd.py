"""Real OpenSSH servers for tests: Debian's sshd on free loopback ports.

`ssh_hosts` starts two servers, on 127.0.0.2 and 127.0.0.3, each with its own generated
ed25519 host key, both accepting one generated user key for root. Everything (config,
keys, pid file, authorized_keys, logs) lives in the test's temporary directory. The
fixture also writes a known_hosts file with both host keys and an OpenSSH client config
with aliases `host-a` and `host-b`, under a home directory of its own (`home/.ssh/`), so a
test can run the CLI with `HOME` pointing there.

sshd must run as root (it switches to the logged-in user); the tests skip with the
reason when it is missing or not startable. CI turns such skips into failures.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"
HOST_ADDRESSES = ("127.0.0.2", "127.0.0.3")
ALIASES = ("host-a", "host-b")


def free_port_on(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def children_of(pid: int) -> list[int]:
    """Every descendant of `pid`, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry)] = int(fields[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parents.items():
            if parent == current:
                found.append(child)
                frontier.append(child)
    return found


def keygen(path: Path, comment: str) -> str:
    """Generate an ed25519 key without passphrase; return the public key line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub").read_text().strip()


@dataclass
class SshServer:
    """One running sshd."""

    address: str
    port: int
    directory: Path
    host_key_line: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def known_hosts_line(self) -> str:
        key_type, key = self.host_key_line.split()[:2]
        return f"[{self.address}]:{self.port} {key_type} {key}"

    @property
    def log(self) -> str:
        path = self.directory / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        config = self.directory / "sshd_config"
        log = (self.directory / "sshd.log").open("ab")
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited ({self.process.returncode}):\n{self.log}")
            try:
                with socket.create_connection((self.address, self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not answer on {self.address}:{self.port}")
            time.sleep(0.05)

    def session_pids(self) -> list[int]:
        """The per-connection sshd processes (and what they run)."""
        return [] if self.process is None else children_of(self.process.pid)

    def kill_all(self) -> None:
        """SIGKILL the listener and every session: every connection to it drops."""
        if self.process is None:
            return
        pids = [self.process.pid, *self.session_pids()]
        # Only sshd processes: the sessions' commands must notice the loss themselves.
        for pid in pids:
            try:
                with open(f"/proc/{pid}/comm") as handle:
                    name = handle.read().strip()
            except OSError:
                continue
            if name.startswith("sshd"):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for pid in self.session_pids():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@dataclass
class SshHosts:
    """Two sshd servers and everything a client needs to reach them."""

    servers: list[SshServer]
    user_key: Path
    known_hosts: Path
    home: Path
    ssh_config: Path

    @property
    def a(self) -> SshServer:
        return self.servers[0]

    @property
    def b(self) -> SshServer:
        return self.servers[1]


def sshd_unavailable() -> str | None:
    if not Path(SSHD).exists():
        return f"{SSHD} is not installed (apt-get install openssh-server)"
    if os.geteuid() != 0:
        return "sshd tests need root (sshd must switch to the logged-in user)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen is not installed"
    return None


def write_server_config(server: SshServer, authorized_keys: Path) -> None:
    d = server.directory
    (d / "sshd_config").write_text(
        "\n".join(
            [
                f"Port {server.port}",
                f"ListenAddress {server.address}",
                f"HostKey {d / 'host_ed25519'}",
                f"PidFile {d / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized_keys}",
                "StrictModes no",
                "UsePAM no",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PrintMotd no",
                "PrintLastLog no",
                "UseDNS no",
                "MaxSessions 50",
                "MaxStartups 50",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )


@pytest.fixture
def ssh_hosts(tmp_path: Path) -> Iterator[SshHosts]:
    reason = sshd_unavailable()
    if reason is not None:
        pytest.skip(reason)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege-separation directory
    base = tmp_path / "ssh"
    base.mkdir()
    user_key = base / "id_ed25519"
    authorized_keys = base / "authorized_keys"
    authorized_keys.write_text(keygen(user_key, "agentsup-test") + "\n")
    servers: list[SshServer] = []
    for address in HOST_ADDRESSES:
        directory = base / address
        directory.mkdir()
        host_key = keygen(directory / "host_ed25519", f"host {address}")
        server = SshServer(address, free_port_on(address), directory, host_key)
        write_server_config(server, authorized_keys)
        servers.append(server)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    known_hosts = home / ".ssh" / "known_hosts"
    known_hosts.write_text("".join(s.known_hosts_line + "\n" for s in servers))
    ssh_config = home / ".ssh" / "config"
    ssh_config.write_text(
        "".join(
            f"Host {alias}\n"
            f"    HostName {server.address}\n"
            f"    Port {server.port}\n"
            "    User root\n"
            f"    IdentityFile {user_key}\n"
            for alias, server in zip(ALIASES, servers, strict=True)
        )
    )
    hosts = SshHosts(servers, user_key, known_hosts, home, ssh_config)
    try:
        for server in servers:
            try:
                server.start()
            except RuntimeError as exc:
                pytest.skip(f"cannot start sshd: {exc}")
        yield hosts
    finally:
        for server in servers:
            server.stop()

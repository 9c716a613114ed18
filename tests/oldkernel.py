"""Run a command as on a kernel older than 5.3: `python oldkernel.py COMMAND ARGS...`.

Linux gave processes file descriptors in 5.1 (`pidfd_send_signal`), 5.3 (`pidfd_open`)
and 5.6 (`pidfd_getfd`); RHEL 8 and its rebuilds run 4.18, Debian 10 4.19, and older
Docker seccomp profiles refuse those calls in containers. A kernel that lacks a system
call answers it with ENOSYS, and this makes the real kernel answer so: a seccomp filter,
inherited by everything the program starts, returns ENOSYS for those three calls and
lets every other call through. Nothing of agentsup's is replaced; only the kernel says
no, where an old one would.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import sys

PIDFD_CALLS = (424, 434, 438)
"""pidfd_send_signal, pidfd_open, pidfd_getfd: the same numbers on every architecture."""
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
LOAD_WORD = 0x20  # BPF_LD | BPF_W | BPF_ABS
JUMP_IF_EQUAL = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
RETURN = 0x06  # BPF_RET | BPF_K


def _instruction(code: int, k: int, true: int = 0, false: int = 0) -> bytes:
    return struct.pack("=HBBI", code, true, false, k)


def refuse_pidfds() -> None:
    arch = AUDIT_ARCH[platform.machine()]
    calls = len(PIDFD_CALLS)
    program = [
        _instruction(LOAD_WORD, 4),  # seccomp_data.arch
        _instruction(JUMP_IF_EQUAL, arch, 0, calls + 1),  # another ABI: allow
        _instruction(LOAD_WORD, 0),  # seccomp_data.nr
        *(_instruction(JUMP_IF_EQUAL, number, calls - index, 0)
          for index, number in enumerate(PIDFD_CALLS)),
        _instruction(RETURN, SECCOMP_RET_ALLOW),
        _instruction(RETURN, SECCOMP_RET_ERRNO | errno.ENOSYS),
    ]
    code = b"".join(program)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("@HP", len(program), ctypes.addressof(buffer))
    fprog_buffer = ctypes.create_string_buffer(fprog, len(fprog))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog_buffer, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def main() -> None:
    refuse_pidfds()
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()

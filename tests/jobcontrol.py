"""A shell's job control, as little of it as a test needs: `python jobcontrol.py ARGS...`
runs `python ARGS...` as the foreground job of this terminal (its own process group,
like a job an interactive shell starts). When the job stops (Ctrl-Z), this takes the
terminal back, prints `[job stopped]` and reads commands as a shell would, with a `$ `
prompt: `echo WORDS` prints the words, `bg` continues the job (SIGCONT) and keeps the
terminal, `fg` gives the terminal back to the job and continues it (SIGCONT), `kill`
sends the job SIGTERM, and `wait` waits until the job ends or stops and says which
(`[job exited N]`, `[job stopped]`). Exits with the job's exit code once the job has
ended. `python jobcontrol.py --bg ARGS...` starts the job in the background, as
`ARGS &` would, and reads commands at once; `--tostop` first sets the terminal's
`tostop` flag (`stty tostop`: a background job that writes to the terminal is stopped);
`--restore-modes` (after `--tostop`, before `--bg`) puts the terminal's modes back as
they were before the job ran whenever the job stops, as bash does.

A test cannot be this itself: a process group whose parent is outside its session is
orphaned, and the kernel does not stop an orphaned group on SIGTSTP.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import termios


def main() -> int:
    tty = sys.stdin.fileno()
    job = sys.argv[1:]
    if job[:1] == ["--tostop"]:
        job = job[1:]
        modes = termios.tcgetattr(tty)
        modes[3] |= termios.TOSTOP
        termios.tcsetattr(tty, termios.TCSANOW, modes)
    restore_modes = job[:1] == ["--restore-modes"]
    if restore_modes:
        job = job[1:]
    shell_modes = termios.tcgetattr(tty)
    background = job[:1] == ["--bg"]
    if background:
        job = job[1:]
    # As a shell: not stopped or interrupted from the terminal, and free to take the
    # terminal back while in the background.
    for signum in (signal.SIGTTOU, signal.SIGTTIN, signal.SIGTSTP, signal.SIGINT,
                   signal.SIGQUIT):
        signal.signal(signum, signal.SIG_IGN)
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        if not background:
            os.tcsetpgrp(tty, os.getpgrp())
        for signum in (signal.SIGTTOU, signal.SIGTTIN, signal.SIGTSTP, signal.SIGINT,
                       signal.SIGQUIT):
            signal.signal(signum, signal.SIG_DFL)
        os.execv(sys.executable, [sys.executable, *job])
    # Both sides set the group and the terminal's foreground, whichever comes first.
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    if not background:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(tty, pid)
    while True:
        if not background:
            _, status = os.waitpid(pid, os.WUNTRACED)
            with contextlib.suppress(OSError):
                os.tcsetpgrp(tty, os.getpgrp())
            if not os.WIFSTOPPED(status):
                return os.waitstatus_to_exitcode(status)
            if restore_modes:  # as bash does: the modes from before the job ran
                termios.tcsetattr(tty, termios.TCSANOW, shell_modes)
            print("\n[job stopped]", flush=True)
        background = False
        while True:
            print("$ ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:  # the terminal is gone: end the job as a closing terminal would
                os.killpg(pid, signal.SIGHUP)
                os.killpg(pid, signal.SIGCONT)
                break
            words = line.split()
            if words[:1] == ["echo"]:
                print(" ".join(words[1:]), flush=True)
            elif words == ["bg"]:
                os.killpg(pid, signal.SIGCONT)
            elif words == ["kill"]:
                os.killpg(pid, signal.SIGTERM)
            elif words == ["wait"]:
                _, status = os.waitpid(pid, os.WUNTRACED)
                if os.WIFSTOPPED(status):
                    print("[job stopped]", flush=True)
                    continue
                code = os.waitstatus_to_exitcode(status)
                print(f"[job exited {code}]", flush=True)
                return code
            elif words == ["fg"]:
                break
        with contextlib.suppress(OSError):
            os.tcsetpgrp(tty, pid)
        os.killpg(pid, signal.SIGCONT)


if __name__ == "__main__":
    sys.exit(main())

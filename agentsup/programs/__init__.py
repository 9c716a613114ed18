"""Standalone programs agentsup runs as scripts, not modules it imports for their code.

`reaper.py` runs as a process of its own beside the supervisor (`python -I -S reaper.py`)
and `ssh_watchdog.py` is sent to remote hosts as source (`python3 -c ...`). Each must stay
self-contained and stdlib-only: nothing of agentsup is importable where they run. The
supervisor also imports `reaper` for its /proc scan, which is why the scan lives there.
"""

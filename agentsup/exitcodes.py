"""The process exit codes of every `agentsup` command, in one place.

Scripts and CI branch on them, so each command must mean the same by the same number.
"""

EXIT_OK = 0
"""The command did what it was asked (a job ran and stopped cleanly)."""

EXIT_FAILED = 1
"""It was asked for something valid that failed (an agent failed, a request failed)."""

EXIT_INVALID = 2
"""The input was wrong: a bad job file, an unknown agent, a bad option."""

"""Building the job-file models without pydantic's plugin scan.

The first model pydantic builds in a process looks for plugins: it imports
`importlib.metadata` and reads the entry points of every installed distribution, about
20 ms of every `agentsup` command (docs/performance.md, "Start-up cost"). agentsup's own
models are not meant to be instrumented by whatever plugin happens to be installed, so
they are built with pydantic's documented switch, `PYDANTIC_DISABLE_PLUGINS`, set for
the duration of the build and removed right after it. The build runs when
`agentsup.job.schema_models` is first imported, in the main thread before any agent or helper
process exists, so no child ever inherits the variable. A value the user set is left
alone (and honoured by pydantic as always).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

PLUGINS_VARIABLE = "PYDANTIC_DISABLE_PLUGINS"


@contextmanager
def without_plugin_scan() -> Iterator[None]:
    """Models built inside this block skip pydantic's plugin discovery."""
    if PLUGINS_VARIABLE in os.environ:
        yield
        return
    os.environ[PLUGINS_VARIABLE] = "__all__"
    try:
        yield
    finally:
        os.environ.pop(PLUGINS_VARIABLE, None)

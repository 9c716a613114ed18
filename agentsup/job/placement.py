"""Swarm placement syntax, checked when the job file is loaded.

Swarm accepts a service with a constraint it cannot parse and only then leaves its task
pending for ever; a typo such as `node.role=worker` would look like an unschedulable
agent. The loader checks the syntax instead, so the mistake is reported with its line
and column before anything starts. The grammar is Swarm's: `KEY==VALUE` or
`KEY!=VALUE`, KEY one of the node and engine attributes below, and preferences of the
form `spread=node.labels.NAME`.
"""

from __future__ import annotations

import re

FIXED_KEYS = ("node.id", "node.hostname", "node.role", "node.platform.os",
              "node.platform.arch")
LABEL_PREFIXES = ("node.labels.", "engine.labels.")
ROLES = ("manager", "worker")
_VALUE = re.compile(r"^[A-Za-z0-9:\-_\s.*()?+\[\]\\^$|/]+$")
_LABEL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def constraint_problem(text: str) -> str | None:
    """Why `text` is not a Swarm constraint, or None when it is one."""
    for operator in ("==", "!="):
        key, found, value = text.partition(operator)
        if found:
            break
    else:
        return (f"{text!r} is not a constraint: write KEY==VALUE or KEY!=VALUE, "
                "like node.role==worker")
    key, value = key.strip(), value.strip()
    if key not in FIXED_KEYS and not _label_key(key):
        return (f"unknown constraint key {key!r}; use one of {', '.join(FIXED_KEYS)}, "
                "node.labels.NAME or engine.labels.NAME")
    if not value or "==" in value or "!=" in value or not _VALUE.match(value):
        return f"constraint {text!r} has no usable value after {operator!r}"
    if key == "node.role" and value.lower() not in ROLES:
        return f"node.role is 'manager' or 'worker', not {value!r}"
    return None


def preference_problem(text: str) -> str | None:
    """Why `text` is not a Swarm placement preference, or None when it is one."""
    strategy, found, descriptor = text.partition("=")
    if not found or strategy.strip() != "spread":
        return f"{text!r} is not a preference: write spread=node.labels.NAME"
    if not _label_key(descriptor.strip()):
        return f"spread over {descriptor.strip()!r}: use node.labels.NAME or engine.labels.NAME"
    return None


def spread_of(text: str) -> str:
    """The label a valid preference spreads over."""
    return text.partition("=")[2].strip()


def _label_key(key: str) -> bool:
    for prefix in LABEL_PREFIXES:
        if key.startswith(prefix):
            return bool(_LABEL.match(key.removeprefix(prefix)))
    return False

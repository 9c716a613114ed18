"""Example agents for agentsup's example jobs, using only the Python standard library.

Run one with `python -m example_agents.<name>` from the `examples/` directory; agentsup does
that for every agent of the job files next to this package. Each agent reads the environment
agentsup gives it (AGENT_ID, AGENT_PORT, CONNECTED_AGENTS, AGENTSUP_CONNECTIONS), serves HTTP on
127.0.0.1:AGENT_PORT, answers GET /health, writes one JSON object per line to stdout and exits 0
on SIGTERM.
"""

"""Talking to a running job: its owner-only Unix socket, the server behind it and the client.

`rundir` finds and checks the directory the sockets live in and holds the one-supervisor-
per-job lock, `server` answers HTTP requests on the socket by telling the supervisor,
`client` is what `agentsup status|restart|stop|logs|reload` use (`arguments` holds their
command lines, `commands` runs them), and `logring` keeps the last lines of every agent's
output for `agentsup logs`.
"""

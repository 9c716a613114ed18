"""Health probes: what a check is, where it runs, and how its answer is judged.

- `request`: what one probe asks (a connect, a GET, an A2A card) and what it answers.
- `loop`: the one selector thread that runs every network probe of a job.
- `http`: judging an HTTP answer (plain answers directly, everything else through h11).
- `addresses`: name lookups on their own thread, so the loop never blocks on DNS.
- `owners`: whether the socket that answered belongs to the agent's own processes.
- `prober`: the job's probes as one object (network probes and exec checks) and the
  readiness schedule.
"""

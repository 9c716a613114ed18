"""agentsup: deploy and supervise multi-agent jobs described in one YAML file."""

__version__ = "0.1.0"

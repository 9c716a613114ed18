"""Runners start and stop one agent's process on one kind of target.

Each target is one module here behind the `Runner` interface in `base`, so adding a
target means adding one file and one entry in `registry`.
"""

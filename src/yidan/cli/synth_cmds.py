"""CLI commands (synth_cmds)."""

from yidan.cli.app import app  # noqa: F401

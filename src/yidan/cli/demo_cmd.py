"""CLI commands (demo_cmd)."""

from yidan.cli.app import app  # noqa: F401

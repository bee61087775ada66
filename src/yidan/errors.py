"""One base exception for the package.

Every error carries a Chinese message for users: what failed, the offending
value, and what to do next. The CLI prints it on one screen, never a traceback.
"""

from __future__ import annotations


class YidanError(Exception):
    """Base of every error a user may see."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n处理建议：{self.hint}" if self.hint else self.message


class InputError(YidanError):
    """An input file cannot be read as the contract says (missing columns, unreadable file)."""


class ConfigError(YidanError):
    """yidan.toml or an option is invalid."""


class RunError(YidanError):
    """A comparison run failed; the run directory is left marked failed."""


class EngineError(YidanError):
    """An engine (DuckDB, Spark) is missing or failed a named step."""


class NotFoundError(YidanError):
    """A run directory, finding or record that was asked for does not exist."""

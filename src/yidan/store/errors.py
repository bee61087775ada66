"""Errors of the case store, shown to users in Chinese (the web maps them to HTTP answers)."""

from __future__ import annotations

from yidan.errors import YidanError


class ConflictError(YidanError):
    """Someone else changed the record first (optimistic locking): reload and redo."""


class ActionError(YidanError):
    """An action that the record's state or the user's role does not allow."""

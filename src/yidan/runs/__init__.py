"""Reading run directories and comparing runs."""

from yidan.runs.rundir import RunDir

__all__ = ["RunDir"]

"""The state one comparison run carries from step to step.

Steps are plain functions `step(ctx) -> None`. They read tables from `ctx.tables`
(Ibis table expressions on the run's engine) and register their outputs with
`ctx.put(name, expr)`, which materialises the expression as a table of that name
in the engine so later steps (and Splink) can refer to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from yidan.engine import Engine
from yidan.identity.terms import Term
from yidan.settings import RunConfig


@dataclass
class RunInputs:
    """Files of one run, by contract table name (several files may make one table)."""

    registry: list[Path]
    enrollment: list[Path]
    out_of_province: list[Path] = field(default_factory=list)
    verifications: list[Path] = field(default_factory=list)
    aid: list[Path] = field(default_factory=list)
    policies: list[Path] = field(default_factory=list)
    link_decisions: list[Path] = field(default_factory=list)
    # optional inputs of the indicators (schools, classes, population)
    schools: list[Path] = field(default_factory=list)
    classes: list[Path] = field(default_factory=list)
    population: list[Path] = field(default_factory=list)
    targets: list[Path] = field(default_factory=list)  # other target lists (民政, 残联 …)
    encoding: str | None = None

    def by_table(self) -> dict[str, list[Path]]:
        return {
            "registry": self.registry,
            "enrollment": self.enrollment,
            "out_of_province": self.out_of_province,
            "verifications": self.verifications,
            "aid": self.aid,
            "policies": self.policies,
            "schools": self.schools,
            "classes": self.classes,
            "population": self.population,
            "targets": self.targets,
        }


@dataclass
class RunContext:
    engine: Engine
    config: RunConfig
    term: Term
    inputs: RunInputs
    audit_terms: list[Term] = field(default_factory=list)
    tables: dict[str, Any] = field(default_factory=dict)  # name -> ibis.Table
    file_stats: list[dict[str, Any]] = field(default_factory=list)  # for the manifest
    timings: dict[str, float] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)  # figures steps want in the manifest
    # seconds spent materialising each named table (summed when a name is put twice): where a
    # step's time goes, for whoever sizes or tunes a run (manifest `table_timings`)
    table_timings: dict[str, float] = field(default_factory=dict)
    progress: Callable[[str], None] | None = None
    # 回头看: audit the requested terms that have enrollment and name the others (else stop)
    allow_missing_terms: bool = False
    released: set[str] = field(default_factory=set)  # tables dropped once no later step reads them
    # the registry's counties (the run's coverage, for publishing), read at load: the registry
    # itself is released once the persons are built
    counties: list[str] | None = None

    def put(self, name: str, expr: Any, *, materialize: bool = True) -> Any:
        """Register `expr` as table `name`; materialised in the engine unless told not to."""
        if materialize:
            t0 = time.perf_counter()
            table = self.engine.materialize(name, expr)
            spent = time.perf_counter() - t0
            self.table_timings[name] = round(self.table_timings.get(name, 0.0) + spent, 3)
        else:
            table = expr
        self.tables[name] = table
        return table

    def get(self, name: str) -> Any:
        self._refuse_released(name)
        return self.tables[name]

    def release(self, *patterns: str) -> list[str]:
        """Drop the tables whose names match `patterns` (shell-style: `link_*`) from the engine and
        the context: no later step reads them. Returns the names released, in order.

        A table put without materialising (an expression) must not read a released one."""
        names = [n for n in self.tables if any(fnmatchcase(n, p) for p in patterns)]
        for name in names:
            self.engine.release(name)
            del self.tables[name]
            self.released.add(name)
        return names

    def has(self, name: str) -> bool:
        self._refuse_released(name)  # never "absent": a step would silently leave out what it reads
        return name in self.tables

    def _refuse_released(self, name: str) -> None:
        if name in self.released and name not in self.tables:
            raise KeyError(f"table {name!r} was released after the step that last read it (pipeline.steps."
                           "RELEASE_AFTER); a step that reads it must come earlier, or the table be kept longer")


@dataclass(frozen=True)
class Step:
    """A named step of the pipeline; the order is read in one place (pipeline/steps.py)."""

    name: str
    label: str  # Chinese, for the progress display
    run: Callable[[RunContext], None]


def timed(ctx: RunContext, step: Step) -> None:
    t0 = time.perf_counter()
    if ctx.progress:
        ctx.progress(step.label)
    step.run(ctx)
    ctx.timings[step.name] = round(time.perf_counter() - t0, 3)

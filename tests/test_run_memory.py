"""A run drops each working table once no later step reads it (`pipeline.steps.RELEASE_AFTER`).

At province size the inputs and intermediates outgrew the engine's memory limit and were spilled to
disk and read back by every later step; releasing them must change no result, and a table released
too early must stop the run with a clear error, never read as an absent (optional) table.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from yidan.contract.outputs import OUTPUTS

# what the writer reads after the last step (each output's table, and what links_out is made of)
KEPT_FOR_WRITING = {o.table for o in OUTPUTS.values()} | {"links", "linked_students"}


def _run(dataset: Any, out: Path, extra_steps: tuple[Any, ...] = ()) -> Any:
    from conftest import run_generated
    from yidan.pipeline.steps import STEPS

    return run_generated(dataset, out, steps=(*STEPS, *extra_steps))


def _outputs(run: Any) -> dict[str, bytes]:
    return {name: (run.path / f"{name}.parquet").read_bytes() for name in OUTPUTS}


def test_the_working_tables_are_gone_before_the_outputs_are_written(tiny_dataset, tiny_run, tmp_path):
    from yidan.pipeline.context import Step
    from yidan.pipeline.steps import RELEASE_AFTER

    seen: dict[str, list[str]] = {}

    def look(ctx: Any) -> None:  # after the last step: what the engine still holds
        con = ctx.engine.duckdb
        seen["engine"] = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        seen["context"] = list(ctx.tables)

    run = _run(tiny_dataset, tmp_path / "run", (Step("look", "查看", look),))
    released = [p for patterns in RELEASE_AFTER.values() for p in patterns]
    for name in seen["engine"] + seen["context"]:
        assert not any(fnmatchcase(name, p) for p in released), f"{name} is still in the engine"
        assert not name.startswith("__splink__"), f"Splink's {name} is still in the engine"
    # the big inputs and every step's working tables went; what the outputs are written from stayed
    assert {"registry", "enrollment", "aid", "reg_persons", "students"}.isdisjoint(seen["engine"])
    assert not [n for n in seen["engine"] if n.startswith(("link_", "cls_", "audit_"))]
    assert KEPT_FOR_WRITING - {"links_out"} <= set(seen["engine"])
    assert run.complete and _outputs(run) == _outputs(tiny_run)


def test_keeping_every_table_to_the_end_gives_the_same_files(tiny_dataset, tiny_run, tmp_path, monkeypatch):
    from yidan.pipeline import steps

    monkeypatch.setattr(steps, "RELEASE_AFTER", {})
    kept = _run(tiny_dataset, tmp_path / "run")
    assert kept.manifest["totals"] == tiny_run.manifest["totals"]
    assert kept.manifest["coverage"] == tiny_run.manifest["coverage"]
    assert tiny_run.manifest["coverage"]["counties"]  # read at load: the registry itself was released
    assert _outputs(kept) == _outputs(tiny_run)


def test_a_released_table_is_an_error_never_an_absent_table(tmp_path):
    import ibis

    from yidan.engine import connect
    from yidan.identity.terms import parse_term
    from yidan.pipeline.context import RunContext, RunInputs
    from yidan.settings import RunConfig

    engine = connect()
    try:
        ctx = RunContext(engine=engine, config=RunConfig(), term=parse_term("2021春"),
                         inputs=RunInputs(registry=[], enrollment=[]))
        ctx.put("audit_facts", ibis.memtable({"x": [1, 2]}))
        ctx.put("aid_findings", ibis.memtable({"x": [3]}))
        assert ctx.release("audit_*") == ["audit_facts"]
        assert "audit_facts" not in [r[0] for r in engine.duckdb.execute("SELECT table_name FROM duckdb_tables()")
                                     .fetchall()]
        with pytest.raises(KeyError, match="RELEASE_AFTER"):
            ctx.get("audit_facts")
        with pytest.raises(KeyError, match="released"):
            ctx.has("audit_facts")  # an optional table that is merely absent reads False; this one was dropped
        assert ctx.has("aid_findings") and ctx.get("aid_findings").count().execute() == 1
        assert not ctx.has("targets")
    finally:
        engine.close()

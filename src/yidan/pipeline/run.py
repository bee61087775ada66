"""The comparison run as a service: the CLI and the web application both call `run_comparison`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from yidan import __version__
from yidan.engine import connect
from yidan.errors import InputError, RunError, YidanError
from yidan.identity.terms import Term
from yidan.outfiles import os_error_in, output_error, read_error
from yidan.pipeline.context import RunContext, RunInputs, Step, timed
from yidan.pipeline.load import registry_counties
from yidan.pipeline.write import RunWriter
from yidan.runs.rundir import RunDir
from yidan.settings import RunConfig


def check_inputs(inputs: RunInputs) -> None:
    if not inputs.registry:
        raise InputError("缺少建档立卡人口文件。", hint="用 --registry 指定建档立卡人口文件（可多个）。")
    if not inputs.enrollment:
        raise InputError("缺少学籍文件。", hint="用 --enrollment 指定学籍文件（可多个）。")
    for name, paths in {**inputs.by_table(), "link_decisions": inputs.link_decisions}.items():
        for p in paths:
            if not Path(p).is_file():
                raise InputError(f"找不到输入文件（{name}）：{p}", hint="检查文件路径是否正确。")


def run_comparison(
    inputs: RunInputs,
    *,
    term: Term,
    out_dir: Path,
    config: RunConfig,
    audit_terms: Sequence[Term] = (),
    progress: Callable[[str], None] | None = None,
    steps: Sequence[Step] | None = None,
    allow_missing_terms: bool = False,
) -> RunDir:
    """Run the comparison and write RUN_DIR atomically; returns the completed run.

    `steps` defaults to `yidan.pipeline.steps.STEPS` (tests pass their own to stand in for
    a module that is not there).
    """
    from yidan.pipeline.steps import RELEASE_AFTER, STEPS

    check_inputs(inputs)
    steps = tuple(steps or STEPS)
    audit = sorted(set(audit_terms))
    given = [Path(p) for paths in (*inputs.by_table().values(), inputs.link_decisions) for p in paths]
    writer = RunWriter(
        Path(out_dir),
        {
            "run_id": "",
            "term": term.label,
            "audit_terms": [t.label for t in audit],
            "version": __version__,
            "config_hash": config.config_hash(),
            "engine": config.engine.name,
        },
        inputs=given,
    )
    ctx: RunContext | None = None
    current = "准备结果目录"
    try:
        writer.manifest["run_id"] = _run_id(writer.manifest["started_at"], config, term)
        if writer.recovered:
            writer.manifest["recovered"] = writer.recovered
        writer.save_manifest()
        current = "连接计算引擎"
        engine = connect(config.engine)
        try:
            ctx = RunContext(engine=engine, config=config, term=term, inputs=inputs, audit_terms=audit,
                             progress=progress, allow_missing_terms=allow_missing_terms)
            for step in steps:
                current = step.label
                timed(ctx, step)
                ctx.release(*RELEASE_AFTER.get(step.name, ()))
            current = "写出结果"
            if progress:
                progress(current)
            writer.write_outputs(ctx)
            path = writer.commit(_facts(ctx))
        finally:
            engine.close()
    except YidanError as exc:
        writer.fail(exc, _facts(ctx))
        raise
    except BaseException as exc:
        error = _as_user_error(exc, current, given, writer.out_dir)
        writer.fail(error or exc, _facts(ctx))
        if error is not None:
            raise error from exc
        raise
    finally:
        writer.release()
    return RunDir(path)


def _as_user_error(exc: BaseException, step: str, inputs: Sequence[Path], out_dir: Path) -> YidanError | None:
    """The Chinese error for an unexpected exception of a step (None for an interrupt).

    A file-system failure (disk full, read-only, permission) names the file and what to do: an
    input that cannot be read, or the result directory (or the engine's spill folder) that cannot
    be written; anything else names the step and says where the details are."""
    if not isinstance(exc, Exception):
        return None
    cause = os_error_in(exc)
    if cause is not None:
        named = Path(cause.filename) if isinstance(cause.filename, str) else None
        if named is not None and any(named.absolute() == p.absolute() for p in inputs):
            return read_error(named, cause)
        if step == "写出结果" or named is None:
            return output_error(out_dir, cause)
        return output_error(named, cause)
    return RunError(
        f"比对在“{step}”步骤失败：{type(exc).__name__}: {exc}",
        hint="结果目录已标记为失败（failed）。检查输入文件后重试；问题持续时请把 manifest.json 交给技术支持。",
    )


def _run_id(started_at: str, config: RunConfig, term: Term) -> str:
    digest = hashlib.sha256(f"{started_at}|{config.config_hash()}|{term.label}".encode()).hexdigest()[:8]
    return f"{started_at[:19].replace('-', '').replace(':', '')}-{digest}"


def _facts(ctx: RunContext | None) -> dict[str, Any]:
    """What the manifest records besides status: inputs, timings, notes, totals."""
    if ctx is None:
        return {}
    totals: dict[str, Any] = {}
    notes = dict(ctx.notes)
    if "statuses" in notes:
        totals["persons"] = sum(notes["statuses"].values())
        totals["by_status"] = dict(sorted(notes.pop("statuses").items()))
    if "findings" in notes:
        totals["findings"] = sum(notes["findings"].values())
        totals["by_finding"] = dict(sorted(notes.pop("findings").items()))
    totals["rejected"] = sum(f["rejected"] for f in ctx.file_stats)
    skipped = (notes.get("audit") or {}).get("not_audited_reasons")
    if skipped:  # 回头看 terms not audited, with why: the web run page shows them from the run's totals
        totals["aid_terms_not_audited"] = dict(skipped)
    return {
        "coverage": _coverage(ctx),
        "inputs": ctx.file_stats,
        "timings": dict(ctx.timings),
        "table_timings": dict(ctx.table_timings),
        "notes": notes,
        "totals": totals,
        "indicators": _indicators(ctx),
    }


def _indicators(ctx: RunContext) -> dict[str, str | None]:
    """Which declared indicators the inputs allow: None, or why not (yidan.reports.indicator_defs)."""
    from yidan.contract.indicators import availability

    return availability([name for name, paths in ctx.inputs.by_table().items() if paths])


def _coverage(ctx: RunContext) -> dict[str, Any]:
    """What the run looked at, for publishing (which open cases it may close by data): the counties of
    the registry rows it loaded, the tables it had files for, the term it judged schooling in and the
    aid terms it audited (none without aid and policy files)."""
    tables = sorted(name for name, paths in ctx.inputs.by_table().items() if paths)
    counties = ctx.counties
    if counties is None:  # a run that failed while loading: what the registry holds, if it was loaded
        try:
            counties = registry_counties(ctx)
        except Exception:  # a failed run's manifest still says what it can
            counties = []
    audit_notes = ctx.notes.get("audit") or {}
    audited = audit_notes.get("terms_audited", [t.label for t in ctx.audit_terms])
    aid = "aid" in tables and "policies" in tables and not audit_notes.get("skipped")
    return {"counties": counties, "tables": tables, "school_terms": [ctx.term.label],
            "aid_terms": sorted(audited) if aid else []}

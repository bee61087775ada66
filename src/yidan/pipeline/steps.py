"""The comparison as an ordered tuple of named steps: the order of the pipeline is read here.

Linkage (`yidan.pipeline.link.LINK_STEPS`) and the aid audit (`yidan.pipeline.audit.AUDIT_STEPS`)
are written by their own modules and slotted in; the audit is skipped when no aid file was given.
A module that cannot be imported is a step that fails with a Chinese message, never a step left out.
"""

from __future__ import annotations

from yidan.errors import RunError
from yidan.pipeline.classify import classify
from yidan.pipeline.context import RunContext, Step
from yidan.pipeline.findings import build_findings
from yidan.pipeline.load import load_inputs
from yidan.pipeline.persons import build_persons
from yidan.pipeline.summary import build_summary


def _link_steps() -> tuple[Step, ...]:
    try:
        from yidan.pipeline.link import LINK_STEPS
    except ImportError:  # the linkage module is not installed in this build

        def missing(ctx: RunContext) -> None:
            raise RunError("本版本缺少身份匹配模块（yidan.pipeline.link），无法比对。", hint="安装完整版本的 yidan 后重试。")

        return (Step("link", "身份匹配", missing),)
    return tuple(LINK_STEPS)


def _audit_steps() -> tuple[Step, ...]:
    try:
        from yidan.pipeline.audit import AUDIT_STEPS
    except ImportError as exc:  # never a run that silently leaves the audit out and says complete
        reason = str(exc)

        def missing(ctx: RunContext) -> None:
            if ctx.inputs.aid:
                raise RunError(f"本版本缺少资助核查模块（yidan.pipeline.audit：{reason}），无法核查资助发放。",
                               hint="安装完整版本的 yidan 后重试；不核查资助时去掉 --aid。")

        return (Step("audit", "核查资助", missing),)

    def only_with_aid(step: Step) -> Step:
        def run(ctx: RunContext) -> None:
            if ctx.inputs.aid:
                step.run(ctx)

        return Step(step.name, step.label, run)

    return tuple(only_with_aid(s) for s in AUDIT_STEPS)


LOAD = Step("load", "读取输入文件", load_inputs)
PERSONS = Step("persons_base", "整理建档立卡学龄人口", build_persons)
CLASSIFY = Step("classify", "判定就学状态", classify)
FINDINGS = Step("findings", "生成问题清单", build_findings)
SUMMARY = Step("summary", "汇总统计", build_summary)

STEPS: tuple[Step, ...] = (LOAD, PERSONS, *_link_steps(), CLASSIFY, *_audit_steps(), FINDINGS, SUMMARY)

# The tables no later step reads, released (dropped from the engine) when the named step has run;
# shell-style patterns. Every table of a run lives in the engine's memory: kept to the end, the
# province's inputs and intermediates outgrew a 6 GB limit and DuckDB spilled them to disk and read
# them back for every later step (measured on the province preset: 295 -> 239 CPU s with these
# releases). Kept to the end: what the outputs are written from (`persons_out`, `links` and
# `linked_students` for `links_out`, `findings`, `summary`, `rejects`) and the small reference tables.
RELEASE_AFTER: dict[str, tuple[str, ...]] = {
    "persons_base": ("registry",),  # read once, into `reg_persons` (its counties: `ctx.counties`)
    # the linkage's working tables, and `students` (6.6 M rows at province size): later steps read
    # `linked_students` and `school_names` (link.prepare.keep_for_outputs)
    "link_resolve": ("link_*", "links_exact", "students"),
    "classify": ("cls_*",),
    "audit": ("audit_*", "enrollment", "aid"),  # enrollment: read by link_prepare, classify and the audit
    "findings": ("school_findings", "aid_findings", "person_status", "reg_persons"),
}

"""The demo as a service: generate → compare → workbooks → web database with demo accounts."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yidan.contract.codes import FINDING_CODES, STATUSES
from yidan.settings import RunConfig


@dataclass
class DemoResult:
    out: Path
    run_dir: Path
    workbooks_dir: Path
    workbooks: list[Path] = field(default_factory=list)
    accounts: list[Any] = field(default_factory=list)
    database_url: str = ""
    summary_lines: list[str] = field(default_factory=list)


def run_demo(*, out: Path, preset: str = "county", seed: int = 2021,
             progress: Callable[[str], None] | None = None) -> DemoResult:
    from yidan.pipeline.run import run_comparison
    from yidan.reports import write_workbooks
    from yidan.services.generated import generated_run
    from yidan.synth import generate
    from yidan.web.demo import seed_demo

    say = progress or (lambda _msg: None)
    out = Path(out).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    say(f"生成模拟数据（{preset}，种子 {seed}）……")
    gen = generate(preset, seed, out / "input")
    plan = generated_run(gen.out)

    say("运行比对（身份匹配、就学状态、资助核查）……")
    run = run_comparison(plan.inputs, term=plan.term, out_dir=out / "runs" / plan.term.label, config=RunConfig(),
                         audit_terms=plan.audit_terms)

    say("生成县级工作簿……")
    wb_dir = out / "workbooks"
    workbooks = write_workbooks(run, wb_dir, level="county")

    say("准备网页应用数据库与演示账号……")
    db_url = f"sqlite:///{out / 'yidan.db'}"
    accounts = seed_demo(db_url, run.path)

    totals = run.manifest.get("totals", {})
    lines = [
        f"学龄建档立卡儿童 {totals.get('persons', 0)} 人，问题线索 {totals.get('findings', 0)} 条，"
        f"拒收输入行 {totals.get('rejected', 0)} 行",
        "就学状态：" + "，".join(f"{STATUSES[code]} {n}" for code, n in totals.get("by_status", {}).items()),
        "问题线索：" + "，".join(f"{code} {FINDING_CODES[code].label} {n}"
                            for code, n in totals.get("by_finding", {}).items()),
    ]
    return DemoResult(out=out, run_dir=run.path, workbooks_dir=wb_dir, workbooks=workbooks,
                      accounts=accounts, database_url=db_url, summary_lines=lines)

"""The demo as a service: generate → compare → workbooks → web database with demo accounts."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yidan.identity.terms import parse_term, term_range
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
    from yidan.pipeline.context import RunInputs
    from yidan.pipeline.run import run_comparison
    from yidan.reports import write_workbooks
    from yidan.synth import generate
    from yidan.web.demo import seed_demo

    say = progress or (lambda _msg: None)
    out = Path(out).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    say(f"生成模拟数据（{preset}，种子 {seed}）……")
    gen = generate(preset, seed, out / "input")
    described = json.loads((gen.out / "generated.json").read_text(encoding="utf-8"))
    files = {table: [gen.out / name for name in names] for table, names in gen.files.items()}

    say("运行比对（身份匹配、就学状态、资助核查）……")
    term = parse_term(described["run_term"])
    audit_labels = described["audit_terms"]
    audit = term_range(f"{audit_labels[0]}..{audit_labels[-1]}")
    inputs = RunInputs(
        registry=files["registry"],
        enrollment=files["enrollment"],
        out_of_province=files.get("out_of_province", []),
        verifications=files.get("verifications", []),
        aid=files.get("aid", []),
        policies=files.get("policies", []),
    )
    run = run_comparison(inputs, term=term, out_dir=out / "runs" / term.label, config=RunConfig(),
                         audit_terms=audit)

    say("生成县级工作簿……")
    wb_dir = out / "workbooks"
    workbooks = write_workbooks(run, wb_dir, level="county")

    say("准备网页应用数据库与演示账号……")
    db_url = f"sqlite:///{out / 'yidan.db'}"
    accounts = seed_demo(db_url, run.path)

    lines = []
    totals = run.manifest.get("totals", {})
    if totals:
        lines.append("比对结果：" + "，".join(f"{k} {v}" for k, v in totals.items() if not isinstance(v, dict)))
    return DemoResult(out=out, run_dir=run.path, workbooks_dir=wb_dir, workbooks=workbooks,
                      accounts=accounts, database_url=db_url, summary_lines=lines)

"""The demo as a service: generate → compare → workbooks → web database with demo accounts.

The demo folder is rebuilt from scratch on every call, so it is removed first, but only when it
is a folder an earlier demo made (or empty): a folder with anything else in it is refused.
The comparison reads its configuration the way `yidan run` does (`services.runconfig.run_config`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yidan.contract.codes import FINDING_CODES, STATUSES
from yidan.outfiles import OutputError, output_error
from yidan.services.runconfig import run_config

MARKER = ".yidan-demo"
# what an earlier demo left in its folder: everything run_demo writes there, and what the web app served
# on it (`yidan demo` serves with the demo folder as its data folder) writes
DEMO_ENTRIES = frozenset({MARKER, "input", "runs", "workbooks", "yidan.db", "yidan.db-journal", "yidan.db-wal",
                          "yidan.db-shm", "uploads", "exports", "imports"})  # the last three: the web app on it


def check_demo_folder(out: Path) -> None:
    """Refuse a demo folder whose contents the demo did not make (they would be deleted)."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"演示目录 {out} 是一个已有的文件，不是文件夹。", hint="用 --out 指定另一个文件夹。")
    if not out.exists():
        return
    names = sorted(p.name for p in out.iterdir())
    made_by_demo = (out / MARKER).is_file() or (out / "input" / "generated.json").is_file()
    foreign = [n for n in names if n not in DEMO_ENTRIES]
    if names and (not made_by_demo or foreign):
        shown = "、".join((foreign or names)[:3])
        raise OutputError(
            f"演示目录 {out} 中有不是演示生成的文件（如 {shown}）；演示会清空并重建该目录，因此未运行。",
            hint="用 --out 指定一个不存在的或空的文件夹，或先把这些文件移走。",
        )


@dataclass
class DemoResult:
    out: Path
    run_dir: Path
    workbooks_dir: Path
    workbooks: list[Path] = field(default_factory=list)
    accounts: list[Any] = field(default_factory=list)
    database_url: str = ""
    summary_lines: list[str] = field(default_factory=list)


def run_demo(*, out: Path, preset: str = "county", seed: int = 2021, config: Path | None = None,
             progress: Callable[[str], None] | None = None) -> DemoResult:
    from yidan.pipeline.run import run_comparison
    from yidan.reports import write_workbooks
    from yidan.services.generated import generated_run
    from yidan.synth import generate
    from yidan.web.demo import seed_demo

    say = progress or (lambda _msg: None)
    out = Path(out).resolve()
    cfg = run_config(config)  # a bad --config stops here, before anything is removed
    check_demo_folder(out)
    try:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        (out / MARKER).write_text("yidan demo\n", encoding="utf-8")
    except OSError as exc:
        raise output_error(out, exc) from exc

    say(f"生成模拟数据（{preset}，种子 {seed}）……")
    gen = generate(preset, seed, out / "input")
    plan = generated_run(gen.out)

    say("运行比对（身份匹配、就学状态、资助核查）……")
    run = run_comparison(plan.inputs, term=plan.term, out_dir=out / "runs" / plan.term.label, config=cfg,
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

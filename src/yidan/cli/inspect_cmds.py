"""`yidan inspect-sample`, `yidan inspect-results`: the 国检-style multi-stage sample and its defect rates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from yidan.cli.app import app

console = Console()


@app.command("inspect-sample")
def inspect_sample(
    run_dir: Annotated[Path, typer.Argument(help="比对结果目录")],
    out: Annotated[Path, typer.Option("--out", help="抽查名单工作簿（.xlsx）")],
    stages: Annotated[str, typer.Option("--stages", help="各阶段：层级:方式:数值，如 county:fixed:2,township:share:0.5,household:fixed:5")]
    = "county:fixed:2,township:fixed:2,household:fixed:5",
    seed: Annotated[int, typer.Option("--seed", help="随机种子：相同结果与种子必得相同样本")] = 1,
) -> None:
    """多阶段抽查名单（县→乡镇/村→户），带比对发现、姓名、联系电话和核查结果列。"""
    from yidan.reports.inspection import draw_inspection, parse_stages
    from yidan.runs.rundir import RunDir

    result = draw_inspection(RunDir(run_dir), parse_stages(stages), seed, out)
    drawn = "，".join(f"{s.describe()}，抽中 {n} 个" for s, n in zip(result.stages, result.units, strict=True))
    console.print(f"[green]已抽取 {result.children} 人（种子 {seed}；{drawn}）：[/]{result.path}")


@app.command("inspect-results")
def inspect_results(
    workbooks: Annotated[list[Path], typer.Argument(help="交回的抽查名单（可多个）")],
) -> None:
    """按县汇总核查结果：核查人数、有问题人数、问题率及其 95% 置信区间（Wilson）。"""
    from yidan.reports.inspection import inspection_results

    for r in inspection_results(list(workbooks)):
        console.print(f"{r.county} {r.name}：核查 {r.checked} 人，有问题 {r.defects} 人，问题率 {r.rate:.1%}"
                      f"（95% 置信区间 {r.low:.1%}–{r.high:.1%}）")

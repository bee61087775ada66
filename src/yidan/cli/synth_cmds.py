"""`yidan generate`: a synthetic province for the demo, the tests and the benchmarks.

Thin on purpose: parse the options, call `yidan.synth.generate`, show progress and a summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from yidan.cli.app import app
from yidan.errors import YidanError

console = Console()

TABLE_LABELS = {"registry": "建档立卡人口", "enrollment": "学籍", "out_of_province": "省外学籍",
                "verifications": "核实结果", "aid": "资助发放", "policies": "资助项目", "targets": "资助对象名单"}


@app.command("generate")
def generate_cmd(
    preset: Annotated[str, typer.Option("--preset", "-p", help="数据规模：tiny（单元测试）/ county（一个县）/ province-tenth（全省十分之一）/ province（全省）")]
    = "tiny",
    seed: Annotated[int, typer.Option("--seed", "-s", help="随机种子：同一种子生成完全相同的文件")] = 1,
    out: Annotated[Path, typer.Option("--out", "-o", help="输出文件夹")] = Path("synthetic"),
) -> None:
    """生成一个模拟省份的全部输入数据（建档立卡、学籍、省外学籍、核实、资助发放、资助项目）及真值，用于演示、测试和性能测试。"""
    from yidan.synth import generate

    if out.exists() and any(out.iterdir()):
        console.print(f"[yellow]注意：[/]输出文件夹 {out} 不为空，同名文件将被覆盖。")
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("准备生成", total=None)
            gs = generate(preset, seed, out, progress=lambda msg: bar.update(task, description=msg))
    except OSError as exc:
        raise YidanError(f"无法写入输出文件夹 {out}：{exc.strerror}",
                         hint="请换一个有写入权限且空间足够的文件夹。") from None
    summary = RichTable(title=f"已生成模拟数据（规模 {preset}，种子 {seed}）")
    summary.add_column("数据表")
    summary.add_column("文件")
    summary.add_column("行数", justify="right")
    for table, files in gs.files.items():
        summary.add_row(TABLE_LABELS.get(table, table), "、".join(files), f"{gs.rows.get(table, 0):,}")
    console.print(summary)
    injected = sum(v for k, v in gs.faults.items() if k not in ("twin", "registry_lowercase_x"))
    console.print(f"注入的情形与错误共 {injected:,} 处，明细见 {out / 'generated.json'}；真值在 {out / 'truth'}。")

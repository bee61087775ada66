"""`yidan indicators`: the declared indicators with targets, the report form and the maps, from a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from yidan.cli.app import app

console = Console()


@app.command("indicators")
def indicators(
    run_dir: Annotated[Path, typer.Argument(help="比对结果目录（yidan run --out）")],
    out: Annotated[Path, typer.Option("--out", help="输出目录")],
    previous: Annotated[Path | None, typer.Option("--previous", help="上一次的比对结果目录（计算变化）")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="配置文件 yidan.toml（[indicators] 目标值）")] = None,
    boundaries: Annotated[Path | None, typer.Option("--boundaries", help="县界 GeoJSON（绘制分县地图）")] = None,
) -> None:
    """按声明的指标（巩固率、毛入园率、普惠率、班额、控辍等）计算数值、目标与差距，填报指标报表（每县一行）。"""
    from yidan.reports.indicator_form import write_indicator_outputs
    from yidan.runs.rundir import RunDir
    from yidan.settings import load_run_config

    cfg = load_run_config(config).indicators
    run = RunDir(run_dir).require_complete()
    before = RunDir(previous).require_complete() if previous else None
    book, missing, maps = write_indicator_outputs(run, out, previous=before, config=cfg, boundaries=boundaries)
    print_outcome(book, missing, maps)


def print_outcome(book: Path, missing: dict[str, str], maps: list[Path]) -> None:
    from yidan.reports.indicator_defs import BY_CODE

    console.print(f"[green]指标报表：[/]{book}（每县一行，{len(BY_CODE) - len(missing)} 项指标）")
    for code, why in missing.items():
        console.print(f"[yellow]{BY_CODE[code].name}[/] {why}")
    if maps:
        console.print(f"[green]分县地图 {len(maps)} 幅：[/]{maps[0].parent}")

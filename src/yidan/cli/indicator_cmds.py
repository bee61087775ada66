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
    import pyarrow.parquet as pq

    from yidan.outfiles import atomic_output, output_dir
    from yidan.reports.indicator_defs import BY_CODE
    from yidan.reports.indicator_form import write_indicator_form
    from yidan.reports.indicator_targets import compute_targets, not_computed
    from yidan.runs.rundir import RunDir
    from yidan.settings import load_run_config

    cfg = load_run_config(config).indicators
    run = RunDir(run_dir).require_complete()
    before = RunDir(previous).require_complete() if previous else None
    geo = None
    if boundaries is not None:
        from yidan.reports.indicator_map import load_boundaries

        geo = load_boundaries(boundaries)  # a bad file stops here, before anything is written
    table = compute_targets(run, before, cfg)
    folder = output_dir(out)
    with atomic_output(folder / "indicator_targets.parquet") as tmp:
        pq.write_table(table, tmp)
    maps: list[Path] = []
    missing = not_computed(table)
    if geo is not None:
        from yidan.reports.indicator_map import map_png, map_regions, map_svg

        (folder / "maps").mkdir(exist_ok=True)
        for code, ind in BY_CODE.items():
            if code in missing:
                continue
            regions = map_regions(table, code)
            svg = map_svg(geo, regions, title=ind.name)
            with atomic_output(folder / "maps" / f"{code}.svg") as tmp:
                tmp.write_text(svg, encoding="utf-8")
            maps.append(map_png(geo, regions, folder / "maps" / f"{code}.png", title=f"{ind.name}（{run.term}）"))
    book = write_indicator_form(table, run, folder / f"指标报表_{run.term}.xlsx", maps=maps)
    console.print(f"[green]指标报表：[/]{book}（每县一行，{len(BY_CODE) - len(missing)} 项指标）")
    for code, why in missing.items():
        console.print(f"[yellow]{BY_CODE[code].name}[/] {why}")
    if maps:
        console.print(f"[green]分县地图 {len(maps)} 幅：[/]{folder / 'maps'}")

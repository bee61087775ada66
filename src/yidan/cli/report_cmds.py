"""`yidan report`, `yidan verify-import`, `yidan sample`: parse options, call the reports, print in Chinese."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from yidan.cli.app import app

console = Console()


@app.command("report")
def report(
    run_dir: Annotated[Path, typer.Argument(help="比对结果目录（yidan run --out）")],
    out: Annotated[Path, typer.Option("--out", help="输出目录")],
    level: Annotated[str, typer.Option("--level", help="county（每县一份）、city（每市州一份）或 province（全省一份）")] = "county",
    previous: Annotated[list[Path] | None, typer.Option("--previous", help="上一次（及更早）的比对结果目录，由近及远，用于劝返、辍学和销号指标")] = None,
    charts: Annotated[bool, typer.Option("--charts/--no-charts", help="是否绘制指标图表")] = True,
    pdf: Annotated[bool, typer.Option("--pdf", help="只生成可打印的走访台账 PDF（每村或每校一份，见 --by）")] = False,
    by: Annotated[str, typer.Option("--by", help="走访台账分组：village（每村一份）或 school（每校一份）")] = "village",
    indicators: Annotated[bool, typer.Option("--indicators", help="同时填报教育指标报表（目标、差距；同 yidan indicators）")] = False,
    boundaries: Annotated[Path | None, typer.Option("--boundaries", help="县界 GeoJSON（与 --indicators 一起绘制分县地图）")] = None,
) -> None:
    """生成一单工作簿（每县一份，或市州、全省汇总）、指标 indicators.parquet、指标汇总工作簿和图表；
    加 --pdf 时生成走访台账 PDF。"""
    if pdf:
        _visit_books(run_dir, out, by)
        return
    from yidan.reports import compute_indicators, draw_charts, write_workbooks
    from yidan.reports.fonts import cjk_font_family
    from yidan.reports.indicators import write_indicator_workbook
    from yidan.runs.rundir import RunDir

    run = RunDir(run_dir).require_complete()
    history = [RunDir(p).require_complete() for p in previous or []]
    if charts:
        cjk_font_family()  # a missing font stops here, before anything is written
    paths = write_workbooks(run, out, level)
    console.print(f"[green]已生成一单工作簿 {len(paths)} 份：[/]{out}")
    table = compute_indicators(run, history or None)
    import pyarrow.parquet as pq

    from yidan.outfiles import atomic_output

    with atomic_output(out / "indicators.parquet") as tmp:
        pq.write_table(table, tmp)
    book = write_indicator_workbook(table, run, out / f"指标汇总_{run.term}.xlsx")
    console.print(f"[green]指标：[/]{out / 'indicators.parquet'}，{book.name}")
    if charts:
        drawn = draw_charts(table, out / "charts", level="county" if level == "county" else "city")
        console.print(f"[green]图表 {len(drawn) // 2} 幅（PNG 与 SVG）：[/]{out / 'charts'}")
    if indicators:  # issue 17: the declared indicators with targets (yidan.reports.indicator_defs)
        from yidan.cli.indicator_cmds import print_outcome
        from yidan.reports.indicator_form import write_indicator_outputs

        print_outcome(*write_indicator_outputs(run, out, previous=history[0] if history else None,
                                               boundaries=boundaries))


def _visit_books(run_dir: Path, out: Path, by: str) -> None:
    import time

    from yidan.reports.fonts import cjk_font_file
    from yidan.reports.visits import write_visit_books
    from yidan.runs.rundir import RunDir

    run = RunDir(run_dir).require_complete()
    cjk_font_file()  # a missing font stops here, before anything is written
    started = time.perf_counter()
    paths = write_visit_books(run, out, by)
    unit = "村" if by == "village" else "校"
    console.print(f"[green]已生成走访台账 {len(paths)} 份（每{unit}一份，{time.perf_counter() - started:.1f} 秒）：[/]{out}")


@app.command("verify-import")
def verify_import(
    workbooks: Annotated[list[Path], typer.Argument(help="各县交回的一单工作簿（可多个）")],
    run_dir: Annotated[Path, typer.Option("--run", help="导出这些工作簿的比对结果目录")],
    out: Annotated[Path, typer.Option("--out", help="核实结果文件（.xlsx 或 .csv），下一次 yidan run --verifications 使用")],
) -> None:
    """导入各县交回的工作簿：逐行校验核实结论，写出核实结果文件和退回问题工作簿。"""
    from yidan.reports import import_verifications
    from yidan.runs.rundir import RunDir

    result = import_verifications(list(workbooks), RunDir(run_dir), out)
    console.print(
        f"已填写 {result.filled} 行 = 接收 {result.accepted} 行 + 退回 {result.returned} 行；"
        f"写出核实结果 {result.written} 条：{result.verifications}"
    )
    if result.aid or result.aid_returned:
        console.print(f"其中资助问题：接收 {result.aid_written} 行，退回 {result.aid_returned} 行"
                      "（“已补发”“已追回”须填写金额、日期和凭证号，“情况属实无需处理”须填写政策依据，“数据错误”须填写错误的字段）")
    if result.aid:
        console.print(f"资助问题的核实结论 {result.aid_written} 条另存：{result.aid}（网页“上传工作簿”时连同补发、追回记入案件）")
    for path in result.unreadable:
        console.print(f"[red]无法读取：[/]{path}")
    if result.returned or result.unreadable:
        console.print(f"[yellow]退回的行及原因见：[/]{result.problems}（请修改后重新导入）")


@app.command("sample")
def sample(
    run_dir: Annotated[Path, typer.Argument(help="比对结果目录")],
    size: Annotated[int, typer.Option("--size", help="样本量（人）")],
    out: Annotated[Path, typer.Option("--out", help="样本工作簿（.xlsx）")],
    by: Annotated[str, typer.Option("--by", help="分层：county（县）、city（市州）或 status（就学状态）")] = "county",
    seed: Annotated[int, typer.Option("--seed", help="随机种子：相同结果与种子必得相同样本")] = 1,
) -> None:
    """抽取可复现的分层抽样核查名单（按比例分配，方法与各层人数写在封面）。"""
    from yidan.reports import draw_sample
    from yidan.runs.rundir import RunDir

    result = draw_sample(RunDir(run_dir), size, by, seed, out)
    console.print(f"[green]已抽取 {result.size} 人（{len(result.strata)} 层，种子 {seed}）：[/]{result.path}")

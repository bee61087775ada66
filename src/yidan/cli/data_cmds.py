"""CLI commands for input data: `yidan template` (empty XLSX templates) and `yidan check` (validate files).

Thin on purpose: parse the options, call `yidan.ingest`, print in Chinese with Rich.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable

from yidan.cli.app import app
from yidan.contract import TABLES
from yidan.errors import YidanError
from yidan.ingest.check import check_files, write_rejects
from yidan.ingest.template import write_templates

console = Console()


def _fail(exc: YidanError) -> typer.Exit:
    console.print(f"[bold red]错误：[/]{exc.message}")
    if exc.hint:
        console.print(f"[yellow]处理建议：[/]{exc.hint}")
    return typer.Exit(2)


@app.command("template")
def template(
    out: Annotated[Path, typer.Option("--out", "-o", help="模板写入的文件夹")] = Path("templates"),
) -> None:
    """为每张输入表生成一个空白 Excel 模板（含列说明、下拉选项，身份证号等列为文本格式）。"""
    try:
        paths = write_templates(out)
    except YidanError as exc:  # a read-only or full folder: outfiles names it and says what to do
        raise _fail(exc) from None
    console.print(f"已生成 {len(paths)} 个模板，位于 {out}：")
    for p in paths:
        console.print(f"  {p.name}")


@app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="要检查的文件（CSV、XLSX 或 Parquet），可多个")],
    table: Annotated[str, typer.Option("--table", "-t", help="表名：" + "、".join(TABLES))],
    encoding: Annotated[str | None, typer.Option("--encoding", help="CSV 编码（默认自动识别）")] = None,
    rejects: Annotated[Path | None, typer.Option(
        "--rejects", help="拒绝行写到哪里（写出同名 .csv 和 .xlsx；默认写在第一个文件旁边）")] = None,
) -> None:
    """按数据规范检查文件：统计读入、可用、拒绝的行数，并写出拒绝的行及原因。有拒绝行时退出码为 1。"""
    try:
        report = check_files(table, files, encoding=encoding)
    except YidanError as exc:
        raise _fail(exc) from None
    summary = RichTable(title=f"{TABLES[report.table].label}（{report.table}）检查结果")
    for head in ("文件", "编码", "读入行数", "可用", "拒绝"):
        summary.add_column(head, justify="right" if head not in ("文件", "编码") else "left")
    for f in report.files:
        summary.add_row(f.path, f.encoding or "-", f"{f.read:,}", f"{f.loaded:,}", f"{f.rejected:,}")
    if len(report.files) > 1:
        summary.add_row("合计", "", f"{report.read:,}", f"{report.loaded:,}", f"{report.rejected:,}")
    console.print(summary)
    for note in report.notes:
        console.print(f"[yellow]提示：[/]{note}")
    if not report.rejected:
        console.print(f"[green]全部 {report.read:,} 行可用。[/]")
        return
    reasons = RichTable(title="最常见的拒绝原因")
    for head in ("列", "原因", "行数"):
        reasons.add_column(head)
    for column, reason, n in report.top_reasons:
        reasons.add_row(column, reason, f"{n:,}")
    console.print(reasons)
    base = rejects or files[0].with_name(files[0].stem + ".rejects")
    try:
        csv_path, xlsx_path = write_rejects(report, base)
    except OSError as exc:
        raise _fail(YidanError(f"无法写入拒绝行文件 {base}：{exc.strerror}",
                               hint="请用 --rejects 指定一个有写入权限的位置。")) from None
    console.print(f"共拒绝 {report.rejected:,} 行，明细已写入：{csv_path} 和 {xlsx_path}")
    raise typer.Exit(1)

"""`yidan demo`: the whole system on a generated county, end to end.

Generates a county, runs the comparison with the aid audit of two terms, writes the
county workbooks, and serves the web application with one demo account per role.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from yidan.cli.app import app

console = Console()


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="演示数据与结果的目录")] = Path("demo"),
    preset: Annotated[str, typer.Option("--preset", help="模拟数据规模：tiny / county")] = "county",
    seed: Annotated[int, typer.Option("--seed", help="随机种子")] = 2021,
    host: Annotated[str, typer.Option("--host", help="网页应用监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="网页应用端口")] = 8000,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="完成后是否启动网页应用")] = True,
    config: Annotated[Path | None, typer.Option("--config", help="配置文件 yidan.toml（与 yidan run 相同）")] = None,
) -> None:
    """演示：生成一个县的模拟数据，完整比对（含两个学期的资助核查），生成县级工作簿，并启动网页应用。"""
    from yidan.services.demo import run_demo

    result = run_demo(out=out, preset=preset, seed=seed, config=config, progress=lambda msg: console.print(f"[cyan]▶[/] {msg}"))

    console.print(f"\n[bold green]演示数据与比对结果已生成：[/]{result.out}")
    console.print(f"  比对结果目录：{result.run_dir}")
    console.print(f"  县级工作簿：{len(result.workbooks)} 个，位于 {result.workbooks_dir}")
    if result.summary_lines:
        for line in result.summary_lines:
            console.print(f"  {line}")
    table = Table(title="演示账号（仅用于演示，正式使用前请删除）")
    for col in ("角色", "用户名", "密码", "管辖区域"):
        table.add_column(col)
    for acc in result.accounts:
        table.add_row(acc.role_label, acc.username, acc.password, acc.region_label)
    console.print(table)
    if not serve:
        console.print(f"启动网页应用：yidan serve --database-url {result.database_url}")
        return
    console.print(f"[bold]网页应用：[/]http://{host}:{port}/    （按 Ctrl+C 停止）")
    from yidan.web.server import serve as serve_app

    serve_app(database_url=result.database_url, host=host, port=port, data_dir=result.out)

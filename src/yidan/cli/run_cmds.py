"""`yidan init`, `yidan run`, `yidan diff`: parse options, call the service, print in Chinese."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from yidan.cli.app import app
from yidan.errors import ConfigError
from yidan.outfiles import atomic_output, output_dir

console = Console()



@app.command("init")
def init(
    directory: Annotated[Path, typer.Argument(help="要生成配置文件的目录")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="覆盖已有的 yidan.toml")] = False,
) -> None:
    """生成带注释的默认配置 yidan.toml（以及资助项目示例 policies_example.csv）。"""
    output_dir(directory)
    target = directory / "yidan.toml"
    if target.exists() and not force:
        raise ConfigError(f"配置文件已存在：{target}", hint="改用其他目录，或加 --force 覆盖。")
    data = resources.files("yidan") / "data"
    with atomic_output(target) as tmp:
        tmp.write_text((data / "yidan.toml").read_text(encoding="utf-8"), encoding="utf-8")
    console.print(f"[green]已生成配置文件：[/]{target}")
    for name in ("policies_example.csv", "policies_example_说明.txt"):  # the catalog and its annotations
        example = data / name
        dest = directory / name
        if example.is_file() and (not dest.exists() or force):
            with resources.as_file(example) as src, atomic_output(dest) as tmp:
                shutil.copyfile(src, tmp)
            console.print(f"[green]已复制资助项目示例：[/]{dest}（按本省政策修改后用 --policies 指定）")


@app.command("run")
def run(
    term: Annotated[str, typer.Option("--term", help="比对学期，如 2021春")],
    registry: Annotated[list[Path], typer.Option("--registry", help="建档立卡人口文件（可多次指定）")],
    enrollment: Annotated[list[Path], typer.Option("--enrollment", help="学籍文件（可多次指定）")],
    out: Annotated[Path, typer.Option("--out", help="比对结果目录")],
    out_of_province: Annotated[list[Path] | None, typer.Option("--out-of-province", help="省外学籍核查结果")] = None,
    verifications: Annotated[list[Path] | None, typer.Option("--verifications", help="各县核实结果")] = None,
    aid: Annotated[list[Path] | None, typer.Option("--aid", help="资助发放明细")] = None,
    policies: Annotated[list[Path] | None, typer.Option("--policies", help="资助项目（政策）表")] = None,
    audit_terms: Annotated[str | None, typer.Option("--audit-terms", help="资助核查学期，如 2020秋..2021春")] = None,
    targets: Annotated[list[Path] | None, typer.Option("--targets", help="其他资助对象名单（民政、残联等）")] = None,
    allow_missing_terms: Annotated[bool, typer.Option(
        "--allow-missing-terms", help="回头看学期中没有学籍数据的学期不核查（结果中注明），而不是停止运行")] = False,
    link_decisions: Annotated[list[Path] | None, typer.Option("--link-decisions", help="匹配复核结论")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="配置文件 yidan.toml")] = None,
    schools: Annotated[list[Path] | None, typer.Option("--schools", help="学校（园）名录（可选，用于指标）")] = None,
    classes: Annotated[list[Path] | None, typer.Option("--classes", help="班级与在班人数（可选，用于指标）")] = None,
    population: Annotated[list[Path] | None, typer.Option("--population", help="分年龄人口（可选，用于指标）")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="CSV 编码（默认自动识别），如 gb18030")] = None,
    engine: Annotated[str | None, typer.Option("--engine", help="计算引擎：duckdb（默认）或 spark")] = None,
    spark_master: Annotated[str | None, typer.Option("--spark-master", help="Spark 主节点，如 local[4]、spark://host:7077、yarn")] = None,
    memory_limit: Annotated[str | None, typer.Option("--memory-limit", help="DuckDB 内存上限，如 4GB（超出部分写入磁盘）")] = None,
    spill_dir: Annotated[Path | None, typer.Option("--spill-dir", help="DuckDB 溢出（临时）目录")] = None,
) -> None:
    """运行一次比对：读入、身份匹配、判定就学状态、核查资助，写出结果目录。"""
    from yidan.identity.terms import parse_term, term_range
    from yidan.pipeline.context import RunInputs
    from yidan.pipeline.run import run_comparison
    from yidan.services.runconfig import run_config

    run_term = parse_term(term)
    audit = term_range(audit_terms) if audit_terms else []
    cfg = run_config(config, engine=engine, spark_master=spark_master, memory_limit=memory_limit, spill_dir=spill_dir)
    inputs = RunInputs(
        registry=list(registry), enrollment=list(enrollment), out_of_province=list(out_of_province or []),
        verifications=list(verifications or []), aid=list(aid or []), policies=list(policies or []),
        link_decisions=list(link_decisions or []), targets=list(targets or []), encoding=encoding,
        schools=list(schools or []), classes=list(classes or []), population=list(population or []),
    )
    from yidan.pipeline.steps import STEPS

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, transient=False,
    ) as bar:
        task = bar.add_task("准备", total=len(STEPS) + 1)
        seen: list[str] = []

        def progress(label: str) -> None:
            if seen:
                bar.advance(task)
            seen.append(label)
            bar.update(task, description=label)

        result = run_comparison(inputs, term=run_term, out_dir=out, config=cfg, audit_terms=audit, progress=progress,
                                allow_missing_terms=allow_missing_terms)
        bar.update(task, completed=len(STEPS) + 1, description="完成")
    print_summary(result)


def print_summary(run) -> None:  # noqa: ANN001 - RunDir
    from yidan.contract.codes import FINDING_CODES, STATUSES

    m = run.manifest
    totals = m.get("totals", {})
    console.print(f"\n[bold green]比对完成[/]（{m['term']}，结果目录：{run.path}）")
    for note in m.get("recovered", []):
        console.print(f"  [yellow]提示：[/]{note}")
    for f in m.get("inputs", []):
        console.print(f"  {f['table']}：{f['path']} 读入 {f['read']} 行，载入 {f['loaded']}，拒收 {f['rejected']}")
    st = Table(title="学龄儿童就学状态")
    st.add_column("状态")
    st.add_column("人数", justify="right")
    by_status = totals.get("by_status", {})
    for code, label in STATUSES.items():
        if by_status.get(code):
            st.add_row(label, str(by_status[code]))
    st.add_row("[bold]合计[/]", f"[bold]{totals.get('persons', 0)}[/]")
    console.print(st)
    ft = Table(title="问题清单（一单）")
    ft.add_column("代码")
    ft.add_column("问题")
    ft.add_column("条数", justify="right")
    by_finding = totals.get("by_finding", {})
    for code, fc in FINDING_CODES.items():
        if by_finding.get(code):
            ft.add_row(code, fc.label, str(by_finding[code]))
    ft.add_row("", "[bold]合计[/]", f"[bold]{totals.get('findings', 0)}[/]")
    console.print(ft)
    audit = (m.get("notes") or {}).get("audit") or {}
    for label, why in (audit.get("not_audited_reasons") or {}).items():
        console.print(f"[yellow]资助学期 {label} 未核查：{why}。[/]")
    if totals.get("rejected"):
        console.print(f"[yellow]有 {totals['rejected']} 行输入被拒收，原因见 {run.path / 'rejects.parquet'}。[/]")
    missing = [k for k, why in (run.manifest.get("indicators") or {}).items() if why]
    if missing:  # issue 17: the optional schools / classes / population tables
        console.print(f"[yellow]{len(missing)} 项教育指标缺少输入表、无法计算（原因见 yidan indicators）。[/]")


@app.command("diff")
def diff(
    old: Annotated[Path, typer.Argument(help="上一次比对的结果目录")],
    new: Annotated[Path, typer.Argument(help="本次比对的结果目录")],
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="变化清单工作簿（默认写在本次结果目录下）")] = None,
    show: Annotated[int, typer.Option("--show", help="每类在屏幕上列出的条数")] = 10,
) -> None:
    """比较两次比对：新增辍学、复学、复学后再次辍学、新增与已销号的问题。"""
    from yidan.runs import RunDir
    from yidan.runs.diff import SHEETS, diff_runs, write_diff_xlsx

    d = diff_runs(RunDir(old), RunDir(new))
    console.print(f"[bold]上次：[/]{d.old.run_id}（{d.old.term}）  [bold]本次：[/]{d.new.run_id}（{d.new.term}）")
    summary = Table(title="两次比对之间的变化")
    summary.add_column("变化")
    summary.add_column("数量", justify="right")
    for label, n in d.labelled_counts():
        summary.add_row(label, str(n))
    console.print(summary)
    for name, (title, columns) in SHEETS.items():
        table = getattr(d, name)
        if not table.num_rows or show <= 0:
            continue
        t = Table(title=f"{title}（前 {min(show, table.num_rows)} 条，共 {table.num_rows} 条）")
        present = [c for c in columns if c in table.column_names and c not in ("finding_key", "evidence")]
        for c in present:
            t.add_column(columns[c])
        for row in table.slice(0, show).to_pylist():
            t.add_row(*["" if row[c] is None else str(row[c]) for c in present])
        console.print(t)
    target = xlsx or (d.new.path / "diff.xlsx")
    write_diff_xlsx(d, target)
    console.print(f"[green]变化清单已写入：[/]{target}")

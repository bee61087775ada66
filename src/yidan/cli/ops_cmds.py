"""Operators' commands (issue 22): `yidan worker`, `yidan db backup|restore|check`, `yidan config show`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from yidan.cli.app import app
from yidan.cli.web_cmds import DbOption, db_app

console = Console()
config_app = typer.Typer(help="运行配置（配置文件与 YIDAN_ 环境变量）。", no_args_is_help=True)
app.add_typer(config_app, name="config")


def _settings(database_url: str | None):  # type: ignore[no-untyped-def]
    from yidan.settings import get_app_settings

    return get_app_settings(**({"database_url": database_url} if database_url else {}))


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command("worker")
def worker(
    database_url: DbOption = None,
    once: Annotated[bool, typer.Option("--once", help="只取一个任务（或处理到期租约）后退出")] = False,
) -> None:
    """后台工作进程：从数据库的任务队列领取比对、发布等任务（可与多个网页进程同时运行）。"""
    from yidan.jobs.worker import run_worker
    from yidan.store.db import check_at_head, make_engine

    settings = _settings(database_url)
    check_at_head(make_engine(settings.database_url))
    w = settings.worker
    console.print(f"[bold]工作进程：[/]{_where(settings.database_url)}  租约 {w.lease_seconds:g} 秒，"
                  f"心跳 {w.heartbeat_seconds:g} 秒（按 Ctrl+C 停止）")
    run_worker(settings, once=once)


@db_app.command("backup")
def db_backup(
    out: Annotated[Path, typer.Option("--out", help="备份文件（不会覆盖已有文件）")],
    database_url: DbOption = None,
) -> None:
    """备份数据库（SQLite：在线一致性复制；PostgreSQL：pg_dump 自定义格式）。"""
    from yidan.store.backup import backup, row_counts
    from yidan.store.db import make_engine

    engine = make_engine(_settings(database_url).database_url)
    path = backup(engine, out)
    total = sum(row_counts(engine).values())
    console.print(f"[green]已备份到 {path}（{path.stat().st_size:,} 字节，共 {total:,} 行）。[/]")


@db_app.command("restore")
def db_restore(
    source: Annotated[Path, typer.Argument(help="yidan db backup 写出的备份文件")],
    database_url: DbOption = None,
) -> None:
    """把备份恢复到一个空数据库（不会覆盖已有数据）。"""
    from yidan.store.backup import restore, row_counts
    from yidan.store.db import make_engine, schema_revisions

    engine = make_engine(_settings(database_url).database_url)
    restore(engine, source)
    engine = make_engine(_settings(database_url).database_url)
    current, head = schema_revisions(engine)
    console.print(f"[green]已恢复 {source}：共 {sum(row_counts(engine).values()):,} 行。[/]")
    if current != head:
        console.print(f"[yellow]备份的数据库结构版本是 {current}，程序要求 {head}：请接着运行 yidan db upgrade。[/]")


@db_app.command("check")
def db_check(database_url: DbOption = None) -> None:
    """检查数据库：结构是否最新、各表行数、数据目录中无主的比对或上传目录、比对目录是否缺失。"""
    from yidan.store.backup import check
    from yidan.store.db import make_engine

    settings = _settings(database_url)
    report = check(make_engine(settings.database_url), settings.data_dir)
    mark = "[green]最新[/]" if report.current == report.head else "[red]需要升级：运行 yidan db upgrade[/]"
    console.print(f"数据库：{_where(settings.database_url)}")
    console.print(f"结构版本：{report.current or '未初始化'}（程序要求 {report.head}）{mark}")
    for table, n in report.counts.items():
        console.print(f"  {table}：{n:,} 行")
    for d in report.orphan_dirs:
        console.print(f"[yellow]无主目录（没有比对记录指向它）：{d}[/]")
    for run_pk, path in report.missing_dirs:
        console.print(f"[red]比对 {run_pk} 的结果目录不存在：{path}[/]")
    if report.ok:
        console.print("[green]检查通过。[/]")
    else:
        raise typer.Exit(1)


SECRET_WORDS = ("secret", "password", "token", "key")


def settings_rows(settings) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every setting as (YIDAN_ variable, value), secrets hidden: a URL's password, anything named like a secret."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, data: dict) -> None:  # type: ignore[type-arg]
        for name, value in data.items():
            key = f"{prefix}{name}"
            if isinstance(value, dict):
                walk(f"{key}__", value)
                continue
            shown = "" if value is None else str(value)
            if name == "database_url" and shown:
                shown = _where(shown)
            elif any(w in name.lower() for w in SECRET_WORDS) and shown:
                shown = "******"
            rows.append((f"YIDAN_{key.upper()}", shown))

    walk("", settings.model_dump())
    return rows


@config_app.command("show")
def config_show(database_url: DbOption = None) -> None:
    """列出全部运行配置（来自配置文件、.env 和 YIDAN_ 环境变量），密码等机密信息隐去。"""
    import os

    from yidan.settings import SETTINGS_FILE_ENV

    settings = _settings(database_url)
    console.print(f"配置文件（{SETTINGS_FILE_ENV}）：{os.environ.get(SETTINGS_FILE_ENV) or '未设置'}")
    for name, value in settings_rows(settings):
        console.print(f"{name}={value}", markup=False, highlight=False)
    mode = settings.worker.resolved_mode(settings.database_url)
    console.print(f"任务模式：{mode}（{'网页进程内置工作线程' if mode == 'inprocess' else '独立的 yidan worker 进程'}）")

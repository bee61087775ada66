"""`yidan worker`: take queued jobs (runs, publishing) from the application database until stopped."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from yidan.cli.app import app

console = Console()


@app.command("worker")
def worker(
    database_url: Annotated[str | None, typer.Option("--database-url", help="数据库地址（默认取 YIDAN_DATABASE_URL）")] = None,
    once: Annotated[bool, typer.Option("--once", help="只取一个任务（或处理到期租约）后退出")] = False,
) -> None:
    """后台工作进程：从数据库的任务队列领取比对、发布等任务（可与多个网页进程同时运行）。"""
    from yidan.jobs.worker import run_worker
    from yidan.settings import get_app_settings
    from yidan.store.db import check_at_head, make_engine

    settings = get_app_settings(**({"database_url": database_url} if database_url else {}))
    check_at_head(make_engine(settings.database_url))
    w = settings.worker
    console.print(f"[bold]工作进程：[/]{settings.database_url.split('@')[-1]}  租约 {w.lease_seconds:g} 秒，"
                  f"心跳 {w.heartbeat_seconds:g} 秒（按 Ctrl+C 停止）")
    run_worker(settings, once=once)

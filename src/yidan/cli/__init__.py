"""CLI entry point: commands parse options, call a service, print. No logic here.

Each command group lives in its own module and registers on `app`. Whatever goes wrong reaches the
user as one Chinese message and an exit status other than 0, never a traceback: a `YidanError` as
it is, a file-system failure (read-only, disk full, permission) with the file and what to do, and an
unexpected error with where its details were logged (`YIDAN_DEBUG=1` shows the traceback instead).
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape

# command modules (imported for their registration side effect)
from yidan.cli import (  # noqa: E402,F401,I001,E501
    data_cmds,
    demo_cmd,
    indicator_cmds,
    inspect_cmds,
    ops_cmds,
    report_cmds,
    run_cmds,
    synth_cmds,
    web_cmds,
)
from yidan.cli.app import app
from yidan.errors import YidanError
from yidan.outfiles import file_error, os_error_in

console = Console(stderr=True)
DEBUG_ENV = "YIDAN_DEBUG"
LOG_DIR_ENV = "YIDAN_LOG_DIR"
EXIT_ERROR = 2  # the user can fix it (input, option, file system)
EXIT_BUG = 3  # yidan itself failed: the log goes to support


def say_error(exc: YidanError) -> None:
    console.print(f"[bold red]错误：[/]{escape(exc.message)}")
    if exc.hint:
        console.print(f"[yellow]处理建议：[/]{escape(exc.hint)}")


def log_unexpected(exc: BaseException) -> Path | None:
    """Write the traceback of an unexpected error to a log file; its path, or None if none could be written."""
    folder = Path(os.environ.get(LOG_DIR_ENV) or tempfile.gettempdir())
    path = folder / f"yidan-error-{datetime.now():%Y%m%dT%H%M%S}-{os.getpid()}.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        text = "".join(traceback.format_exception(exc))
        path.write_text(f"yidan {' '.join(sys.argv[1:])}\n\n{text}", encoding="utf-8")
    except OSError:
        return None
    return path


def main() -> None:
    try:
        code = app(standalone_mode=False)
        if code == 130:  # typer turns Ctrl+C into exit status 130 without a word
            console.print("[red]已中断，本次操作未完成。[/]")
        if isinstance(code, int) and code:
            sys.exit(code)  # a command's own exit status (e.g. `check` found rejects)
    except YidanError as exc:
        say_error(exc)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        console.print("[red]已中断。[/]")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click's usage errors arrive here too
        import click

        if isinstance(exc, click.exceptions.Abort):
            console.print("[red]已取消。[/]")
            sys.exit(1)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if os.environ.get(DEBUG_ENV):
            raise
        cause = os_error_in(exc)
        if cause is not None:
            say_error(file_error(cause))
            sys.exit(EXIT_ERROR)
        log = log_unexpected(exc)
        where = f"详细信息已写入 {log}" if log else "无法写出错误日志"
        say_error(YidanError(
            f"程序内部错误（{type(exc).__name__}），本次操作未完成。",
            hint=f"{where}；请把它和所用的命令交给技术支持。设置环境变量 {DEBUG_ENV}=1 可在屏幕上看到详细信息。",
        ))
        sys.exit(EXIT_BUG)


__all__ = ["app", "main"]

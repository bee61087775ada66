"""CLI entry point: commands parse options, call a service, print. No logic here.

Each command group lives in its own module and registers on `app`.
"""

from __future__ import annotations

import sys

from rich.console import Console

# command modules (imported for their registration side effect)
from yidan.cli import data_cmds, demo_cmd, report_cmds, run_cmds, synth_cmds, web_cmds  # noqa: E402,F401,I001
from yidan.cli.app import app
from yidan.errors import YidanError

console = Console(stderr=True)


def main() -> None:
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)  # a command's own exit status (e.g. `check` found rejects)
    except YidanError as exc:
        console.print(f"[bold red]错误：[/]{exc.message}")
        if exc.hint:
            console.print(f"[yellow]处理建议：[/]{exc.hint}")
        sys.exit(2)
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
        raise


__all__ = ["app", "main"]

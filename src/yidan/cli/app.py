"""The Typer application object; command modules register on it."""

import typer

app = typer.Typer(
    name="yidan",
    help="一单式教育扶贫比对系统：建档立卡人口与学籍、学生资助逐人比对，按县生成一单并对账销号。",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

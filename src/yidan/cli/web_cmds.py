"""`yidan serve`, `yidan user add|passwd|disable|logout|unlock`, `yidan db upgrade`: parse, call, print."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from yidan.cli.app import app
from yidan.store.roles import ROLES

console = Console()

user_app = typer.Typer(help="网页应用账号：创建、改密码、停用、结束会话、解除登录等待。", no_args_is_help=True)
db_app = typer.Typer(help="网页应用数据库。", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(db_app, name="db")

DbOption = Annotated[str | None, typer.Option("--database-url", help="数据库地址（默认取 YIDAN_DATABASE_URL 或 sqlite:///yidan.db）")]


def _sessions(database_url: str | None):  # type: ignore[no-untyped-def]
    from yidan.settings import get_app_settings
    from yidan.store.db import make_engine, session_factory, upgrade

    settings = get_app_settings(**({"database_url": database_url} if database_url else {}))
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return session_factory(engine)


def _password(value: str | None) -> str:
    from yidan.web.security import check_password_strength

    password = value or typer.prompt("密码", hide_input=True, confirmation_prompt="再输入一次")
    check_password_strength(password)
    return password


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="端口")] = 8000,
    database_url: DbOption = None,
) -> None:
    """启动网页应用（默认 SQLite；给出 postgresql+psycopg://… 则使用 PostgreSQL）。"""
    from yidan.settings import get_app_settings
    from yidan.web.server import serve as run_server

    settings = get_app_settings(**({"database_url": database_url} if database_url else {}))
    mode = settings.worker.resolved_mode(settings.database_url)
    how = "本进程内置工作线程执行比对" if mode == "inprocess" else "比对由独立的 yidan worker 进程执行"
    console.print(f"[bold]网页应用：[/]http://{host}:{port}/    任务模式：{mode}（{how}）    （按 Ctrl+C 停止）")
    run_server(database_url=database_url, host=host, port=port)


@db_app.command("upgrade")
def db_upgrade(database_url: DbOption = None) -> None:
    """把数据库结构升级到当前版本（Alembic 迁移）。"""
    _sessions(database_url)
    console.print("[green]数据库结构已是最新版本。[/]")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="账号")],
    role: Annotated[str, typer.Option("--role", help=" / ".join(f"{k}（{v}）" for k, v in ROLES.items()))],
    region: Annotated[str, typer.Option("--region", help="地区代码：省 2 位、市州 4 位、县 6 位")],
    name: Annotated[str, typer.Option("--name", help="显示名称")] = "",
    password: Annotated[str | None, typer.Option("--password", help="密码（不给则提示输入）")] = None,
    database_url: DbOption = None,
) -> None:
    """创建账号（第一个省级管理员也用它创建）。"""
    from yidan.store.crud import users
    from yidan.store.db import session_scope
    from yidan.web.security import hash_password

    sessions = _sessions(database_url)
    with session_scope(sessions) as s:
        users.check_role_region(role, region)
        user = users.create_user(s, username=username, password_hash=hash_password(_password(password)), role=role,
                                 region=region, display_name=name)
        console.print(f"[green]已创建账号 {user.username}（{user.role_label}，地区 {user.region}）。[/]")


@user_app.command("passwd")
def user_passwd(
    username: Annotated[str, typer.Argument(help="账号")],
    password: Annotated[str | None, typer.Option("--password", help="新密码（不给则提示输入）")] = None,
    database_url: DbOption = None,
) -> None:
    """重设密码（同时结束该账号的全部会话，并解除登录等待）。"""
    from yidan.store.crud import logins, users
    from yidan.store.db import session_scope
    from yidan.web.security import hash_password

    sessions = _sessions(database_url)
    with session_scope(sessions) as s:
        user = users.require_by_username(s, username=username)
        users.set_password(s, user=user, password_hash=hash_password(_password(password)))
        logins.forget_account(s, account=username)
    console.print(f"[green]已重设 {username} 的密码：该账号的全部会话已结束，登录等待已解除。[/]")


@user_app.command("disable")
def user_disable(
    username: Annotated[str, typer.Argument(help="账号")],
    enable: Annotated[bool, typer.Option("--enable", help="重新启用")] = False,
    database_url: DbOption = None,
) -> None:
    """停用账号（--enable 重新启用）。停用后其会话和接口令牌立即失效。"""
    from yidan.store.crud import users
    from yidan.store.db import session_scope

    sessions = _sessions(database_url)
    with session_scope(sessions) as s:
        user = users.require_by_username(s, username=username)
        users.set_disabled(s, user=user, disabled=not enable)
    console.print(f"[green]账号 {username} 已{'启用' if enable else '停用'}。[/]")


@user_app.command("logout")
def user_logout(
    username: Annotated[str, typer.Argument(help="账号")],
    database_url: DbOption = None,
) -> None:
    """结束账号在所有浏览器上的会话（怀疑账号被他人使用时）。"""
    from yidan.store.crud import sessions as web_sessions
    from yidan.store.crud import users
    from yidan.store.db import session_scope

    sessions = _sessions(database_url)
    with session_scope(sessions) as s:
        user = users.require_by_username(s, username=username)
        n = web_sessions.end_all(s, user=user, reason="admin")
    console.print(f"[green]已结束 {username} 的 {n} 个会话，其浏览器需要重新登录。[/]")


@user_app.command("unlock")
def user_unlock(
    username: Annotated[str, typer.Argument(help="账号")],
    database_url: DbOption = None,
) -> None:
    """解除账号因密码输错过多而产生的登录等待。"""
    from yidan.store.crud import logins
    from yidan.store.db import session_scope

    sessions = _sessions(database_url)
    with session_scope(sessions) as s:
        n = logins.forget_account(s, account=username)
    console.print(f"[green]已解除 {username} 的登录等待（清除 {n} 项失败计数），可以立即重新登录。[/]")

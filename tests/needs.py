"""What some tests need from the machine: the PostgreSQL server, the system Chromium, Java and pyspark.

Outside CI a test whose need is missing is skipped, and the skip says what is missing and how to get
it. In CI (the `CI` environment variable set, as `.ci/run` does) nothing may be skipped for that
reason: the run fails with the same message, so a server that is down cannot turn a green build into
one that tested nothing. Tests declare their need with a marker (`postgres`, `browser`, `spark`);
`conftest.py` checks each need once, for the markers the collected tests carry.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from functools import cache
from pathlib import Path

import pytest

PG_URL = os.environ.get("YIDAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CHROMIUM = Path("/usr/bin/chromium")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@cache
def postgres_problem() -> str | None:
    """Why the PostgreSQL tests cannot run (None when the server answers)."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as c:
                c.execute(text("select 1"))
        finally:
            engine.dispose()
    except Exception as e:  # any failure to connect is the answer, whatever the driver raises
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return (f"PostgreSQL 无法连接（{PG_URL}：{first[:200]}）；请启动数据库服务，"
                "或用 YIDAN_TEST_PG_URL 指向可用的服务器")
    return None


@cache
def chromium_problem() -> str | None:
    if CHROMIUM.exists():
        return None
    return f"没有系统 Chromium（{CHROMIUM}）；请运行 scripts/system-deps.sh 安装"


@cache
def java_problem() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") or (java_home and (Path(java_home) / "bin" / "java").exists()):
        return None
    return "没有 Java（Spark 本地模式需要 Java 17）；请运行 scripts/system-deps.sh 安装，或设置 JAVA_HOME"


@cache
def pyspark_problem() -> str | None:
    if importlib.util.find_spec("pyspark") is not None:
        return None
    return "没有安装 pyspark；请运行 make dev 安装开发依赖"


def spark_problem() -> str | None:
    return pyspark_problem() or java_problem()


PROBLEM_BY_MARKER = {"postgres": postgres_problem, "browser": chromium_problem, "spark": spark_problem}


def ci_message(problems: list[str]) -> str:
    return ("CI 环境缺少测试所需的软件，不能跳过这些测试：\n" + "\n".join(f"  - {p}" for p in problems)
            + "\n（本机开发时没有 CI 变量，这些测试会被跳过并说明原因。）")


def skip_reason(problem: str) -> str:
    return f"跳过：{problem}"


def require(problem: str | None) -> None:
    """In a test, fixture or at module level: fail in CI, otherwise skip, when `problem` is not None."""
    if problem is None:
        return
    if in_ci():
        pytest.fail(ci_message([problem]), pytrace=False)
    pytest.skip(skip_reason(problem), allow_module_level=True)


@cache
def container_problem() -> str | None:
    """Why the container recipe cannot be built and started here (None when docker and compose answer).

    Deliberately NOT in PROBLEM_BY_MARKER and never passed to `require`: building the image needs a
    container runtime with its daemon (and the base images or a registry), which CI machines need not
    have, so the container test is skipped with this reason everywhere, CI included (issue 22)."""
    import subprocess

    if shutil.which("docker") is None:
        return "没有 docker 命令（容器测试只在装有容器运行环境的机器上进行）"
    for args, what in ((["docker", "info"], "docker 守护进程无法连接"), (["docker", "compose", "version"], "没有 docker compose 插件")):
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{what}（{type(exc).__name__}）"
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()
            return f"{what}（{last[-1][:160] if last else done.returncode}）"
    return None

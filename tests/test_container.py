"""The container recipe (issue 22): the image builds, runs as a non-root user, and the compose file's
PostgreSQL, schema upgrade, web application and worker come up ready.

Not part of CI's required path: where docker, its daemon or the compose plugin is missing the test is
skipped with that reason, in CI too (tests/needs.py: `container_problem` is deliberately outside the
no-skip rule). Where they are present it builds the image from the package index or, with
YIDAN_TEST_WHEELS=folder, from a wheel folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

import needs

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "yidan:test-issue22"


def _sh(*args: str, timeout: float = 1800, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_image_builds_runs_unprivileged_and_the_compose_stack_gets_ready() -> None:
    problem = needs.container_problem()
    if problem:
        pytest.skip(needs.skip_reason(problem))
    wheels = os.environ.get("YIDAN_TEST_WHEELS")
    _sh("docker", "build", *(["--build-arg", f"WHEELS={wheels}"] if wheels else []), "-t", IMAGE, ".")
    assert _sh("docker", "run", "--rm", IMAGE, "id", "-u").strip() == "10001"
    assert _sh("docker", "run", "--rm", IMAGE, "sh", "-c", "command -v gcc cc || echo none").strip() == "none"
    env = {**os.environ, "YIDAN_IMAGE": IMAGE, "YIDAN_DB_PASSWORD": "test-only-password", "COMPOSE_PROJECT_NAME": "yidan-test22"}
    compose = ["docker", "compose", "-f", str(ROOT / "deploy" / "compose.yaml")]
    try:
        _sh(*compose, "up", "-d", "--no-build", env=env, timeout=600)
        deadline, answer = time.monotonic() + 180, None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen("http://127.0.0.1:8000/readyz", timeout=5) as r:  # noqa: S310
                    answer = json.loads(r.read())
                    break
            except OSError:
                time.sleep(2)
        assert answer is not None and answer["ready"], answer
        assert answer["checks"]["worker"].startswith("ok")
    finally:
        subprocess.run([*compose, "down", "-v"], cwd=ROOT, env=env, capture_output=True, timeout=300, check=False)

"""`yidan run --out DIR` never destroys what it did not make (issue 12, items 1 and 9).

DIR must be absent, empty or an earlier run directory; a lock keeps a second run out; a kill between
the two final renames is repaired by the next run. The reproductions of the issue, as a user meets them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_yidan
from yidan.errors import RunError
from yidan.outfiles import OutputError
from yidan.pipeline.context import Step
from yidan.runs import RunDir

FIXTURES = Path(__file__).parent / "fixtures" / "outdir"
USER_FILE = FIXTURES / "县里交回的说明.txt"
SRC = Path(__file__).parents[1] / "src"


def _boom(ctx):
    raise ValueError("步骤出错")


run_cli = run_yidan  # `yidan ARGS` in-process as a user types it: exit status and the screen


def run_args(files: dict[str, list[Path]], out: Path) -> list[str]:
    return ["run", "--term", "2021春", "--registry", str(files["registry"][0]),
            "--enrollment", str(files["enrollment"][0]), "--out", str(out)]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_users_file_in_out_survives_and_the_run_is_refused(classify_case_named, case_files, tmp_path,
                                                             monkeypatch, capsys):
    files = case_files(classify_case_named("unmatched"), tmp_path / "in")
    out = tmp_path / "结果"
    out.mkdir()
    shutil.copy(USER_FILE, out / USER_FILE.name)
    code, text = run_cli(monkeypatch, capsys, run_args(files, out))
    assert code != 0
    assert "县里交回的说明.txt" in text and "不是 yidan run 写出的结果目录" in text and "未运行" in text
    assert "Traceback" not in text
    assert (out / USER_FILE.name).read_bytes() == USER_FILE.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_out_naming_the_input_folder_is_refused_and_every_input_is_intact(classify_case_named, case_files, tmp_path,
                                                                         monkeypatch, capsys):
    folder = tmp_path / "数据"
    files = case_files(classify_case_named("verified_out_of_province_unconfirmed"), folder)
    before = snapshot(folder)
    code, text = run_cli(monkeypatch, capsys, [*run_args(files, folder), "--verifications",
                                               str(files["verifications"][0])])
    assert code != 0
    assert "输入文件位于结果目录之内" in text and "registry.csv" in text
    assert snapshot(folder) == before


def test_an_input_inside_an_earlier_run_directory_is_refused(rule_case_runner, classify_case_named, case_files,
                                                             tmp_path):
    case = classify_case_named("unmatched")
    out = tmp_path / "run"
    rule_case_runner(case, out=out)
    files = case_files(case, out / "in")  # the user keeps new inputs inside the old result folder
    with pytest.raises(OutputError, match="输入文件位于结果目录之内"):
        rule_case_runner(case, out=out, input_dir=out / "in")
    assert files["registry"][0].is_file() and RunDir(out).complete


def test_out_naming_an_existing_file_is_refused_and_the_file_is_left_where_it_was(classify_case_named, case_files,
                                                                                  tmp_path, monkeypatch, capsys):
    files = case_files(classify_case_named("unmatched"), tmp_path / "in")
    target = tmp_path / "结果.txt"
    shutil.copy(USER_FILE, target)
    code, text = run_cli(monkeypatch, capsys, run_args(files, target))
    assert code != 0
    assert "是一个已有的文件" in text
    assert target.read_bytes() == USER_FILE.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "结果.txt"]


def test_an_earlier_run_or_an_empty_folder_is_replaced(rule_case_runner, classify_case_named, tmp_path):
    case = classify_case_named("unmatched")
    out = tmp_path / "run"
    out.mkdir()
    rule_case_runner(case, out=out)
    (out / "diff.xlsx").write_bytes(b"written by yidan diff")  # yidan diff's default workbook may be there
    second = rule_case_runner(case, out=out)
    assert second.complete
    assert not (out / "diff.xlsx").exists()  # the whole folder was replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run-input"]


def test_a_users_file_added_to_an_earlier_run_directory_is_never_deleted(rule_case_runner, classify_case_named,
                                                                         tmp_path):
    case = classify_case_named("unmatched")
    out = tmp_path / "run"
    rule_case_runner(case, out=out)
    shutil.copy(USER_FILE, out / USER_FILE.name)
    with pytest.raises(OutputError, match="不是比对写出的文件：县里交回的说明.txt"):
        rule_case_runner(case, out=out)
    assert (out / USER_FILE.name).read_bytes() == USER_FILE.read_bytes()
    assert RunDir(out).complete


def test_a_second_run_into_the_same_out_is_refused_naming_the_first(classify_case_named, case_files, tmp_path,
                                                                    monkeypatch, capsys):
    files = case_files(classify_case_named("unmatched"), tmp_path / "in")
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    first = subprocess.Popen([sys.executable, str(FIXTURES / "hold_run_lock.py"), str(out)], stdout=subprocess.PIPE,
                             text=True, env=env)
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "locked"
        code, text = run_cli(monkeypatch, capsys, run_args(files, out))
    finally:
        first.kill()
        first.wait()
    assert code != 0
    assert "另一次比对正在写入结果目录" in text and f"进程 {first.pid}" in text and "开始于 20" in text
    assert not out.exists()


def test_a_lock_left_by_a_dead_run_is_taken_over(rule_case_runner, classify_case_named, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = tmp_path / ".run.lock"
    lock.write_text(json.dumps({"pid": int(dead.stdout), "started_at": "2021-03-01T08:00:00+00:00"}),
                    encoding="utf-8")
    run = rule_case_runner(classify_case_named("unmatched"), out=tmp_path / "run")
    assert run.complete
    assert not lock.exists()


def test_a_kill_between_the_two_final_renames_is_repaired_at_the_next_start(classify_case_named, case_files,
                                                                            rule_case_runner, tmp_path):
    case = classify_case_named("unmatched")
    out = tmp_path / "run"
    earlier = rule_case_runner(case, out=out).manifest  # read now: RunDir reads lazily
    files = case_files(classify_case_named("enrollment_suspended_dropped_deceased"), tmp_path / "in")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    killed = subprocess.run([sys.executable, str(FIXTURES / "kill_between_renames.py"), *run_args(files, out)],
                            env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == 137, killed.stderr[-2000:]
    assert not out.exists()  # the state a kill leaves: the earlier run aside, the new one still hidden
    assert len(list(tmp_path.glob(".run.old-*"))) == 1 and len(list(tmp_path.glob(".run.tmp-*"))) == 1
    # the next start (here one that fails) puts the earlier run back and clears the leftovers
    with pytest.raises(RunError):
        rule_case_runner(case, out=out, extra_steps=(Step("x", "出错的步骤", _boom),))
    restored = RunDir(out).manifest
    assert restored["status"] == "complete" and restored["totals"] == earlier["totals"] == {
        "persons": 1, "by_status": {"UNMATCHED": 1}, "findings": 1, "by_finding": {"K01": 1}, "rejected": 0}
    assert restored["run_id"] == earlier["run_id"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".run")] == []


def test_out_missing_after_a_kill_is_restored_and_the_user_is_told(rule_case_runner, classify_case_named,
                                                                  case_files, tmp_path, monkeypatch, capsys):
    case = classify_case_named("unmatched")
    out = tmp_path / "run"
    rule_case_runner(case, out=out)
    out.rename(tmp_path / ".run.old-4194303")  # what a kill between the renames left
    files = case_files(case, tmp_path / "in")
    code, text = run_cli(monkeypatch, capsys, run_args(files, out))
    assert code == 0 and "比对完成" in text
    assert f"提示：恢复了上次被中断时移开的结果目录 {out}" in text
    assert RunDir(out).complete
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".run")] == []


def test_on_a_share_without_flock_a_live_holders_pid_still_keeps_a_second_run_out(tmp_path, monkeypatch):
    import errno
    import fcntl
    import socket

    from yidan.runs.outdir import RunLock

    def no_flock(*_args):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_flock)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    lock = tmp_path / ".run.lock"
    try:
        lock.write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(), "started_at": "2021-03-01"}),
                        encoding="utf-8")
        with pytest.raises(OutputError, match=f"进程 {holder.pid}，开始于 2021-03-01"):
            RunLock(tmp_path / "run").acquire()
    finally:
        holder.kill()
        holder.wait()
    taken = RunLock(tmp_path / "run").acquire()  # the holder is gone: its lock is taken over
    assert json.loads(lock.read_text(encoding="utf-8"))["pid"] == os.getpid()
    taken.release()
    assert not lock.exists()


def test_where_the_kernel_swaps_folders_a_kill_during_the_commit_never_leaves_out_missing(
        classify_case_named, case_files, rule_case_runner, tmp_path):
    out = tmp_path / "run"
    earlier = rule_case_runner(classify_case_named("unmatched"), out=out).manifest["totals"]
    files = case_files(classify_case_named("enrollment_suspended_dropped_deceased"), tmp_path / "in")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    killed = subprocess.run([sys.executable, str(FIXTURES / "kill_after_swap.py"), *run_args(files, out)],
                            env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == 137 and "killed at" in killed.stderr, killed.stderr[-2000:]
    new = RunDir(out)  # swapped in one step: the new run is already in place
    assert new.complete and new.manifest["totals"]["by_status"] == {"DECEASED": 1, "DROPPED_OUT": 1, "SUSPENDED": 1}
    (left,) = tmp_path.glob(".run.tmp-*")
    assert RunDir(left).manifest["totals"] == earlier  # the replaced run, not yet removed
    rule_case_runner(classify_case_named("unmatched"), out=out)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".run")] == []


def test_an_out_written_with_dot_dot_names_the_folder_it_points_to(rule_case_runner, classify_case_named, tmp_path):
    rule_case_runner(classify_case_named("unmatched"), out=tmp_path / "结果" / "sub" / "..", input_dir=tmp_path / "in")
    assert RunDir(tmp_path / "结果").complete
    assert sorted(p.name for p in (tmp_path / "结果").iterdir()) == sorted(
        ["manifest.json", "rejects.parquet", "persons.parquet", "links.parquet", "findings.parquet", "summary.parquet"])


RUN_OUTPUT_NAMES = ["rejects.parquet", "persons.parquet", "links.parquet", "findings.parquet", "summary.parquet",
                    "diff.xlsx"]
USER_NAMES = ["registry.csv", "说明.txt", "一单", ".hidden", "persons.parquet.bak", "manifest.json.bak"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.sets(st.sampled_from(RUN_OUTPUT_NAMES + USER_NAMES)), manifest=st.sampled_from(
    ["none", "run", "other json", "cut"]))
def test_whatever_out_holds_a_refused_run_changes_nothing_and_only_yidans_own_folders_are_accepted(
        tmp_path_factory, names, manifest):
    from yidan.pipeline.write import RunWriter

    base = tmp_path_factory.mktemp("prop")
    out = base / "run"
    out.mkdir()
    for n in names:
        (out / n).write_text(f"content of {n}", encoding="utf-8")
    if manifest != "none":
        text = {"run": '{"run_id": "x", "status": "complete"}', "other json": '{"name": "我的清单"}',
                "cut": '{"run_id": "x", "sta'}[manifest]
        (out / "manifest.json").write_text(text, encoding="utf-8")
    before = snapshot(base)
    # the oracle: an empty folder, or a run's manifest with nothing but a run's own files beside it
    acceptable = (not names and manifest == "none") or (manifest == "run" and names <= set(RUN_OUTPUT_NAMES))
    try:
        writer = RunWriter(out, {"run_id": "y", "term": "2021春"})
    except OutputError as exc:
        assert not acceptable, exc
        assert snapshot(base) == before and sorted(p.name for p in base.iterdir()) == ["run"]
    else:
        assert acceptable
        writer.fail(RuntimeError("测试"), {})
        writer.release()
    shutil.rmtree(base)

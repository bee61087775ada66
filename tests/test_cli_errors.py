"""Whatever goes wrong reaches the user as one Chinese line and an exit status other than 0, never a
traceback (issue 12, items 8 and 9): a read-only output folder for every command that writes, a full
disk, a killed report, and an unexpected bug (logged, with the log's path on screen)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from conftest import run_yidan
from reports_fixtures import build_run
from yidan.errors import RunError
from yidan.outfiles import OutputError
from yidan.pipeline.context import Step
from yidan.runs import RunDir


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return build_run(tmp_path_factory.mktemp("run") / "run", n_per_county=6)


@contextlib.contextmanager
def read_only(folder: Path):
    """`folder` made read-only for everyone, root included (chattr +i), as a locked-down share is."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        undo = ["chmod", "755", str(folder)]
    else:
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("this file system cannot make a folder read-only for root (chattr +i)")
        undo = ["chattr", "-i", str(folder)]
    try:
        yield folder
    finally:
        subprocess.run(undo, check=True)


def cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """`yidan ARGS` through the real entry point: exit status and the screen, line breaks removed."""
    return run_yidan(monkeypatch, capsys, list(args))


def full_disk(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def assert_one_chinese_error(code: int, text: str, *words: str) -> None:
    assert code == 2, text
    assert "Traceback" not in text and "Errno" not in text
    assert "错误：" in text and "处理建议：" in text
    for w in words:
        assert w in text, (w, text)


def test_run_into_a_read_only_folder_says_so_in_chinese(classify_case_named, case_files, tmp_path, monkeypatch,
                                                        capsys):
    files = case_files(classify_case_named("unmatched"), tmp_path / "in")
    with read_only(tmp_path / "只读") as ro:
        code, text = cli(monkeypatch, capsys, "run", "--term", "2021春", "--registry", str(files["registry"][0]),
                         "--enrollment", str(files["enrollment"][0]), "--out", str(ro / "结果"))
        assert list(ro.iterdir()) == []
    assert_one_chinese_error(code, text, "没有写入权限", str(ro), "换一个可写的输出位置")


def test_a_full_disk_fails_the_run_with_the_reason_and_keeps_the_earlier_complete_run(rule_case_runner,
                                                                                      classify_case_named,
                                                                                      tmp_path, monkeypatch):
    out = tmp_path / "run"
    earlier = rule_case_runner(classify_case_named("unmatched"), out=out).manifest  # read now: RunDir reads lazily
    import yidan.pipeline.write as write

    monkeypatch.setattr(write, "_copy_sorted", full_disk)  # the outputs' Parquet writer
    with pytest.raises(OutputError, match=f"磁盘空间不足，无法写入 {out}"):
        rule_case_runner(classify_case_named("enrollment_suspended_dropped_deceased"), out=out)
    kept = RunDir(out).manifest
    assert kept["status"] == "complete" and kept["totals"] == earlier["totals"]
    assert kept["totals"]["by_status"] == {"UNMATCHED": 1}
    failed = RunDir(tmp_path / "run.failed").manifest
    assert failed["status"] == "failed" and "磁盘空间不足" in failed["error"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_run_that_cannot_even_write_its_manifest_never_says_running_or_complete(rule_case_runner,
                                                                                  classify_case_named, tmp_path,
                                                                                  monkeypatch):
    import yidan.pipeline.write as write

    def disk_fills_at_the_end(self):
        if self.manifest["status"] != "running":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self)

    real = write.RunWriter.save_manifest
    monkeypatch.setattr(write.RunWriter, "save_manifest", disk_fills_at_the_end)
    with pytest.raises(OutputError, match="磁盘空间不足"):
        rule_case_runner(classify_case_named("unmatched"), out=tmp_path / "run")
    monkeypatch.undo()
    manifests = [json.loads(p.read_text(encoding="utf-8")) for p in tmp_path.rglob("manifest.json")]
    # the disk refuses even the failed manifest: no manifest at all rather than one saying running/complete
    assert [m["status"] for m in manifests] == []


def test_an_engine_that_runs_out_of_disk_is_reported_as_a_full_disk(rule_case_runner, classify_case_named, tmp_path):
    def spill_fails(ctx):
        raise RuntimeError('IO Error: Could not write file "/data/tmp/duckdb_temp_block-1.block": '
                           "No space left on device")

    with pytest.raises(OutputError, match="磁盘空间不足"):
        rule_case_runner(classify_case_named("unmatched"), out=tmp_path / "run",
                         extra_steps=(Step("x", "溢出写盘", spill_fails),))
    assert RunDir(tmp_path / "run").manifest["status"] == "failed"


def test_an_unreadable_input_names_the_file(rule_case_runner, classify_case_named, tmp_path):
    def denied(ctx):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(ctx.inputs.registry[0]))

    with pytest.raises(Exception, match="没有读取权限：.*registry.csv") as exc:
        rule_case_runner(classify_case_named("unmatched"), out=tmp_path / "run",
                         extra_steps=(Step("x", "读取", denied),))
    assert not isinstance(exc.value, RunError) and "读权限" in exc.value.hint


def test_report_into_a_read_only_folder_says_so_in_chinese(run, tmp_path, monkeypatch, capsys):
    with read_only(tmp_path / "一单") as ro:
        code, text = cli(monkeypatch, capsys, "report", str(run.path), "--out", str(ro), "--no-charts")
        assert list(ro.iterdir()) == []
    assert_one_chinese_error(code, text, "没有写入权限", "一单")


def test_report_out_naming_an_existing_file_is_refused_and_the_file_kept(run, tmp_path, monkeypatch, capsys):
    target = tmp_path / "一单.xlsx"
    target.write_bytes(b"a user's workbook")
    code, text = cli(monkeypatch, capsys, "report", str(run.path), "--out", str(target), "--no-charts")
    assert_one_chinese_error(code, text, "已有一个同名的文件", "一单.xlsx")
    assert target.read_bytes() == b"a user's workbook"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["一单.xlsx"]


def test_a_report_that_dies_leaves_no_broken_workbook_and_the_earlier_one_intact(run, tmp_path, monkeypatch,
                                                                                 capsys):
    out = tmp_path / "一单"
    code, _ = cli(monkeypatch, capsys, "report", str(run.path), "--out", str(out), "--no-charts")
    assert code == 0
    books = {p.name: p.read_bytes() for p in out.glob("*.xlsx")}
    import yidan.reports.workbook as workbook

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(workbook, "_write_meta", killed)  # dies inside the first workbook
    code, text = cli(monkeypatch, capsys, "report", str(run.path), "--out", str(out), "--no-charts")
    assert code == 130 and "已中断" in text
    assert {p.name: p.read_bytes() for p in out.glob("*.xlsx")} == books
    assert sorted(p.name for p in out.iterdir()) == sorted([*books, "indicators.parquet"])
    for name in books:
        assert zipfile.is_zipfile(out / name)


def test_report_on_a_full_disk_writes_no_workbook_under_its_real_name(run, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(zipfile.ZipFile, "write", full_disk)
    code, text = cli(monkeypatch, capsys, "report", str(run.path), "--out", str(tmp_path / "一单"), "--no-charts")
    assert_one_chinese_error(code, text, "磁盘空间不足", "_一单_2021春.xlsx")
    assert list((tmp_path / "一单").iterdir()) == []


def test_sample_into_a_read_only_folder_says_so_in_chinese(run, tmp_path, monkeypatch, capsys):
    with read_only(tmp_path / "抽样") as ro:
        code, text = cli(monkeypatch, capsys, "sample", str(run.path), "--size", "3", "--out", str(ro / "抽样.xlsx"))
        assert list(ro.iterdir()) == []
    assert_one_chinese_error(code, text, "抽样.xlsx")


def test_sample_on_a_full_disk_keeps_the_earlier_sample(run, tmp_path, monkeypatch, capsys):
    target = tmp_path / "抽样.xlsx"
    assert cli(monkeypatch, capsys, "sample", str(run.path), "--size", "3", "--out", str(target))[0] == 0
    before = target.read_bytes()
    monkeypatch.setattr(zipfile.ZipFile, "write", full_disk)
    code, text = cli(monkeypatch, capsys, "sample", str(run.path), "--size", "5", "--out", str(target))
    assert_one_chinese_error(code, text, "磁盘空间不足", "抽样.xlsx")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["抽样.xlsx"]


def test_verify_import_into_a_read_only_folder_says_so_in_chinese(run, tmp_path, monkeypatch, capsys):
    assert cli(monkeypatch, capsys, "report", str(run.path), "--out", str(tmp_path / "books"), "--no-charts")[0] == 0
    book = sorted((tmp_path / "books").glob("*.xlsx"))[0]
    wb = openpyxl.load_workbook(book)
    wb["控辍保学"]["O2"], wb["控辍保学"]["Q2"] = "失联", "2021-03-02"
    wb.save(tmp_path / "back.xlsx")
    with read_only(tmp_path / "核实") as ro:
        code, text = cli(monkeypatch, capsys, "verify-import", str(tmp_path / "back.xlsx"), "--run", str(run.path),
                         "--out", str(ro / "核实结果.xlsx"))
        assert list(ro.iterdir()) == []
    assert_one_chinese_error(code, text, "没有写入权限", "核实")


def test_diff_into_a_read_only_folder_says_so_in_chinese(run, tmp_path, monkeypatch, capsys):
    with read_only(tmp_path / "变化") as ro:
        code, text = cli(monkeypatch, capsys, "diff", str(run.path), str(run.path), "--xlsx", str(ro / "变化.xlsx"),
                         "--show", "0")
        assert list(ro.iterdir()) == []
    assert_one_chinese_error(code, text, "没有写入权限", "变化.xlsx")


def test_template_into_a_read_only_folder_says_so_in_chinese(tmp_path, monkeypatch, capsys):
    with read_only(tmp_path / "模板") as ro:
        code, text = cli(monkeypatch, capsys, "template", "--out", str(ro))
        assert list(ro.iterdir()) == []
    assert_one_chinese_error(code, text, "没有写入权限", "模板")


def test_template_on_a_full_disk_leaves_no_half_template(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(zipfile.ZipFile, "write", full_disk)
    code, text = cli(monkeypatch, capsys, "template", "--out", str(tmp_path / "模板"))
    assert_one_chinese_error(code, text, "磁盘空间不足")
    assert list((tmp_path / "模板").iterdir()) == []


def test_an_unexpected_bug_is_one_chinese_line_with_the_log_and_no_traceback(run, tmp_path, monkeypatch, capsys):
    import yidan.reports

    def bug(*_args, **_kwargs):
        return 1 / 0

    monkeypatch.setattr(yidan.reports, "write_workbooks", bug)
    monkeypatch.setenv("YIDAN_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("YIDAN_DEBUG", raising=False)
    code, text = cli(monkeypatch, capsys, "report", str(run.path), "--out", str(tmp_path / "一单"))
    assert code == 3
    assert "程序内部错误（ZeroDivisionError）" in text and "技术支持" in text and "YIDAN_DEBUG=1" in text
    assert "Traceback" not in text
    (log,) = (tmp_path / "logs").glob("yidan-error-*.log")
    assert str(log) in text
    assert "ZeroDivisionError" in log.read_text(encoding="utf-8") and "Traceback" in log.read_text(encoding="utf-8")


def test_with_yidan_debug_set_the_traceback_is_shown(run, tmp_path, monkeypatch, capsys):
    import yidan.reports

    monkeypatch.setattr(yidan.reports, "write_workbooks", lambda *a, **k: 1 / 0)
    monkeypatch.setenv("YIDAN_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli(monkeypatch, capsys, "report", str(run.path), "--out", str(tmp_path / "一单"))


def test_a_leftover_temporary_file_of_a_killed_write_is_removed_by_the_next_one(tmp_path):
    from yidan.outfiles import write_csv

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / f".名单.csv.tmp-{int(dead.stdout)}"
    left.write_bytes(b"half")
    write_csv(tmp_path / "名单.csv", ["姓名"], [["张三"]])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["名单.csv"]
    shutil.rmtree(tmp_path)


def test_a_run_whose_manifest_was_cut_off_is_a_chinese_error(tmp_path, monkeypatch, capsys):
    cut = Path(__file__).parent / "fixtures" / "outdir" / "manifest_cut.json"
    (tmp_path / "run").mkdir()
    shutil.copy(cut, tmp_path / "run" / "manifest.json")
    code, text = cli(monkeypatch, capsys, "report", str(tmp_path / "run"), "--out", str(tmp_path / "一单"))
    assert_one_chinese_error(code, text, "manifest.json 无法读取", "重新运行 yidan run")


def test_a_run_directory_left_aside_by_a_kill_is_pointed_to(run, tmp_path, monkeypatch, capsys):
    shutil.copytree(run.path, tmp_path / ".结果.old-4194303")
    code, text = cli(monkeypatch, capsys, "report", str(tmp_path / "结果"), "--out", str(tmp_path / "一单"))
    assert_one_chinese_error(code, text, "上一次比对被中断", ".结果.old-4194303", "会先恢复原来的结果")
    assert not (tmp_path / "一单").exists()


def test_diff_on_a_full_disk_keeps_no_half_workbook(run, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(zipfile.ZipFile, "write", full_disk)
    code, text = cli(monkeypatch, capsys, "diff", str(run.path), str(run.path), "--xlsx", str(tmp_path / "变化.xlsx"),
                     "--show", "0")
    assert_one_chinese_error(code, text, "磁盘空间不足", "变化.xlsx")
    assert list(tmp_path.iterdir()) == []

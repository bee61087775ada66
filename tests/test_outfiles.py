"""Files a user receives: written atomically, formula-safe, and failures said in Chinese."""

from __future__ import annotations

import csv
import errno
import os

import pytest
import xlsxwriter
from xlsxwriter.exceptions import FileCreateError

from yidan.outfiles import OutputError, atomic_output, os_error_in, output_error, write_csv


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_written_as_text(tmp_path):
    path = write_csv(tmp_path / "名单.csv", ["姓名", "备注"], [
        ["=HYPERLINK(\"http://x\")", "+86 138"], ["@SUM(A1)", "-1+2"], ["\tTAB", "张三"], ["王五", None],
    ])
    with path.open(encoding="utf-8-sig", newline="") as fh:
        got = list(csv.reader(fh))
    assert got == [["姓名", "备注"], ["'=HYPERLINK(\"http://x\")", "'+86 138"], ["'@SUM(A1)", "'-1+2"],
                   ["'\tTAB", "张三"], ["王五", ""]]


def test_a_failed_write_keeps_the_earlier_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "名单.csv"
    target.write_text("上次的名单\n", encoding="utf-8")
    with pytest.raises(ValueError), atomic_output(target) as tmp:
        tmp.write_text("写了一半", encoding="utf-8")
        raise ValueError("中途出错")
    assert target.read_text(encoding="utf-8") == "上次的名单\n"
    assert [p.name for p in tmp_path.iterdir()] == ["名单.csv"]


def test_a_workbook_that_cannot_be_saved_is_a_chinese_error_naming_the_file(tmp_path, monkeypatch):
    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("zipfile.ZipFile.write", full)
    target = tmp_path / "一单.xlsx"
    with pytest.raises(OutputError, match=f"磁盘空间不足，无法写入 {target}"), atomic_output(target) as tmp:
        wb = xlsxwriter.Workbook(str(tmp))
        wb.add_worksheet("封面").write_string(0, 0, "标题")
        wb.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("exc", "code"), [
    (FileCreateError(PermissionError(errno.EACCES, "Permission denied", "/x/一单.xlsx")), errno.EACCES),
    (RuntimeError("IO Error: No space left on device"), errno.ENOSPC),
    (RuntimeError("Read-only file system: /data"), errno.EROFS),
])
def test_the_file_system_failure_behind_a_librarys_exception_is_found(exc, code):
    found = os_error_in(exc)
    assert found is not None and found.errno == code


def test_an_error_that_is_not_about_files_is_not_taken_for_one():
    assert os_error_in(ValueError("金额格式不对")) is None


@pytest.mark.parametrize(("code", "words"), [
    (errno.ENOSPC, "磁盘空间不足"), (errno.EROFS, "没有写入权限"), (errno.EACCES, "没有写入权限"),
    (errno.ENOENT, "输出位置不存在"), (errno.EEXIST, "已有一个同名的文件"),
])
def test_each_cause_gets_its_own_chinese_message_and_next_step(code, words):
    err = output_error("/data/一单", OSError(code, os.strerror(code)))
    assert words in err.message and "/data/一单" in err.message and err.hint

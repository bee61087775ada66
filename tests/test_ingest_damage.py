"""Random byte-level damage to valid inputs: every file is loaded, partly rejected or refused in Chinese.

Whatever a failing disk, a cut download or a careless edit does to a CSV or an XLSX, the ingest
either accounts for every row it read (read = loaded + rejected, counted independently) or refuses
the file with a `YidanError` whose message is Chinese — never another exception, never a traceback.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from pathlib import Path

import duckdb
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yidan.errors import YidanError
from yidan.ingest import load_table

ROWS = [
    ["身份证号", "姓名", "性别", "出生日期", "户籍地区划代码", "人员类别", "认定日期", "联系电话"],
    ["430124200903150011", "张三", "男", "2009-03-15", "430124101201", "建档立卡", "2016-05-01", "13800000000"],
    ["430124201006200028", "李四娟", "女", "2010/6/20", "430124", "农村低保", "20160501", ""],
    ["430124201101010038", "王五", "", "", "430124", "建档立卡", "2016年5月1日", "0731-1234567"],
    ["430124200808080043", "欧阳晓", "男", "2008-08-08", "430124", "边缘易致贫", "2016-05-01", ""],
    ["430124200911110060", "钱七", "女", "2009-11-11", "430124", "特困供养", "2016-05-01", ""],
]
CJK = re.compile("[\u4e00-\u9fff]")


def _csv(encoding: str) -> bytes:
    text = "".join(",".join(f'"{v}"' if "," in v else v for v in row) + "\r\n" for row in ROWS)
    return text.encode(encoding)


def _xlsx() -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("名单")
    ws.write_row(0, 0, ["建档立卡人口名单（2021年春）"])
    for r, row in enumerate(ROWS, start=1):
        ws.write_row(r, 0, row)
    wb.close()
    return buf.getvalue()


VALID = {"utf-8.csv": _csv("utf-8"), "utf-8-sig.csv": b"\xef\xbb\xbf" + _csv("utf-8"),
         "gb18030.csv": _csv("gb18030"), "book.xlsx": _xlsx()}
INSERTS = [b"\x00", b"\r", b"\n", b'"', b",", b";", b"\xe5", b"\xff", b"\r\n\r\n", b'""', b"\xef\xbb\xbf"]


@st.composite
def damage(draw, data: bytes) -> bytes:
    """One to three edits: truncate, flip a byte, insert special bytes, delete a byte (cuts a multibyte character)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        if not out:
            break
        at = draw(st.integers(0, len(out) - 1))
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
        if kind == "truncate":
            del out[at:]
        elif kind == "flip":
            out[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            out[at:at] = draw(st.sampled_from(INSERTS))
        else:
            del out[at]
    return bytes(out)


def _rezip(book: bytes, sheet: bytes) -> bytes:
    """The workbook with its first sheet's XML replaced: a valid package around damaged XML."""
    src = zipfile.ZipFile(io.BytesIO(book))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info, sheet if info.filename == "xl/worksheets/sheet1.xml" else src.read(info.filename))
    return buf.getvalue()


def assert_accounted_or_refused_in_chinese(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        con = duckdb.connect()
        try:
            result = load_table(con, "registry", [path])
        except YidanError as exc:
            assert CJK.search(exc.message), exc.message
            return
        (stats,) = result.files
        loaded = con.execute("SELECT count(*) FROM registry").fetchall()[0][0]
        rejected = con.execute("SELECT count(DISTINCT row_number) FROM rejects").fetchall()[0][0]
        assert stats.read == stats.loaded + stats.rejected
        assert (stats.loaded, stats.rejected) == (loaded, rejected)
        con.close()


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.sampled_from(sorted(n for n in VALID if n.endswith(".csv"))).flatmap(
    lambda n: st.tuples(st.just(n), damage(VALID[n]))))
def test_a_damaged_csv_is_accounted_for_row_by_row_or_refused_in_chinese(case):
    name, data = case
    assert_accounted_or_refused_in_chinese(name, data)


@SETTINGS
@given(damage(VALID["book.xlsx"]))
def test_a_damaged_xlsx_file_is_refused_in_chinese_or_accounted_for(data):
    assert_accounted_or_refused_in_chinese("book.xlsx", data)


SHEET = zipfile.ZipFile(io.BytesIO(VALID["book.xlsx"])).read("xl/worksheets/sheet1.xml")


@SETTINGS
@given(damage(SHEET))
def test_damaged_sheet_xml_in_a_valid_package_is_refused_in_chinese_or_accounted_for(sheet):
    assert_accounted_or_refused_in_chinese("book.xlsx", _rezip(VALID["book.xlsx"], sheet))

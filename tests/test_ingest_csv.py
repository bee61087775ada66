"""CSV files as counties send them: any of three encodings, broken lines, blank lines, wrong headers.

Each test checks the rows a user would be told about (line numbers counting the header as line 1)
and that every line is accounted for: read = loaded + rejected."""

from pathlib import Path

import duckdb
import pytest

from yidan.errors import InputError
from yidan.ingest import load_table

HEADER = "身份证号,姓名,户籍地区划代码,人员类别,认定日期"
GOOD = [
    "430124200903150011,张三,430124,建档立卡,2016-05-01",
    "430124201006200028,李四,430124,农村低保,2016-05-01",
    "430124201101010038,王五,430124,特困供养,2016-05-01",
]


def write(tmp_path, lines, encoding="utf-8", name="registry.csv", newline="\n", end="\n"):
    path = tmp_path / name
    path.write_bytes((newline.join(lines) + end).encode(encoding))
    return path


def load(path, **kw):
    con = duckdb.connect()
    result = load_table(con, "registry", [path], **kw)
    rejects = con.execute('SELECT row_number, "column", reason FROM rejects ORDER BY row_number').fetchall()
    loaded = con.execute("SELECT _row, name FROM registry ORDER BY _row").fetchall()
    stats = result.files[0]
    assert stats.read == stats.loaded + stats.rejected
    return result, loaded, rejects


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_every_encoding_is_detected_and_names_read_back_intact(tmp_path, encoding):
    result, loaded, rejects = load(write(tmp_path, [HEADER, *GOOD], encoding=encoding))
    assert loaded == [(2, "张三"), (3, "李四"), (4, "王五")]
    assert rejects == []
    expected = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "gb18030": "gb18030", "gbk": "gb18030"}[encoding]
    assert result.files[0].encoding == expected


def test_windows_line_endings_are_read(tmp_path):
    _, loaded, _ = load(write(tmp_path, [HEADER, *GOOD], newline="\r\n", end="\r\n"))
    assert [n for _, n in loaded] == ["张三", "李四", "王五"]


def test_a_gb18030_header_read_as_utf8_is_a_clear_encoding_error(tmp_path):
    path = write(tmp_path, [HEADER, *GOOD], encoding="gb18030")
    with pytest.raises(InputError, match="编码"):
        load(path, encoding="utf-8")


def test_a_gb18030_file_read_as_utf8_is_rejected_row_by_row_never_silently_empty(tmp_path):
    path = write(tmp_path, ["id_number,name,hukou_code,category,recognized_on", *GOOD], encoding="gb18030")
    result, loaded, rejects = load(path, encoding="utf-8")
    assert result.files[0].read == 3 and loaded == []
    assert [r for r, _, _ in rejects] == [2, 3, 4]
    assert all("编码" in reason for _, _, reason in rejects)


def test_a_truncated_last_line_is_rejected_with_its_line_number(tmp_path):
    path = write(tmp_path, [HEADER, *GOOD, "430124200808080043,周九,4301"], end="")
    result, loaded, rejects = load(path)
    assert [r for r, _, _ in rejects] == [5]
    assert "截断" in rejects[0][2]
    assert (result.files[0].read, result.files[0].loaded) == (4, 3)


def test_rows_with_too_many_fields_are_rejected_and_later_rows_keep_their_line_numbers(tmp_path):
    lines = [HEADER, GOOD[0], GOOD[1] + ",多余,字段", GOOD[2], "430124200707070073,冯二"]
    _, loaded, rejects = load(write(tmp_path, lines))
    assert [(r, "字段数比表头多" in why) for r, _, why in rejects] == [(3, True), (5, False)]
    assert loaded == [(2, "张三"), (4, "王五")]


def test_blank_lines_are_skipped_but_keep_the_line_numbers_users_see(tmp_path):
    lines = [HEADER, GOOD[0], "", "", GOOD[1], "430124200808080043,,430124,建档立卡,2016-05-01", GOOD[2], ""]
    result, loaded, rejects = load(write(tmp_path, lines))
    assert loaded == [(2, "张三"), (5, "李四"), (7, "王五")]
    assert [(r, c) for r, c, _ in rejects] == [(6, "姓名")]
    assert result.files[0].read == 4


def test_title_lines_above_the_header_are_skipped(tmp_path):
    lines = ["建档立卡人口名单（2021年3月导出）", "", HEADER, GOOD[0], "4.30124E+17,赵六,430124,建档立卡,2016-05-01"]
    _, loaded, rejects = load(write(tmp_path, lines))
    assert loaded == [(4, "张三")]
    assert [(r, c) for r, c, _ in rejects] == [(5, "身份证号")]


def test_an_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "registry.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="空的"):
        load(path)


def test_a_file_with_only_a_header_loads_nothing_and_says_so(tmp_path):
    result, loaded, _ = load(write(tmp_path, [HEADER]))
    assert loaded == [] and result.files[0].read == 0
    assert any("只有表头" in n for n in result.notes)


def test_all_missing_required_columns_are_named_in_one_message_with_did_you_mean(tmp_path):
    path = write(tmp_path, ["身份证,姓名,户籍地区划代码,认定日期", "430124200903150011,张三,430124,2016-05-01"])
    with pytest.raises(InputError) as err:
        load(path)
    message = err.value.message
    assert "「身份证号」" in message and "「人员类别」" in message
    assert "「身份证」是否就是它" in message


def test_headers_match_after_trimming_and_full_width_and_by_english_alias(tmp_path):
    path = write(tmp_path, [" 身份证号 ,ＮＡＭＥ,hukou_code,人员　类别,recognized_on", GOOD[0]])
    _, loaded, rejects = load(path)
    assert loaded == [(2, "张三")] and rejects == []


def test_duplicate_headers_are_a_clear_error(tmp_path):
    path = write(tmp_path, [HEADER + ",id_number", GOOD[0] + ",430124200903150011"])
    with pytest.raises(InputError, match="重复"):
        load(path)


def test_extra_columns_are_ignored_and_reported_with_a_suggestion_when_misspelt(tmp_path):
    path = write(tmp_path, [HEADER + ",备注,联系电", GOOD[0] + ",无,13800000000"])
    result, loaded, _ = load(path)
    assert loaded == [(2, "张三")]
    assert any("备注" in n for n in result.notes)
    assert any("「联系电」" in n and "「联系电话」" in n for n in result.notes)


def test_several_files_make_one_table_with_accounting_per_file(tmp_path):
    a = write(tmp_path, [HEADER, GOOD[0], GOOD[1]], name="a.csv")
    b = write(tmp_path, [HEADER, GOOD[2], "4.30124E+17,赵六,430124,建档立卡,2016-05-01"], name="b.csv",
              encoding="gb18030")
    con = duckdb.connect()
    result = load_table(con, "registry", [a, b], name="reg")
    assert [(f.path, f.read, f.loaded, f.rejected) for f in result.files] == [(str(a), 2, 2, 0), (str(b), 2, 1, 1)]
    assert con.execute("SELECT file, row_number FROM rejects").fetchall() == [(str(b), 3)]
    assert len(result.files[0].sha256) == 64


def test_codes_are_read_as_text_so_leading_zeros_survive(tmp_path):
    # (a division code never starts with 0 — the table has none — but a village code holds zeros)
    lines = [HEADER + ",联系电话", "110105199912310081,楚四,110105001001,建档立卡,2016-05-01,01012345678"]
    con = duckdb.connect()
    load_table(con, "registry", [write(tmp_path, lines)])
    assert con.execute("SELECT hukou_code, phone FROM registry").fetchone() == ("110105001001", "01012345678")


def test_a_last_line_cut_inside_quotes_is_rejected_and_the_rest_loads(tmp_path):
    path = write(tmp_path, [HEADER, GOOD[0], '430124201006200028,"李四,430124'], end="")
    result, loaded, rejects = load(path)
    assert loaded == [(2, "张三")]
    assert [(r, "引号" in why) for r, _, why in rejects] == [(3, True)]


def test_a_line_break_inside_quotes_stops_with_a_clear_error_instead_of_misnumbering(tmp_path):
    path = write(tmp_path, [HEADER, '430124200903150011,"张', '三",430124,建档立卡,2016-05-01', GOOD[1]])
    with pytest.raises(InputError, match="对不上"):
        load(path)


def test_the_same_file_given_twice_is_refused_so_no_row_counts_double(tmp_path):
    path = write(tmp_path, [HEADER, GOOD[0]])
    with pytest.raises(InputError, match="两次"):
        load_table(duckdb.connect(), "registry", [path, path])


def test_a_utf8_line_after_the_first_megabyte_of_a_gbk_file_is_rejected_not_loaded_as_mojibake(tmp_path):
    # the case file's lines, with 30,000 GBK rows (1.6 MB) between the header and the UTF-8 line
    case = (Path(__file__).parent / "fixtures" / "ingest" / "cases" / "registry__mixed_encoding.csv").read_bytes()
    header, first, second, utf8_line, last = case.split(b"\n", 4)
    path = tmp_path / "建档立卡.csv"
    path.write_bytes(b"\n".join([header, first, *[second] * 30_000, utf8_line, last]))
    con = duckdb.connect()
    (stats,) = load_table(con, "registry", [path]).files
    assert (stats.encoding, stats.read, stats.loaded, stats.rejected) == ("gb18030", 30_003, 30_002, 1)
    ((row, value, reason),) = con.execute("SELECT row_number, value, reason FROM rejects").fetchall()
    assert (row, value) == (30_003, utf8_line.decode("utf-8").strip())  # shown as the clerk typed it: 张伟
    assert "UTF-8 编码" in reason and "另存为同一种编码" in reason
    names = {n for (n,) in con.execute("SELECT DISTINCT name FROM registry").fetchall()}
    assert names == {"张三", "李四", "王五"}


@pytest.mark.parametrize("case", ["registry__mixed_encoding.csv", "registry__cr_only.csv"])
def test_files_read_in_small_chunks_give_the_same_rows_and_line_numbers(tmp_path, monkeypatch, case):
    source = Path(__file__).parent / "fixtures" / "ingest" / "cases" / case
    whole = duckdb.connect()
    load_table(whole, "registry", [source])
    monkeypatch.setattr("yidan.ingest.scan.CHUNK", 7)  # every line crosses a chunk boundary
    chunked = duckdb.connect()
    load_table(chunked, "registry", [source])
    for sql in ("SELECT _row, name FROM registry ORDER BY _row", "SELECT * FROM rejects ORDER BY row_number"):
        assert chunked.execute(sql).fetchall() == whole.execute(sql).fetchall()
    assert whole.execute("SELECT count(*) FROM registry").fetchall()[0][0] > 0


def test_few_valued_columns_keep_their_text_order_and_compare_as_text(tmp_path):
    # category, township and village names and _file are stored as ENUMs (memory); the steps sort,
    # take min / max, compare and join them as text, so none of that may change
    head = HEADER + ",乡镇名称,村名称"
    lines = [head,
             "430124200903150011,张三,430124,特困供养,2016-05-01,龙山乡,大坝七社区",
             "430124201006200028,李四,430124,农村低保,2016-05-01,白沙镇,大坝七社区",
             "430124201101010038,王五,430124,建档立卡,2016-05-01,安化县城关镇,A村"]
    a, b = write(tmp_path, lines, name="b乙.csv"), write(tmp_path, [head, GOOD[0].replace("0011", "0027") + ",,"],
                                                      name="a甲.csv")
    con = duckdb.connect()
    load_table(con, "registry", [a, b])
    types = dict(con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'registry'")
                 .fetchall())
    assert all(types[c].startswith("ENUM") for c in ("category", "township_name", "village_name", "_file"))
    for col in ("category", "township_name", "village_name", "_file"):
        got = [r[0] for r in con.execute(f"SELECT {col} FROM registry WHERE {col} IS NOT NULL ORDER BY {col}")
               .fetchall()]
        assert got == sorted(got), col
        assert con.execute(f"SELECT max({col}), min({col}) FROM registry").fetchone() == (max(got), min(got))
    assert con.execute("SELECT count(*) FROM registry WHERE township_name = '没有这个乡'").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM registry WHERE category IN ('建档立卡', '其他')").fetchone() == (2,)
    joined = con.execute("SELECT count(*) FROM registry r JOIN (SELECT '白沙镇' AS t) x ON r.township_name = x.t")
    assert joined.fetchone() == (1,)
    assert con.execute("SELECT township_name || '/' || village_name FROM registry WHERE name = '王五'").fetchone() \
        == ("安化县城关镇/A村",)

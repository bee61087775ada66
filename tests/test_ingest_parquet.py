"""Parquet inputs: typed columns are validated like text, and a float ID is refused, not repaired."""

import datetime as dt

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from yidan.errors import InputError
from yidan.ingest import load_table


def test_parquet_columns_of_any_type_are_read_and_validated(tmp_path):
    path = tmp_path / "aid.parquet"
    pq.write_table(pa.table({
        "id_number": ["430124200903150011", "430124201006200028", "bad"],
        "programme_code": ["YW-JS-SHBZ"] * 3,
        "term": ["2020秋", "2020-2021学年第二学期", "2020秋"],
        "amount": pa.array([625.0, 312.5, 625.0]),
        "payer_county_code": ["430124", "430124", "430124"],
        "paid_on": [dt.date(2020, 10, 15), None, None],
    }), path)
    con = duckdb.connect()
    result = load_table(con, "aid", [path])
    assert con.execute("SELECT _row, term, CAST(amount AS VARCHAR), paid_on FROM aid ORDER BY _row").fetchall() == [
        (1, "2020秋", "625.00", dt.date(2020, 10, 15)), (2, "2021春", "312.50", None)]
    assert con.execute('SELECT row_number, "column" FROM rejects').fetchall() == [(3, "身份证号")]
    assert (result.files[0].read, result.files[0].loaded, result.files[0].rejected) == (3, 2, 1)


def test_an_id_stored_as_a_float_in_parquet_is_rejected(tmp_path):
    path = tmp_path / "verifications.parquet"
    pq.write_table(pa.table({"身份证号": pa.array([430124200903150011.0]), "核实结论": ["失联"],
                             "核实日期": ["2021-03-10"]}), path)
    con = duckdb.connect()
    load_table(con, "verifications", [path])
    assert con.execute('SELECT row_number, "column" FROM rejects').fetchall() == [(1, "身份证号")]


def test_a_parquet_file_missing_required_columns_is_refused_before_reading(tmp_path):
    path = tmp_path / "aid.parquet"
    pq.write_table(pa.table({"id_number": ["430124200903150011"], "amout": ["625"]}), path)
    with pytest.raises(InputError) as err:
        load_table(duckdb.connect(), "aid", [path])
    assert "「金额」" in err.value.message and "「amout」是否就是它" in err.value.message


def test_a_file_of_many_row_groups_is_validated_from_the_file_with_the_same_outcome(tmp_path):
    from yidan.ingest.parquet_reader import _streams_evenly

    n = 60
    data = pa.table({
        "身份证号": ["430124200903150011", "43012420090315001x", "4.30124E+17", " 430124090315001 "] * (n // 4),
        "资助项目代码": ["YW-JS-SHBZ"] * n,
        "学期": ["2020秋", "2021春", "2020-2021学年第二学期", "秋"] * (n // 4),
        "金额": ["625", "625.00", "-1", "1,000元"] * (n // 4),
        "发放地区划代码": ["430124", "４３０１２４", "43012", None] * (n // 4),
    })
    many, one = tmp_path / "many.parquet", tmp_path / "one.parquet"
    pq.write_table(data, many, row_group_size=6)
    pq.write_table(data, one)
    results = []
    for path in (many, one):
        con = duckdb.connect()
        con.execute("SET threads = 4")  # one row group on 4 threads: copied first; 10 of 6 rows: from the file
        assert _streams_evenly(con, path) is (path == many)
        stats = load_table(con, "aid", [path]).files[0]
        assert con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name LIKE '_yidan_%'").fetchone()[0] == 0
        results.append((
            (stats.read, stats.loaded, stats.rejected),
            con.execute("SELECT * EXCLUDE (_file) FROM aid ORDER BY _row").fetchall(),
            con.execute('SELECT row_number, "column", value, reason FROM rejects ORDER BY ALL').fetchall(),
        ))
    assert results[0] == results[1]
    assert results[0][0] == (n, n // 2, n // 2)


def test_clean_columns_with_empty_cells_load_as_missing_and_an_empty_term_takes_the_run_term(tmp_path):
    # every value of these columns is already clean (most real exports): they are read without a
    # dictionary join, and must still mean what the dictionary would have said
    path = tmp_path / "enrollment.parquet"
    pq.write_table(pa.table({
        "student_no": ["G430124200903150011", "G430124201006200028", "G430124201006200036"],
        "name": ["张三", "李四", "王五"],
        "gender": ["男", "女", ""],
        "birth_date": ["2009-03-15", "2010-06-20", "2010-06-20"],
        "school_code": ["4343000001"] * 3,
        "school_county_code": ["430124"] * 3,
        "stage": ["初中", "小学", "小学"],
        "enrollment_status": ["在读", "在读", "休学"],
        "attendance_mode": ["", "送教上门", ""],
        "status_date": ["", "", "2021-03-11"],
        "term": ["2020秋", "", None],
    }), path)
    con = duckdb.connect()
    load_table(con, "enrollment", [path], default_term="2021春")
    assert con.execute("SELECT gender, birth_date, attendance_mode, status_date, term FROM enrollment ORDER BY _row"
                       ).fetchall() == [
        ("男", dt.date(2009, 3, 15), None, None, "2020秋"),
        ("女", dt.date(2010, 6, 20), "送教上门", None, "2021春"),
        (None, dt.date(2010, 6, 20), None, dt.date(2021, 3, 11), "2021春"),
    ]
    assert con.execute("SELECT count(*) FROM rejects").fetchone() == (0,)

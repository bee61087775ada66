"""Value rules, driven by data files: tests/fixtures/ingest/cases/<table>__<name>.csv (or .xlsx) holds the
input and <table>__<name>.expected.csv the rows that must be refused (row as the user sees it, column,
a fragment of the Chinese reason). Every other row must load. A domain expert can add a case by adding
two files. An optional <table>__<name>.toml says what cannot be seen in the input itself:
`first_row` (the first data row, when title rows sit above the header), `read` (data rows, for a
workbook), `error` (fragments of the one Chinese message refusing the whole file; no .expected.csv).
Inputs that a text editor cannot keep are written by tests/fixtures/ingest/make_cases.py."""

import csv
import tomllib
from datetime import date
from pathlib import Path

import duckdb
import pytest
from stdnum.cn import ric

from yidan.errors import InputError
from yidan.ingest import load_table

CASES = Path(__file__).parent / "fixtures" / "ingest" / "cases"
INPUTS = sorted(p for p in CASES.iterdir()
                if p.suffix in (".csv", ".xlsx") and not p.name.endswith(".expected.csv"))


def expected_rejects(case: Path) -> list[dict]:
    with open(case.with_name(case.stem + ".expected.csv"), encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def options(case: Path) -> dict:
    sidecar = case.with_suffix(".toml")
    return tomllib.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else {}


def data_rows(case: Path, first_row: int = 2) -> int:
    """Non-empty lines below the header, counted on the bytes (any encoding; CR-only line ends too)."""
    data = case.read_bytes()
    lines = data.split(b"\n") if b"\n" in data else data.split(b"\r")
    return sum(1 for line in lines[first_row - 1:] if line.strip(b"\r"))


@pytest.mark.parametrize("case", INPUTS, ids=[p.stem for p in INPUTS])
def test_case_file_rejects_exactly_the_expected_rows_with_their_reasons(case):
    table = case.stem.split("__")[0]
    opts = options(case)
    con = duckdb.connect()
    if "error" in opts:
        with pytest.raises(InputError) as refused:
            load_table(con, table, [case], default_term="2021春")
        assert opts["error"], f"{case.name}: an error case names at least one fragment of the message"
        for fragment in opts["error"]:
            assert fragment in str(refused.value)
        return
    result = load_table(con, table, [case], default_term="2021春")
    got = con.execute('SELECT row_number, "column", reason FROM rejects ORDER BY row_number, "column"').fetchall()
    want = expected_rejects(case)
    assert sorted((r, c) for r, c, _ in got) == sorted((int(w["row"]), w["column"]) for w in want)
    reasons = {(r, c): reason for r, c, reason in got}
    for w in want:
        assert w["reason"] in reasons[(int(w["row"]), w["column"])]
    first = opts.get("first_row", 2)
    read = opts.get("read") or data_rows(case, first)
    rejected_rows = {int(w["row"]) for w in want}
    loaded_rows = {r for (r,) in con.execute(f'SELECT _row FROM "{table}"').fetchall()}
    assert loaded_rows == set(range(first, first + read)) - rejected_rows
    stats = result.files[0]
    assert (stats.read, stats.loaded, stats.rejected) == (read, len(loaded_rows), len(rejected_rows))


def load(case: str, **kw):
    con = duckdb.connect()
    table = case.split("__")[0]
    load_table(con, table, [CASES / f"{case}.csv"], **kw)
    return con


def test_registry_gender_and_birth_date_come_from_a_valid_id_when_empty():
    con = load("registry__values")
    row = con.execute("SELECT gender, birth_date FROM registry WHERE _row = 2").fetchone()
    assert row == ("男", date(2009, 3, 15))


def test_registry_keeps_an_invalid_id_and_flags_it():
    con = load("registry__values")
    assert con.execute("SELECT id_number, id_number_valid FROM registry WHERE _row = 3").fetchone() == (
        "430124200903150012", False)


def test_registry_converts_a_legacy_15_digit_id_and_reads_compact_and_serial_dates():
    con = load("registry__values")
    assert con.execute("SELECT id_number, id_number_valid, recognized_on FROM registry WHERE _row = 12"
                       ).fetchone() == ("430124190903150015", True, date(2016, 5, 1))
    assert con.execute("SELECT recognized_on FROM registry WHERE _row = 11").fetchone()[0] == date(2020, 9, 1)


def test_enrollment_terms_are_canonical_and_an_empty_term_is_the_runs_term():
    con = load("enrollment__values", default_term="2021春")
    terms = dict(con.execute("SELECT _row, term FROM enrollment").fetchall())
    assert terms[2] == "2021春"  # 2020-2021学年第二学期
    assert terms[3] == "2021春"  # empty
    assert con.execute("SELECT student_no FROM enrollment WHERE _row = 3").fetchone()[0] == "L2009031500001"


def test_aid_amounts_are_decimal_yuan_and_thousands_separators_are_read():
    con = load("aid__values")
    amounts = dict(con.execute("SELECT _row, CAST(amount AS VARCHAR) FROM aid").fetchall())
    assert amounts == {2: "625.00", 3: "1250.00", 10: "999999999999.99"}  # the largest amount that fits
    assert con.execute("SELECT typeof(amount) FROM aid LIMIT 1").fetchone()[0] == "DECIMAL(14,2)"


def test_policy_lists_are_split_on_either_separator_and_terms_are_canonical():
    con = load("policies__values")
    rows = con.execute("SELECT programme_code, stages, target_categories, first_term, last_term FROM policies "
                       "ORDER BY _row").fetchall()
    assert rows == [
        ("YW-JS-SHBZ", ["小学", "初中"], ["建档立卡", "农村低保", "特困供养"], "2019秋", None),
        ("GZ-ZXJ", ["高中"], ["建档立卡", "边缘易致贫"], "2019秋", "2021春"),
    ]


def _stdnum_valid(number: str) -> bool:
    try:
        return ric.is_valid(number)
    except KeyError:  # stdnum 2.2 raises for an unknown county of a known province
        return False


def test_ingest_flags_an_id_with_an_unknown_division_code_as_stdnum_does(tmp_path):
    """The check the ingest runs (joined with the division table) gives python-stdnum's verdict: a
    well-formed ID with a correct check character but a division code no one issued is invalid."""
    bodies = {"known county": "43012420090315001", "unknown county of a known province": "43019920090315001",
              "unknown province": "11999920090315001", "unknown province, all nines": "99999920090315001",
              "known county elsewhere": "11010520090315001"}
    ids = {why: body + ric.calc_check_digit(body + "0") for why, body in bodies.items()}
    path = tmp_path / "registry.csv"
    lines = ["身份证号,姓名,户籍地区划代码,人员类别,认定日期"]
    lines += [f"{number},孩子{i},430124101201,建档立卡,2016-05-01" for i, number in enumerate(ids.values())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    con = duckdb.connect()
    load_table(con, "registry", [path])
    got = dict(con.execute("SELECT id_number, id_number_valid FROM registry").fetchall())
    want = {number: _stdnum_valid(number) for number in ids.values()}
    assert got == want
    assert want[ids["unknown county of a known province"]] is False and want[ids["known county"]] is True

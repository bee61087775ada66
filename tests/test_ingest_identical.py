"""The same bytes under two names are one set of rows: refused before anything is loaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from yidan.errors import InputError
from yidan.identity.terms import parse_term
from yidan.ingest import load_table
from yidan.pipeline.context import RunInputs
from yidan.pipeline.run import run_comparison
from yidan.settings import RunConfig

CASES = Path(__file__).parent / "fixtures" / "ingest" / "cases"


def copy(case: str, to: Path) -> Path:
    to.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CASES / case, to)
    return to


def test_an_aid_file_sent_twice_under_two_names_is_refused_naming_both(tmp_path):
    a = copy("aid__values.csv", tmp_path / "资助发放_2020秋.csv")
    b = copy("aid__values.csv", tmp_path / "补发" / "资助发放_2020秋(1).csv")
    con = duckdb.connect()
    with pytest.raises(InputError) as refused:
        load_table(con, "aid", [a, b])
    assert str(a) in str(refused.value) and str(b) in str(refused.value)
    assert "内容完全相同" in str(refused.value)
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'aid'").fetchall() == [(0,)]


def test_files_that_only_share_their_size_are_both_loaded(tmp_path):
    a = copy("aid__values.csv", tmp_path / "a.csv")
    data = bytearray(a.read_bytes())
    data[data.index(b"625.00")] = ord("5")  # same length, another amount
    b = tmp_path / "b.csv"
    b.write_bytes(bytes(data))
    result = load_table(duckdb.connect(), "aid", [a, b])
    rows = len(a.read_text(encoding="utf-8").splitlines()) - 1
    assert [f.read for f in result.files] == [rows, rows]


def test_a_run_refuses_one_file_given_for_two_tables_before_loading_anything(tmp_path):
    registry = copy("registry__values.csv", tmp_path / "in" / "建档立卡.csv")
    enrollment = copy("registry__values.csv", tmp_path / "in" / "学籍.csv")
    out = tmp_path / "out"
    with pytest.raises(InputError) as refused:
        run_comparison(RunInputs(registry=[registry], enrollment=[enrollment]), term=parse_term("2021春"),
                       out_dir=out, config=RunConfig())
    message = str(refused.value)
    assert str(registry) in message and str(enrollment) in message and "建档立卡人口" in message
    manifests = list(tmp_path.rglob("manifest.json"))
    for m in manifests:  # whatever the run left behind says it failed, and no file was read
        data = json.loads(m.read_text(encoding="utf-8"))
        assert data["status"] == "failed" and not data.get("inputs")

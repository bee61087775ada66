"""The tiny preset loads through `yidan.ingest.load_table` with no rejects but the injected ones."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from yidan.ingest import load_table
from yidan.synth import generate

TABLES = ("registry", "enrollment", "out_of_province", "verifications", "aid", "policies")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, duckdb.DuckDBPyConnection, dict]:
    out = tmp_path_factory.mktemp("tiny_ingest")
    generate("tiny", 5, out)
    meta = json.loads((out / "generated.json").read_text(encoding="utf-8"))
    con = duckdb.connect()
    # ingest's list columns (policies) still use DuckDB's deprecated `x -> ...` lambdas; allow them here
    con.execute("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")
    results = {t: load_table(con, t, [out / f for f in meta["files"][t]], default_term="2021春") for t in TABLES}
    return out, con, results


def test_every_row_is_loaded_except_the_injected_rejects(loaded) -> None:
    out, con, results = loaded
    truth = pq.read_table(out / "truth" / "rejects.parquet").to_pylist()
    got = con.execute('SELECT "table", row_number, "column", reason FROM rejects ORDER BY 1, 2').fetchall()
    assert [(r[0], r[1], r[2]) for r in got] == [(t["table"], t["row_number"], t["column"]) for t in truth]
    assert all("Excel" in r[3] for r in got)
    for table, result in results.items():
        expected = sum(1 for t in truth if t["table"] == table)
        assert sum(f.rejected for f in result.files) == expected, table


def test_rows_loaded_match_the_rows_written(loaded) -> None:
    out, _, results = loaded
    meta = json.loads((out / "generated.json").read_text(encoding="utf-8"))
    for table, result in results.items():
        assert sum(f.read for f in result.files) == meta["rows"][table], table


def test_registry_ids_are_invalid_only_where_the_truth_says_so(loaded) -> None:
    out, con, _ = loaded
    persons = pq.read_table(out / "truth" / "persons.parquet").to_pylist()
    bad_truth = sorted(p["person_id"] for p in persons
                       if p["fault"] in ("registry_id_typo", "registry_id_transposition", "invalid_registry_id"))
    bad_loaded = sorted(r[0] for r in con.execute(
        "SELECT id_number FROM registry WHERE NOT id_number_valid").fetchall())
    assert bad_loaded == bad_truth


def test_loaded_person_ids_are_the_truths_person_ids(loaded) -> None:
    out, con, _ = loaded
    persons = {p["person_id"] for p in pq.read_table(out / "truth" / "persons.parquet").to_pylist()}
    loaded_ids = {r[0] for r in con.execute("SELECT id_number FROM registry").fetchall()}
    assert loaded_ids == persons

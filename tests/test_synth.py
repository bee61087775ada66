"""`yidan generate`: the files it writes are in the contract's formats, and a seed fixes them."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from yidan.cli.app import app
from yidan.contract import TABLES
from yidan.errors import ConfigError
from yidan.synth import generate

SEED = 11


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    generate("tiny", SEED, out)
    return out


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _xlsx_rows(path: Path) -> list[list[str]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


def test_same_seed_writes_byte_identical_files(tiny: Path, tmp_path: Path) -> None:
    generate("tiny", SEED, tmp_path)
    assert _digests(tmp_path) == _digests(tiny)


def test_another_seed_writes_other_people(tiny: Path, tmp_path: Path) -> None:
    generate("tiny", SEED + 1, tmp_path)
    assert (tmp_path / "registry.csv").read_bytes() != (tiny / "registry.csv").read_bytes()


def test_tiny_preset_writes_every_input_table_and_the_truth(tiny: Path) -> None:
    names = {p.name for p in tiny.iterdir()}
    assert {"registry.csv", "enrollment.xlsx", "out_of_province.xlsx", "verifications.xlsx", "aid.csv",
            "policies.csv", "generated.json", "truth", "schools.csv", "classes.csv", "population.csv",
            "boundaries.geojson"} <= names
    assert {p.name for p in (tiny / "truth").iterdir()} == {
        "persons.parquet", "links.parquet", "findings.parquet", "rejects.parquet", "indicators.parquet"}


def test_registry_csv_is_gb18030_with_the_contract_headers(tiny: Path) -> None:
    raw = (tiny / "registry.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    header = next(csv.reader(io.StringIO(raw.decode("gb18030"))))
    assert header == [c.header for c in TABLES["registry"].columns]


def test_registry_writes_dates_in_several_legal_forms(tiny: Path) -> None:
    rows = list(csv.DictReader(io.StringIO((tiny / "registry.csv").read_bytes().decode("gb18030"))))
    births = [r["出生日期"] for r in rows]
    assert any("-" in b for b in births)
    assert any("/" in b for b in births)
    assert any(len(b) == 8 and b.isdigit() for b in births)


@pytest.mark.parametrize("name, table", [("enrollment.xlsx", "enrollment"),
                                         ("out_of_province.xlsx", "out_of_province"),
                                         ("verifications.xlsx", "verifications")])
def test_xlsx_files_have_a_title_row_above_the_contract_headers(tiny: Path, name: str, table: str) -> None:
    rows = _xlsx_rows(tiny / name)
    assert rows[0][0] and not any(rows[0][1:])
    assert rows[1] == [c.header for c in TABLES[table].columns]
    assert len(rows) > 2


def test_enrollment_holds_both_term_snapshots(tiny: Path) -> None:
    rows = _xlsx_rows(tiny / "enrollment.xlsx")[2:]
    term_col = TABLES["enrollment"].aliases.index("term")
    assert {r[term_col] for r in rows} == {"2020秋", "2021春"}


def test_policies_csv_is_the_shipped_example_catalog(tiny: Path) -> None:
    shipped = Path(__file__).parents[1] / "src" / "yidan" / "data" / "policies_example.csv"
    assert (tiny / "policies.csv").read_bytes() == shipped.read_bytes()
    rows = list(csv.DictReader(io.StringIO(shipped.read_text(encoding="utf-8"))))
    assert [c.header for c in TABLES["policies"].columns] == list(rows[0])
    assert any(r["截止学期"] == "2020秋" for r in rows), "a cancelled local programme"


def test_generated_json_describes_files_terms_and_fault_counts(tiny: Path) -> None:
    meta = json.loads((tiny / "generated.json").read_text(encoding="utf-8"))
    assert meta["preset"] == "tiny" and meta["seed"] == SEED
    assert meta["run_term"] == "2021春" and meta["audit_terms"] == ["2020秋", "2021春"]
    for files in meta["files"].values():
        assert all((tiny / f).is_file() for f in files)
    assert meta["faults"]["registry_excel_mangled"] >= 1
    assert set(meta["cases"]) <= set(meta["faults"])


def test_unknown_preset_is_refused_with_a_chinese_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="未知的数据规模"):
        generate("huge", 1, tmp_path)


def test_cli_generate_writes_the_files_and_prints_a_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["generate", "--preset", "tiny", "--seed", "3", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "已生成模拟数据" in result.output
    assert (tmp_path / "registry.csv").is_file()


def test_aid_csv_is_utf8_with_the_contract_headers_and_two_decimal_amounts(tiny: Path) -> None:
    rows = list(csv.reader(io.StringIO((tiny / "aid.csv").read_text(encoding="utf-8"))))
    assert rows[0] == [c.header for c in TABLES["aid"].columns]
    amount = rows[0].index("金额")
    assert rows[1:] and all(len(r[amount].split(".")[1]) == 2 for r in rows[1:])
    assert {r[rows[0].index("学期")] for r in rows[1:]} == {"2020秋", "2021春"}

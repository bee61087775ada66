"""走访台账 PDFs (issue 19): `yidan report RUN --pdf --by village|school` writes one PDF per village or
school; each carries every child of that unit's list (ID and phone masked), its pages are numbered
第 N 页 共 M 页, and the Chinese font is embedded so it prints the same on any machine.

The run is made by the real pipeline from input rows (web_fixtures); the expected children per unit are
read from the run's findings.parquet with pyarrow, and the PDFs are read back with pypdf."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pypdf import PdfReader

from conftest import run_yidan
from web_fixtures import CODES, COUNTY_A, fixture_findings, write_run

CHILDREN = fixture_findings(COUNTY_A, codes=CODES * 5)  # 40 children in 6 villages: several pages each


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(tmp_path_factory.mktemp("visits") / "run", run_id="visits", findings=CHILDREN).path


def _text(path: Path) -> tuple[PdfReader, str]:
    reader = PdfReader(path)
    # pypdf puts a space (or a NUL) between CJK glyphs: compare without them
    return reader, "".join("".join(page.extract_text().replace("\x00", "").split()) for page in reader.pages)


def _masked(pid: str) -> str:
    return pid[:6] + "*" * 8 + pid[-4:]


def _units(run: Path, key: str) -> dict[str, set[str]]:
    units: dict[str, set[str]] = defaultdict(set)
    for r in pq.read_table(run / "findings.parquet", columns=[key, "person_id"]).to_pylist():
        units[r[key] or ""].add(r["person_id"])
    return units


def test_one_pdf_per_village_with_every_child_of_its_list_masked(run, tmp_path, monkeypatch, capsys) -> None:
    code, screen = run_yidan(monkeypatch, capsys, ["report", str(run), "--pdf", "--by", "village",
                                                   "--out", str(tmp_path / "pdf")])
    assert code == 0, screen
    units = _units(run, "village")
    pdfs = {p.name.split("_")[1]: p for p in (tmp_path / "pdf").glob("*.pdf")}
    assert "已生成走访台账" in screen and f"{len(units)} 份" in screen
    assert set(pdfs) == set(units) and len(units) >= 6
    phones = {c["person_id"]: c["registry"]["phone"] for c in CHILDREN}
    for village, people in units.items():
        reader, text = _text(pdfs[village])
        others = {p for v, ps in units.items() if v != village for p in ps}
        for pid in people:
            assert _masked(pid) in text, (village, pid)
            assert pid not in text and phones[pid] not in text  # full ID and phone never printed
            assert phones[pid][:3] + "****" + phones[pid][-4:] in text
        assert not any(_masked(p) in text for p in others - people)  # no child of another village
        for label in ("走访日期", "走访结果", "走访人签字", "家长签字", "下一步"):
            assert text.count(label) >= len(people), label  # every child's block has the lines to fill
        # numbered 第 N 页 共 M 页, M the PDF's own page count
        assert re.findall(r"第(\d+)页共(\d+)页", text) == [(str(i), str(len(reader.pages)))
                                                      for i in range(1, len(reader.pages) + 1)]


def test_a_village_of_many_children_runs_over_several_pages(run, tmp_path, monkeypatch, capsys) -> None:
    run_yidan(monkeypatch, capsys, ["report", str(run), "--pdf", "--by", "village", "--out", str(tmp_path / "p")])
    pages = [len(PdfReader(p).pages) for p in (tmp_path / "p").glob("*.pdf")]
    assert max(pages) >= 2


def test_every_font_is_embedded(run, tmp_path, monkeypatch, capsys) -> None:
    run_yidan(monkeypatch, capsys, ["report", str(run), "--pdf", "--by", "village", "--out", str(tmp_path / "p")])
    path = sorted((tmp_path / "p").glob("*.pdf"))[0]
    fonts = []
    for page in PdfReader(path).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            fonts.append(target["/FontDescriptor"].get_object())
    assert fonts and all(any(k in d for k in ("/FontFile", "/FontFile2", "/FontFile3")) for d in fonts)


def test_one_pdf_per_school_and_one_for_children_without_a_school(run, tmp_path, monkeypatch, capsys) -> None:
    code, screen = run_yidan(monkeypatch, capsys, ["report", str(run), "--pdf", "--by", "school",
                                                   "--out", str(tmp_path / "s")])
    assert code == 0, screen
    units = _units(run, "school_code")
    pdfs = {p.name.split("_")[1]: p for p in (tmp_path / "s").glob("*.pdf")}
    assert set(pdfs) == {k or "0" for k in units} and "" in units  # K01 children have no school
    for school, people in units.items():
        _, text = _text(pdfs[school or "0"])
        assert all(_masked(p) in text for p in people)
    assert "无学籍" in _text(pdfs["0"])[1]


def test_an_unknown_grouping_is_refused_in_chinese(run, tmp_path, monkeypatch, capsys) -> None:
    code, screen = run_yidan(monkeypatch, capsys, ["report", str(run), "--pdf", "--by", "household",
                                                   "--out", str(tmp_path / "x")])
    assert code == 2 and "不支持的分组" in screen and "village" in screen
    assert not list((tmp_path / "x").glob("*.pdf")) if (tmp_path / "x").exists() else True

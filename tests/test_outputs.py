"""The outputs declared once (contract/outputs.py): a real run writes exactly them, the reader holds a
run to them, every evidence key is declared, and each text agrees with the evidence it shows."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import ibis
import pyarrow.parquet as pq
import pytest

from yidan.contract.codes import CONCLUSIONS, FINDING_CODES
from yidan.contract.outputs import EVIDENCE_BY_KEY, FINDINGS, LINKS, OUTPUTS, PERSONS, evidence_lines
from yidan.errors import YidanError
from yidan.pipeline.classify.details import _detail, _evidence
from yidan.reports.styles import FINDING_COLUMNS
from yidan.runs.rundir import RunDir

TEMPLATES = Path(__file__).parents[1] / "src" / "yidan" / "web" / "templates"
ENGLISH_KEY = re.compile(r"\b[a-z]+_[a-z_]+\b")


def test_a_real_run_writes_every_output_with_exactly_its_declared_columns_and_types(tiny_run):
    for name, output in OUTPUTS.items():
        schema = pq.read_schema(tiny_run.parquet_path(name))
        assert schema.names == list(output.names), name
        assert schema.types == output.arrow_schema().types, name
    assert tiny_run.manifest["outputs_layout"] == "2"


def test_a_run_directory_missing_a_declared_column_is_refused_in_chinese(tiny_run, tmp_path):
    copy = Path(shutil.copytree(tiny_run.path, tmp_path / "run"))
    table = pq.read_table(copy / "findings.parquet")
    pq.write_table(table.drop_columns(["head_name"]), copy / "findings.parquet")
    with pytest.raises(YidanError, match="缺少规定的列：head_name"):
        RunDir(copy).findings()


def test_every_evidence_key_a_real_run_writes_is_declared_with_a_chinese_label(tiny_run):
    for f in tiny_run.findings().to_pylist():
        data = json.loads(f["evidence"])
        for key, value in data.items():
            assert key in EVIDENCE_BY_KEY, (f["code"], key)
            if isinstance(value, dict):
                inner = {s.key for s in EVIDENCE_BY_KEY[key].fields}
                assert set(value) <= inner, (f["code"], key, set(value) - inner)
        shown = "\n".join(f"{label}：{text}" for label, text in evidence_lines(f["evidence"]))
        assert not ENGLISH_KEY.search(shown), (f["code"], shown)


def test_aid_evidence_reads_as_words_with_county_names():
    raw = ('{"paid_by":"433130:1000.00","payments":1,"via_linkage":0,"student_no":"G4331","responsible":"433127",'
           '"basis":"学籍地","stage":"高中","out_of_province_aided":""}')
    assert evidence_lines(raw) == [
        ("实际发放", "龙山县 1000.00 元"), ("发放笔数", "1"), ("其中经概率匹配对应的笔数", "0"),
        ("全国学籍号", "G4331"), ("应发放县", "永顺县（433127）"), ("发放依据", "学籍地"), ("学段", "高中"),
    ]


def test_the_workbook_columns_and_the_pages_read_only_declared_fields():
    # 办理期限 is joined from the application's deadlines (runsql.with_due_dates; empty from a run directory)
    from_deadlines = {"due_date"}
    for c in FINDING_COLUMNS:
        if not c.clerk and not c.web:  # web: the team, from the web database (see test_report_print)
            assert c.field in FINDINGS.names or c.field in from_deadlines, c.field
    person_fields = set(PERSONS.names) | set(FINDINGS.names)
    read = {"person": set(), "link": set()}
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        for kind in read:
            read[kind] |= set(re.findall(rf'{kind}\.get\("([a-z_]+)"', text))
        # the loops of (key, label) pairs
        read["person"] |= set(re.findall(r'\("([a-z_]+)","[^"]+"\)', text))
    review = (Path(__file__).parents[1] / "src" / "yidan" / "web" / "review.py").read_text(encoding="utf-8")
    read["person"] |= set(re.findall(r'person\.get\("([a-z_]+)"', review))
    read["link"] |= set(re.findall(r'link\.get\("([a-z_]+)"', review)) | set(re.findall(r'link\["([a-z_]+)"\]', review))
    assert read["person"] and read["person"] <= person_fields, read["person"] - person_fields
    assert read["link"] and read["link"] <= set(LINKS.names), read["link"] - set(LINKS.names)


# --- texts that never contradict the evidence --------------------------------------------------------

def _combinations() -> list[dict]:
    rows = []
    for code in [c for c in FINDING_CODES if c.startswith("K")]:
        for conclusion in (*CONCLUSIONS, None):
            rows.append({
                "finding": code, "person_id": "433127201001011234", "name": "张三", "gender": "男",
                "birth_date": date(2010, 1, 1), "age": 11,
                "l_student_no": "G433127201001011234" if code in ("K02", "K03", "K09") else None,
                "l_school_name": "永顺县第1小学", "l_school_code": "1430001001", "l_stage": "小学", "l_grade": "六年级",
                "l_class_id": "六年级1班", "l_enrollment_status": {"K02": "辍学", "K03": "转出", "K09": "毕业"}.get(code),
                "l_status_date": None, "l_term": "2021春",
                "verified_conclusion": conclusion, "verified_on": date(2021, 3, 1) if conclusion else None,
                "verified_province": "广东省" if conclusion == "省外就读" else None, "verified_expired": None,
                "review_student_no": "G433127201001019999" if code == "K05" else None,
                "review_probability": 0.8 if code == "K05" else None, "c_name": "章三", "c_birth_date": date(2010, 1, 4),
                "c_school_name": "永顺县第2小学", "c_school_code": "1430001002",
                "n_active": 2 if code == "K07" else None, "k8_name": code != "K08", "k8_gender": True,
                "k8_birth": True, "k8_student_no": "G433127201001011234",
                "registry_birth_date": date(2010, 1, 1), "id_birth_date": date(2010, 1, 1), "id_converted": False,
                "birth_conflict": False,
            })
    return rows


def test_each_text_names_the_verification_its_evidence_shows_for_every_code_and_conclusion():
    t = ibis.memtable(_combinations())
    out = t.select(code=t.finding, detail=_detail(t), evidence=_evidence(t)).to_pyarrow().to_pylist()
    assert len(out) == 9 * (len(CONCLUSIONS) + 1)
    for row in out:
        ev = json.loads(row["evidence"])
        detail = row["detail"]
        if ev["verification"]:
            conclusion = ev["verification"]["conclusion"]
            assert f"核实结论为{conclusion}" in detail, (row["code"], conclusion, detail)
            assert "没有核实结论" not in detail, detail
        elif row["code"] == "K01":
            assert "也没有核实结论" in detail
        if ev["enrollment"]:
            assert ev["enrollment"]["school_name"] in detail or row["code"] in ("K07", "K08"), detail
        if ev["candidate"]:
            c = ev["candidate"]
            assert c["name"] in detail and c["school_name"] in detail and "80.0%" in detail, detail


def test_a_real_runs_texts_agree_with_their_evidence(tiny_run):
    verified = 0
    for f in tiny_run.findings().to_pylist():
        ev = json.loads(f["evidence"])
        if isinstance(ev.get("verification"), dict):
            assert ev["verification"]["conclusion"] in f["detail"], (f["code"], f["detail"])
            assert "没有核实结论" not in f["detail"]
            verified += 1
    assert verified  # the run holds findings with a verification, so the checks above ran
